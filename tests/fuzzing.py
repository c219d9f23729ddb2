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
import copy
import json
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from tests.conftest import EXAMPLES, ROOT
from triggers import Chronology, Engine, TriggersError, load_chronologies, load_rules
from triggers._yaml import load_yaml
from triggers.generate import generate_corpus
from triggers.limits import EARLIEST, LATEST
from triggers.models.events import EVENT_TYPES
from triggers.rules.catalogue import FieldSpec, event_fields, state_fields
from triggers.rules.compiled import CompiledRuleSet

__all__ = [
    "LOAD_BOUND",
    "READERS",
    "Verdict",
    "engine_verdicts",
    "judge",
    "judge_in_engine",
    "mutate",
    "mutate_rules",
    "replay_chronologies",
    "rule_file",
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


# --- rule files that are likely to pass `rules check` but push the engine -----------

#: Numbers at the edges of what a rule may test (`triggers/rules/limits.py`) and near them.
_NUMBERS: list[Any] = [
    0, 1, -1, 0.0001, 0.00011, -0.0001, 0.1 + 0.2, 0.5, 1e9, 999_999_999.5, -1e9,
    10**15 - 1, -(10**15 - 1), 2**31, 2**53, 123_456.000_001, 3e-4,
]  # fmt: skip
#: Durations at the edges of what a window, a throttle or `act_within` may be.
_DURATIONS = [
    "1h", "1 month", "100 years", "1200 months", "36525d", "5217w", "876600h", "99 years",
]  # fmt: skip
#: Lengths of lists and of repeated (aliased) blocks around durable_rules' tables.
_LENGTHS = [1, 2, 60, 126, 127, 128, 129, 130, 200, 255, 256]


def _value(spec: FieldSpec, rng: random.Random) -> Any:
    """A value a test on `spec` may compare with."""
    if spec.values:
        return rng.choice(spec.values)
    if spec.kind in ("int", "float"):
        return rng.choice(_NUMBERS)
    if spec.kind == "bool":
        return rng.random() < 0.5
    return rng.choice(["x", "north", "police", "é" * 60, "a" * 200, "0", "1e5", "null"])


def _test(spec: FieldSpec, rng: random.Random) -> Any:
    """A test on a field of kind `spec`: a hostile operand of an operator it allows."""
    kind = rng.randrange(5)
    if kind == 0 and spec.ordered:
        return {rng.choice(["lt", "le", "gt", "ge"]): _value(spec, rng)}
    if kind == 1 and spec.kind == "set":
        operator = rng.choice(["includes", "excludes", "includes_any"])
        value = _value(spec, rng)
        return {operator: [value] if operator == "includes_any" else value}
    if kind == 2 and spec.kind not in ("bool", "set"):
        size = rng.choice(_LENGTHS)
        values = [_value(spec, rng) for _ in range(size)]
        if spec.kind in ("str", "time", "list"):
            values = [f"v{i}-{rng.randrange(10**6)}" for i in range(size)]
        return {rng.choice(["in", "not_in"]): values}
    if kind == 3:
        return {"present": rng.random() < 0.5}
    return {rng.choice(["eq", "ne"]): _value(spec, rng)}


def _rule_with_event(rules: list[Any], rng: random.Random) -> tuple[dict[str, Any], str]:
    rule = rng.choice(rules)
    event = rule["when"]["event"]
    return rule, event if isinstance(event, str) else event[0]


def _testable(event_type: str) -> list[FieldSpec]:
    """The fields of `event_type` that a rule may test."""
    return [
        spec
        for spec in event_fields(event_type).values()
        if spec.name not in ("type", "id", "at", "recorded_at", "note")
    ]


def _event_test(rules: list[Any], rng: random.Random) -> None:
    """A test on a field of a rule's event, alone or repeated (a YAML alias) in an `any`."""
    rule, event_type = _rule_with_event(rules, rng)
    spec = rng.choice(_testable(event_type))
    where = rule["when"].setdefault("where", {})
    if rng.random() < 0.3:
        block = {spec.name: _test(spec, rng)}
        where[rng.choice(["any", "all"])] = [block] * rng.choice(_LENGTHS)
    else:
        where[spec.name] = _test(spec, rng)


def _state_test(rules: list[Any], rng: random.Random) -> None:
    """A test on the case state, alone or negated, possibly nested several deep."""
    rule = rng.choice(rules)
    spec = rng.choice(list(state_fields().values()))
    block: Any = {spec.name: _test(spec, rng)}
    for _ in range(rng.choice([0, 0, 1, 3, 7])):
        combinator = rng.choice(["any", "all", "not"])
        block = {combinator: block if combinator == "not" else [block] * rng.randint(1, 3)}
    rule["when"].setdefault("case", {}).update(block)


def _window(rules: list[Any], rng: random.Random) -> None:
    """A window, throttle or action deadline at the edge of what a duration may be."""
    rule = rng.choice(rules)
    when = rule["when"]
    places = [
        when[form] for form in ("after", "absent", "count") if isinstance(when.get(form), dict)
    ]
    choice = rng.randrange(3)
    if choice == 0 and places:
        rng.choice(places)["within"] = rng.choice(_DURATIONS)
    elif choice == 1:
        rule["throttle"] = rng.choice(_DURATIONS)
    else:
        rng.choice(rule["then"])["act_within"] = rng.choice(_DURATIONS)


def _clones(rules: list[Any], rng: random.Random) -> None:
    """Copies of a rule, each with a test of its own: many rules on one event type."""
    rule, event_type = _rule_with_event(rules, rng)
    spec = rng.choice(_testable(event_type))
    for index in range(rng.choice([2, 8, 10, 20, 40, 63, 64, 65, 70])):
        clone = copy.deepcopy(rule)
        clone["id"] = f"{rule['id']}-copy{index}"
        clone["when"].setdefault("where", {})[spec.name] = _test(spec, rng)
        rules.append(clone)


def _count(rules: list[Any], rng: random.Random) -> None:
    """A count at the edges of how many, and of what it counts."""
    rule = rng.choice(rules)
    when = rule["when"]
    for form in ("after", "absent", "due", "changed"):
        when.pop(form, None)
    count = when.setdefault("count", {"within": rng.choice(_DURATIONS)})
    count["at_least"] = rng.choice([2, 3, 999, 1000])


_RULE_MUTATIONS: list[Callable[[list[Any], random.Random], None]] = [
    _event_test,
    _state_test,
    _window,
    _clones,
    _count,
]


def mutate_rules(data: bytes, rng: random.Random) -> bytes:
    """A rule file made from `data` (a valid one) that `rules check` is likely to pass but
    that pushes the engine: one to four of tests with hostile operands, lists and `any`
    blocks of repeated (aliased) tests around durable_rules' table sizes, conditions
    nested deep, windows at the longest and shortest, many rules on one event type."""
    document = load_yaml(data.decode(), "rules.yaml")[0].data  # the project's reading of YAML
    rules = rng.sample(document["rules"], rng.randint(1, len(document["rules"])))
    for _ in range(rng.randint(1, 4)):
        rng.choice(_RULE_MUTATIONS)(rules, rng)
    return yaml.safe_dump({"rules": rules}, sort_keys=False, allow_unicode=True).encode()


# --- rule files that pass `rules check`, in the engine (issue 14) ---------------------

#: Seconds a rule file that `rules check` passes may take to load into the engine.
LOAD_BOUND = 5.0
#: Seconds without a word from the judging process before it counts as hung (durable_rules
#: can loop for ever in C while it loads a rule set, out of reach of any alarm).
HANG_BOUND = 30.0
#: Rule files judged by one process: durable_rules never frees a rule set it has loaded.
FILES_PER_PROCESS = 250


def rule_file(number: int, seed: int = 1) -> bytes:
    """Rule file number `number` of a run: made from the shipped rules by `mutate_rules`,
    from its own seed, so that any one can be made again on its own."""
    return mutate_rules(seeds("rules")[0], random.Random(f"{seed}-rules-engine-{number}"))


def _edge_events(event_type: str, at: datetime, full: bool) -> dict[str, Any]:
    """An event of `event_type` at `at`: its required fields, or (`full`) all of them."""
    event: dict[str, Any] = {"type": event_type, "at": at.isoformat()}
    for spec in event_fields(event_type).values():
        if spec.name in event or spec.name in ("id", "note", "recorded_at"):
            continue
        if spec.kind != "list" and (spec.required or full):
            kinds = {"int": 1, "float": 1.5, "bool": True, "time": "2000-01-01"}
            value = spec.values[-1] if spec.values else kinds.get(spec.kind, "x")
            event[spec.name] = [value] if spec.kind == "set" else value
    return event


def replay_chronologies() -> list[Chronology]:
    """Chronologies that reach many rules: the examples, generated cases, and every event
    type at the first and last moments events may have, bare and with every field."""
    found = [c for path in sorted(EXAMPLES.glob("*.yaml")) for c in load_chronologies(path)]
    found += [Chronology.model_validate(case) for case in generate_corpus(4, 150, 1)]
    for name, start in (("earliest", EARLIEST), ("latest", LATEST - timedelta(days=1))):
        events = [
            _edge_events(event_type, start + timedelta(days=full), bool(full))
            for full in (0, 1)
            for event_type in EVENT_TYPES
        ]
        found.append(Chronology.model_validate({"case": f"edges-{name}", "events": events}))
    return found


def judge_in_engine(data: bytes, folder: Path, chronologies: list[Chronology]) -> Verdict:
    """A rule file's verdict: "error" if `rules check` refuses it (its problems), "ok" if
    it loads within `LOAD_BOUND` and replays `chronologies`; a failure otherwise (and if
    checking it took over `LOAD_BOUND`)."""
    path = folder / "rules.yaml"
    path.write_bytes(data)
    started = time.perf_counter()
    try:
        rules = load_rules(path)  # all that `triggers rules check` does
    except TriggersError as error:
        return Verdict("error", str(error)[:300], time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if seconds > LOAD_BOUND:
        return Verdict("slow", f"rules check took {seconds:.1f} s", seconds)
    started = time.perf_counter()
    try:
        engine = Engine(rules)
        seconds = time.perf_counter() - started
        if seconds > LOAD_BOUND:
            return Verdict("slow", f"loading took {seconds:.1f} s", seconds)
        for chronology in chronologies:
            engine.replay(chronology)
    except Exception as error:  # a refusal by durable_rules, or any traceback
        detail = f"{type(error).__name__}: {error}"[:300]
        return Verdict("engine", detail, time.perf_counter() - started)
    return Verdict("ok", "", seconds)


def _judge_files(start: int, count: int, seed: int) -> None:
    """Judge rule files `start` to `start + count` in this process: a JSON line as each
    one starts and one with its verdict (the parent watches for hangs and crashes)."""
    chronologies = replay_chronologies()
    with tempfile.TemporaryDirectory(prefix="rules-engine-") as folder:
        for number in range(start, start + count):
            print(json.dumps({"n": number}), flush=True)
            verdict = judge_in_engine(rule_file(number, seed), Path(folder), chronologies)
            line = {"n": number, "outcome": verdict.outcome, "detail": verdict.detail}
            print(json.dumps({**line, "seconds": verdict.seconds}), flush=True)


def engine_verdicts(count: int, seed: int = 1) -> dict[int, Verdict]:
    """The verdicts of rule files 0 to `count`, judged in separate processes (a new one
    after a crash, "crash", or a hang, "hang": durable_rules can do either)."""
    verdicts: dict[int, Verdict] = {}
    start = 0
    while start < count:
        chunk = min(FILES_PER_PROCESS, count - start)
        command = [sys.executable, "-m", "tests.fuzzing", "judge", str(start), str(chunk)]
        with subprocess.Popen(
            [*command, str(seed)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        ) as judging:
            assert judging.stdout is not None
            current, outcome = start, "crash"
            while True:
                ready, _, _ = select.select([judging.stdout], [], [], HANG_BOUND)
                if not ready:
                    judging.kill()
                    outcome = "hang"
                    break
                line = judging.stdout.readline()
                if not line:
                    break
                said = json.loads(line)
                current = said["n"]
                if "outcome" in said:
                    verdicts[current] = Verdict(said["outcome"], said["detail"], said["seconds"])
                    current += 1
        if current < start + chunk:  # the process died, or hung, on rule file `current`
            detail = f"over {HANG_BOUND:.0f} s" if outcome == "hang" else "the process died"
            verdicts[current] = Verdict(outcome, f"{detail} (exit status {judging.returncode})")
            current += 1
        start = current
    return verdicts


def _engine_run(count: int, seed: int) -> int:
    """The long run of rule files through the engine: outcomes and failures; 1 if any."""
    started = time.perf_counter()
    verdicts = engine_verdicts(count, seed)
    outcomes = Counter(verdict.outcome for verdict in verdicts.values())
    slowest = max((v.seconds for v in verdicts.values() if v.outcome == "ok"), default=0.0)
    print(
        f"{count} rule files (seed {seed}): {outcomes['ok']} loaded and replayed,"
        f" {outcomes['error']} refused by rules check, slowest load {slowest:.2f} s,"
        f" {time.perf_counter() - started:.0f} s"
    )
    failed = {n: v for n, v in verdicts.items() if v.failed}
    for number, verdict in sorted(failed.items()):
        print(f"rule file {number}: {verdict.outcome}: {verdict.detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    # python -m tests.fuzzing engine N [SEED]: N rule files that `rules check` passes, in
    # the engine (`judge` is the process that `engine_verdicts` starts).
    if sys.argv[1] == "judge":
        _judge_files(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(_engine_run(int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1))
