"""Naming rules by id: a rule id names its rule, and a leading part of one, up to a hyphen,
names every rule whose id starts so (`D1` names `D1-pregnancy-or-new-child`, not `D10-…`).

Rule tests (`expect`/`forbid`) and the store's filters (`alerts list --rule`, `summary
--rule`) name rules the same way, through these two functions.
"""

from __future__ import annotations

__all__ = ["leading_parts", "rule_id_prefix"]

_SEPARATOR = "-"


def leading_parts(rule_id: str) -> list[str]:
    """The leading parts of `rule_id` that name it besides the whole id: the id up to each
    hyphen (`D1`, `D1-pregnancy`, `D1-pregnancy-or` for `D1-pregnancy-or-new-child`)."""
    return [rule_id[:i] for i, character in enumerate(rule_id) if character == _SEPARATOR]


def rule_id_prefix(part: str) -> str:
    """How the id of every rule that `part` names as a leading part starts: `part` is in
    `leading_parts(rule_id)` exactly when `rule_id` starts with this."""
    return part + _SEPARATOR
