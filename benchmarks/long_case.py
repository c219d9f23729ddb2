"""Memory of one long case: 10,000 events over 20 years through the default rules.

Samples the process's resident memory and the engine's retained facts every
1,000 events while the case replays. Memory should stay flat as events are added:
facts are retracted once no window can reach them, counts are pruned, and only
one clock fact exists per case.

Run:  python benchmarks/long_case.py [EVENTS] [quiet]

`quiet` uses events that rules look back to but that raise almost no alerts, so
that the figures show the engine's working state without its growing output.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from triggers import Chronology, CompiledRuleSet, Engine, load_rules
from triggers.engine import EventInput, Match
from triggers.engine.durable import DurableBackend, DurableCase, DurableRules

TYPES: list[tuple[str, dict[str, Any]]] = [
    ("community_concern", {"reporter": ["n1", "n2", "n3", "n4"]}),
    ("child_missing", {"child": ["a", "b", "c"]}),
    ("return_interview", {"child": ["a", "b", "c"]}),
    ("monitoring_software_failure", {}),
    ("risk_assessed", {"tool": ["RM2000", "OASys"], "level": ["low", "medium", "high"]}),
    ("offender_moved_area", {"from_area": ["north", "south"], "to_area": ["north", "south"]}),
    ("mappa_review", {"area": ["north", "south"]}),
    ("plan_started", {"plan": ["child_in_need"]}),
    ("plan_ended", {"plan": ["child_in_need"], "contingency": [True, False]}),
    ("assessment_completed", {}),
    ("conference_refused", {}),
    ("new_pregnancy", {}),
]


#: Events that rules look back to (windows up to a year) but that raise almost no alert,
#: so that memory reflects the engine's working state rather than its output.
QUIET_TYPES: list[tuple[str, dict[str, Any]]] = [
    ("return_interview", {"child": ["a", "b", "c"]}),
    ("mappa_review", {"area": ["north"]}),
    ("assessment_completed", {}),
    ("risk_assessed", {"tool": ["RM2000"], "level": ["medium"]}),
    ("strategy_meeting", {}),
]


def long_case(
    count: int, seed: int = 1, types: list[tuple[str, dict[str, Any]]] = TYPES
) -> Chronology:
    """A registered, MAPPA-managed subject with `count` events spread over 20 years."""
    rng = random.Random(seed)
    start = datetime(2000, 1, 1, tzinfo=UTC)
    span = 20 * 365 * 24 * 3600
    events: list[dict[str, Any]] = [
        {"at": start.isoformat(), "type": "registration_started"},
        {"at": start.isoformat(), "type": "mappa_level_set", "level": 1, "area": "north"},
    ]
    for _ in range(count - len(events)):
        kind, fields = rng.choice(types)
        at = start + timedelta(seconds=rng.randrange(span))
        events.append(
            {"at": at.isoformat(), "type": kind, **{k: rng.choice(v) for k, v in fields.items()}}
        )
    return Chronology.model_validate({"case": "long", "events": events})


def rss_mib() -> float:
    """Resident memory of this process now, in MiB (Linux)."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class SamplingCase:
    """A durable_rules case session that samples memory and retained facts as events arrive."""

    def __init__(self, case: DurableCase, samples: list[tuple[int, float, int, int]]) -> None:
        self.case = case
        self.samples = samples
        self.events = 0
        self.matches = 0

    def event(self, event: EventInput) -> Sequence[Match]:
        self.events += 1
        if self.events % 1000 == 0:
            sample = (self.events, rss_mib(), len(self.case.retained), self.matches)
            self.samples.append(sample)
        return self.counted(self.case.event(event))

    def tally(
        self, rule: str, count: int, trigger: EventInput, state: Mapping[str, Any]
    ) -> Sequence[Match]:
        return self.counted(self.case.tally(rule, count, trigger, state))

    def clock(self, now: datetime) -> Sequence[Match]:
        return self.counted(self.case.clock(now))

    def counted(self, matches: Sequence[Match]) -> Sequence[Match]:
        self.matches += sum(not match.counts for match in matches)
        return matches


class SamplingRules:
    """A rule set on durable_rules whose case sessions sample as they go."""

    def __init__(self, rules: DurableRules, samples: list[tuple[int, float, int, int]]) -> None:
        self.rules = rules
        self.samples = samples

    @contextmanager
    def case(self, case: str) -> Iterator[SamplingCase]:
        with self.rules.case(case) as session:
            yield SamplingCase(session, self.samples)


class SamplingBackend(DurableBackend):
    """The durable_rules backend, sampling memory every 1,000 events."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[tuple[int, float, int, int]] = []

    def load(self, rules: CompiledRuleSet) -> SamplingRules:  # type: ignore[override]
        return SamplingRules(super().load(rules), self.samples)


def main(count: int, quiet: bool) -> None:
    backend = SamplingBackend()
    engine = Engine(load_rules(), backend=backend)
    case = long_case(count, types=QUIET_TYPES if quiet else TYPES)
    started = time.perf_counter()
    result = engine.replay(case)
    elapsed = time.perf_counter() - started
    samples = backend.samples
    print(f"{count} events over 20 years: {len(result.alerts)} alerts in {elapsed:.1f} s")
    print(f"{'events':>7} {'RSS MiB':>9} {'retained facts':>15} {'matches so far':>14}")
    for events, rss, retained, alerts in samples:
        print(f"{events:>7} {rss:>9.1f} {retained:>15} {alerts:>14}")
    if len(samples) > 2:
        (e0, r0, _, a0), (e1, r1, _, a1) = samples[1], samples[-1]
        per_alert = (r1 - r0) * 1024 / max(a1 - a0, 1)
        print(
            f"from {e0} to {e1} events: RSS {r1 - r0:+.1f} MiB while {a1 - a0} matches (the"
            f" output) were kept, {per_alert:.1f} KiB per match; retained facts stay bounded"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, "quiet" in sys.argv[2:])
