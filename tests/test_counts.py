"""Counts as a sliding tally (issue 14): the same alerts as counting every event again.

The engine keeps each count's events in a window that events leave from the front,
and names the events counted without copying them until an alert is kept. Busy
windows, simultaneous triggers in different `same:` groups (alerts at one moment are
ordered by the ids they name, and a throttle keeps the first), `distinct:` values
that leave the window, and `unless:` are replayed by the
engine and by the reference evaluator, which counts by brute force.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import chronology
from triggers import Engine, ReferenceEngine, load_rules
from triggers.engine.counts import Counted, Tally
from triggers.rules.compiled import CompiledCount
from triggers.rules.duration import Duration

T0 = datetime(2020, 3, 1, tzinfo=UTC)

RULES = """\
rules:
  - id: signals
    title: Four signals of any kind within 10 days
    learning: l
    when:
      event: [community_concern, child_missing]
      count: {at_least: 4, within: 10d}
    then:
      - {action: flag, reason: "signals up to {event.id}"}
    throttle: {within: 2d, reset_by: [strategy_meeting]}
  - id: reporters
    title: Concerns from three sources within 5 days
    learning: l
    when:
      event: community_concern
      count: {at_least: 3, within: 5d, distinct: source}
    then:
      - {action: flag, reason: r}
      - {action: notify_agency, params: {agency: police}, reason: r}
    throttle: 1d
  - id: same-reporter
    title: Two concerns from one person within 3 days
    learning: l
    when:
      event: community_concern
      count: {at_least: 2, within: 3d, same: [reporter]}
    then:
      - {action: flag, reason: "{event.reporter} again"}
    throttle: 1d
  - id: missing
    title: A child missing three times within 8 days with no return interview
    learning: l
    when:
      event: child_missing
      count:
        at_least: 3
        within: 8d
        same: [child]
        unless: {event: return_interview, same: [child]}
    then:
      - {action: flag, reason: "{event.child}"}
"""


def busy_case(seed: int, count: int) -> list[dict[str, Any]]:
    """`count` events on a few hundred moments over 40 days: windows hold many at once."""
    rng = random.Random(seed)
    events = []
    for index in range(count):
        at = (T0 + timedelta(hours=rng.randrange(40 * 24 // 3) * 3)).isoformat()
        kind = rng.choice(["concern", "concern", "missing", "missing", "other"])
        event: dict[str, Any]
        if kind == "concern":
            source = rng.choice(["police", "school", "gp", None])  # distinct, or not recorded
            event = {"type": "community_concern", "reporter": rng.choice(["n1", "n2", "n3"])}
            event.update({"source": source} if source else {})
        elif kind == "missing":
            event = {"type": "child_missing", "child": rng.choice("ab")}
        else:
            event = rng.choice(
                [
                    {"type": "return_interview", "child": rng.choice("ab")},
                    *[{"type": "strategy_meeting"}] * 3,
                ]
            )
        events.append({"at": at, "id": f"e{index:04}", **event})
    return events


@pytest.mark.parametrize("seed", range(4))
def test_busy_windows_raise_the_alerts_of_counting_everything_again(
    tmp_path: Path, seed: int
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    rules = load_rules(path)
    case = chronology(busy_case(seed, 600))
    got = Engine(rules).replay(case).alerts
    assert got == ReferenceEngine(rules).replay(case).alerts
    # Each rule raised, and the counts named many events at once.
    assert {alert.rule for alert in got} == {
        "signals",
        "reporters",
        "same-reporter",
        "missing",
    }
    assert max(len(alert.events) for alert in got) > 40


def test_counted_events_order_as_the_tuples_of_their_ids() -> None:
    rng = random.Random(7)
    tally = Tally(CompiledCount(1, Duration(seconds=5 * 3600), None, ("child",)))
    runs: list[Counted] = []
    at = T0
    for index in range(300):
        at += timedelta(hours=rng.choice([0, 0, 1]))
        runs.append(
            tally.add(f"e{rng.randrange(1000):03}-{index}", at, {"child": rng.choice("abc")})[1]
        )
    for mine, theirs in itertools.product(runs[::7], runs[::5]):
        assert (mine < theirs) == (mine.ids() < theirs.ids())
        assert (mine == theirs) == (mine.ids() == theirs.ids())
    assert sorted(runs) == sorted(runs, key=Counted.ids)


def test_a_tally_counts_distinct_values_leaving_the_window() -> None:
    tally = Tally(CompiledCount(2, Duration(seconds=3600), "reporter", ()))
    seen = [
        tally.add("a", T0, {"reporter": "n1"}),
        tally.add("b", T0 + timedelta(minutes=30), {"reporter": "n1"}),
        tally.add("c", T0 + timedelta(minutes=40), {}),  # no reporter: counted, not distinct
        tally.add("d", T0 + timedelta(minutes=61), {"reporter": "n2"}),  # "a" has left
        tally.add("e", T0 + timedelta(minutes=120), {"reporter": "n2"}),  # only "d" is left
    ]
    assert [(number, counted.ids()) for number, counted in seen] == [
        (1, ("a",)),
        (1, ("a", "b")),
        (1, ("a", "b", "c")),
        (2, ("b", "c", "d")),
        (1, ("d", "e")),
    ]
