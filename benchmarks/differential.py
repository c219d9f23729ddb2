"""Differential run at scale: N generated cases through `Engine` and `ReferenceEngine`.

The rule sets and chronologies come from the strategies of tests/test_differential.py.
Every `Engine` registers a durable_rules ruleset that is never freed, so the cases
run in chunks, each in a subprocess of its own (a crash inside durable_rules is then
reported with the scenario that caused it, rather than ending the run).

Run:  python benchmarks/differential.py [N] [--chunk CASES] [--workers W] [--seed S]

Prints the number of cases checked, the disagreements, the wall time and the peak
resident memory of a chunk; exits 1 on any disagreement or crashed chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package
from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.test_differential import Scenario, check, scenarios

#: Chronologies per generated rule set.
CASES_PER_RULE_SET = 5


class ChunkResult(TypedDict):
    """What one chunk reports, as a JSON line on its standard output."""

    cases: int
    disagreements: list[str]
    peak_rss_kib: int
    crashed: bool


def run_chunk(cases: int, chunk_seed: int, last: Path) -> ChunkResult:
    """Check `cases` generated cases in this process; the scenario under way is kept in `last`."""
    with tempfile.TemporaryDirectory(prefix="differential-") as scratch:
        return _check_chunk(cases, chunk_seed, last, Path(scratch))


def _check_chunk(cases: int, chunk_seed: int, last: Path, folder: Path) -> ChunkResult:
    checked = 0
    found: list[str] = []
    rule_sets = -(-cases // CASES_PER_RULE_SET)

    @seed(chunk_seed)
    @settings(
        max_examples=rule_sets,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(scenario=scenarios(cases=CASES_PER_RULE_SET))
    def one(scenario: Scenario) -> None:
        nonlocal checked
        scenario = Scenario(scenario.rules, scenario.cases[: cases - checked])
        last.write_text(scenario.text + "\n# cases\n" + json.dumps(scenario.cases, default=str))
        found.extend(check(folder, scenario))
        checked += len(scenario.cases)

    one()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"cases": checked, "disagreements": found, "peak_rss_kib": peak_kib, "crashed": False}


def run_in_subprocess(cases: int, chunk_seed: int) -> ChunkResult:
    """One chunk in a fresh interpreter; a crash is reported with the scenario under way."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt", prefix="scenario-") as last:
        command = [sys.executable, __file__, "--run-chunk", str(cases), str(chunk_seed), last.name]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            crash = (
                f"chunk with seed {chunk_seed} ended with status {done.returncode}"
                f" ({done.stderr.strip().splitlines()[-1:]}) during:\n{Path(last.name).read_text()}"
            )
            return {"cases": 0, "disagreements": [crash], "peak_rss_kib": 0, "crashed": True}
        result: ChunkResult = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def main(total: int, chunk: int, workers: int, first_seed: int) -> int:
    started = time.perf_counter()
    sizes = [min(chunk, total - start) for start in range(0, total, chunk)]
    seeds = range(first_seed, first_seed + len(sizes))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(run_in_subprocess, sizes, seeds))
    elapsed = time.perf_counter() - started
    checked = sum(r["cases"] for r in results)
    found = [text for r in results if not r["crashed"] for text in r["disagreements"]]
    crashes = [text for r in results if r["crashed"] for text in r["disagreements"]]
    peak = max(r["peak_rss_kib"] for r in results) / 1024
    for text in (crashes + found)[:5]:
        print(text, file=sys.stderr)
    print(
        f"{checked} cases checked in {len(sizes)} chunks ({workers} at a time):"
        f" {len(found)} disagreements, {len(crashes)} crashed chunks;"
        f" {elapsed:.1f} s wall, peak RSS {peak:.0f} MiB per chunk"
    )
    return 1 if found or crashes or checked < total else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run-chunk"]:
        cases, chunk_seed, last = int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
        print(json.dumps(run_chunk(cases, chunk_seed, last)))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="?", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=2_000, help="cases per subprocess")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=1, help="the first chunk's seed")
    arguments = parser.parse_args()
    sys.exit(main(arguments.cases, arguments.chunk, arguments.workers, arguments.seed))
