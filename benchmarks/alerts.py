"""Listing and summarising a large store: `alerts list --format csv` and `summary` at 50,000 alerts.

Fills an SQLite store from a generated corpus (`triggers generate`, then `triggers
replay DIR`) unless one is given, then times, each as a command of its own (start-up
included, as a user waits for it), best of `--repeat` runs:

- `triggers alerts list --format csv` (every alert), and one page of it
  (`--limit 100 --offset 25000`) and a filtered listing (`--rule D1 --priority high`);
- `triggers summary`, and `triggers summary --rule D1 --since 2010-01-01`.

The target (issue 13): 50,000 stored alerts list as CSV in under 2 seconds.

Run:  python benchmarks/alerts.py [--cases 4700] [--store sqlite:///big.sqlite]
      (4,700 generated cases of 50 events raise about 50,000 alerts)
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from triggers import Store

_COMMAND = [sys.executable, "-m", "triggers"]


def fill(cases: int, folder: Path) -> str:
    """A new SQLite store holding the replay of `cases` generated cases."""
    corpus = folder / "corpus"
    store = f"sqlite:///{folder / 'alerts.sqlite'}"
    generate = ["generate", "--cases", str(cases), "--events", "50", "--seed", "1"]
    subprocess.run([*_COMMAND, *generate, "--out", str(corpus)], check=True)
    replay = [*_COMMAND, "replay", str(corpus), "--store", store, "--format", "json"]
    subprocess.run(replay, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return store


def timed(args: list[str], store: str, repeat: int) -> tuple[float, float, int]:
    """The best wall time and the best CPU time (user and system) of `triggers ARGS --store
    STORE`, and the lines it printed (`--help` alone, the start-up every command pays,
    opens no store). CPU time is what the command costs on an idle machine; wall time
    also counts waiting for a busy one."""
    wall, cpu, lines = float("inf"), float("inf"), 0
    command = [*_COMMAND, *args] + ([] if args == ["--help"] else ["--store", store])
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        wall = min(wall, time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        cpu = min(cpu, used)
        lines = done.stdout.count("\n")
    return wall, cpu, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=4700, help="generated cases to replay")
    parser.add_argument("--store", help="time this store instead of filling a new one")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (best kept)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = options.store or fill(options.cases, Path(folder))
        with Store(store) as opened:
            counts = opened.counts()
        print(
            f"{counts['cases']:,} cases, {counts['events']:,} events, {counts['alerts']:,} alerts"
        )
        print(f"{'command':<62} {'wall s':>7} {'CPU s':>6} {'lines':>7}")
        for args in (
            ["alerts", "list", "--format", "csv"],
            ["alerts", "list", "--format", "csv", "--limit", "100", "--offset", "25000"],
            ["alerts", "list", "--format", "csv", "--rule", "D1", "--priority", "high"],
            ["alerts", "list", "--format", "json"],
            ["summary"],
            ["summary", "--rule", "D1", "--since", "2010-01-01"],
            ["--help"],
        ):
            wall, cpu, lines = timed(args, store, options.repeat)
            print(f"triggers {' '.join(args):<53} {wall:>7.2f} {cpu:>6.2f} {lines:>7,}")


if __name__ == "__main__":
    main()
