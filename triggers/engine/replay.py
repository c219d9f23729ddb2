"""Replay a case's events, in event time, through the compiled rules; collect alerts.

Each event goes to the backend together with the case state as it stood just
before the event's moment: events at the same moment are simultaneous, and none
of them sees the others, so their order in a file never changes an alert. The
loop owns event time: the order of events, deadlines, counts, changes, throttles
and the alerts raised; the backend (`triggers.engine.backend`) only says which
rules an event, a tally or the clock completes.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from triggers.engine.backend import Backend, CaseSession, EventInput, LoadedRules, Match
from triggers.engine.backend import default_backend as _default_backend
from triggers.engine.counts import Cancellers, Counted, Tally
from triggers.engine.semantics import (
    direction,
    event_order,
    event_values,
    state_values,
    within_after,
)
from triggers.errors import EngineError
from triggers.limits import MAX_ID_LENGTH
from triggers.models.alerts import Alert
from triggers.models.chronology import Chronology
from triggers.models.events import EVENT_TYPES, Event
from triggers.models.state import CaseState
from triggers.rules.compiled import (
    CompiledChange,
    CompiledRule,
    CompiledRuleSet,
    holds,
)
from triggers.rules.duration import Duration
from triggers.rules.template import Template

__all__ = ["CaseResult", "Engine"]


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


@dataclass(frozen=True)
class _Raised:
    """An alert, made only once the throttles have kept it: most of a busy count's are not."""

    rule: CompiledRule
    #: The action's place in the rule.
    index: int
    at: datetime
    #: The event whose values the templates show, and the case state they show.
    trigger: Event
    state: CaseState
    ids: tuple[str, ...] | Counted


@dataclass(frozen=True)
class _TypePlan:
    """What the rule set asks of every event of one type, worked out once per engine."""

    deadlines: tuple[Duration, ...]
    changes: tuple[CompiledChange, ...]

    @classmethod
    def of(cls, rules: CompiledRuleSet, event_type: str) -> _TypePlan:
        return cls(deadlines=rules.deadlines(event_type), changes=rules.changes(event_type))


class _CaseRun:
    """The evaluation of one case: event time, counts, changes and the alerts raised."""

    def __init__(self, engine: Engine, chronology: Chronology, session: CaseSession) -> None:
        self.engine = engine
        self.session = session
        self.case = chronology.case
        self.events = {event.id or "": event for event in chronology.events}
        self.seq = {
            event.id or "": index
            for index, event in enumerate(event_order(chronology.events), start=1)
        }
        self.deadlines: list[datetime] = []
        # For each count rule, the events it counts still in its window.
        self.tallies: dict[str, Tally] = {}
        # For each compared value, the latest one per key (event type, `same` fields).
        self.previous: dict[tuple[Any, ...], Any] = {}
        # Per alert identity: its sort order, the alert to make, and the rank of the
        # other event it names (an `after` alert keeps the latest qualifying one).
        self.alerts: dict[tuple[Any, ...], tuple[tuple[Any, ...], _Raised, int]] = {}
        # The times of the case's events by type, for throttles that an event resets.
        self.resets: dict[str, list[datetime]] | None = None
        # For each `due` rule, the event that started its clock and the next deadline.
        self.clocks: dict[str, tuple[Event, datetime]] = {}
        # The events that cancel counts (`unless`), looked up by time.
        self.cancellers: Cancellers | None = None

    def run(self, moments: Sequence[Sequence[Event]], until: datetime | None) -> list[Alert]:
        state = CaseState()
        seen, seen_of = state_values(state), state
        for moment in moments:
            # Deadlines before this moment pass first; one at this moment passes after
            # its events, which are still in time.
            self.pass_deadlines(moment[0].at, state, inclusive=False)
            self.pass_due(moment[0].at, state, inclusive=False)
            state = state.as_of(moment[0].at)  # a licence whose end has come is over
            # Simultaneous events all see the case as it stood before them, and are
            # taken in event order (not file order) so that counts never depend on it.
            if state is not seen_of:  # states are immutable: the values change with them
                seen, seen_of = state_values(state), state
            # Triggers of an absence before them, and those an event of the moment broke.
            waiting: list[Match] = []
            broken: set[tuple[str, str]] = set()
            # `due` clocks this moment restarts, with the last event (in event order) doing so.
            restarted: dict[str, Event] = {}
            for event in sorted(moment, key=lambda e: self.seq[e.id or ""]):
                posted = self.posted(event, seen)
                counted = []
                for match in self.session.event(posted):
                    rule = self.engine._rule(match.rule)
                    if rule.due is not None:
                        restarted[rule.id] = event
                    elif rule.absent_before is None:
                        if match.counts:
                            counted.append(rule)
                        else:
                            self.raise_alerts(match, state)
                    elif match.counts:
                        waiting.append(match)
                    elif self.differ(rule.absent_before.differ, match):
                        broken.add((match.rule, match.trigger))
                for rule in counted:
                    self.tally(rule, posted, state)
                for rule in self.engine._due:
                    assert rule.due is not None
                    if event.type in rule.due.event_types and holds(
                        rule.due.condition, {"event": posted.values}
                    ):
                        restarted[rule.id] = event
            # An absence before a trigger is judged once its moment is complete: an event
            # later in the moment (in event order, if of the trigger's kind) breaks it.
            for match in waiting:
                if (match.rule, match.trigger) not in broken:
                    self.raise_alerts(match, state)
            state = state.apply_moment(moment)
            for rule_id, event in restarted.items():
                self.clocks.pop(rule_id, None)
                self.arm(self.engine._rule(rule_id), event, event.at, state)
            self.pass_due(moment[0].at, state, inclusive=True)
        end = moments[-1][0].at if moments else until
        if until is not None and end is not None and until > end:
            end = until  # an `until` before the last event changes nothing: time never runs back
        if end is not None:
            self.pass_deadlines(end, state, inclusive=True)
            self.pass_due(end, state, inclusive=True)
        raised = sorted(self.alerts.values(), key=lambda item: item[0])
        return [self._alert(alert) for alert in self.throttled([r for _, r, _ in raised])]

    def throttled(self, raised: Sequence[_Raised]) -> list[_Raised]:
        """Drop alerts that a rule's throttle suppresses, in event-time order."""
        last: dict[tuple[Any, ...], tuple[datetime, str | None]] = {}
        kept = []
        for alert in raised:
            throttle = alert.rule.throttle
            if throttle is None:
                kept.append(alert)
                continue
            trigger = alert.trigger
            values = event_values(trigger)
            key = (alert.rule.id, *[values.get(name) for name in throttle.per])
            previous = last.get(key)
            if (
                previous is not None
                and (previous[1], previous[0]) != (trigger.id, alert.at)
                and within_after(throttle.window, previous[0], alert.at)
                and not self.reset(throttle.reset_by, previous[0], alert.at)
            ):
                continue  # raised within the window already (for another trigger or deadline)
            last[key] = (alert.at, trigger.id)
            kept.append(alert)
        return kept

    def differ(self, pairs: Sequence[tuple[str, str]], match: Match) -> bool:
        """Whether the match's other event and trigger differ on every `differ` pair.

        `differ` is judged here: durable_rules crashes on a correlated `$neq`.
        """
        if not pairs or match.other is None:
            return True
        other = event_values(self.events[match.other])
        trigger = event_values(self.events[match.trigger])
        return all(
            other.get(theirs) is not None
            and trigger.get(ours) is not None
            and other.get(theirs) != trigger.get(ours)
            for theirs, ours in pairs
        )

    def reset(self, types: Sequence[str], start: datetime, end: datetime) -> bool:
        """Whether an event of `types` lies after `start`'s moment and up to `end`."""
        if not types:
            return False
        if self.resets is None:
            self.resets = {}
            for event in self.events.values():
                self.resets.setdefault(event.type, []).append(event.at)
            for times in self.resets.values():
                times.sort()
        for event_type in types:
            times = self.resets.get(event_type, [])
            index = bisect.bisect_right(times, start)
            if index < len(times) and times[index] <= end:
                return True
        return False

    def pass_deadlines(self, limit: datetime, state: CaseState, *, inclusive: bool) -> None:
        """Move the clock through each deadline before `limit` (or at it, if `inclusive`)."""
        while self.deadlines and (
            self.deadlines[0] < limit or (inclusive and self.deadlines[0] == limit)
        ):
            deadline = heapq.heappop(self.deadlines)
            while self.deadlines and self.deadlines[0] == deadline:
                heapq.heappop(self.deadlines)
            for match in self.session.clock(deadline):
                self.raise_alerts(match, state, clock=deadline)

    def arm(self, rule: CompiledRule, start: Event, moment: datetime, state: CaseState) -> None:
        """Set `rule`'s clock to the period for the case state `state` after `moment`."""
        assert rule.due is not None
        period = rule.due.period(state_values(state).get(rule.due.state))
        if period is not None:
            self.clocks[rule.id] = (start, period.after(moment))

    def pass_due(self, limit: datetime, state: CaseState, *, inclusive: bool) -> None:
        """Raise an alert at each `due` deadline before `limit` (or at it, if `inclusive`),
        re-arming each clock from the deadline it missed. `state` is the case through the
        deadlines: no moment lies between them and `limit`."""
        for rule_id in list(self.clocks):
            rule = self.engine._rule(rule_id)
            while rule_id in self.clocks:
                start, deadline = self.clocks[rule_id]
                if deadline > limit or (deadline == limit and not inclusive):
                    break
                del self.clocks[rule_id]
                self.raise_due(rule, start, deadline, state)
                self.arm(rule, start, deadline, state)  # re-armed from the missed deadline

    def _alert(self, raised: _Raised) -> Alert:
        """The alert of one action, its params and reason rendered from its trigger's values."""
        rule, at, ids = raised.rule, raised.at, raised.ids
        action = rule.actions[raised.index]
        values = _template_values(self.case, raised.trigger, raised.state, rule)
        params = {
            name: value.render(values) if isinstance(value, Template) else value
            for name, value in action.params.items()
        }
        return Alert(
            case=self.case,
            rule=rule.id,
            action=action.action,
            at=at,
            params=params,
            priority=action.priority,
            reason=" ".join(action.reason.render(values).split()),
            events=ids if isinstance(ids, tuple) else ids.ids(),
        )

    def raise_due(
        self, rule: CompiledRule, start: Event, deadline: datetime, state: CaseState
    ) -> None:
        """The alerts of a `due` rule for the deadline missed, naming the clock's start."""
        ids = (start.id or "",)
        for index in range(len(rule.actions)):
            alert = _Raised(rule, index, deadline, start, state, ids)
            order = (deadline, self.engine._order[rule.id], index, ids)
            self.alerts[(rule.id, index, ids, deadline)] = (order, alert, 0)

    def tally(self, rule: CompiledRule, posted: EventInput, state: CaseState) -> None:
        """Count `rule`'s events in its window up to `posted`, and let the rule judge the tally."""
        count = rule.count
        assert count is not None  # only count rules have member matches
        tally = self.tallies.get(rule.id)
        if tally is None:
            tally = self.tallies[rule.id] = Tally(count)
        number, counted = tally.add(posted.id, posted.at, posted.values)
        if count.unless is not None and number >= count.at_least:
            if self.cancellers is None:
                self.cancellers = Cancellers(event_order(self.events.values()))
            start = self.events[counted.first].at
            if self.cancellers.cancelled(rule.id, count.unless, start, posted.at, posted.values):
                return
        for match in self.session.tally(rule.id, number, posted, posted.state):
            self.raise_alerts(match, state, counted=counted)

    def posted(self, event: Event, state: Mapping[str, Any]) -> EventInput:
        """The event as the backend sees it; its deadlines start running."""
        values = event_values(event)
        plan = self.engine._plans[event.type]
        for change in plan.changes:
            went = self.change(change, values)
            if went is not None:
                values[change.key] = went
        for window in plan.deadlines:
            heapq.heappush(self.deadlines, window.after(event.at))
        event_id = event.id or ""
        return EventInput(event_id, event.type, event.at, self.seq[event_id], values, state)

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
        return direction(change.field, value, previous)

    def raise_alerts(
        self,
        match: Match,
        state: CaseState,
        clock: datetime | None = None,
        counted: Counted | None = None,
    ) -> None:
        rule = self.engine._rule(match.rule)
        trigger = self.events[match.trigger]
        at = trigger.at
        if rule.absent is not None:
            at = rule.absent.window.after(trigger.at)
            if clock != at:
                # Only the clock reaching this trigger's own deadline decides; a later
                # clock may no longer hold the events that met it.
                return
        # A count's alert names the events counted (in event order, the trigger last).
        ids: tuple[str, ...] | Counted = (trigger.id or "",) if counted is None else counted
        rank = 0
        if rule.after is not None:
            # One alert per trigger, naming the latest of the other events that qualify.
            if match.other is None:
                raise EngineError(f"the backend fired 'after' rule {rule.id!r} without its event")
            if not self.differ(rule.after.differ, match):
                return
            rank = self.seq[match.other]
            ids = tuple(sorted((match.other, trigger.id or ""), key=lambda i: self.seq[i]))
        for index in range(len(rule.actions)):
            # One alert per trigger and action (its ids follow from the trigger; for
            # `after`, the latest qualifying other event wins).
            key = (rule.id, index, trigger.id)
            if key in self.alerts and self.alerts[key][2] >= rank:
                continue
            order = (at, self.engine._order[rule.id], index, ids)
            self.alerts[key] = (order, _Raised(rule, index, at, trigger, state, ids), rank)


class Engine:
    """Evaluates chronologies against one compiled rule set, on a backend.

    The backend defaults to `default_backend()`; it refuses, with `RuleFileError`, a
    rule set beyond its limits.
    """

    def __init__(self, rules: CompiledRuleSet, backend: Backend | None = None) -> None:
        self.rules = rules
        self.backend = backend or _default_backend()
        self._loaded: LoadedRules = self.backend.load(rules)
        self._by_id = {rule.id: rule for rule in rules.rules}
        self._order = {rule.id: index for index, rule in enumerate(rules.rules)}
        self._due = tuple(rule for rule in rules.rules if rule.due is not None)
        self._plans = {event_type: _TypePlan.of(rules, event_type) for event_type in EVENT_TYPES}

    def replay(self, chronology: Chronology, until: datetime | None = None) -> CaseResult:
        """Evaluate one case's events in event order and return the alerts raised.

        The clock stops at the last event, or runs on to `until` (inclusive) so that
        deadlines after the last event can pass.
        """
        # The case id is the rule engine's session id, and durable_rules crashes the
        # process on a huge one: a chronology built without validation is refused here.
        if not 0 < len(chronology.case) <= MAX_ID_LENGTH:
            raise EngineError(
                f"case id of {len(chronology.case):,} characters: a case id is 1 to"
                f" {MAX_ID_LENGTH} characters"
            )
        with self._loaded.case(chronology.case) as session:
            alerts = _CaseRun(self, chronology, session).run(chronology.moments(), until)
        return CaseResult(chronology, self.rules.version, tuple(alerts), self.rules, until)

    def replay_all(
        self, chronologies: Iterable[Chronology], until: datetime | None = None
    ) -> list[CaseResult]:
        """Replay several cases, one after another."""
        return [self.replay(chronology, until) for chronology in chronologies]

    def _rule(self, rule_id: str) -> CompiledRule:
        try:
            return self._by_id[rule_id]
        except KeyError:
            raise EngineError(f"the backend fired an unknown rule {rule_id!r}") from None
