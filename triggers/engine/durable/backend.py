"""risk-triggers' engine backend on durable_rules: facts in, matches out, memory kept small.

Each event is asserted as a fact (so that every rule it matches fires, not only
the first). A fact stays in durable_rules only as long as some rule can still
look back to it; one that no rule looks back to is retracted at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from triggers.engine.backend import EventInput, Match
from triggers.engine.durable.facts import FactLayout
from triggers.engine.durable.host import DurableHost, Firing, get_host
from triggers.models.events import EVENT_TYPES
from triggers.rules.compiled import CompiledRuleSet
from triggers.rules.duration import Duration

__all__ = ["DurableBackend", "DurableCase", "DurableRules"]


def _reach(window: Duration, at: datetime) -> datetime:
    """The latest time at which a look back over `window` can still reach back to `at`.

    A calendar month back from 31 March is 29 February, so a month after 29 February
    (29 March) is not enough: months can reach up to 3 days further.
    """
    return window.after(at) + (timedelta(days=3) if window.months else timedelta(0))


def _lookback(rules: CompiledRuleSet, event_type: str) -> tuple[Duration, ...]:
    """How long after its time an event of `event_type` may still complete a rule."""
    lookback = rules.lookback(event_type)
    if any(rule.looks_back is not None and event_type in rule.event_types for rule in rules.rules):
        # An `after` trigger waits out its moment: the other event may come later in it.
        lookback = (*lookback, Duration())
    return lookback


class DurableBackend:
    """Evaluates rule sets on the process's durable_rules host."""

    def __init__(self, host: DurableHost | None = None) -> None:
        self.host = host or get_host()

    def check(self, rules: CompiledRuleSet) -> None:
        """Raise `RuleFileError` if `rules` go over one of durable_rules' limits."""
        self.host.check(rules)

    def load(self, rules: CompiledRuleSet) -> DurableRules:
        """Register `rules` with the host (once per version)."""
        return DurableRules(self.host, self.host.register(rules), rules)


class DurableRules:
    """A rule set registered with durable_rules, with what each event type's facts need."""

    def __init__(self, host: DurableHost, name: str, rules: CompiledRuleSet) -> None:
        self.host = host
        self.name = name
        self.layout = FactLayout(rules.rules)
        self.lookback = {t: _lookback(rules, t) for t in EVENT_TYPES}
        self.other = {rule.id for rule in rules.rules if rule.looks_back is not None}

    @contextmanager
    def case(self, case: str) -> Iterator[DurableCase]:
        """One case at a time on the host; its state is deleted when the case is done."""
        with self.host.lock:
            try:
                yield DurableCase(self, case)
            finally:
                self.host.delete_state(self.name, case)


class DurableCase:
    """One case's facts in durable_rules: events still in reach, its clock, its tallies."""

    def __init__(self, rules: DurableRules, case: str) -> None:
        self.rules = rules
        self.case = case
        self.retained: list[tuple[datetime, int, dict[str, Any]]] = []
        self.clock_fact: dict[str, Any] | None = None

    def event(self, event: EventInput) -> Sequence[Match]:
        """Assert the event; keep it while a rule can look back to it."""
        self._expire(event.at)
        host, name = self.rules.host, self.rules.name
        fact = self.rules.layout.event(self.case, host.next_id(), event)
        handled, firings = host.assert_fact(name, fact)
        lookback = self.rules.lookback[event.type]
        if lookback:
            until = max(_reach(window, event.at) for window in lookback)
            heapq.heappush(self.retained, (until, event.seq, fact))
        elif handled:
            host.retract_fact(name, fact)
        return self._matches(firings)

    def tally(
        self, rule: str, count: int, trigger: EventInput, state: Mapping[str, Any]
    ) -> Sequence[Match]:
        """Assert the tally, see whether the count rule fires, and retract it."""
        host, name = self.rules.host, self.rules.name
        fact = FactLayout.tally(
            self.case, host.next_id(), rule=rule, count=count, trigger=trigger.id, state=state
        )
        firings = host.assert_fact(name, fact)[1]
        host.retract_fact(name, fact)
        return self._matches(firings)

    def clock(self, now: datetime) -> Sequence[Match]:
        """Replace the case's single clock fact with one at `now`."""
        self._expire(now)
        host, name = self.rules.host, self.rules.name
        if self.clock_fact is not None:
            host.retract_fact(name, self.clock_fact)
        self.clock_fact = FactLayout.clock(self.case, host.next_id(), now)
        return self._matches(host.assert_fact(name, self.clock_fact)[1])

    def _expire(self, now: datetime) -> None:
        """Retract facts that no rule can look back to from `now` on."""
        while self.retained and self.retained[0][0] < now:
            _, _, fact = heapq.heappop(self.retained)
            self.rules.host.retract_fact(self.rules.name, fact)

    def _matches(self, firings: Sequence[Firing]) -> list[Match]:
        matches = []
        for firing in firings:
            trigger = str(firing.message("m")["event"]["id"])
            other = None
            if firing.rule_id in self.rules.other and not firing.member:
                other = str(firing.message("o")["event"]["id"])
            matches.append(Match(firing.rule_id, trigger, other, firing.member))
        return list(dict.fromkeys(matches))
