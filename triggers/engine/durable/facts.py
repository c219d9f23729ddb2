"""The facts asserted in durable_rules, defined once: what each carries and how many properties.

An event fact carries, besides the event's values and the case state, what
durable_rules cannot compute itself or mishandles: the bounds of every window
around the event (correlated arithmetic crashes it), the event time negated
("x >= y" is written as "-x <= -y"), and a flag per group of event types that a
pattern tests as one (`$or` is wrong in some patterns). The limit check counts a
fact's properties from the same definitions (`FactLayout.properties`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from triggers.engine.backend import EventInput
from triggers.models.events import EVENT_TYPES, BaseEvent
from triggers.models.state import STATE_FIELDS
from triggers.rules.catalogue import event_fields
from triggers.rules.compiled import CompiledRule, Condition, Test, windows_of
from triggers.rules.duration import Duration

__all__ = [
    "EVENT_FACT_KEYS",
    "EVENT_KEYS",
    "WINDOW_BOUNDS",
    "FactLayout",
    "group_key",
    "state_message",
    "type_groups",
    "window_key",
]

#: The properties of an event fact.
EVENT_FACT_KEYS = ("sid", "id", "kind", "seq", "event", "state")
#: The properties inside `event` besides the event type's own fields, windows and flags.
EVENT_KEYS = ("type", "id", "source", "at", "neg_at")
#: Per window: the earliest time it reaches back to, the latest it reaches forward to,
#: and that latest time negated.
WINDOW_BOUNDS = ("lo", "hi", "nhi")
#: Case-state properties: every value, and a set also one property per possible member.
_STATE_PROPERTIES = sum(
    1 + (len(field.values) if field.kind == "set" else 0) for field in STATE_FIELDS.values()
)
_COMMON_FIELDS = {*BaseEvent.model_fields, "type"}


def group_key(types: Sequence[str]) -> str:
    """The name of the flag that marks an event as one of `types`."""
    return "g_" + hashlib.sha256("|".join(sorted(types)).encode()).hexdigest()[:12]


def window_key(window: Duration) -> str:
    """The prefix of the properties that carry an event's window bounds."""
    return f"w{window.months}m{window.seconds}s"


def type_groups(rules: Sequence[CompiledRule]) -> tuple[tuple[str, ...], ...]:
    """Sets of several event types that patterns test through a flag on each event.

    They are the types whose absence a rule waits for, and the types that trigger an
    `after` rule: durable_rules mishandles `$or` in those patterns.
    """
    return tuple(
        dict.fromkeys(
            types
            for rule in rules
            for types in (
                rule.absent.event_types if rule.absent is not None else (),
                rule.event_types if rule.looks_back is not None else (),
            )
            if len(types) > 1
        )
    )


def state_message(state: Mapping[str, Any]) -> dict[str, Any]:
    """Case-state values as a fact carries them: a set as a mapping of its members to true."""
    message: dict[str, Any] = {}
    for name, value in state.items():
        if STATE_FIELDS[name].kind == "set":
            if value:
                message[name] = dict.fromkeys(value, True)
        else:
            message[name] = value
    return message


def _tests(rule: CompiledRule) -> Iterator[Test]:
    """Every test of the rule's conditions, its own and its related events'."""
    for condition in (rule.condition, *(r.condition for r in rule.relations)):
        yield from _walk(condition)


def _walk(condition: Condition) -> Iterator[Test]:
    if isinstance(condition, Test):
        yield condition
    else:
        for part in condition.parts:
            yield from _walk(part)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


class FactLayout:
    """The facts of one rule set: which windows and flags every event fact carries."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self.windows = windows_of(rules)
        # A fact carries only what some pattern reads: the bounds of the windows of the
        # `after` and `absent` rules its event triggers, and the fields and case-state
        # values some condition tests (facts are encoded as JSON on every call).
        self._windows = {
            t: windows_of([rule for rule in rules if t in rule.event_types]) for t in EVENT_TYPES
        }
        tests = [test for rule in rules for test in _tests(rule)]
        self._event_names = frozenset(
            {"type", "id"}
            | {test.field for test in tests if test.scope == "event"}
            | {name for rule in rules for r in rule.relations for pair in r.same for name in pair}
        )
        self._state_names = frozenset(test.field for test in tests if test.scope == "state")
        # Event fields holding values of an enumeration (such as `scales`), which a
        # fact carries, like a case-state set, as a mapping of its members to true.
        self._event_sets = frozenset(
            name
            for event_type in EVENT_TYPES
            for name, spec in event_fields(event_type).items()
            if spec.kind == "set" and name in self._event_names
        )
        groups = type_groups(rules)
        self._flags = {t: tuple(group_key(g) for g in groups if t in g) for t in EVENT_TYPES}
        self._changes = {
            t: tuple(
                dict.fromkeys(
                    rule.changed.key
                    for rule in rules
                    if rule.changed is not None and t in rule.changed.event_types
                )
            )
            for t in EVENT_TYPES
        }

    def event(self, case: str, fact_id: int, event: EventInput) -> dict[str, Any]:
        """The fact for an event: its values, window bounds, flags and the case state."""
        at = _seconds(event.at)
        values = {k: v for k, v in event.values.items() if k in self._event_names}
        for name in self._event_sets.intersection(values):
            values[name] = dict.fromkeys(values[name], True)
        values["at"], values["neg_at"] = at, -at
        for window in self._windows[event.type]:
            key = window_key(window)
            low, high = window.before(event.at), window.after(event.at)
            values[f"{key}_lo"] = _seconds(low)
            values[f"{key}_hi"] = _seconds(high)
            values[f"{key}_nhi"] = -_seconds(high)
        for flag in self._flags[event.type]:
            values[flag] = True
        state = state_message({k: v for k, v in event.state.items() if k in self._state_names})
        parts = (case, fact_id, "event", event.seq, values, state)
        return dict(zip(EVENT_FACT_KEYS, parts, strict=True))

    def properties(self, event_type: str) -> int:
        """The most properties an `event_type` event fact can have, nested ones included."""
        own = [
            member
            for name, spec in event_fields(event_type).items()
            if name not in _COMMON_FIELDS
            for member in (spec.values if spec.kind == "set" else (name,))
        ]
        return (
            len(EVENT_FACT_KEYS)
            + len(EVENT_KEYS)
            + len(own)
            + len(WINDOW_BOUNDS) * len(self.windows)
            + len(self._changes[event_type])
            + len(self._flags[event_type])
            + _STATE_PROPERTIES
        )

    @staticmethod
    def clock(case: str, fact_id: int, now: datetime) -> dict[str, Any]:
        """The case's clock at `now`; its `seq` 0 comes before every event's."""
        seconds = _seconds(now)
        return {
            "sid": case,
            "id": fact_id,
            "kind": "clock",
            "seq": 0,
            "now": seconds,
            "neg_now": -seconds,
        }

    @staticmethod
    def tally(
        case: str, fact_id: int, *, rule: str, count: int, trigger: str, state: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A count rule's tally of its events up to `trigger`."""
        return {
            "sid": case,
            "id": fact_id,
            "kind": "tally",
            "rule": rule,
            "count": count,
            "event": {"id": trigger},
            "state": state_message(state),
        }
