"""A rule set after checking and compilation: what the engine evaluates.

Conditions are kept as a small tree (`Test`, `AllOf`, `AnyOf`) with negation
already pushed down to the tests, so that every evaluator (an engine backend,
the reference evaluator, explain) reads one unambiguous meaning.

Meaning of a test on a value that is not recorded (absent): `eq`, `lt`, `le`,
`gt`, `ge`, `in` and `includes*` do not hold; `ne`, `not_in` and `excludes`
hold; `present` says whether the value is recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from triggers.errors import Problem
from triggers.rules.duration import Duration
from triggers.rules.template import Template

__all__ = [
    "AllOf",
    "AnyOf",
    "CompiledAction",
    "CompiledChange",
    "CompiledCount",
    "CompiledDue",
    "CompiledRelation",
    "CompiledRule",
    "CompiledRuleSet",
    "CompiledThrottle",
    "Condition",
    "RuleSource",
    "Scope",
    "Test",
    "flatten",
    "has_alternatives",
    "holds",
    "negate",
    "windows_of",
]

Scope = Literal["event", "state"]


@dataclass(frozen=True)
class Test:
    """`scope.field op value`; `value` is a tuple for `in`, `not_in` and `includes_any`."""

    scope: Scope
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class AllOf:
    """Every part holds (an empty AllOf always holds)."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one part holds."""

    parts: tuple[Condition, ...]


Condition = Test | AllOf | AnyOf


_NEGATION = {
    "eq": "ne",
    "ne": "eq",
    "in": "not_in",
    "not_in": "in",
    "includes": "excludes",
    "excludes": "includes",
}
_OPPOSITE_COMPARISON = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}


def flatten(condition: Condition) -> Condition:
    """The same condition with nested AllOf/AnyOf of the same kind merged."""
    if isinstance(condition, Test):
        return condition
    parts = tuple(flatten(part) for part in condition.parts)
    merged: list[Condition] = []
    for part in parts:
        if isinstance(part, AllOf | AnyOf) and type(part) is type(condition):
            merged.extend(part.parts)
        else:
            merged.append(part)
    if len(merged) == 1:
        return merged[0]
    return AllOf(tuple(merged)) if isinstance(condition, AllOf) else AnyOf(tuple(merged))


def negate(condition: Condition) -> Condition:
    """The condition that holds exactly when `condition` does not (negation pushed to tests)."""
    if isinstance(condition, AllOf):
        return flatten(AnyOf(tuple(negate(p) for p in condition.parts)))
    if isinstance(condition, AnyOf):
        return flatten(AllOf(tuple(negate(p) for p in condition.parts)))
    op = condition.op
    if op == "present":
        return Test(condition.scope, condition.field, op, not condition.value)
    if op in _NEGATION:
        return Test(condition.scope, condition.field, _NEGATION[op], condition.value)
    if op == "includes_any":
        return flatten(
            AllOf(
                tuple(
                    Test(condition.scope, condition.field, "excludes", v) for v in condition.value
                )
            )
        )
    # Not "less than" includes "not recorded", which the opposite comparison does not.
    return AnyOf(
        (
            Test(condition.scope, condition.field, "present", False),
            Test(condition.scope, condition.field, _OPPOSITE_COMPARISON[op], condition.value),
        )
    )


def _test_holds(test: Test, value: Any) -> bool:
    op, expected = test.op, test.value
    if op == "present":
        return (value is not None) is bool(expected)
    if op in ("ne", "not_in", "excludes"):
        if value is None:
            return True
        if op == "ne":
            return bool(value != expected)
        if op == "not_in":
            return value not in expected
        return expected not in value
    if value is None:
        return False
    if op == "eq":
        return bool(value == expected)
    if op == "in":
        return value in expected
    if op == "includes":
        return expected in value
    if op == "includes_any":
        return any(item in value for item in expected)
    comparisons = {
        "lt": value < expected,
        "le": value <= expected,
        "gt": value > expected,
        "ge": value >= expected,
    }
    return bool(comparisons[op])


def holds(condition: Condition, values: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether `condition` holds for `values[scope][field]` (the reference meaning)."""
    if isinstance(condition, Test):
        return _test_holds(condition, values.get(condition.scope, {}).get(condition.field))
    if isinstance(condition, AllOf):
        return all(holds(part, values) for part in condition.parts)
    return any(holds(part, values) for part in condition.parts)


def _always_holds(condition: Condition) -> bool:
    """Whether the condition holds by construction (an empty all-of, or an any-of with one)."""
    if isinstance(condition, AllOf):
        return all(_always_holds(part) for part in condition.parts)
    if isinstance(condition, AnyOf):
        return any(_always_holds(part) for part in condition.parts)
    return False


def has_alternatives(condition: Condition) -> bool:
    """Whether holding needs one of several alternatives (`any`, `ne`, lists of values).

    A condition without alternatives is a plain all-of of single tests: the only kind
    an absence can be checked against.
    """
    if isinstance(condition, Test):
        return condition.op in ("ne", "not_in", "includes_any") or (
            condition.op == "in" and len(condition.value) > 1
        )
    if isinstance(condition, AllOf):
        return any(has_alternatives(p) for p in condition.parts if not _always_holds(p))
    return bool(condition.parts) and not _always_holds(condition)


@dataclass(frozen=True)
class RuleSource:
    """Where a rule was written: its file and line, and where its id is (index in the file,
    line and column), for problems that concern the rule as a whole."""

    file: str
    line: int | None
    index: int = 0
    id_line: int | None = None
    id_column: int | None = None

    def problem(self, message: str) -> Problem:
        """A problem with the whole rule, placed at its id."""
        return Problem(self.file, f"rules[{self.index}].id", message, self.id_line, self.id_column)


@dataclass(frozen=True)
class CompiledAction:
    """An action with its parameters and reason ready to render."""

    action: str
    params: Mapping[str, Template | int]
    priority: str
    reason: Template
    #: How long after the alert's event time someone should have acted on it.
    act_within: Duration


@dataclass(frozen=True)
class CompiledRelation:
    """Another event in a time relation to the trigger: its types, condition, window, keys."""

    event_types: tuple[str, ...]
    condition: Condition
    window: Duration
    same: tuple[tuple[str, str], ...]
    #: Pairs of fields that must both be recorded and differ (`after` only).
    differ: tuple[tuple[str, str], ...] = ()

    def related(self, other: Mapping[str, Any], trigger: Mapping[str, Any]) -> bool:
        """Whether `other`'s and the trigger's event values agree on every `same` pair."""
        return all(
            other.get(theirs) is not None and other.get(theirs) == trigger.get(ours)
            for theirs, ours in self.same
        )


@dataclass(frozen=True)
class CompiledChange:
    """A value compared with the previous event of the same type and `same` fields."""

    event_types: tuple[str, ...]
    field: str
    same: tuple[str, ...]

    @property
    def key(self) -> str:
        """The precomputed event field that holds "down", "up" or "same"."""
        text = "|".join([*self.event_types, self.field, *self.same])
        return "c_" + hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class CompiledThrottle:
    """At most one alert within `window` per value of the `per` fields."""

    window: Duration
    per: tuple[str, ...]
    #: Event types that end every key's window: an alert after such an event (up to its
    #: moment included) and after the last alert's moment is raised.
    reset_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompiledCount:
    """At least `at_least` events of the rule's kind within `window`, the trigger last."""

    at_least: int
    window: Duration
    distinct: str | None
    same: tuple[str, ...]
    #: Events that cancel the count when one lies from the first counted event's moment to
    #: the trigger's, both included (its window is the count's; judged in Python).
    unless: CompiledRelation | None = None


@dataclass(frozen=True)
class CompiledDue:
    """An event due within a period set by a case-state value (judged in Python)."""

    event_types: tuple[str, ...]
    condition: Condition
    state: str
    #: The period for each value of `state`, in the order written.
    every: tuple[tuple[str | int, Duration], ...]

    def period(self, value: Any) -> Duration | None:
        """The period while `state` has `value`; None when no clock runs."""
        for name, period in self.every:
            if name == value:
                return period
        return None


@dataclass(frozen=True)
class CompiledRule:
    """A checked rule: triggering types, one condition tree, and its actions."""

    id: str
    title: str
    learning: str
    event_types: tuple[str, ...]
    condition: Condition
    actions: tuple[CompiledAction, ...]
    source: RuleSource
    after: CompiledRelation | None = None
    absent: CompiledRelation | None = None
    count: CompiledCount | None = None
    changed: CompiledChange | None = None
    throttle: CompiledThrottle | None = None
    #: `absent` with `before`: no such event within the window before the trigger.
    absent_before: CompiledRelation | None = None
    #: `due`: an event due within a period set by case state, the clock restarted by the
    #: rule's triggers and the due events.
    due: CompiledDue | None = None

    @property
    def relations(self) -> tuple[CompiledRelation, ...]:
        """The rule's relations to other events (`after`, `absent`), if any."""
        return tuple(r for r in (self.after, self.absent, self.absent_before) if r is not None)

    @property
    def looks_back(self) -> CompiledRelation | None:
        """The relation matched with an earlier (or simultaneous) other event: `after`, or
        the events that would break an absence before the trigger."""
        return self.after or self.absent_before

    def scoped(self, scope: Scope) -> Condition:
        """The part of the condition about the event (its `where`) or the case state (`case`).

        Each top-level part of the condition comes from one block, so it has one scope;
        a part with no test at all (an `any` that nothing can meet: never) is in both,
        which keeps the rule from ever firing, as it would.
        """
        parts = self.condition.parts if isinstance(self.condition, AllOf) else (self.condition,)
        return flatten(AllOf(tuple(p for p in parts if _scope_of(p) in (scope, None))))

    def matches(self, event_type: str, values: Mapping[str, Mapping[str, Any]]) -> bool:
        """Whether an event of `event_type` with these event and state values triggers the rule."""
        return event_type in self.event_types and holds(self.condition, values)


def _scope_of(condition: Condition) -> Scope | None:
    """The scope of every test in the condition; None when it has no test."""
    if isinstance(condition, Test):
        return condition.scope
    scopes = {_scope_of(part) for part in condition.parts} - {None}
    if len(scopes) > 1:
        raise ValueError(f"a condition block mixes event and case-state tests: {condition}")
    return scopes.pop() if scopes else None


def windows_of(rules: Sequence[CompiledRule]) -> tuple[Duration, ...]:
    """Every window of an `after` or `absent` of these rules, each once, in rule order."""
    return tuple(dict.fromkeys(relation.window for rule in rules for relation in rule.relations))


@dataclass(frozen=True)
class CompiledRuleSet:
    """Rules from one or more files, with a version that changes whenever their text does."""

    rules: tuple[CompiledRule, ...]
    version: str
    files: tuple[str, ...]
    #: Rules that are valid but can never fire or that another rule shadows.
    warnings: tuple[Problem, ...] = ()
    #: The text of each file, as compiled (what the store records for this version).
    texts: tuple[str, ...] = ()

    def lookback(self, event_type: str) -> tuple[Duration, ...]:
        """How long after its time an event of `event_type` may still complete a rule."""
        windows = []
        for rule in self.rules:
            if rule.looks_back is not None and event_type in rule.looks_back.event_types:
                windows.append(rule.looks_back.window)
            if rule.absent is not None and (
                event_type in rule.absent.event_types or event_type in rule.event_types
            ):
                windows.append(rule.absent.window)
        return tuple(dict.fromkeys(windows))

    def changes(self, event_type: str) -> tuple[CompiledChange, ...]:
        """The value changes that rules triggered by `event_type` compare."""
        return tuple(
            dict.fromkeys(
                rule.changed
                for rule in self.rules
                if rule.changed is not None and event_type in rule.changed.event_types
            )
        )

    def deadlines(self, event_type: str) -> tuple[Duration, ...]:
        """The windows after which absence rules triggered by `event_type` fall due."""
        return tuple(
            dict.fromkeys(
                rule.absent.window
                for rule in self.rules
                if rule.absent is not None and event_type in rule.event_types
            )
        )

    def act_within(self, rule_id: str, action: str) -> Duration:
        """The time to act on an alert of `action` raised by the rule `rule_id`."""
        for compiled in self.rule(rule_id).actions:
            if compiled.action == action:
                return compiled.act_within
        raise KeyError(f"{rule_id}: {action}")

    def rule(self, rule_id: str) -> CompiledRule:
        """The rule with this id."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)
