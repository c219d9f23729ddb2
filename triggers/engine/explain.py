"""Explain an alert: the rule, the events, the case state and the windows behind it.

`explain` first replays the case through the rules to check that they raise the
alert at all. An alert that a late or corrected event has since superseded is
not raised again, and then the explanation says so and shows no basis for it
rather than inventing one. For an alert that is raised again, everything else is
derived from the models and the compiled rule: the case state as it stood just
before the trigger's moment, each test of the rule's condition with the value it
saw, and the window, deadline, count, change or throttle the rule's time form used.

Lifecycle (acknowledged, superseded, ...) is the store's business: it may add
`notes` to an explanation, which `Explanation.lines` prints last.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from triggers.engine.replay import Engine
from triggers.engine.semantics import event_values, state_values
from triggers.errors import EngineError
from triggers.models.alerts import Alert
from triggers.models.chronology import Chronology
from triggers.models.events import EVENT_TYPES, ORDERED_VALUES, Event
from triggers.models.state import STATE_FIELDS, CaseState
from triggers.rules.compiled import (
    AllOf,
    CompiledRelation,
    CompiledRule,
    CompiledRuleSet,
    Condition,
    Test,
    holds,
)

__all__ = [
    "AbsentTiming",
    "AfterTiming",
    "AlternativesCheck",
    "ChangeTiming",
    "ConditionCheck",
    "CountTiming",
    "ExplainedEvent",
    "ExplainedRule",
    "Explanation",
    "StateValue",
    "ThrottleTiming",
    "Timing",
    "explain",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ExplainedRule(BaseModel):
    """The rule that raised the alert, and where it is written."""

    model_config = _FROZEN

    id: str
    title: str
    learning: str
    file: str
    line: int | None
    #: `file:line`, or the file alone when the line is not known.
    source: str


class ExplainedEvent(BaseModel):
    """One of the alert's events, with every field it carries."""

    model_config = _FROZEN

    id: str
    type: str
    at: datetime
    #: `trigger`: the event the rule fired on; `other`: the earlier event an `after`
    #: rule found; `counted`: another event a `count` rule counted.
    role: Literal["trigger", "other", "counted"]
    fields: dict[str, JsonValue]
    source: str | None = None
    note: str | None = None
    recorded_at: datetime | None = None


class StateValue(BaseModel):
    """A case-state value as it stood just before the trigger's moment."""

    model_config = _FROZEN

    name: str
    #: None when the value is not recorded; sets are sorted lists.
    value: JsonValue
    #: Whether one of the rule's conditions tests this value.
    tested: bool


class ConditionCheck(BaseModel):
    """One test of the rule's condition, the value it saw, and whether it held."""

    model_config = _FROZEN

    #: Readable, as `event.category in ['sexual', 'violent']` or `case.registered eq true`.
    text: str
    scope: Literal["event", "case"]
    field: str
    #: The test's operator (`eq`, `in`, `includes_any`, ...), or `changed` for a `changed:` rule.
    op: str
    expected: JsonValue
    #: The trigger's field or the case-state value (None: not recorded); for `changed`,
    #: the direction the value went.
    actual: JsonValue
    held: bool
    #: The innermost `any` block this test is part of (its label), and which of its
    #: alternatives (numbered from 1); None for a test every alert needs.
    group: str | None = None
    alternative: int | None = None


class AlternativesCheck(BaseModel):
    """An `any` block of the condition: which of its alternatives held."""

    model_config = _FROZEN

    #: `any 1`, `any 2`, ... in the order the blocks appear in the condition.
    label: str
    #: The enclosing `any` block and alternative this block sits in, if any.
    group: str | None = None
    alternative: int | None = None
    #: How many alternatives the block has.
    alternatives: int
    #: The alternatives that held, numbered from 1.
    held_by: tuple[int, ...]
    held: bool


class AfterTiming(BaseModel):
    """`after:` another event at most `within` before the trigger (both ends included)."""

    model_config = _FROZEN

    event_types: tuple[str, ...]
    #: The other event's own conditions, as `other.FIELD op value`.
    where: str | None
    within: str
    start: datetime
    end: datetime
    #: The other event's field -> the trigger's field they must share.
    same: dict[str, str]
    #: The other event the alert names (the latest that qualifies).
    other: str
    other_at: datetime
    #: Every event in the window that qualifies, in event order.
    in_window: tuple[str, ...]


class AbsentTiming(BaseModel):
    """`absent:` no such event from the trigger to the deadline (both included)."""

    model_config = _FROZEN

    event_types: tuple[str, ...]
    where: str | None
    within: str
    start: datetime
    #: When the window closed and the alert was raised (the alert's time).
    deadline: datetime
    same: dict[str, str]
    #: The values a breaking event had to share: its field -> the trigger's value.
    same_values: dict[str, JsonValue]
    #: Breaking events that arrived by the deadline: none, for an alert that was raised.
    in_time: tuple[str, ...]
    #: Breaking events that arrived after the deadline, too late.
    late: tuple[str, ...]


class CountTiming(BaseModel):
    """`count:` at least N events of the rule's kind within the window, the trigger last."""

    model_config = _FROZEN

    at_least: int
    within: str
    start: datetime
    end: datetime
    distinct: str | None
    same: tuple[str, ...]
    same_values: dict[str, JsonValue]
    #: The counted events, in event order (the trigger last).
    counted: tuple[str, ...]
    #: How many were counted: events, or different values of `distinct`.
    number: int
    distinct_values: tuple[JsonValue, ...] = ()


class ChangeTiming(BaseModel):
    """`changed:` the trigger's value against the previous such event."""

    model_config = _FROZEN

    field: str
    same: tuple[str, ...]
    same_values: dict[str, JsonValue]
    previous: JsonValue
    previous_event: str | None
    previous_at: datetime | None
    new: JsonValue
    #: `down`, `up` or `same`; None when there is no previous value.
    direction: str | None


class ThrottleTiming(BaseModel):
    """`throttle:` at most one alert from the rule within the window, per case or per key."""

    model_config = _FROZEN

    within: str
    per: tuple[str, ...]
    per_values: dict[str, JsonValue]
    #: The rule's previous alert for the same key, outside the window (None: the first).
    previous_alert_at: datetime | None
    #: Until when further alerts for the same key are held back.
    quiet_until: datetime


class Timing(BaseModel):
    """The time forms of the rule, each with what it found; unused forms are None."""

    model_config = _FROZEN

    after: AfterTiming | None = None
    absent: AbsentTiming | None = None
    count: CountTiming | None = None
    changed: ChangeTiming | None = None
    throttle: ThrottleTiming | None = None


class Explanation(BaseModel):
    """Why an alert was raised, as data (`model_dump(mode="json")`) and as text (`lines`)."""

    model_config = _FROZEN

    rule: ExplainedRule
    rules_version: str
    alert: Alert
    alert_key: str
    #: Whether replaying the chronology with these rules raises this alert again. When it
    #: does not, `state`, `tests`, `alternatives` and `timing` are left empty.
    reproduced: bool
    message: str
    events: tuple[ExplainedEvent, ...]
    #: Ids of the alert's events that the chronology no longer has.
    missing_events: tuple[str, ...] = ()
    #: The moment the case state is shown just before (the trigger's time).
    state_before: datetime | None = None
    state: tuple[StateValue, ...] = ()
    tests: tuple[ConditionCheck, ...] = ()
    alternatives: tuple[AlternativesCheck, ...] = ()
    timing: Timing = Timing()
    reason: str
    #: For an alert not raised again: what the replay raises now for the same rule and
    #: action from any of the same events.
    instead: tuple[Alert, ...] = ()
    #: Added by the store, such as why the alert was superseded.
    notes: tuple[str, ...] = ()

    def with_notes(self, *notes: str) -> Explanation:
        """The same explanation with `notes` added after any it has."""
        return self.model_copy(update={"notes": (*self.notes, *notes)})

    def lines(self) -> list[str]:
        """The explanation as plain text: rule, version, events, state and tests, timing,
        reason, notes."""
        return _Lines(self).render()


# --- deriving the explanation ---------------------------------------------------


def _json(value: Any) -> JsonValue:
    """A value as JSON data: tuples and sets become lists."""
    if isinstance(value, tuple | list | frozenset | set):
        return [_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    return value  # type: ignore[no-any-return]


def _show(value: Any) -> str:
    """A value as rules are written: strings quoted, true/false, lists in brackets."""
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return str(value)


def _when(moment: datetime) -> str:
    """A date, or a date-time where the time is not midnight (UTC)."""
    moment = moment.astimezone(UTC)
    if moment.time() == datetime.min.time():
        return moment.strftime("%Y-%m-%d")
    return moment.isoformat().replace("+00:00", "Z")


class _Case:
    """A chronology in event order: time, then catalogue order, then id (as the engine)."""

    def __init__(self, chronology: Chronology) -> None:
        self.events = sorted(
            chronology.events, key=lambda e: (e.at, EVENT_TYPES.index(e.type), e.id or "")
        )
        self.seq = {event.id or "": index for index, event in enumerate(self.events)}
        self.by_id = {event.id or "": event for event in self.events}

    def before(self, moment: datetime) -> CaseState:
        """The case as it stood just before `moment`."""
        return CaseState.from_events(e for e in self.events if e.at < moment)

    def trigger(self, rule: CompiledRule, ids: Sequence[str]) -> Event | None:
        """Of an alert's events, the one the rule fired on: the last of the rule's own types."""
        own = [self.by_id[i] for i in ids if i in self.by_id]
        own = [e for e in own if e.type in rule.event_types]
        return max(own, key=lambda e: self.seq[e.id or ""]) if own else None

    def others(self, relation: CompiledRelation, trigger: Event) -> Iterator[Event]:
        """Events of the relation's kind sharing its `same` fields with the trigger."""
        values = event_values(trigger)
        for other in self.events:
            if other is trigger or other.type not in relation.event_types:
                continue
            theirs = event_values(other)
            if holds(relation.condition, {"event": theirs}) and relation.related(theirs, values):
                yield other

    def previous(self, rule: CompiledRule, trigger: Event) -> Event | None:
        """The latest earlier event a `changed:` rule compares the trigger with."""
        change = rule.changed
        assert change is not None
        values = event_values(trigger)
        for earlier in reversed(self.events[: self.seq[trigger.id or ""]]):
            theirs = event_values(earlier)
            if (
                earlier.type in change.event_types
                and theirs.get(change.field) is not None
                and all(theirs.get(f) == values.get(f) for f in change.same)
            ):
                return earlier
        return None


def _direction(field: str, now: Any, before: Any) -> str:
    order = ORDERED_VALUES.get(field)
    if order is not None:
        now, before = order.index(now), order.index(before)
    return "down" if now < before else "up" if now > before else "same"


class _Conditions:
    """Each test of a condition tree with the value it saw, and each `any` block."""

    def __init__(self, rule: CompiledRule, values: Mapping[str, Mapping[str, Any]]) -> None:
        self.rule = rule
        self.values = values
        self.tests: list[ConditionCheck] = []
        self.groups: list[AlternativesCheck] = []

    def walk(
        self, condition: Condition, group: str | None = None, alternative: int | None = None
    ) -> None:
        if isinstance(condition, Test):
            self.tests.append(self.check(condition, group, alternative))
        elif isinstance(condition, AllOf):
            for part in condition.parts:
                self.walk(part, group, alternative)
        else:
            label = f"any {len(self.groups) + 1}"
            held_by = tuple(
                index
                for index, part in enumerate(condition.parts, start=1)
                if holds(part, self.values)
            )
            self.groups.append(
                AlternativesCheck(
                    label=label,
                    group=group,
                    alternative=alternative,
                    alternatives=len(condition.parts),
                    held_by=held_by,
                    held=bool(held_by),
                )
            )
            for index, part in enumerate(condition.parts, start=1):
                self.walk(part, label, index)

    def check(self, test: Test, group: str | None, alternative: int | None) -> ConditionCheck:
        actual = self.values.get(test.scope, {}).get(test.field)
        scope: Literal["event", "case"] = "event" if test.scope == "event" else "case"
        field, op = test.field, test.op
        change = self.rule.changed
        if change is not None and test.scope == "event" and test.field == change.key:
            field, op = change.field, "changed"
        return ConditionCheck(
            text=_test_text(test, scope, field, op),
            scope=scope,
            field=field,
            op=op,
            expected=_json(test.value),
            actual=_json(actual),
            held=holds(test, self.values),
            group=group,
            alternative=alternative,
        )


def _test_text(test: Test, scope: str, field: str, op: str) -> str:
    return f"{scope}.{field} {op} {test.value if op == 'changed' else _show(test.value)}"


def _sentence(condition: Condition, scope: str) -> str:
    """A condition on one line: tests joined by `and`, alternatives by `or`."""
    if isinstance(condition, Test):
        return _test_text(condition, scope, condition.field, condition.op)
    words = [_sentence(part, scope) for part in condition.parts]
    if isinstance(condition, AllOf):
        return " and ".join(words)
    return "(" + " or ".join(words) + ")"


def _tested_state(condition: Condition) -> set[str]:
    if isinstance(condition, Test):
        return {condition.field} if condition.scope == "state" else set()
    return set().union(*(_tested_state(part) for part in condition.parts))


def _explained_event(event: Event, role: Literal["trigger", "other", "counted"]) -> ExplainedEvent:
    return ExplainedEvent(
        id=event.id or "",
        type=event.type,
        at=event.at,
        role=role,
        fields=event.fields(),
        source=event.source,
        note=event.note,
        recorded_at=event.recorded_at,
    )


class _Explainer:
    """Derives the parts of an explanation for an alert the replay raises again."""

    def __init__(self, case: _Case, rule: CompiledRule, trigger: Event, alert: Alert) -> None:
        self.case = case
        self.rule = rule
        self.trigger = trigger
        self.alert = alert
        self.values = event_values(trigger)
        self.previous = case.previous(rule, trigger) if rule.changed is not None else None
        if rule.changed is not None and self.previous is not None:
            new = self.values.get(rule.changed.field)
            old = event_values(self.previous)[rule.changed.field]
            if new is not None:
                self.values[rule.changed.key] = _direction(rule.changed.field, new, old)
        self.before = state_values(case.before(trigger.at))

    def state(self) -> tuple[StateValue, ...]:
        tested = _tested_state(self.rule.condition)
        return tuple(
            StateValue(name=name, value=_json(self.before.get(name)), tested=name in tested)
            for name in STATE_FIELDS
        )

    def conditions(self) -> _Conditions:
        conditions = _Conditions(self.rule, {"event": self.values, "state": self.before})
        conditions.walk(self.rule.condition)
        return conditions

    def shared(self, fields: Sequence[str]) -> dict[str, JsonValue]:
        return {name: _json(self.values.get(name)) for name in fields}

    def after(self, relation: CompiledRelation) -> AfterTiming:
        trigger = self.trigger
        start = relation.window.before(trigger.at)
        overlap = bool(set(self.rule.event_types) & set(relation.event_types))
        seq = self.case.seq
        in_window = [
            other
            for other in self.case.others(relation, trigger)
            if start <= other.at <= trigger.at
            and (not overlap or seq[other.id or ""] < seq[trigger.id or ""])
        ]
        named = [i for i in self.alert.events if i != trigger.id]
        other = self.case.by_id[named[0]]
        return AfterTiming(
            event_types=relation.event_types,
            where=_sentence(relation.condition, "other") or None,
            within=str(relation.window),
            start=start,
            end=trigger.at,
            same=dict(relation.same),
            other=other.id or "",
            other_at=other.at,
            in_window=tuple(e.id or "" for e in in_window),
        )

    def absent(self, relation: CompiledRelation) -> AbsentTiming:
        trigger = self.trigger
        deadline = relation.window.after(trigger.at)
        overlap = bool(set(self.rule.event_types) & set(relation.event_types))
        seq = self.case.seq
        in_time, late = [], []
        for other in self.case.others(relation, trigger):
            if other.at > deadline:
                late.append(other.id or "")
            elif other.at >= trigger.at and (
                not overlap or seq[other.id or ""] > seq[trigger.id or ""]
            ):
                in_time.append(other.id or "")
        return AbsentTiming(
            event_types=relation.event_types,
            where=_sentence(relation.condition, "other") or None,
            within=str(relation.window),
            start=trigger.at,
            deadline=deadline,
            same=dict(relation.same),
            same_values={theirs: _json(self.values.get(ours)) for theirs, ours in relation.same},
            in_time=tuple(in_time),
            late=tuple(late),
        )

    def count(self) -> CountTiming:
        count = self.rule.count
        assert count is not None
        counted = sorted(
            (self.case.by_id[i] for i in self.alert.events), key=lambda e: self.case.seq[e.id or ""]
        )
        distinct: tuple[JsonValue, ...] = ()
        number = len(counted)
        if count.distinct is not None:
            found = (event_values(e).get(count.distinct) for e in counted)
            distinct = tuple(_json(v) for v in dict.fromkeys(found) if v is not None)
            number = len(distinct)
        return CountTiming(
            at_least=count.at_least,
            within=str(count.window),
            start=count.window.before(self.trigger.at),
            end=self.trigger.at,
            distinct=count.distinct,
            same=count.same,
            same_values=self.shared(count.same),
            counted=tuple(e.id or "" for e in counted),
            number=number,
            distinct_values=distinct,
        )

    def changed(self) -> ChangeTiming:
        change = self.rule.changed
        assert change is not None
        previous = self.previous
        return ChangeTiming(
            field=change.field,
            same=change.same,
            same_values=self.shared(change.same),
            previous=None if previous is None else _json(event_values(previous)[change.field]),
            previous_event=None if previous is None else previous.id,
            previous_at=None if previous is None else previous.at,
            new=_json(self.values.get(change.field)),
            direction=self.values.get(change.key),
        )

    def throttle(self, raised: Sequence[Alert]) -> ThrottleTiming:
        throttle = self.rule.throttle
        assert throttle is not None
        key = [self.values.get(name) for name in throttle.per]
        earlier = []
        for alert in raised:
            if alert.rule != self.rule.id or alert.action != self.alert.action:
                continue
            trigger = self.case.trigger(self.rule, alert.events)
            if trigger is None or alert.at >= self.alert.at:
                continue
            values = event_values(trigger)
            if [values.get(name) for name in throttle.per] == key:
                earlier.append(alert.at)
        return ThrottleTiming(
            within=str(throttle.window),
            per=throttle.per,
            per_values=self.shared(throttle.per),
            previous_alert_at=max(earlier) if earlier else None,
            quiet_until=throttle.window.after(self.alert.at),
        )

    def timing(self, raised: Sequence[Alert]) -> Timing:
        rule = self.rule
        return Timing(
            after=self.after(rule.after) if rule.after is not None else None,
            absent=self.absent(rule.absent) if rule.absent is not None else None,
            count=self.count() if rule.count is not None else None,
            changed=self.changed() if rule.changed is not None else None,
            throttle=self.throttle(raised) if rule.throttle is not None else None,
        )


def _rule_info(rule: CompiledRule) -> ExplainedRule:
    file, line = rule.source.file, rule.source.line
    return ExplainedRule(
        id=rule.id,
        title=rule.title,
        learning=rule.learning,
        file=file,
        line=line,
        source=file if line is None else f"{file}:{line}",
    )


def _clock(chronology: Chronology, alert: Alert, until: datetime | None) -> datetime | None:
    """The replay's clock: `until`, or the alert's time when that is after the last event
    (only a replay whose clock reached it can have raised it)."""
    if until is not None:
        return until
    last = max((e.at for e in chronology.events), default=None)
    return alert.at if last is None or alert.at > last else None


def explain(
    rules: CompiledRuleSet,
    chronology: Chronology,
    alert: Alert,
    until: datetime | None = None,
) -> Explanation:
    """Why `rules` raised `alert` for the case in `chronology`.

    The case is replayed through `Engine(rules)` with the clock run on to `until` (by
    default to the alert's time, when that is after the last event). If the replay
    does not raise this alert (the same `alert.key`), the explanation says so
    (`reproduced` false) and shows the rule, the alert and its events but no basis.
    Raises `EngineError` if the alert's rule is not in `rules`.
    """
    try:
        rule = rules.rule(alert.rule)
    except KeyError:
        raise EngineError(
            f"rule {alert.rule!r} is not in rule set {rules.version}:"
            " explain an alert with the rule set that raised it"
        ) from None
    case = _Case(chronology)
    trigger = case.trigger(rule, alert.events)
    ordered = sorted(
        (case.by_id[i] for i in alert.events if i in case.by_id),
        key=lambda e: case.seq[e.id or ""],
    )
    missing = tuple(i for i in alert.events if i not in case.by_id)
    default_role: Literal["other", "counted"] = "counted" if rule.count is not None else "other"
    events = tuple(
        _explained_event(e, "trigger" if e is trigger else default_role) for e in ordered
    )
    common: dict[str, Any] = {
        "rule": _rule_info(rule),
        "rules_version": rules.version,
        "alert": alert,
        "alert_key": alert.key,
        "events": events,
        "missing_events": missing,
        "reason": alert.reason,
    }
    replaying = f"replaying case {chronology.case!r} with rule set {rules.version}"
    if alert.case != chronology.case:
        message = f"the alert is for case {alert.case!r}, not {chronology.case!r}"
        return Explanation(reproduced=False, message=message, **common)
    clock = _clock(chronology, alert, until)
    if clock is not None:
        replaying += f" up to {_when(clock)}"
    raised = Engine(rules).replay(chronology, clock).alerts
    if trigger is None or not any(a.key == alert.key for a in raised):
        end = clock or max(e.at for e in chronology.events)
        if missing:
            why = f"its events {', '.join(missing)} are not in the chronology"
        elif alert.at > end:
            why = f"the clock stops at {_when(end)}, before the alert's time"
        else:
            why = (
                "the case's events no longer lead to it (a late or corrected event"
                " has changed the case), so no basis is shown"
            )
        instead = tuple(
            a
            for a in raised
            if a.rule == alert.rule
            and a.action == alert.action
            and set(a.events) & set(alert.events)
        )
        message = f"{replaying} does not raise this alert: {why}"
        return Explanation(reproduced=False, message=message, instead=instead, **common)
    explainer = _Explainer(case, rule, trigger, alert)
    conditions = explainer.conditions()
    return Explanation(
        reproduced=True,
        message=f"{replaying} raises this alert again",
        state_before=trigger.at,
        state=explainer.state(),
        tests=tuple(conditions.tests),
        alternatives=tuple(conditions.groups),
        timing=explainer.timing(raised),
        **common,
    )


# --- plain text -------------------------------------------------------------------


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids) if ids else "none"


def _values(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {_show(value)}" for name, value in values.items())


class _Lines:
    """An explanation as plain lines of text, in the order people read it."""

    def __init__(self, explanation: Explanation) -> None:
        self.x = explanation
        self.out: list[str] = []

    def render(self) -> list[str]:
        x, alert = self.x, self.x.alert
        params = f" ({_values(alert.params)})" if alert.params else ""
        self.out += [
            f"Alert {alert.action}{params}, priority {alert.priority},"
            f" case {alert.case}, at {_when(alert.at)}",
            f"Rule {x.rule.id}: {x.rule.title}",
            f"  written at {x.rule.source}",
            f"  learning: {x.rule.learning}",
            f"Rule set version {x.rules_version}",
            ("Reproduced: " if x.reproduced else "NOT REPRODUCED: ") + x.message,
        ]
        self.events()
        self.conditions()
        self.timing()
        self.out.append(f"Reason: {x.reason}")
        if x.instead:
            self.out.append("Raised now instead:")
            for other in x.instead:
                self.out.append(
                    f"  {_when(other.at)} {other.rule} {other.action}"
                    f" from {_ids(other.events)}: {other.reason}"
                )
        if x.notes:
            self.out.append("Notes:")
            self.out += [f"  {note}" for note in x.notes]
        return self.out

    def events(self) -> None:
        self.out.append("Events:")
        for event in self.x.events:
            source = f", source {event.source}" if event.source else ""
            self.out.append(f"  {event.role}: {event.id} {event.type} at {_when(event.at)}{source}")
            if event.fields:
                self.out.append(f"    {_values(event.fields)}")
            if event.recorded_at is not None:
                self.out.append(f"    recorded at {_when(event.recorded_at)}")
            if event.note:
                self.out.append(f"    note: {event.note}")
        if self.x.missing_events:
            self.out.append(f"  not in the chronology: {_ids(self.x.missing_events)}")

    def conditions(self) -> None:
        x = self.x
        if x.state_before is None:
            return
        tested = {s.name: s.value for s in x.state if s.tested}
        rest = {s.name: s.value for s in x.state if not s.tested and s.value is not None}
        self.out.append(f"Case state just before {_when(x.state_before)}:")
        if tested:
            self.out.append(f"  tested: {_values(tested)}")
        if rest:
            self.out.append(f"  other: {_values(rest)}")
        if not x.tests:
            return
        self.out.append("Conditions:")
        groups = {g.label: g for g in x.alternatives}
        shown: set[str] = set()
        for test in x.tests:
            # The `any` blocks the test sits in, outermost first, each headed once.
            chain: list[AlternativesCheck] = []
            label = test.group
            while label is not None:
                chain.insert(0, groups[label])
                label = groups[label].group
            for depth, group in enumerate(chain, start=1):
                if group.label not in shown:
                    shown.add(group.label)
                    held = ", ".join(str(i) for i in group.held_by)
                    verdict = f"held by alternative {held}" if held else "no alternative held"
                    where = f"(alternative {group.alternative}) " if group.alternative else ""
                    self.out.append(
                        "  " * depth
                        + f"{where}{group.label} ({group.alternatives} alternatives): {verdict}"
                    )
            verdict = "held" if test.held else "did not hold"
            where = f"(alternative {test.alternative}) " if test.alternative else ""
            self.out.append(
                "  " * (len(chain) + 1)
                + f"{where}{test.text}: {verdict} (actual {_show(test.actual)})"
            )

    def timing(self) -> None:
        t = self.x.timing
        if not any((t.after, t.absent, t.count, t.changed, t.throttle)):
            return
        self.out.append("Timing:")
        if t.after is not None:
            a = t.after
            self.out.append(
                f"  after: {' or '.join(a.event_types)} within {a.within} before the trigger:"
                f" window {_when(a.start)} to {_when(a.end)}"
            )
            self._relation(a.where, a.same, {})
            self.out.append(
                f"    found {a.other} at {_when(a.other_at)} (the latest of {_ids(a.in_window)})"
            )
        if t.absent is not None:
            b = t.absent
            self.out.append(
                f"  absent: no {' or '.join(b.event_types)} within {b.within} after the trigger:"
                f" window {_when(b.start)} to the deadline {_when(b.deadline)}"
            )
            self._relation(b.where, b.same, b.same_values)
            arrived = (
                f"arrived in time: {_ids(b.in_time)}"
                if b.in_time
                else "none arrived by the deadline"
            )
            late = f"; too late: {_ids(b.late)}" if b.late else ""
            self.out.append(f"    {arrived}{late}")
        if t.count is not None:
            c = t.count
            kind = f"different {c.distinct} values" if c.distinct else "events"
            self.out.append(
                f"  count: at least {c.at_least} {kind} within {c.within}:"
                f" window {_when(c.start)} to {_when(c.end)}; counted {c.number}"
            )
            if c.same:
                self.out.append(f"    the same {_values(c.same_values)}")
            self.out.append(f"    counted events: {_ids(c.counted)}")
            if c.distinct:
                self.out.append(f"    {c.distinct}: {_show(list(c.distinct_values))}")
        if t.changed is not None:
            d = t.changed
            same = f" (same {_values(d.same_values)})" if d.same else ""
            before = (
                f"{_show(d.previous)} in {d.previous_event} at {_when(d.previous_at)}"
                if d.previous_at is not None
                else "no previous value"
            )
            self.out.append(
                f"  changed: {d.field} went {d.direction or 'nowhere'}{same}:"
                f" {before}, now {_show(d.new)}"
            )
        if t.throttle is not None:
            e = t.throttle
            per = f" per {_values(e.per_values)}" if e.per else " per case"
            previous = (
                f"previous alert {_when(e.previous_alert_at)}"
                if e.previous_alert_at is not None
                else "the first alert"
            )
            self.out.append(
                f"  throttle: one alert within {e.within}{per}: {previous};"
                f" quiet until {_when(e.quiet_until)}"
            )

    def _relation(
        self, where: str | None, same: Mapping[str, str], values: Mapping[str, Any]
    ) -> None:
        if where:
            self.out.append(f"    where {where}")
        for theirs, ours in same.items():
            value = f" = {_show(values[theirs])}" if theirs in values else ""
            self.out.append(f"    its {theirs} the same as the trigger's {ours}{value}")
