"""Where replay time goes: end to end, the engine alone, raw durable_rules, the reference.

Replays a corpus of chronology files four ways and prints one table:

- end to end: `triggers replay FILES --format json` on a new SQLite store, in a
  process of its own (reading, validation, rules, store, output), its CPU time
  and peak memory; with `--workers 1`, `--workers 2`, and `--cluster` on a Dask
  LocalCluster of 2 worker processes of one thread started here (run twice: cold,
  the workers' first replay importing and compiling, then warm);
- the engine alone: the same cases already read, through `Engine.replay`;
- raw durable_rules: the exact calls the engine made to durable_rules during that
  run (captured), made again on a fresh host, with nothing else around them: the
  ceiling for any replay built on durable_rules;
- the pure-Python reference evaluator on the same cases.

Run:  python benchmarks/replay.py CORPUS_DIR [--cases N]
      (a corpus: `triggers generate --cases 1000 --events 50 --seed 1 --out CORPUS_DIR`)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from triggers import Chronology, Engine, ReferenceEngine, load_chronologies, load_rules
from triggers.engine.durable import DurableBackend, DurableHost


def cpu() -> float:
    """CPU seconds used by this process so far (user and system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def end_to_end(files: list[Path], *options: str) -> tuple[float, float, float]:
    """CPU seconds (with the workers'), wall seconds and peak RSS (MiB, the largest
    process) of `triggers replay OPTIONS` over the files, run as a child."""
    with tempfile.TemporaryDirectory() as folder:
        store = f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        code = "from triggers.cli import main; main()"
        command = [sys.executable, "-c", code, "replay", *map(str, files)]
        command += ["--store", store, "--format", "json", *options]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, wall, after.ru_maxrss / 1024


def on_cluster(files: list[Path]) -> list[tuple[float, float]] | None:
    """(CPU seconds of the client, the workers and the scheduler; wall seconds) of
    `triggers replay --cluster` on a LocalCluster of 2 started here: a cold run, then a
    warm one. None without Dask."""
    try:
        import psutil  # noqa: PLC0415 -- the cluster extra, optional
        from distributed import LocalCluster  # noqa: PLC0415
    except ImportError:
        return None

    def workers_cpu() -> float:
        total = 0.0
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                total += times.user + times.system
        return total

    runs = []
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        for _ in range(2):
            before = workers_cpu() + cpu()
            client, wall, _ = end_to_end(files, "--cluster", cluster.scheduler_address)
            runs.append((client + workers_cpu() + cpu() - before, wall))
    return runs


class _RecordingHost(DurableHost):
    """A durable_rules host that keeps every call it makes, to make them again later."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, Any]] = []

    def assert_fact(self, name: str, fact: Any) -> Any:
        self.calls.append(("assert", name, dict(fact)))
        return super().assert_fact(name, fact)

    def retract_fact(self, name: str, fact: Any) -> None:
        self.calls.append(("retract", name, dict(fact)))
        super().retract_fact(name, fact)

    def delete_state(self, name: str, sid: str) -> None:
        self.calls.append(("delete", name, sid))
        super().delete_state(name, sid)


def timed(work: Callable[[], object]) -> float:
    started = cpu()
    work()
    return cpu() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a folder of chronology files")
    parser.add_argument("--cases", type=int, default=None, help="only the first N files")
    args = parser.parse_args()
    files = sorted(p for p in args.corpus.iterdir() if p.suffix in (".yaml", ".json"))
    files = files[: args.cases] if args.cases else files
    rules = load_rules()

    e2e_cpu, e2e_wall, e2e_rss = end_to_end(files, "--workers", "1")
    two_cpu, two_wall, two_rss = end_to_end(files, "--workers", "2")
    cluster = on_cluster(files)
    cases: list[Chronology] = [case for file in files for case in load_chronologies(file)]
    events = sum(len(case.events) for case in cases)

    engine = Engine(rules)
    engine_cpu = timed(lambda: [engine.replay(case) for case in cases])
    # Again, untimed, keeping every call the engine makes to durable_rules.
    recording = _RecordingHost()
    recorded = Engine(rules, backend=DurableBackend(recording))
    for case in cases:
        recorded.replay(case)

    # The same calls on a fresh host (the rule set registered there under its own name).
    fresh = DurableHost()
    name = fresh.register(rules)
    calls = [(op, payload) for op, _, payload in recording.calls]

    def raw() -> None:
        for op, payload in calls:
            if op == "assert":
                fresh.assert_fact(name, payload)
            elif op == "retract":
                fresh.retract_fact(name, payload)
            else:
                fresh.delete_state(name, payload)

    raw_cpu = timed(raw)
    reference = ReferenceEngine(rules)
    reference_cpu = timed(lambda: [reference.replay(case) for case in cases])

    rows = [
        ("end to end (triggers replay, SQLite)", e2e_cpu, f"{e2e_rss:.0f}"),
        ("end to end, --workers 2", two_cpu, f"{two_rss:.0f}"),
        *(
            (f"end to end, --cluster (2), {how}", seconds, "")
            for how, (seconds, _) in zip(("cold", "warm"), cluster or [], strict=False)
        ),
        ("engine alone (Engine.replay)", engine_cpu, ""),
        ("raw durable_rules (captured calls)", raw_cpu, ""),
        ("reference evaluator", reference_cpu, ""),
    ]
    print(f"{len(files)} files, {len(cases)} cases, {events} events, {len(calls)} engine calls")
    print(f"| {'what':<38} | {'CPU s':>7} | {'events/CPU-s':>12} | {'peak RSS MiB':>12} |")
    print(f"|{'-' * 40}|{'-' * 9}:|{'-' * 14}:|{'-' * 14}:|")
    for what, seconds, rss in rows:
        rate = events / seconds if seconds else float("inf")
        print(f"| {what:<38} | {seconds:>7.2f} | {rate:>12,.0f} | {rss:>12} |")
    print(f"end to end / raw durable_rules ceiling: {raw_cpu / e2e_cpu:.2f}")
    print(
        f"wall: --workers 1 {e2e_wall:.1f} s, --workers 2 {two_wall:.1f} s"
        f" ({e2e_wall / two_wall:.2f} times as fast)"
    )
    if cluster:
        print(
            f"wall: --cluster, LocalCluster of 2: cold {cluster[0][1]:.1f} s"
            f" ({e2e_wall / cluster[0][1]:.2f} times --workers 1), warm {cluster[1][1]:.1f} s"
            f" ({e2e_wall / cluster[1][1]:.2f} times)"
        )
    print(f"(cpus: {os.cpu_count()}, python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
