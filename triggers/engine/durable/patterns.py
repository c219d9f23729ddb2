"""The durable_rules patterns of a compiled rule: the rule model translated for the engine.

Every trigger pattern is named `m`; an `after` rule's other event is `o`, an
`absent` rule's clock `k` and the event it waits for `x` (negated). A count rule
has two definitions: one that tells which events it counts (`member`), one that
fires on the engine's tally of them. What durable_rules gets wrong, and the
workaround each pattern takes, is measured in docs/durable-rules.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from triggers.engine.durable.facts import group_key, window_key
from triggers.rules.compiled import (
    AllOf,
    AnyOf,
    CompiledCount,
    CompiledRelation,
    CompiledRule,
    CompiledRuleSet,
    Condition,
    Test,
)

__all__ = ["Definition", "definitions", "expression"]

_COMPARISON = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}


@dataclass(frozen=True)
class Definition:
    """One durable_rules rule: the compiled rule it serves, and its patterns (`{"all": ...}`).

    `member` marks the definition that tells which events a count rule counts.
    """

    name: str
    rule: str
    body: dict[str, Any]
    member: bool = False

    @property
    def patterns(self) -> list[dict[str, Any]]:
        """The named patterns, in order (`none` last)."""
        patterns: list[dict[str, Any]] = self.body["all"]
        return patterns


def definitions(rules: CompiledRuleSet) -> list[Definition]:
    """The durable_rules definitions of every rule of a rule set, in rule order."""
    result = []
    for index, rule in enumerate(rules.rules):
        result.extend(rule_definitions(rule, f"r{index}"))
    return result


def rule_definitions(rule: CompiledRule, name: str) -> list[Definition]:
    """The definitions of one rule: its patterns and, for a count rule, its members'."""
    if rule.count is not None:
        member = {"all": [{"m": {"$and": _event_pattern(rule.event_types, rule.scoped("event"))}}]}
        tally = [{"m": _tally_pattern(rule.id, rule.count, rule.scoped("state"))}]
        return [
            Definition(name, rule.id, {"all": tally}),
            Definition(f"{name}_member", rule.id, member, member=True),
        ]
    if rule.absent_before is not None:
        # The triggers (as members), and the earlier events that break their absence as an
        # `after` rule finds them: the replay loop raises, after the trigger's moment, the
        # triggers that nothing broke.
        trigger = {"all": [{"m": {"$and": _event_pattern(rule.event_types, rule.condition)}}]}
        return [
            Definition(name, rule.id, {"all": _patterns(rule)}),
            Definition(f"{name}_member", rule.id, trigger, member=True),
        ]
    return [Definition(name, rule.id, {"all": _patterns(rule)})]


def expression(condition: Condition) -> dict[str, Any] | None:
    """The durable_rules expression for a condition, or None for "always"."""
    if isinstance(condition, AllOf):
        parts = [p for p in (expression(c) for c in condition.parts) if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}
    if isinstance(condition, AnyOf):
        if not condition.parts:
            return {"$nex": {"kind": 1}}  # never: every message has a kind
        alternatives = [expression(c) for c in condition.parts]
        if any(a is None for a in alternatives):
            return None
        return {"$or": alternatives}
    path = f"{condition.scope}.{condition.field}"
    op, value = condition.op, condition.value
    absent = {"$nex": {path: 1}}
    if op == "present":
        return {"$ex" if value else "$nex": {path: 1}}
    if op == "eq":
        return {path: value}
    if op == "ne":
        return {"$or": [absent, {"$neq": {path: value}}]}
    if op == "in":
        return {path: value[0]} if len(value) == 1 else {"$or": [{path: v} for v in value]}
    if op == "not_in":
        return {"$or": [absent, {"$and": [{"$neq": {path: v}} for v in value]}]}
    if op == "includes":
        return {f"{path}.{value}": True}
    if op == "excludes":
        return {"$nex": {f"{path}.{value}": 1}}
    if op == "includes_any":
        return {"$or": [{f"{path}.{v}": True} for v in value]}
    return {_COMPARISON[op]: {path: value}}


def _event_pattern(types: Sequence[str], condition: Condition) -> list[dict[str, Any]]:
    """An event fact of one of `types` for which `condition` holds, as conjuncts."""
    parts: list[dict[str, Any]] = [{"kind": "event"}]
    type_test = expression(Test("event", "type", "in", tuple(types)))
    rest = expression(condition)
    parts.extend(p for p in (type_test, rest) if p is not None)
    return parts


def _patterns(rule: CompiledRule) -> list[dict[str, Any]]:
    """The rule's patterns; the trigger is always named `m`.

    Only equality, `$lt`, `$gt` and `$lte` refer to another pattern: correlated
    `$gte`, `$neq` and `$add` crash durable_rules (docs/durable-rules.md). Window
    bounds are precomputed into each fact; "x.at >= y.at" is written on negated times.
    """
    types = rule.event_types
    trigger = _event_pattern(types, rule.condition)
    if rule.absent is not None:
        return _absence_patterns(types, trigger, rule.absent)
    after = rule.looks_back
    if after is None:
        return [{"m": {"$and": trigger}}]
    key = window_key(after.window)
    correlated: list[dict[str, Any]] = [
        {"$lte": {f"event.{key}_lo": {"o": "event.at"}}},
        {"$lte": {"event.neg_at": {"o": "event.neg_at"}}},
    ]
    if set(types) & set(after.event_types):
        # The same kind of event on both sides: the other one comes first in event order.
        correlated.append({"$gt": {"seq": {"o": "seq"}}})
    correlated.extend({f"event.{ours}": {"o": f"event.{theirs}"}} for theirs, ours in after.same)
    # durable_rules ignores correlated tests that follow a nested `$or` or `$and` in the
    # same pattern, and tests after a correlated one no longer filter before the join
    # (docs/durable-rules.md): the trigger's types as a flag and its other plain tests
    # first, alternatives last.
    own = [{"kind": "event"}, _type_test(types)]
    rest = expression(rule.condition)
    if rest is not None:
        own.extend(rest.get("$and", [rest]))
    plain = [part for part in own if not _nested(part)]
    alternatives = [part for part in own if _nested(part)]
    return [
        {"o": {"$and": _event_pattern(after.event_types, after.condition)}},
        {"m": {"$and": [*plain, *correlated, _always("o"), *alternatives]}},
    ]


def _nested(test: dict[str, Any]) -> bool:
    """Whether a durable_rules test holds an `$or` or `$and` (a sequence of its own)."""
    text = json.dumps(test)
    return "$or" in text or "$and" in text


def _always(pattern: str) -> dict[str, Any]:
    """A correlated test that always holds: both facts are events (for the last place).

    When the last correlated test of a pattern fails, durable_rules reads on past the
    end of the pattern's tests (events.c, reduceExpressionSequence) and may crash.
    """
    return {"kind": {pattern: "kind"}}


def _type_test(types: Sequence[str]) -> dict[str, Any]:
    """An event of one of `types`, without `$or`: several types through a membership flag."""
    if len(types) == 1:
        return {"event.type": types[0]}
    return {f"event.{group_key(types)}": True}


def _tally_pattern(rule_id: str, count: CompiledCount, case: Condition) -> dict[str, Any]:
    """A count rule fires on the engine's tally of its events: enough, in this case state."""
    parts: list[dict[str, Any]] = [
        {"kind": "tally"},
        {"rule": rule_id},
        {"$gte": {"count": count.at_least}},
    ]
    rest = expression(case)
    if rest is not None:
        parts.append(rest)
    return {"$and": parts}


def _absence_patterns(
    types: Sequence[str], trigger: list[dict[str, Any]], absent: CompiledRelation
) -> list[dict[str, Any]]:
    """Trigger, then the case's clock at or past the deadline, then `none` of the other."""
    key = window_key(absent.window)
    # `$or` inside a `none` pattern is wrong in durable_rules (an event that matches no
    # alternative still counts): several types are tested through a membership flag.
    other: list[dict[str, Any]] = [{"kind": "event"}, _type_test(absent.event_types)]
    rest = expression(absent.condition)
    if rest is not None:
        # Flat: durable_rules ignores correlated tests after a nested `$and` too.
        other.extend(rest.get("$and", [rest]))
    other.append({"$lte": {"event.neg_at": {"m": "event.neg_at"}}})
    other.append({"$lte": {"event.at": {"m": f"event.{key}_hi"}}})
    if set(types) & set(absent.event_types):
        other.append({"$gt": {"seq": {"m": "seq"}}})
    other.extend({f"event.{theirs}": {"m": f"event.{ours}"}} for theirs, ours in absent.same)
    other.append(_always("m"))
    # The clock's `seq` is 0, before every event's: a last test that always holds.
    clock = {
        "$and": [
            {"kind": "clock"},
            {"$lte": {"neg_now": {"m": f"event.{key}_nhi"}}},
            {"$lte": {"seq": {"m": "seq"}}},
        ]
    }
    # durable_rules requires `none` to be the last pattern.
    return [{"m": {"$and": trigger}}, {"k": clock}, {"x$not": {"$and": other}}]
