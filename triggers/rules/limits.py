"""Limits on every input of a rule file, checked before the rule language is.

A rule file that `triggers rules check` passes must never make the engine refuse,
crash or hang, nor make checking it slow: every text, list, number, nesting and
duration a rule file gives is bounded here, with a problem at the file, line and
column of the offending key that says the limit. The walk counts shared (YAML
alias) parts once, so it is linear in the file, and a rule over a limit is not
compiled at all: nothing later does exponential or quadratic work on it.

The engine's own limits (how many rules one event may take part in, the places one
pattern keeps, ...) are the backend's (`triggers/engine/durable/limits.py`); the
figures here are chosen to keep well inside them and are listed in the README
("Limits on rule files").
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from typing import Any

from triggers._yaml import KeyPath, Located, format_key_path
from triggers.errors import Problem
from triggers.rules.duration import MAX_TEXT_LENGTH as MAX_DURATION_LENGTH

__all__ = [
    "MAX_ACTIONS",
    "MAX_CONDITION_DEPTH",
    "MAX_DECIMAL",
    "MAX_ID_LENGTH",
    "MAX_LEARNING_LENGTH",
    "MAX_LIST_VALUES",
    "MAX_NAME_LENGTH",
    "MAX_NESTING",
    "MAX_PARTS",
    "MAX_RULES",
    "MAX_TEMPLATE_LENGTH",
    "MAX_TITLE_LENGTH",
    "MAX_VALUE_LENGTH",
    "MAX_WHOLE_DIGITS",
    "MIN_DECIMAL",
    "RuleLimits",
    "number_problem",
    "shown",
    "too_many_rules",
]

#: Rules in one file, and in one rule set: durable_rules' limit (engine/durable/limits.py).
MAX_RULES = 500
#: Characters in a rule id, a title, the learning, and a template (a reason, a param).
MAX_ID_LENGTH = 100
MAX_TITLE_LENGTH = 200
MAX_LEARNING_LENGTH = 4000
MAX_TEMPLATE_LENGTH = 1000
#: Characters in a name (event type, field, operator, any other key) and in other values.
MAX_NAME_LENGTH = 64
MAX_VALUE_LENGTH = 200
#: Values in one list (`in`, `not_in`, `includes_any`, event types, `same`, `per`).
#: durable_rules keeps the tests that follow one test in a table of 512 places and
#: loops for ever when it is full (NEXT_BUCKET_LENGTH in its rules.h): an `in` list
#: of 512 values hangs every replay while the rules load (measured: 511 load at once,
#: 512 never). Half of that leaves room for the other tests that share the table.
MAX_LIST_VALUES = 256
#: Actions in one rule's `then`.
MAX_ACTIONS = 20
#: How deep `any`, `all` and `not` may nest inside one another.
MAX_CONDITION_DEPTH = 8
#: How deep mappings and lists may nest in one rule (conditions included).
MAX_NESTING = 24
#: Parts (mappings, lists, keys and values) of one rule with YAML aliases written out:
#: an alias repeated inside aliases grows exponentially when compiled.
MAX_PARTS = 5000
#: Numbers in rules: whole numbers of at most 15 digits; decimals finite, at most 1e9
#: and, unless zero, at least 0.0001 (durable_rules reads numbers written as JSON, and
#: refuses the exponent form Python gives smaller ones, such as 1e-05: error 204).
MAX_WHOLE_DIGITS = 15
MAX_DECIMAL = 1e9
MIN_DECIMAL = 1e-4

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6


def too_many_rules() -> str:
    """The problem with the rule after the last one a file or a rule set may hold."""
    return (
        f"a rule set may hold at most {MAX_RULES} rules and this is rule {MAX_RULES + 1}:"
        " combine rules that share an event and actions, or remove some"
    )


def shown(value: Any) -> str:
    """`repr(value)`, shortened: for messages that quote what a file gave."""
    return _REPR.repr(value)


def number_problem(value: Any) -> str | None:
    """Why a number is out of range for a rule, or None if it is fine (or not a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) >= 10**MAX_WHOLE_DIGITS:
            return (
                f"{shown(value)} is too large: whole numbers in rules have at most"
                f" {MAX_WHOLE_DIGITS} digits"
            )
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{value!r} is not a number a rule can test: numbers in rules are finite"
        if abs(value) > MAX_DECIMAL:
            return f"{value!r} is too large: decimals in rules are at most {MAX_DECIMAL:,.0f}"
        if value and abs(value) < MIN_DECIMAL:
            return (
                f"{value!r} is too small: decimals in rules are 0 or at least {MIN_DECIMAL:g}"
                " in size"
            )
    return None


# What a text is, and how long it may be, by where it is in a rule ("#": any index,
# "*": any key); texts not listed are values (MAX_VALUE_LENGTH), keys are names.
_TEXTS: dict[tuple[str, ...], tuple[str, int]] = {
    ("id",): ("a rule id", MAX_ID_LENGTH),
    ("title",): ("a title", MAX_TITLE_LENGTH),
    ("learning",): ("the learning", MAX_LEARNING_LENGTH),
    ("then", "#", "reason"): ("a reason", MAX_TEMPLATE_LENGTH),
    ("then", "#", "params", "*"): ("a param", MAX_TEMPLATE_LENGTH),
    ("then", "#", "act_within"): ("a duration", MAX_DURATION_LENGTH),
    ("throttle",): ("a duration", MAX_DURATION_LENGTH),
    ("throttle", "within"): ("a duration", MAX_DURATION_LENGTH),
    ("when", "after", "within"): ("a duration", MAX_DURATION_LENGTH),
    ("when", "absent", "within"): ("a duration", MAX_DURATION_LENGTH),
    ("when", "count", "within"): ("a duration", MAX_DURATION_LENGTH),
    ("when", "event"): ("an event type", MAX_NAME_LENGTH),
    ("when", "event", "#"): ("an event type", MAX_NAME_LENGTH),
    ("when", "after", "event"): ("an event type", MAX_NAME_LENGTH),
    ("when", "after", "event", "#"): ("an event type", MAX_NAME_LENGTH),
    ("when", "absent", "event"): ("an event type", MAX_NAME_LENGTH),
    ("when", "absent", "event", "#"): ("an event type", MAX_NAME_LENGTH),
}
_COMBINATORS = ("any", "all", "not")


def _shape(path: KeyPath) -> tuple[str, ...]:
    shape = tuple("#" if isinstance(part, int) else str(part) for part in path)
    if shape[:3] == ("then", "#", "params") and len(shape) == 4:
        return (*shape[:3], "*")
    return shape


class RuleLimits:
    """Checks one rule file's raw data against the limits, problem by problem."""

    def __init__(self, file: str, located: Located) -> None:
        self.file = file
        self.located = located
        self.problems: list[Problem] = []
        self._sizes: dict[int, tuple[int, int]] = {}
        self._seen: set[int] = set()

    def add(self, path: KeyPath, message: str, *, key: bool = False) -> None:
        """A problem at `path`, its location written with every part shortened."""
        position = self.located.position(path, key=key)
        shortened = tuple(
            part if isinstance(part, int) or len(part) <= MAX_NAME_LENGTH else shown(part)
            for part in path
        )
        self.problems.append(
            Problem(
                self.file,
                format_key_path(shortened),
                message,
                position.line if position else None,
                position.column if position else None,
            )
        )

    def rules(self, rules: list[Any]) -> int:
        """Check the number of rules; returns how many are to be read."""
        if len(rules) > MAX_RULES:
            self.add(("rules", MAX_RULES, "id"), too_many_rules(), key=True)
            return MAX_RULES
        return len(rules)

    def rule(self, index: int, raw: Any) -> bool:
        """Check one rule's raw data; True when it is within every limit."""
        before = len(self.problems)
        path: KeyPath = ("rules", index)
        size, height = self._measure(raw)
        if size > MAX_PARTS:
            self.add(
                path,
                f"this rule is too large: with its YAML aliases written out it has more than"
                f" {MAX_PARTS} parts (keys, values and lists); write it out without"
                " repeating aliases, or split it",
            )
        elif height > MAX_NESTING:
            self.add(path, f"a rule nests mappings and lists at most {MAX_NESTING} deep")
        else:
            self._seen.clear()
            self._walk(raw, path, (), 0)
        return len(self.problems) == before

    def _measure(self, node: Any) -> tuple[int, int]:
        """The parts of `node` with aliases written out (counted up to MAX_PARTS + 1), and
        how deep it nests (up to MAX_NESTING + 1); each shared part is measured once."""
        if not isinstance(node, Mapping | list):
            return 1, 0
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        self._sizes[id(node)] = (MAX_PARTS + 1, MAX_NESTING + 1)  # a cycle is too large
        size, height = 1, 0
        children = (v for pair in node.items() for v in pair) if isinstance(node, Mapping) else node
        for child in children:
            child_size, child_height = self._measure(child)
            size += child_size
            height = max(height, child_height + 1)
            if size > MAX_PARTS or height > MAX_NESTING:
                break
        measured = min(size, MAX_PARTS + 1), min(height, MAX_NESTING + 1)
        self._sizes[id(node)] = measured
        return measured

    def _walk(self, node: Any, path: KeyPath, inner: KeyPath, combinators: int) -> None:
        """Check every text, list, number and nesting in `node` at `path`.

        `inner` is the path inside the rule; `combinators` how many any/all/not enclose it.
        """
        if isinstance(node, Mapping | list):
            if id(node) in self._seen:
                return  # a YAML alias: checked where it was first written
            self._seen.add(id(node))
        if isinstance(node, Mapping):
            conditions = any(part in ("where", "case") for part in inner)
            for key, value in node.items():
                child = (*path, key)
                if isinstance(key, str) and len(key) > MAX_NAME_LENGTH:
                    self.add(
                        child,
                        f"a name is at most {MAX_NAME_LENGTH} characters and this one has"
                        f" {len(key)}",
                        key=True,
                    )
                    continue
                depth = combinators + (1 if conditions and key in _COMBINATORS else 0)
                if depth > MAX_CONDITION_DEPTH:
                    self.add(
                        child,
                        f"'any', 'all' and 'not' nest at most {MAX_CONDITION_DEPTH} deep:"
                        " write the conditions flatter, or split the rule",
                        key=True,
                    )
                    continue
                self._walk(value, child, (*inner, key), depth)
        elif isinstance(node, list):
            self._list(node, path, inner, combinators)
        elif isinstance(node, str):
            what, limit = _TEXTS.get(_shape(inner), ("a value", MAX_VALUE_LENGTH))
            if len(node) > limit:
                self.add(path, f"{what} is at most {limit} characters and this one has {len(node)}")
        else:
            problem = number_problem(node)
            if problem is not None:
                self.add(path, problem)

    def _list(self, node: list[Any], path: KeyPath, inner: KeyPath, combinators: int) -> None:
        if inner == ("then",):
            if len(node) > MAX_ACTIONS:
                self.add(
                    path,
                    f"a rule has at most {MAX_ACTIONS} actions and this one has {len(node)}",
                )
                return
        elif len(node) > MAX_LIST_VALUES:
            self.add(
                path,
                f"a list in a rule holds at most {MAX_LIST_VALUES} values and this one has"
                f" {len(node)}: split the rule, or test a broader value",
            )
            return
        for i, item in enumerate(node):
            self._walk(item, (*path, i), (*inner, i), combinators)
