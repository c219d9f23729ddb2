"""A reference evaluator: what the compiled rules mean, computed by brute force.

A second, independent opinion on `Engine`. It reads the compiled rule set and
searches a case's whole event list directly for every alert a rule raises: no
backend, no facts, no retention, no incremental bookkeeping. It is
quadratic in the number of events and meant for tests and audits; the
differential tests demand that both evaluators raise exactly the same alerts.

The meaning it encodes (README, "Writing rules"):

- events are taken in event order: time, then catalogue order, then id;
- a rule sees the case as it stood before the trigger's moment, so events at
  the same moment are simultaneous;
- every window includes both of its ends;
- `after`: one alert per trigger, naming the latest other event within the
  window before it or at its moment; where the rule's own types and the other's
  overlap, the other must come earlier in event order; `differ` fields recorded
  on both and unequal;
- `absent`: an alert at the trigger's deadline when no such event falls from
  the trigger to the deadline (where the types overlap, later in event order),
  once the clock reaches it: the clock ends at the later of the last event and
  `until`, and a deadline passes after the events of its own moment;
- `absent` with `before`: an alert at the trigger when no such event lies within
  the window before it or at its moment (where the types overlap, earlier in
  event order), the very events `after` would find;
- `count`: events of the rule's kind (its types and `where`, not case state) in
  the window up to the trigger in event order; with `unless`, no alert when an
  event of its kind (types, `where`, `same` as the trigger) lies from the first
  counted event's moment to the trigger's, both included, whatever its place in
  event order within those moments;
- `due`: the clock restarts at each moment that holds a trigger or a due event (its
  types and `where`), the last of them in event order named; a period is looked up
  for the state value after that moment, and then after each deadline missed (none:
  the clock stops); an alert at each deadline that passes (the clock reaching it)
  before the next restart, a restart at the deadline's own moment meeting it;
- `changed`: against the latest earlier event of the compared types with the
  same `same` values;
- throttle: a firing is dropped when one kept for the same rule and key lies
  within the window before it, unless a `reset_by` event lies after that one's
  moment and up to the firing's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from triggers.engine.replay import CaseResult
from triggers.engine.semantics import event_values, state_values
from triggers.models.alerts import Alert
from triggers.models.chronology import Chronology
from triggers.models.events import EVENT_TYPES, ORDERED_VALUES, Event
from triggers.models.state import CaseState
from triggers.rules.compiled import (
    AllOf,
    CompiledChange,
    CompiledCount,
    CompiledDue,
    CompiledRelation,
    CompiledRule,
    CompiledRuleSet,
    Condition,
    Test,
    holds,
)
from triggers.rules.duration import Duration
from triggers.rules.template import Template

__all__ = ["ReferenceEngine"]


@dataclass(frozen=True)
class _Seen:
    """An event in event order, with the values rules see and the case just before it."""

    event: Event
    seq: int
    values: Mapping[str, Any]
    before: CaseState

    @property
    def at(self) -> datetime:
        return self.event.at


@dataclass(frozen=True)
class _Firing:
    """A rule raised for a trigger: when, with which events, and the case shown in its text."""

    rule: CompiledRule
    trigger: _Seen
    at: datetime
    events: tuple[_Seen, ...]
    state: CaseState

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(seen.event.id or "" for seen in self.events)


def _looks_back(window: Duration, moment: datetime, to: datetime) -> bool:
    """`moment` lies within `window` before `to`, both ends of the window included."""
    return window.before(to) <= moment <= to


def _direction(now: Any, before: Any, field: str) -> str:
    order = ORDERED_VALUES.get(field)
    if order is not None and isinstance(now, str):
        now, before = order.index(now), order.index(before)
    return "down" if now < before else "up" if now > before else "same"


def _differ(relation: CompiledRelation, other: _Seen, trigger: _Seen) -> bool:
    """Every `differ` field recorded on both events, and unequal."""
    return all(
        None not in (other.values.get(theirs), trigger.values.get(ours))
        and other.values.get(theirs) != trigger.values.get(ours)
        for theirs, ours in relation.differ
    )


def _event_only(condition: Condition) -> Condition:
    """The conjuncts of `condition` that do not look at case state (a rule's `where`)."""

    def tests(part: Condition) -> Iterator[Test]:
        if isinstance(part, Test):
            yield part
        else:
            for inner in part.parts:
                yield from tests(inner)

    parts = condition.parts if isinstance(condition, AllOf) else (condition,)
    return AllOf(tuple(p for p in parts if all(t.scope == "event" for t in tests(p))))


class _Case:
    """One case's events in event order, searched directly for each rule's firings."""

    def __init__(self, chronology: Chronology, until: datetime | None) -> None:
        self.id = chronology.case
        ordered = sorted(
            chronology.events, key=lambda e: (e.at, EVENT_TYPES.index(e.type), e.id or "")
        )
        before: dict[datetime, CaseState] = {}
        self.after: list[tuple[datetime, CaseState]] = []
        state = CaseState()
        for moment in chronology.moments():
            state = state.as_of(moment[0].at)  # a licence whose end has come is over
            before[moment[0].at] = state
            state = state.apply_moment(moment)
            self.after.append((moment[0].at, state))
        self.events = [
            _Seen(e, seq, event_values(e), before[e.at]) for seq, e in enumerate(ordered, start=1)
        ]
        last = self.events[-1].at if self.events else None
        # The clock never runs backwards: it stops at the last event or at `until`,
        # whichever is later.
        ends = [t for t in (last, until) if t is not None]
        self.end = max(ends) if ends else None

    def state_through(self, moment: datetime) -> CaseState:
        """The case after every event at or before `moment`."""
        state = CaseState()
        for at, after in self.after:
            if at <= moment:
                state = after
        return state

    def change(self, change: CompiledChange, seen: _Seen) -> str | None:
        """Whether the value went down, up or stayed the same since the latest earlier one."""
        value = seen.values.get(change.field)
        if value is None:
            return None
        for earlier in reversed(self.events[: seen.seq - 1]):
            if (
                earlier.event.type in change.event_types
                and earlier.values.get(change.field) is not None
                and all(earlier.values.get(f) == seen.values.get(f) for f in change.same)
            ):
                return _direction(value, earlier.values[change.field], change.field)
        return None

    def values(self, rule: CompiledRule, seen: _Seen) -> dict[str, Any]:
        """The trigger's values for `rule`, with the direction of a compared value."""
        values = dict(seen.values)
        if rule.changed is not None:
            direction = self.change(rule.changed, seen)
            if direction is not None:
                values[rule.changed.key] = direction
        return values

    def others(self, relation: CompiledRelation, trigger: _Seen) -> Iterator[_Seen]:
        """Events of the relation's kind that share its `same` fields with the trigger."""
        for other in self.events:
            if (
                other is not trigger
                and other.event.type in relation.event_types
                and holds(relation.condition, {"event": other.values})
                and relation.related(other.values, trigger.values)
            ):
                yield other

    def firings(self, rule: CompiledRule) -> Iterator[_Firing]:
        """Every firing of `rule` in this case, before throttling."""
        if rule.due is not None:
            yield from self.due_firings(rule, rule.due)
            return
        for seen in self.events:
            if seen.event.type not in rule.event_types:
                continue
            scope = {"event": self.values(rule, seen), "state": state_values(seen.before)}
            if not holds(rule.condition, scope):
                continue
            if rule.after is not None:
                firing = self.after_firing(rule, rule.after, seen)
            elif rule.absent is not None:
                firing = self.absent_firing(rule, rule.absent, seen)
            elif rule.absent_before is not None:
                firing = self.absent_before_firing(rule, rule.absent_before, seen)
            elif rule.count is not None:
                firing = self.count_firing(rule, rule.count, seen)
            else:
                firing = _Firing(rule, seen, seen.at, (seen,), seen.before)
            if firing is not None:
                yield firing

    def due_firings(self, rule: CompiledRule, due: CompiledDue) -> Iterator[_Firing]:
        """An alert at each deadline missed: each period from the latest restart (a trigger
        or a due event; the last in event order names it) or the deadline missed before."""
        restarts: dict[datetime, _Seen] = {}
        for seen in self.events:
            triggers = seen.event.type in rule.event_types and holds(
                rule.condition,
                {"event": self.values(rule, seen), "state": state_values(seen.before)},
            )
            if triggers or (
                seen.event.type in due.event_types and holds(due.condition, {"event": seen.values})
            ):
                restarts[seen.at] = seen
        starts = sorted(restarts)
        for i, start in enumerate(starts):
            following = starts[i + 1] if i + 1 < len(starts) else None
            deadline = start
            while self.end is not None:
                value = state_values(self.state_through(deadline)).get(due.state)
                period = due.period(value)
                if period is None:
                    break
                deadline = period.after(deadline)
                if deadline > self.end or (following is not None and deadline >= following):
                    break
                seen = restarts[start]
                yield _Firing(rule, seen, deadline, (seen,), self.state_through(deadline))

    def after_firing(
        self, rule: CompiledRule, after: CompiledRelation, trigger: _Seen
    ) -> _Firing | None:
        """The trigger with the latest other event at most `within` before it."""
        overlap = bool(set(rule.event_types) & set(after.event_types))
        qualifying = [
            other
            for other in self.others(after, trigger)
            if _looks_back(after.window, other.at, trigger.at)
            and (not overlap or other.seq < trigger.seq)
            and _differ(after, other, trigger)
        ]
        if not qualifying:
            return None
        latest = max(qualifying, key=lambda other: other.seq)
        pair = sorted((latest, trigger), key=lambda seen: seen.seq)
        return _Firing(rule, trigger, trigger.at, tuple(pair), trigger.before)

    def absent_firing(
        self, rule: CompiledRule, absent: CompiledRelation, trigger: _Seen
    ) -> _Firing | None:
        """The trigger at its deadline, once the clock has reached it with no such event."""
        deadline = absent.window.after(trigger.at)
        if self.end is None or deadline > self.end:
            return None
        overlap = bool(set(rule.event_types) & set(absent.event_types))
        for other in self.others(absent, trigger):
            if trigger.at <= other.at <= deadline and (not overlap or other.seq > trigger.seq):
                return None
        # The deadline passes after the events of its own moment.
        return _Firing(rule, trigger, deadline, (trigger,), self.state_through(deadline))

    def absent_before_firing(
        self, rule: CompiledRule, absent: CompiledRelation, trigger: _Seen
    ) -> _Firing | None:
        """The trigger, at once, when no such event lies within the window before it."""
        overlap = bool(set(rule.event_types) & set(absent.event_types))
        for other in self.others(absent, trigger):
            if (
                _looks_back(absent.window, other.at, trigger.at)
                and (not overlap or other.seq < trigger.seq)
                and _differ(absent, other, trigger)
            ):
                return None
        return _Firing(rule, trigger, trigger.at, (trigger,), trigger.before)

    def count_firing(
        self, rule: CompiledRule, count: CompiledCount, trigger: _Seen
    ) -> _Firing | None:
        """The trigger with the events of its kind in the window before it, if enough."""
        kind = _event_only(rule.condition)
        counted = tuple(
            seen
            for seen in self.events[: trigger.seq]
            if seen.event.type in rule.event_types
            and holds(kind, {"event": seen.values})
            and _looks_back(count.window, seen.at, trigger.at)
            and all(seen.values.get(f) == trigger.values.get(f) for f in count.same)
        )
        if count.distinct is None:
            number = len(counted)
        else:
            number = len({s.values.get(count.distinct) for s in counted} - {None})
        if number < count.at_least:
            return None
        unless = count.unless
        if unless is not None and any(
            counted[0].at <= other.at <= trigger.at for other in self.others(unless, trigger)
        ):
            return None
        return _Firing(rule, trigger, trigger.at, counted, trigger.before)


def _throttled(firings: Sequence[_Firing], case: _Case) -> list[_Firing]:
    """Firings of one rule that its throttle lets through, each window from the last kept
    (and ended by any reset event after that one's moment, up to the firing's)."""
    throttle = firings[0].rule.throttle if firings else None
    if throttle is None:
        return list(firings)
    last: dict[tuple[Any, ...], datetime] = {}
    kept = []
    for firing in sorted(firings, key=lambda f: (f.at, f.ids)):
        key = tuple(firing.trigger.values.get(name) for name in throttle.per)
        if (
            key in last
            and firing.at <= throttle.window.after(last[key])
            and not any(
                seen.event.type in throttle.reset_by and last[key] < seen.at <= firing.at
                for seen in case.events
            )
        ):
            continue
        last[key] = firing.at
        kept.append(firing)
    return kept


def _day(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d")


class ReferenceEngine:
    """Evaluates chronologies against a compiled rule set by direct search (no backend)."""

    def __init__(self, rules: CompiledRuleSet) -> None:
        self.rules = rules

    def replay(self, chronology: Chronology, until: datetime | None = None) -> CaseResult:
        """The alerts `Engine.replay` must raise for this case, in the same order."""
        case = _Case(chronology, until)
        alerts: list[tuple[tuple[Any, ...], Alert]] = []
        for order, rule in enumerate(self.rules.rules):
            for firing in _throttled(list(case.firings(rule)), case):
                for index in range(len(rule.actions)):
                    alert = self._alert(case.id, firing, index)
                    alerts.append(((firing.at, order, index, firing.ids), alert))
        alerts.sort(key=lambda item: item[0])
        found = tuple(alert for _, alert in alerts)
        return CaseResult(chronology, self.rules.version, found, self.rules, until)

    def _alert(self, case: str, firing: _Firing, index: int) -> Alert:
        rule, event = firing.rule, firing.trigger.event
        action = rule.actions[index]
        shown: dict[str, Mapping[str, object]] = {
            "event": {
                **event_values(event),
                "at": _day(event.at),
                "note": event.note,
                "recorded_at": _day(event.recorded_at),
            },
            "case": {**state_values(firing.state), "id": case},
            "rule": {"id": rule.id, "title": rule.title},
        }
        return Alert(
            case=case,
            rule=rule.id,
            action=action.action,
            at=firing.at,
            params={
                name: value.render(shown) if isinstance(value, Template) else value
                for name, value in action.params.items()
            },
            priority=action.priority,
            reason=" ".join(action.reason.render(shown).split()),
            events=firing.ids,
        )
