"""Derive an alert's explanation: the rule, the events, the case state, the windows.

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
from datetime import datetime
from typing import Any, Literal

from pydantic import JsonValue

from triggers.engine.explain.model import (
    AbsentTiming,
    AfterTiming,
    AlternativesCheck,
    ChangeTiming,
    ConditionCheck,
    CountTiming,
    DueTiming,
    ExplainedEvent,
    ExplainedRule,
    Explanation,
    StateValue,
    ThrottleTiming,
    Timing,
)
from triggers.engine.explain.text import show, when
from triggers.engine.replay import Engine
from triggers.engine.semantics import (
    direction,
    event_order,
    event_values,
    looks_back,
    state_values,
    within_after,
)
from triggers.errors import EngineError
from triggers.models.alerts import Alert
from triggers.models.chronology import Chronology
from triggers.models.events import Event
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

__all__ = ["explain"]


def _json(value: Any) -> JsonValue:
    """A value as JSON data: tuples and sets become lists."""
    if isinstance(value, tuple | list | frozenset | set):
        return [_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    return value  # type: ignore[no-any-return]


class _Case:
    """A chronology in event order, as the engine takes it."""

    def __init__(self, chronology: Chronology) -> None:
        self.events = event_order(chronology.events)
        self.seq = {event.id or "": index for index, event in enumerate(self.events)}
        self.by_id = {event.id or "": event for event in self.events}

    def before(self, moment: datetime) -> CaseState:
        """The case as it stood just before `moment`."""
        return CaseState.from_events(e for e in self.events if e.at < moment).as_of(moment)

    def through(self, moment: datetime) -> Mapping[str, Any]:
        """The case-state values after every event up to `moment` (included)."""
        return dict(CaseState.from_events(e for e in self.events if e.at <= moment).values())

    def trigger(self, rule: CompiledRule, ids: Sequence[str]) -> Event | None:
        """Of an alert's events, the one the rule fired on: the last of the rule's own types
        (for `due`, or of the due event's, which restarted the clock)."""
        types = (*rule.event_types, *(rule.due.event_types if rule.due is not None else ()))
        own = [self.by_id[i] for i in ids if i in self.by_id]
        own = [e for e in own if e.type in types]
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
    return f"{scope}.{field} {op} {test.value if op == 'changed' else show(test.value)}"


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
                self.values[rule.changed.key] = direction(rule.changed.field, new, old)
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
            if looks_back(relation.window, other.at, trigger.at)
            and (not overlap or seq[other.id or ""] < seq[trigger.id or ""])
            and all(
                None not in (other_values.get(theirs), self.values.get(ours))
                and other_values.get(theirs) != self.values.get(ours)
                for theirs, ours in relation.differ
                for other_values in (event_values(other),)
            )
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
            elif within_after(relation.window, trigger.at, other.at) and (
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
            unless=count.unless.event_types if count.unless is not None else (),
            unless_from=counted[0].at if count.unless is not None and counted else None,
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
            reset_by=throttle.reset_by,
        )

    def due(self, raised: Sequence[Alert]) -> DueTiming:
        due = self.rule.due
        assert due is not None
        missed = sorted(
            a.at
            for a in raised
            if a.rule == self.alert.rule
            and a.action == self.alert.action
            and a.events == self.alert.events
            and a.at < self.alert.at
        )
        # Only the deadlines since this restart: an earlier run of the clock started by the
        # same event cannot be (a restart ends a run), so all of them are this run's.
        set_at = missed[-1] if missed else self.trigger.at
        value = self.case.through(set_at).get(due.state)
        period = due.period(value)
        return DueTiming(
            event_types=due.event_types,
            where=_sentence(due.condition, "due") or None,
            state=due.state,
            every={str(name): str(window) for name, window in due.every},
            started_by=self.trigger.id or "",
            start=self.trigger.at,
            missed_before=tuple(missed),
            value=_json(value),
            period=str(period) if period is not None else "",
            deadline=self.alert.at,
        )

    def timing(self, raised: Sequence[Alert]) -> Timing:
        rule = self.rule
        return Timing(
            after=self.after(rule.after) if rule.after is not None else None,
            absent=self.absent(rule.absent) if rule.absent is not None else None,
            count=self.count() if rule.count is not None else None,
            changed=self.changed() if rule.changed is not None else None,
            throttle=self.throttle(raised) if rule.throttle is not None else None,
            due=self.due(raised) if rule.due is not None else None,
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
        replaying += f" up to {when(clock)}"
    raised = Engine(rules).replay(chronology, clock).alerts
    if trigger is None or not any(a.key == alert.key for a in raised):
        end = clock or max(e.at for e in chronology.events)
        if missing:
            why = f"its events {', '.join(missing)} are not in the chronology"
        elif alert.at > end:
            why = f"the clock stops at {when(end)}, before the alert's time"
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
