"""The long fuzzing run: tens of thousands of hostile inputs for every reader.

Each reader (chronologies in YAML, JSON and JSONL, rule files, rule-test files) gets
N mutated inputs (`tests/fuzzing.py`), judged in chunks, each chunk in a process of
its own so that a crash (a signal) is caught and its input kept rather than ending
the run. Prints one table: for each reader, how many inputs gave a result, one of
the project's errors, or a failure (a traceback, an error naming no file, over 5 s,
a crash), and the slowest input. Failing inputs are written to OUT for regression
tests. Exits 1 if any input failed.

Run:  python benchmarks/fuzz.py [N] [--readers yaml,json,...] [--out DIR] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzzing import READERS, judge, mutate, seeds, set_huge  # noqa: E402
from triggers import load_rules  # noqa: E402

#: Inputs per chunk (one process each); the biggest strings in the long run.
CHUNK = 500
HUGE = 10_000_000


def _inputs(reader: str, seed: int, start: int, count: int) -> list[tuple[int, bytes]]:
    """Inputs number `start` to `start + count` of a reader's run: each from its own seed,
    so that any one can be made again on its own."""
    sources = seeds(reader)
    made = []
    for number in range(start, start + count):
        rng = random.Random(f"{seed}-{reader}-{number}")
        data = mutate(rng.choice(sources), rng, json_text=reader in ("json", "jsonl"))
        made.append((number, data))
    return made


def run_chunk(reader: str, seed: int, start: int, count: int, out: Path) -> None:
    """Judge a chunk in this process; one JSON line per input on standard output."""
    set_huge(HUGE)
    rules = load_rules()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        for number, data in _inputs(reader, seed, start, count):
            # Written first: if this input crashes the process, it is the one kept.
            (out / "current").write_bytes(data)
            verdict = judge(reader, data, Path(folder), rules)
            if verdict.failed:
                (out / f"{reader}-{number}{READERS[reader][0]}").write_bytes(data)
            line = {"n": number, "outcome": verdict.outcome, "detail": verdict.detail}
            print(json.dumps({**line, "seconds": verdict.seconds}), flush=True)


def _chunk_in_subprocess(reader: str, seed: int, start: int, count: int, out: Path) -> list[Any]:
    chunk_out = out / f"chunk-{reader}-{start}"
    chunk_out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--chunk", reader, str(seed), str(start), str(count)]
    done = subprocess.run(
        [*command, "--out", str(chunk_out)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0:
        number = start + len(lines)
        kept = out / f"{reader}-{number}{READERS[reader][0]}"
        current = chunk_out / "current"
        if current.exists():
            current.replace(kept)
        detail = f"the process died (exit status {done.returncode}): {done.stderr[-300:]}"
        lines.append({"n": number, "outcome": "crash", "detail": detail, "seconds": 0.0})
        rest = count - len(lines)
        if rest > 0:  # the chunk's remaining inputs, in a fresh process
            lines += _chunk_in_subprocess(reader, seed, number + 1, rest, out)
    else:
        for kept in chunk_out.glob("*"):
            if kept.name != "current":
                kept.replace(out / kept.name)
    for leftover in chunk_out.glob("*"):
        leftover.unlink()
    chunk_out.rmdir()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=20_000, help="inputs per reader")
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated readers")
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"), help="failing inputs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="chunks at a time")
    parser.add_argument("--chunk", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chunk:
        reader, seed, start, count = args.chunk
        run_chunk(reader, int(seed), int(start), int(count), args.out)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    head = ("reader", "inputs", "result", "error", "failed", "slowest s", "wall s")
    print("| " + " | ".join(f"{h:<10}" if i == 0 else f"{h:>7}" for i, h in enumerate(head)) + " |")
    print(f"|{'-' * 12}|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 7}:|{'-' * 10}:|{'-' * 8}:|")
    findings: Counter[str] = Counter()
    for reader in args.readers.split(","):
        started = time.perf_counter()
        starts = range(0, args.count, CHUNK)
        with ThreadPoolExecutor(args.jobs) as pool:
            chunks = pool.map(
                lambda s, r=reader: _chunk_in_subprocess(
                    r, args.seed, s, min(CHUNK, args.count - s), args.out
                ),
                starts,
            )
            lines = [line for chunk in chunks for line in chunk]
        outcomes = Counter(line["outcome"] for line in lines)
        bad = [line for line in lines if line["outcome"] not in ("ok", "error")]
        failed += len(bad)
        for line in bad:
            findings[f"{reader}: {line['outcome']}: {line['detail'][:120]}"] += 1
        slowest = max((line["seconds"] for line in lines), default=0.0)
        wall = time.perf_counter() - started
        print(
            f"| {reader:<10} | {len(lines):>7} | {outcomes['ok']:>7} | {outcomes['error']:>7}"
            f" | {len(bad):>6} | {slowest:>9.2f} | {wall:>7.0f} |",
            flush=True,
        )
    for finding, times in findings.most_common(30):
        print(f"{times:>5} x {finding}")
    if failed:
        print(f"{failed} failing input(s) kept in {args.out}/")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
