"""Alert fatigue: alerts per case per year, by rule, under two rule sets.

Replays the chronologies named (files, directories or globs) under a "before" and an
"after" rule set, in event time, and prints a Markdown table: for each rule, its
alerts and its alerts per case-year under each set and its share of the "after"
alerts, then the totals. A case-year is the time from a case's first event to its
last (at least a day). Exits 1 when one rule raises more than a third of the "after"
alerts: a rule that loud drowns the others.

Run:  python benchmarks/fatigue.py --before OLD_RULES [--after RULES] CHRONOLOGIES...

The issue 12 table (benchmarks/README.md) compares the rules before issue 12
(`git show af912fa:rules/core.yaml > /tmp/before.yaml`) with today's.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from triggers import Chronology, load_chronologies, load_rules
from triggers.backtest import backtest
from triggers.reading import chronology_files

#: One rule may raise at most this share of all alerts.
LOUDEST_SHARE = 1 / 3


def case_years(cases: Sequence[Chronology]) -> float:
    """The corpus's case-years: each case from its first event to its last, at least a day."""
    total = timedelta()
    for case in cases:
        times = [event.at for event in case.events]
        span = max(times) - min(times) if times else timedelta()
        total += max(span, timedelta(days=1))
    return total / timedelta(days=365.25)


def table(before: Counter[str], after: Counter[str], years: float) -> list[str]:
    """The Markdown table of both rule sets' alerts, loudest rule (after) first."""
    total_before, total_after = sum(before.values()), sum(after.values())
    lines = [
        "| rule | before | per case-year | after | per case-year | share after |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for rule in sorted(before.keys() | after.keys(), key=lambda r: (-after[r], -before[r], r)):
        share = after[rule] / total_after if total_after else 0.0
        lines.append(
            f"| {rule} | {before[rule]:,} | {before[rule] / years:.2f} | {after[rule]:,}"
            f" | {after[rule] / years:.2f} | {share:.1%} |"
        )
    lines.append(
        f"| **all rules** | **{total_before:,}** | **{total_before / years:.2f}**"
        f" | **{total_after:,}** | **{total_after / years:.2f}** | |"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the rule set before the change")
    parser.add_argument("--after", default=None, help="the rule set after (default: shipped)")
    parser.add_argument("paths", nargs="+", help="chronology files, directories or globs")
    args = parser.parse_args(argv)
    files = chronology_files(args.paths)
    cases = [case for file in files for case in load_chronologies(file)]
    years = case_years(cases)
    # The per-rule counts of `triggers backtest`, the one comparison of two rule sets.
    rules = backtest(files, load_rules(args.before), load_rules(args.after)).rules
    before = Counter({rule.rule: rule.base_alerts for rule in rules})
    after = Counter({rule.rule: rule.candidate_alerts for rule in rules})
    print(f"{len(cases):,} cases, {years:,.1f} case-years\n")
    print("\n".join(table(before, after, years)))
    total = sum(after.values())
    loudest, count = after.most_common(1)[0] if after else ("", 0)
    if total and count > total * LOUDEST_SHARE:
        print(f"\n{loudest} raises {count / total:.0%} of all alerts: more than a third")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
