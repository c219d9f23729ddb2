"""Replay a case's events, in event time, through the compiled rules; collect alerts.

Each event is asserted as a fact (so that every rule it matches fires, not only
the first), together with the case state as it stood just before the event's
moment: events at the same moment are simultaneous, and none of them sees the
others, so their order in a file never changes an alert.
Cases are evaluated one at a time and each case's engine state is deleted when
it is done.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from triggers.engine.durable import DurableHost, Firing, get_host
from triggers.errors import EngineError
from triggers.models.alerts import Alert
from triggers.models.chronology import Chronology
from triggers.models.events import EVENT_TYPES, ORDERED_VALUES, Event
from triggers.models.state import STATE_FIELDS, CaseState
from triggers.rules.compiled import CompiledChange, CompiledRule, CompiledRuleSet
from triggers.rules.compiler import group_key, window_key
from triggers.rules.duration import Duration
from triggers.rules.template import Template

__all__ = ["CaseResult", "Engine", "event_values", "state_values"]


@dataclass(frozen=True)
class CaseResult:
    """A replayed case: its chronology, the rule-set version, and the alerts in time order."""

    chronology: Chronology
    rules_version: str
    alerts: tuple[Alert, ...]
    #: The rule set that raised the alerts, and how far the clock ran (None: the last event).
    rules: CompiledRuleSet | None = None
    until: datetime | None = None

    @property
    def case(self) -> str:
        """The case id."""
        return self.chronology.case


def event_values(event: Event) -> dict[str, Any]:
    """An event's values as rules see them: its fields plus type, id, source and time."""
    values: dict[str, Any] = {"type": event.type, "id": event.id, **event.fields()}
    if event.source is not None:
        values["source"] = event.source
    return values


def state_values(state: CaseState) -> dict[str, Any]:
    """Case-state values as rules see them; absent values are left out."""
    return dict(state.values())


def _state_message(state: CaseState) -> dict[str, Any]:
    message: dict[str, Any] = {}
    for name, value in state.values().items():
        if STATE_FIELDS[name].kind == "set":
            assert isinstance(value, tuple)
            if value:
                message[name] = dict.fromkeys(value, True)
        else:
            message[name] = value
    return message


def _template_values(
    case: str, event: Event, state: CaseState, rule: CompiledRule
) -> dict[str, dict[str, object]]:
    values: dict[str, object] = dict(event_values(event))
    values["at"] = event.at.astimezone(UTC).strftime("%Y-%m-%d")
    values["note"] = event.note
    values["recorded_at"] = (
        event.recorded_at.astimezone(UTC).strftime("%Y-%m-%d") if event.recorded_at else None
    )
    return {
        "event": values,
        "case": {"id": case, **state_values(state)},
        "rule": {"id": rule.id, "title": rule.title},
    }


def _reach(window: Duration, at: datetime) -> datetime:
    """The latest time at which a look back over `window` can still reach back to `at`.

    A calendar month back from 31 March is 29 February, so a month after 29 February
    (29 March) is not enough: months can reach up to 3 days further.
    """
    return window.after(at) + (timedelta(days=3) if window.months else timedelta(0))


@dataclass(frozen=True)
class _TypePlan:
    """What the rule set asks of every event of one type, worked out once per engine."""

    lookback: tuple[Duration, ...]
    deadlines: tuple[Duration, ...]
    changes: tuple[CompiledChange, ...]
    groups: tuple[str, ...]

    @classmethod
    def of(cls, rules: CompiledRuleSet, event_type: str) -> _TypePlan:
        lookback = rules.lookback(event_type)
        if any(rule.after is not None and event_type in rule.event_types for rule in rules.rules):
            # An `after` trigger waits out its moment: the other event may come later in it.
            lookback = (*lookback, Duration())
        return cls(
            lookback=lookback,
            deadlines=rules.deadlines(event_type),
            changes=rules.changes(event_type),
            groups=tuple(group_key(g) for g in rules.type_groups if event_type in g),
        )


class _CaseRun:
    """The evaluation of one case: its facts in durable_rules, retention, and alerts."""

    def __init__(self, engine: Engine, chronology: Chronology) -> None:
        self.engine = engine
        self.case = chronology.case
        self.events = {event.id or "": event for event in chronology.events}
        # Event order as durable_rules sees it: by time, then catalogue order, then id,
        # so that file order never matters (simultaneous events are ordered the same way).
        ordered = sorted(
            chronology.events,
            key=lambda e: (e.at, EVENT_TYPES.index(e.type), e.id or ""),
        )
        self.seq = {event.id or "": index for index, event in enumerate(ordered, start=1)}
        self.retained: list[tuple[datetime, int, dict[str, Any]]] = []
        self.deadlines: list[datetime] = []
        self.clock: dict[str, Any] | None = None
        # For each count rule, the events it counts (with their values) still in its window.
        self.members: dict[str, list[tuple[Event, dict[str, Any]]]] = {}
        # For each compared value, the latest one per key (event type, `same` fields).
        self.previous: dict[tuple[Any, ...], Any] = {}
        # Per alert identity: its sort order, the alert, its trigger, and the rank of the
        # other event it names (an `after` alert keeps the latest qualifying one).
        self.alerts: dict[tuple[Any, ...], tuple[tuple[Any, ...], Alert, Event, int]] = {}

    def run(self, moments: Sequence[Sequence[Event]], until: datetime | None) -> list[Alert]:
        state = CaseState()
        for moment in moments:
            # Deadlines before this moment pass first; one at this moment passes after
            # its events, which are still in time.
            self.pass_deadlines(moment[0].at, state, inclusive=False)
            self.expire(moment[0].at)
            # Simultaneous events all see the case as it stood before them, and are
            # taken in event order (not file order) so that counts never depend on it.
            for event in sorted(moment, key=lambda e: self.seq[e.id or ""]):
                counted = []
                for firing in self.engine._assert(self.case, self.fact(event, state)):
                    if firing.member:
                        counted.append(self.engine._rule(firing))
                    else:
                        self.raise_alerts(firing, state)
                for rule in counted:
                    self.tally(rule, event, state)
            state = state.apply_moment(moment)
        end = moments[-1][0].at if moments else until
        if until is not None and end is not None and until > end:
            end = until  # an `until` before the last event changes nothing: time never runs back
        if end is not None:
            self.pass_deadlines(end, state, inclusive=True)
        raised = sorted(self.alerts.values(), key=lambda item: item[0])
        return self.throttled([(alert, trigger) for _, alert, trigger, _ in raised])

    def throttled(self, raised: Sequence[tuple[Alert, Event]]) -> list[Alert]:
        """Drop alerts that a rule's throttle suppresses, in event-time order."""
        last: dict[tuple[Any, ...], tuple[datetime, str | None]] = {}
        kept = []
        for alert, trigger in raised:
            throttle = self.engine._by_id[alert.rule].throttle
            if throttle is None:
                kept.append(alert)
                continue
            values = event_values(trigger)
            key = (alert.rule, *[values.get(name) for name in throttle.per])
            previous = last.get(key)
            if previous is not None and previous[1] != trigger.id:
                since = previous[0]
                if since <= alert.at <= throttle.window.after(since):
                    continue  # raised already within the window, for another trigger
            last[key] = (alert.at, trigger.id)
            kept.append(alert)
        return kept

    def pass_deadlines(self, limit: datetime, state: CaseState, *, inclusive: bool) -> None:
        """Move the clock through each deadline before `limit` (or at it, if `inclusive`)."""
        while self.deadlines and (
            self.deadlines[0] < limit or (inclusive and self.deadlines[0] == limit)
        ):
            deadline = heapq.heappop(self.deadlines)
            while self.deadlines and self.deadlines[0] == deadline:
                heapq.heappop(self.deadlines)
            self.expire(deadline)
            for firing in self.set_clock(deadline):
                self.raise_alerts(firing, state, clock=deadline)

    def tally(self, rule: CompiledRule, event: Event, state: CaseState) -> None:
        """Count `rule`'s events in its window up to `event`, and let the rule judge the tally."""
        count = rule.count
        assert count is not None  # only count rules have member firings
        since = count.window.before(event.at)
        members = [m for m in self.members.get(rule.id, []) if m[0].at >= since]
        values = event_values(event)
        members.append((event, values))
        self.members[rule.id] = members
        counted = [(m, v) for m, v in members if all(v.get(f) == values.get(f) for f in count.same)]
        if count.distinct is None:
            number = len(counted)
        else:
            number = len({v.get(count.distinct) for _, v in counted} - {None})
        host, name = self.engine._host, self.engine._name
        tally = {
            "sid": self.case,
            "id": host.next_id(),
            "kind": "tally",
            "rule": rule.id,
            "count": number,
            "event": {"id": event.id},
            "state": _state_message(state),
        }
        for firing in host.assert_fact(name, tally)[1]:
            self.raise_alerts(firing, state, counted=[m.id or "" for m, _ in counted])
        host.retract_fact(name, tally)

    def set_clock(self, now: datetime) -> Sequence[Firing]:
        """Replace the case's single clock fact with one at `now`."""
        host, name = self.engine._host, self.engine._name
        if self.clock is not None:
            host.retract_fact(name, self.clock)
        seconds = int(now.timestamp())
        self.clock = {
            "sid": self.case,
            "id": host.next_id(),
            "kind": "clock",
            "seq": 0,
            "now": seconds,
            "neg_now": -seconds,
        }
        return host.assert_fact(name, self.clock)[1]

    def fact(self, event: Event, state: CaseState) -> dict[str, Any]:
        at = int(event.at.timestamp())
        values: dict[str, Any] = {**event_values(event), "at": at, "neg_at": -at}
        for window in self.engine._windows:
            key = window_key(window)
            high = int(window.after(event.at).timestamp())
            values[f"{key}_lo"] = int(window.before(event.at).timestamp())
            values[f"{key}_hi"] = high
            values[f"{key}_nhi"] = -high
        plan = self.engine._plans[event.type]
        for change in plan.changes:
            direction = self.change(change, values)
            if direction is not None:
                values[change.key] = direction
        for group in plan.groups:
            values[group] = True
        fact = {
            "sid": self.case,
            "id": self.engine._host.next_id(),
            "kind": "event",
            "seq": self.seq[event.id or ""],
            "event": values,
            "state": _state_message(state),
        }
        for window in plan.deadlines:
            heapq.heappush(self.deadlines, window.after(event.at))
        if plan.lookback:
            until = max(_reach(window, event.at) for window in plan.lookback)
            heapq.heappush(self.retained, (until, self.seq[event.id or ""], fact))
        return fact

    def change(self, change: CompiledChange, values: Mapping[str, Any]) -> str | None:
        """ "down", "up" or "same" against the previous such event; None if there is none."""
        value = values.get(change.field)
        key = (change.key, *[values.get(name) for name in change.same])
        previous = self.previous.get(key)
        if value is None:
            return None
        self.previous[key] = value
        if previous is None:
            return None
        # Words such as a risk level are ranked; numbers (a MAPPA level) compare as they are.
        order = ORDERED_VALUES.get(change.field) if isinstance(value, str) else None
        now, before = (order.index(value), order.index(previous)) if order else (value, previous)
        return "down" if now < before else "up" if now > before else "same"

    def expire(self, now: datetime) -> None:
        """Retract facts that no rule can look back to from `now` on."""
        while self.retained and self.retained[0][0] < now:
            _, _, fact = heapq.heappop(self.retained)
            self.engine._host.retract_fact(self.engine._name, fact)

    def raise_alerts(
        self,
        firing: Firing,
        state: CaseState,
        clock: datetime | None = None,
        counted: Sequence[str] = (),
    ) -> None:
        rule = self.engine._rule(firing)
        matched = [
            self.events[str(m["event"]["id"])]
            for _, m in firing.patterns
            if m.get("kind") == "event"
        ]
        trigger = self.events[str(firing.message("m")["event"]["id"])]
        at = trigger.at
        if rule.absent is not None:
            at = rule.absent.window.after(trigger.at)
            if clock != at:
                # Only the clock reaching this trigger's own deadline decides; a later
                # clock may no longer hold the events that met it.
                return
        matched += [self.events[event_id] for event_id in counted]
        ids = tuple(e.id or "" for e in sorted(matched, key=lambda e: self.seq[e.id or ""]))
        values = _template_values(self.case, trigger, state, rule)
        rank = 0
        if rule.after is not None:
            # One alert per trigger, naming the latest of the other events that qualify.
            other = str(firing.message("o")["event"]["id"])
            rank = self.seq[other]
            ids = tuple(sorted((other, trigger.id or ""), key=lambda i: self.seq[i]))
        for index, action in enumerate(rule.actions):
            key = (rule.id, index, trigger.id) if rule.after is not None else (rule.id, index, ids)
            if key in self.alerts and self.alerts[key][3] >= rank:
                continue
            params = {
                name: value.render(values) if isinstance(value, Template) else value
                for name, value in action.params.items()
            }
            alert = Alert(
                case=self.case,
                rule=rule.id,
                action=action.action,
                at=at,
                params=params,
                priority=action.priority,
                reason=" ".join(action.reason.render(values).split()),
                events=ids,
            )
            order = (at, self.engine._order[rule.id], index, ids)
            self.alerts[key] = (order, alert, trigger, rank)


class Engine:
    """Evaluates chronologies against one compiled rule set."""

    def __init__(self, rules: CompiledRuleSet, host: DurableHost | None = None) -> None:
        self.rules = rules
        self._host = host or get_host()
        self._name = self._host.register(rules)
        self._by_id = {rule.id: rule for rule in rules.rules}
        self._order = {rule.id: index for index, rule in enumerate(rules.rules)}
        self._windows = rules.windows
        self._plans = {event_type: _TypePlan.of(rules, event_type) for event_type in EVENT_TYPES}

    def replay(self, chronology: Chronology, until: datetime | None = None) -> CaseResult:
        """Evaluate one case's events in event order and return the alerts raised.

        The clock stops at the last event, or runs on to `until` (inclusive) so that
        deadlines after the last event can pass.
        """
        with self._host.lock:
            try:
                alerts = _CaseRun(self, chronology).run(chronology.moments(), until)
            finally:
                self._host.delete_state(self._name, chronology.case)
        return CaseResult(chronology, self.rules.version, tuple(alerts), self.rules, until)

    def replay_all(
        self, chronologies: Iterable[Chronology], until: datetime | None = None
    ) -> list[CaseResult]:
        """Replay several cases, one after another."""
        return [self.replay(chronology, until) for chronology in chronologies]

    def _assert(self, case: str, fact: dict[str, Any]) -> Sequence[Firing]:
        """Assert an event fact; one no rule looks back to is retracted at once."""
        handled, firings = self._host.assert_fact(self._name, fact)
        if handled and not self._plans[fact["event"]["type"]].lookback:
            self._host.retract_fact(self._name, fact)
        return firings

    def _rule(self, firing: Firing) -> CompiledRule:
        try:
            return self._by_id[firing.rule_id]
        except KeyError:
            raise EngineError(f"durable_rules fired an unknown rule {firing.rule_id!r}") from None
