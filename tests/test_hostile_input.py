"""Hostile and broken input is refused with a clear error, never a crash, hang or half-write.

Each limit of `triggers.limits`, at the file, line and column of the input that breaks
it. Large inputs are generated here; tests/data/hostile/ holds small regression files.
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import triggers._yaml as yamlmap
import triggers.reading
from tests.conftest import MR_A, ROOT
from triggers import (
    ChronologyError,
    Engine,
    RuleFileError,
    Store,
    load_chronologies,
    load_rules,
    parse_chronology,
)
from triggers.cli import cli
from triggers.errors import suggest
from triggers.limits import MAX_EVENTS_PER_CASE, MAX_SUGGESTED_LENGTH

HOSTILE = ROOT / "tests" / "data" / "hostile"
TEN_MB = 10 * 1024 * 1024


def messages(error: ChronologyError | RuleFileError) -> list[str]:
    return [str(problem) for problem in error.problems]


def refused(text: str, file: str) -> list[str]:
    with pytest.raises(ChronologyError) as caught:
        parse_chronology(text, file)
    return messages(caught.value)


EXPECTED = {
    "alias-bomb.yaml": [
        "7:4: this document holds more than 1,000,000 values once its aliases (*name) are"
        " expanded: write the values out, or use fewer aliases"
    ],
    "bad-lines.jsonl": [
        "3:1: events[2]: invalid JSON: Expecting value",
        "4: events[3]: each line must be a JSON object, got a list",
        "5: events[4]: missing required field 'case' (each JSONL event names its case)",
        "6: events[5].case: contains the control character U+0000 (character 2): remove it;"
        " tab and newline are the only control characters allowed",
        "7: events[6].at: date '1066-10-14' is outside the dates a chronology may hold:"
        " 1900-01-01 to 2200-12-31",
        "8: events[7].type: unknown event type 'strategy_meetin'"
        " (did you mean 'strategy_meeting'?)",
        "9: events[8].note: nested more than 64 levels deep: a chronology needs only a few",
        "10: events[9].note: contains U+D800 (character 1), a lone surrogate, which is not"
        " valid Unicode: remove it",
        "11:74: events[10]: invalid JSON: Expecting ',' delimiter",
    ],
    "control-character.yaml": [
        "5:16: YAML does not allow the control character U+001B here: remove it, or write it"
        " as an escape such as \\x1b inside double quotes"
    ],
    "dates.yaml": [
        "3:9: events[0].at: date '0001-01-01' is outside the dates a chronology may hold:"
        " 1900-01-01 to 2200-12-31",
        "6:18: events[1].recorded_at: date '9999-12-31T23:59:59Z' is outside the dates a"
        " chronology may hold: 1900-01-01 to 2200-12-31",
    ],
    "deep.yaml": [
        "2:73: nested more than 64 levels deep: a chronology or rule file needs only a few"
    ],
    "escaped-control.yaml": [
        "5:11: events[0].note: contains the control character U+001B (character 8): remove"
        " it; tab and newline are the only control characters allowed"
    ],
    "not-utf8.yaml": [
        "5:14: not UTF-8 text: byte 0xE9 at byte offset 80 (invalid continuation byte):"
        " save the file as UTF-8"
    ],
    "surrogate.json": [
        "1:10: case: contains U+D800 (character 4), a lone surrogate, which is not valid"
        " Unicode: remove it",
        "2:60: events[0].note: contains U+DFFF (character 1), a lone surrogate, which is not"
        " valid Unicode: remove it",
    ],
}


def test_every_regression_file_is_tested() -> None:
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_regression_files_are_refused_at_their_line(name: str) -> None:
    path = HOSTILE / name
    with pytest.raises(ChronologyError) as caught:
        load_chronologies(path)
    assert messages(caught.value) == [f"{path}:{message}" for message in EXPECTED[name]]


@pytest.fixture(params=["fast", "precise"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both YAML readers: libyaml's, and PyYAML's own (which reports libyaml's problems)."""
    if request.param == "precise":
        monkeypatch.setattr(yamlmap, "_load_with_libyaml", lambda *_: None)
    return str(request.param)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("alias-bomb.yaml", EXPECTED["alias-bomb.yaml"]),
        ("deep.yaml", EXPECTED["deep.yaml"]),
        ("control-character.yaml", EXPECTED["control-character.yaml"]),
    ],
)
def test_both_yaml_readers_refuse_alike(reader: str, name: str, expected: list[str]) -> None:
    text = (HOSTILE / name).read_text()
    assert refused(text, name) == [f"{name}:{message}" for message in expected]


@pytest.mark.parametrize("character", ["\x00", "\x1a", "\x1b", "\x7f", "\ufffe"])
def test_yaml_control_characters_are_an_error_at_their_position(
    reader: str, character: str
) -> None:
    code = f"U+{ord(character):04X}"
    assert refused(f"case: c\nevents: []\ntitle: a{character}\n", "c.yaml") == [
        f"c.yaml:3:9: YAML does not allow the control character {code} here: remove it,"
        " or write it as an escape such as \\x1b inside double quotes"
    ]


def test_rule_files_share_the_yaml_limits(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text((HOSTILE / "alias-bomb.yaml").read_text())
    with pytest.raises(RuleFileError) as caught:
        triggers.load_rules(path)
    assert messages(caught.value) == [f"{path}:{EXPECTED['alias-bomb.yaml'][0]}"]


def _ten_mb_case(tmp_path: Path) -> list[Path]:
    case = "x" * TEN_MB
    event = {"at": "2011-01-01", "type": "strategy_meeting"}
    files = {
        "big.yaml": f"case: {case}\nevents:\n  - {{at: 2011-01-01, type: strategy_meeting}}\n",
        "big.json": json.dumps({"case": case, "events": [event]}),
        "big.jsonl": json.dumps({**event, "case": "ok"})
        + "\n"
        + json.dumps({**event, "case": case}),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return [tmp_path / name for name in files]


TOO_LONG = "too long: 10,485,760 characters, at most 200 are allowed"


def test_a_ten_megabyte_case_id_is_refused_in_every_format(tmp_path: Path) -> None:
    expected = {
        "big.yaml": f"1:7: case: {TOO_LONG}",
        "big.json": f"1:10: case: {TOO_LONG}",
        "big.jsonl": f"2: events[1].case: {TOO_LONG}",
    }
    for path in _ten_mb_case(tmp_path):
        with pytest.raises(ChronologyError) as caught:
            load_chronologies(path)
        assert messages(caught.value) == [f"{path}:{expected[path.name]}"]


def test_a_ten_megabyte_case_id_never_reaches_the_engine(tmp_path: Path, store_url: str) -> None:
    # In a subprocess: durable_rules crashes the process on a huge session id, and a
    # regression must fail this test rather than kill the test run.
    files = [str(path) for path in _ten_mb_case(tmp_path)]
    store = store_url
    command = "from triggers.cli import main; main()"
    run = subprocess.run(
        [sys.executable, "-c", command, "replay", *files, "--store", store, "--by", "t"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 1, run.stderr[-2000:]
    for file in files:
        assert f"{file}:" in run.stderr and TOO_LONG in run.stderr
    with Store(store) as stored:
        assert stored.counts()["events"] == 0


def test_the_engine_refuses_an_unchecked_case_id(tmp_path: Path) -> None:
    # A chronology built without validation (model_construct) is still refused.
    script = (
        "from triggers import Chronology, Engine, EngineError, load_rules\n"
        "case = Chronology.model_construct(case='x' * 10_000_000, events=(), outcomes=())\n"
        "try:\n"
        "    Engine(load_rules()).replay(case)\n"
        "except EngineError as error:\n"
        "    print(error)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert (run.returncode, run.stdout) == (
        0,
        "case id of 10,000,000 characters: a case id is 1 to 200 characters\n",
    )


@pytest.mark.parametrize(
    ("field", "limit", "line"),
    [("id", 200, "    id: "), ("source", 200, "    source: "), ("note", 10_000, "    note: ")],
)
def test_long_text_fields_are_refused_at_their_line(field: str, limit: int, line: str) -> None:
    text = f"case: c\nevents:\n  - at: 2011-01-01\n    type: strategy_meeting\n{line}"
    parse_chronology(text + "y" * limit + "\n", "c.yaml")
    assert refused(text + "y" * (limit + 1) + "\n", "c.yaml") == [
        f"c.yaml:5:{len(line) + 1}: events[0].{field}: too long: {limit + 1:,} characters,"
        f" at most {limit:,} are allowed"
    ]


def test_dates_at_the_edges_are_read() -> None:
    text = (
        "case: c\nevents:\n  - {at: 1900-01-01, type: mappa_ended}\n"
        "  - {at: '2200-12-31T23:59:59Z', type: mappa_ended}\n"
    )
    (case,) = parse_chronology(text, "c.yaml")
    assert [e.at.isoformat() for e in case.events] == [
        "1900-01-01T00:00:00+00:00",
        "2200-12-31T23:59:59+00:00",
    ]
    assert refused(text.replace("1900-01-01", "'1899-12-31T23:59:59Z'"), "c.yaml") == [
        "c.yaml:3:10: events[0].at: date '1899-12-31T23:59:59Z' is outside the dates a"
        " chronology may hold: 1900-01-01 to 2200-12-31"
    ]


def test_too_many_events_in_a_case_are_refused_before_any_is_validated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(*_: object) -> None:
        raise AssertionError("an event was validated")

    monkeypatch.setattr(triggers.reading._Reader, "event", never)
    events = [{"at": "2011-01-01", "type": "strategy_meeting"}] * (MAX_EVENTS_PER_CASE + 1)
    assert refused(json.dumps({"case": "c", "events": events}), "c.json") == [
        "c.json:1:25: events: 10,001 events: a case may hold at most 10,000; split the file"
    ]


def test_jsonl_limits_on_events_per_case_and_per_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triggers.reading, "MAX_EVENTS_PER_CASE", 2)
    monkeypatch.setattr(triggers.reading, "MAX_EVENTS_PER_FILE", 4)
    line = '{{"case": "{}", "at": "2011-01-0{}", "type": "strategy_meeting"}}\n'
    text = "".join(
        line.format(case, day)
        for case, day in [("a", 1), ("a", 2), ("a", 3), ("b", 4), ("b", 5), ("b", 6)]
    )
    assert refused(text, "feed.jsonl") == [
        "feed.jsonl:3: events[2]: more than 2 events for case 'a': a case may hold at most 2",
        "feed.jsonl:5: events[4]: more than 4 events: a file may hold at most 4; split it",
    ]


def test_a_jsonl_line_ends_only_at_a_newline() -> None:
    line = '{"case": "a", "at": "2011-01-01", "type": "strategy_meeting", "note": "a\u2028b\x7f"}'
    assert refused(line + "\n" + line.replace("2011", "1011"), "feed.jsonl") == [
        "feed.jsonl:1: events[0].note: contains the control character U+007F (character 4):"
        " remove it; tab and newline are the only control characters allowed",
        "feed.jsonl:2: events[1].at: date '1011-01-01' is outside the dates a chronology may"
        " hold: 1900-01-01 to 2200-12-31",
        "feed.jsonl:2: events[1].note: contains the control character U+007F (character 4):"
        " remove it; tab and newline are the only control characters allowed",
    ]


def test_json_nesting_is_limited() -> None:
    text = '{"case": "c", "events": [{"at": "2011-01-01", "note": ' + "[" * 70 + "]" * 70 + "}]}"
    assert refused(text, "c.json") == [
        "c.json:1:55: events[0].note: nested more than 64 levels deep: a chronology needs only"
        " a few"
    ]


def test_suggestions_are_only_sought_for_short_words(monkeypatch: pytest.MonkeyPatch) -> None:
    assert suggest("strategy_meetin", ["strategy_meeting"]) == "strategy_meeting"
    assert suggest("s" * (MAX_SUGGESTED_LENGTH + 1), ["s" * (MAX_SUGGESTED_LENGTH + 1)]) is None

    def never(*_: object, **__: object) -> None:
        raise AssertionError("a long word was compared")

    monkeypatch.setattr(difflib, "get_close_matches", never)
    name = "x" * TEN_MB
    first = '{"case": "c", "events": [{"at": "2011-01-01", "type": "'
    second = '{"at": "2011-01-01", "type": "strategy_meeting", "'
    text = f'{first}{name}"}},\n{second}{name}": 1}}]}}'
    assert refused(text, "c.json") == [
        f"c.json:1:{len(first)}: events[0].type: unknown event type {'x' * 60!r}…"
        " (10,485,760 characters)",
        f"c.json:2:{len(second)}: events[1].{'x' * 60}…: unknown field {'x' * 60!r}…"
        " (10,485,760 characters) for event type 'strategy_meeting'",
    ]


def test_a_file_too_large_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yamlmap, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.yaml"
    path.write_text("case: c\nevents: []\n" + "#" * 200 + "\n")
    with pytest.raises(ChronologyError) as caught:
        load_chronologies(path)
    assert messages(caught.value) == [
        f"{path}: too large: 220 bytes; a file may hold at most 100 bytes (0 MiB): split it"
    ]


def test_invalid_utf8_in_a_rule_file_is_placed_too(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"rules:\n  - id: caf\xc3\xa9 \xff\n")
    with pytest.raises(RuleFileError) as caught:
        triggers.load_rules(path)
    assert messages(caught.value) == [
        f"{path}:2:14: not UTF-8 text: byte 0xFF at byte offset 21 (invalid start byte):"
        " save the file as UTF-8"
    ]


def test_a_hostile_file_leaves_nothing_in_the_store(tmp_path: Path, store_url: str) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text((HOSTILE / "dates.yaml").read_text())
    result = CliRunner().invoke(
        cli, ["replay", str(MR_A), str(hostile), "--store", store_url, "--by", "t"]
    )
    assert result.exit_code == 1
    assert "outside the dates a chronology may hold" in result.stderr
    (example,) = load_chronologies(MR_A)
    with Store(store_url) as store:
        counts = store.counts()
    assert (counts["cases"], counts["events"]) == (1, len(example.events))


def test_tiny_decimals_are_refused_before_the_engine_sees_them(tmp_path: Path) -> None:
    """durable_rules cannot read 1e-05 (error 204): an event's hours are 0 or at least 0.0001,
    and one at the limit replays under a rule that tests them."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: H1\n    title: long missing\n    learning: l\n    when:\n"
        "      event: child_missing\n      where: {hours: {ge: 24}}\n"
        "    then:\n      - {action: flag, reason: missing}\n"
    )
    text = "case: c\nevents:\n  - {at: 2011-01-01, type: child_missing, child: a, hours: HOURS}\n"
    assert refused(text.replace("HOURS", "0.00001"), "c.yaml") == [
        "c.yaml:3:60: events[0].hours: must be 0 or at least 0.0001 (smaller numbers cannot"
        " be compared)"
    ]
    engine = Engine(load_rules(rules))
    for hours in ("0", "0.0001", "30"):
        (case,) = parse_chronology(text.replace("HOURS", hours), "c.yaml")
        assert len(engine.replay(case).alerts) == (hours == "30")


def test_an_empty_subject_is_an_error_at_its_line() -> None:
    text = "case: a\nsubject: ''\nevents:\n  - {at: 2011-01-01, type: mappa_ended}\n"
    assert refused(text, "c.yaml") == [
        "c.yaml:2:10: subject: 'subject' is empty: leave it out if it is not known"
    ]


def test_what_the_reader_misses_the_model_still_refuses_as_a_placed_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A safety net: a header value the reader's own checks let through is still a
    `ChronologyError` at its line, never pydantic's `ValidationError`."""
    monkeypatch.setattr(triggers.reading._Reader, "text", lambda *_args, **_kw: True)
    text = "case: a\nsubject: " + "s" * 201 + "\nevents: []\n"
    (problem,) = refused(text, "c.yaml")
    assert (
        problem
        == "c.yaml:2:10: subject: Value error, too long: 201 characters, at most 200 are allowed"
    )
