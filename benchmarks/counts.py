"""Counts in one case: replay time as the events a count's window holds grow.

Each shape is one case whose events are all counted by some rule and all lie
within the count's window, so that every new event finds every earlier one still
counted: the case that was quadratic (issue 14). Time should grow linearly.

- `concerns`: community concerns from 4 reporters within one year, through the
  default rules (D5's distinct reporters, D5b's same reporter, each throttled);
- `missing`: children missing within 30 days, 3 children, default rules (D10);
- `forms`: a rule set of its own with a count over several event types, a count
  with `unless:` and `same:`, and throttles that events reset, within 90 days.

Run:  python benchmarks/counts.py [EVENTS ...] [--shape SHAPE]

With no EVENTS: 1,000, 2,000, 4,000 and 10,000 (the most a case may hold).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from triggers import Chronology, CompiledRuleSet, Engine, load_rules

START = datetime(2000, 1, 1, tzinfo=UTC)

FORMS = """\
rules:
  - id: signals
    title: Five safeguarding signals of any kind within 90 days
    learning: Signals of different kinds add up.
    when:
      event: [community_concern, child_missing, conference_refused]
      count: {at_least: 5, within: 90d}
    then:
      - {action: convene_strategy_meeting, priority: high, reason: five signals}
    throttle: {within: 14d, reset_by: [strategy_meeting]}
  - id: missing-no-interview
    title: A child missing three times within 90 days with no return interview
    learning: Return interviews are how the reasons come out.
    when:
      event: child_missing
      count:
        at_least: 3
        within: 90d
        same: [child]
        unless: {event: return_interview, same: [child]}
    then:
      - {action: convene_strategy_meeting, priority: high, reason: "{event.child} missing"}
    throttle: {within: 7d, per: [child], reset_by: [strategy_meeting]}
  - id: many-reporters
    title: Concerns from three different people within 90 days
    learning: Several people seeing the same thing matters.
    when:
      event: community_concern
      count: {at_least: 3, within: 90d, distinct: reporter}
    then:
      - {action: convene_strategy_meeting, priority: high, reason: several reporters}
    throttle: 30d
"""


def _concerns(index: int, count: int) -> dict[str, Any]:
    at = START + timedelta(seconds=index * 360 * 86400 // count)
    return {"at": at.isoformat(), "type": "community_concern", "reporter": f"n{index % 4}"}


def _missing(index: int, count: int) -> dict[str, Any]:
    at = START + timedelta(seconds=index * 29 * 86400 // count)
    return {"at": at.isoformat(), "type": "child_missing", "child": "abc"[index % 3]}


def _forms(index: int, count: int) -> dict[str, Any]:
    at = (START + timedelta(seconds=index * 89 * 86400 // count)).isoformat()
    if index % 97 == 0:  # a few events that cancel or reset, among the counted ones
        if index % 2:
            return {"at": at, "type": "return_interview", "child": "ab"[index % 2]}
        return {"at": at, "type": "strategy_meeting"}
    if index % 3 == 0:
        return {"at": at, "type": "child_missing", "child": "ab"[index % 2]}
    if index % 3 == 1:
        return {"at": at, "type": "community_concern", "reporter": f"n{index % 5}"}
    return {"at": at, "type": "conference_refused"}


SHAPES: dict[str, Callable[[int, int], dict[str, Any]]] = {
    "concerns": _concerns,
    "missing": _missing,
    "forms": _forms,
}


def case(shape: str, count: int) -> Chronology:
    """One case of `count` events of `shape`, all within its counts' windows."""
    events = [SHAPES[shape](index, count) for index in range(count)]
    return Chronology.model_validate({"case": shape, "events": events})


def rules(shape: str, folder: Path) -> CompiledRuleSet:
    """The default rules, or the `forms` shape's own rule set."""
    if shape != "forms":
        return load_rules()
    path = folder / "forms.yaml"
    path.write_text(FORMS)
    return load_rules(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="*", type=int, default=[1_000, 2_000, 4_000, 10_000])
    parser.add_argument("--shape", choices=sorted(SHAPES), action="append")
    arguments = parser.parse_args()
    print(f"{'shape':<9} {'events':>7} {'alerts':>7} {'seconds':>8} {'events/s':>9}")
    with tempfile.TemporaryDirectory(prefix="counts-") as folder:
        for shape in arguments.shape or list(SHAPES):
            engine = Engine(rules(shape, Path(folder)))
            for count in arguments.events:
                chronology = case(shape, count)
                started = time.perf_counter()
                result = engine.replay(chronology)
                elapsed = time.perf_counter() - started
                print(
                    f"{shape:<9} {count:>7,} {len(result.alerts):>7,} {elapsed:>8.2f}"
                    f" {count / elapsed:>9,.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
