"""Hostile inputs for the readers, and the one verdict every input must get.

Each reader (chronologies in YAML, JSON and JSONL; rule files; rule-test files) is
fed mutations of the project's own files: bytes flipped, cut or repeated, and
fragments that have broken readers before (huge strings, alias bombs, deep
nesting, control characters, lone surrogates, dates at the ends of the calendar,
numbers out of range). Whatever the input, the verdict must be a result or one of
the project's own errors naming the file, within a time bound: never a traceback,
a crash or a hang. `tests/test_fuzz.py` runs a few hundred inputs in the suite;
`benchmarks/fuzz.py` runs tens of thousands.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from tests.conftest import EXAMPLES, ROOT
from triggers import Engine, TriggersError, load_chronologies, load_rules
from triggers.rules.compiled import CompiledRuleSet

__all__ = [
    "READERS",
    "Verdict",
    "judge",
    "mutate",
    "seeds",
    "set_huge",
]

#: The seconds an input may take before it counts as a hang.
TIME_BOUND = 5.0

#: The longest string a fragment has (`set_huge` raises it, for the long run).
_HUGE = [1_000_000]


def set_huge(size: int) -> None:
    """Let fragments be strings of up to `size` characters."""
    _HUGE[0] = size


#: Fragments that have broken readers before, as text.
_FRAGMENTS: list[Callable[[random.Random], str]] = [
    lambda rng: "x" * rng.choice([300, 70_000, _HUGE[0]]),
    lambda rng: (
        "a: &a ["
        + ",".join(["x"] * 9)
        + "]\n"
        + "".join(
            f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
    ),
    lambda rng: "[" * rng.choice([100, 5_000, 50_000]),
    lambda rng: "{a: " * rng.choice([100, 5_000]),
    lambda rng: rng.choice(["\x00", "\x1a", "\x1b[2J", "\x07", "\x85", "\u2028", "\ufeff", "\x7f"]),
    lambda rng: rng.choice(['"\\ud800"', "\\udfff", '"\\u0000"', "\udcff"]),
    lambda rng: rng.choice(["0001-01-01", "9999-12-31", "9999-12-31T23:59:59", "1900-01-01"]),
    lambda rng: rng.choice(["1e308", ".inf", "-.inf", ".nan", "1" * 5000, "-0", "0.00001"]),
    lambda rng: rng.choice(
        ["~", "null", "yes", "no", "on", "[]", "{}", "''", '""', "!!binary AA=="]
    ),
    lambda rng: rng.choice(
        ["!!python/object:os.system x", "? a\n: b", "<<: *nothing", "*undefined"]
    ),
    lambda rng: "[" + ", ".join(str(i) for i in range(rng.choice([600, 20_000]))) + "]",
    lambda rng: "\t",
    lambda rng: bytes([rng.randrange(128, 256)]).decode("latin-1"),
]


def _fragment(rng: random.Random) -> bytes:
    text = rng.choice(_FRAGMENTS)(rng)
    return text.encode("utf-8", "surrogatepass")


def mutate(data: bytes, rng: random.Random, *, json_text: bool = False) -> bytes:
    """A hostile variant of `data`: mostly one value replaced by a hostile one (the file
    otherwise intact, so that the value reaches validation and the engine), else one to
    three mutations of any kind. `json_text`: replaced values are written as JSON."""
    if rng.random() < 0.5:
        return _replace_value(data, rng, json_text)
    for _ in range(rng.randint(1, 3)):
        size = len(data)
        at = rng.randrange(size + 1)
        kind = rng.randrange(6)
        if kind == 0 and size:  # flip a byte
            data = data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
        elif kind == 1:  # cut
            data = data[:at] + data[at + rng.randrange(1, 64) :]
        elif kind == 2:  # truncate
            data = data[:at]
        elif kind == 3 and size:  # repeat a stretch
            end = min(size, at + rng.randrange(1, 400))
            data = data[:end] + data[at:end] * rng.randrange(1, 50) + data[end:]
        elif kind == 4:  # a hostile fragment anywhere
            data = data[:at] + _fragment(rng) + data[at:]
        else:
            data = _replace_value(data, rng, json_text)
    return data


def _replace_value(data: bytes, rng: random.Random, json_text: bool) -> bytes:
    """`data` with the value after one `key: ` (to the end of its line or its comma)
    replaced by a hostile fragment, quoted as a JSON string where JSON needs one."""
    marks = [i + 2 for i in range(len(data)) if data[i : i + 2] == b": "]
    if not marks:
        return data + _fragment(rng)
    start = rng.choice(marks)
    end = len(data)
    for stop in (b"\n", b",", b"}"):
        found = data.find(stop, start)
        if found >= 0:
            end = min(end, found)
    fragment = _fragment(rng)
    if json_text or rng.random() < 0.3:
        text = fragment.decode("utf-8", "surrogatepass")
        number = text.lstrip("-").replace(".", "", 1).replace("e", "", 1).isdigit()
        if not number:
            fragment = json.dumps(text).encode()
    return data[:start] + fragment + data[end:]


@dataclass(frozen=True)
class Verdict:
    """What one input gave: "ok", "error" (the project's own), or a failure (why)."""

    outcome: str
    detail: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """A traceback, an error that names no file, or an input that took too long."""
        return self.outcome not in ("ok", "error")


class _TooLong(BaseException):
    """Raised by the alarm: not an Exception, so no reader's handler swallows it."""


@contextlib.contextmanager
def _bounded(seconds: float) -> Iterator[None]:
    def expire(_signal: int, _frame: FrameType | None) -> None:
        raise _TooLong

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _chronologies(path: Path, rules: CompiledRuleSet) -> None:
    engine = _engine(rules)
    for chronology in load_chronologies(path):
        engine.replay(chronology)


_ENGINES: dict[str, Engine] = {}


def _engine(rules: CompiledRuleSet) -> Engine:
    if rules.version not in _ENGINES:
        _ENGINES[rules.version] = Engine(rules)
    return _ENGINES[rules.version]


def _rules(path: Path, _rules: CompiledRuleSet) -> None:
    Engine(load_rules(path))


def _rule_tests(path: Path, rules: CompiledRuleSet) -> None:
    from triggers.ruletests import load_rule_tests, run_rule_tests

    run_rule_tests(load_rule_tests([path], rules), rules)


#: Each reader: the suffix its files have, and what reading (and using) one does.
READERS: dict[str, tuple[str, Callable[[Path, CompiledRuleSet], None]]] = {
    "yaml": (".yaml", _chronologies),
    "json": (".json", _chronologies),
    "jsonl": (".jsonl", _chronologies),
    "rules": (".yaml", _rules),
    "rule-tests": (".test.yaml", _rule_tests),
}


def seeds(reader: str) -> list[bytes]:
    """The files a reader's inputs are mutated from."""
    if reader == "yaml":
        return [p.read_bytes() for p in sorted(EXAMPLES.glob("*.yaml"))]
    if reader == "json":
        return [
            json.dumps(_plain(p), indent=1, default=str).encode()
            for p in sorted(EXAMPLES.glob("*.yaml"))
        ]
    if reader == "jsonl":
        return [(EXAMPLES / "feed.jsonl").read_bytes()]
    if reader == "rules":
        return [(ROOT / "rules" / "core.yaml").read_bytes()]
    text = (ROOT / "rules" / "core.test.yaml").read_text()
    tests = text.split("\n  - name:")
    return [
        (tests[0] + "\n  - name:" + "\n  - name:".join(tests[i : i + 3])).encode()
        for i in (1, 10, 30)
    ]


def _plain(path: Path) -> object:
    import yaml

    return yaml.safe_load(path.read_text())


def judge(reader: str, data: bytes, folder: Path, rules: CompiledRuleSet) -> Verdict:
    """Read `data` as `reader`'s input (written to a file in `folder`): its verdict."""
    suffix, read = READERS[reader]
    path = folder / f"input{suffix}"
    path.write_bytes(data)
    started = time.perf_counter()
    try:
        with _bounded(TIME_BOUND):
            read(path, rules)
    except _TooLong:
        return Verdict("hang", f"over {TIME_BOUND:.0f} s", time.perf_counter() - started)
    except TriggersError as error:
        seconds = time.perf_counter() - started
        text = str(error)
        if str(path) not in text:
            return Verdict("unplaced", f"the error names no file: {text[:300]}", seconds)
        return Verdict("error", text[:300], seconds)
    except RecursionError as error:
        return Verdict("traceback", f"RecursionError: {error}", time.perf_counter() - started)
    except Exception as error:  # every other exception is the finding
        return Verdict(
            "traceback", f"{type(error).__name__}: {error}"[:300], time.perf_counter() - started
        )
    return Verdict("ok", "", time.perf_counter() - started)
