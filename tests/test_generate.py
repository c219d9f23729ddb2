"""`triggers generate` and `triggers.generate`: deterministic, readable, realistic corpora."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from triggers import EVENT_TYPES, Engine, chronology_from_data, load_chronologies, load_rules
from triggers.cli import cli
from triggers.errors import InputError
from triggers.generate import FORMATS, generate_corpus, write_corpus


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_seed_writes_the_same_bytes_and_another_seed_others(
    tmp_path: Path, fmt: str
) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_corpus(generate_corpus(12, 20, seed), 12, tmp_path / name, fmt)
    first = _files(tmp_path / "a")
    assert first == _files(tmp_path / "b")
    assert first != _files(tmp_path / "c")
    assert list(first) == (
        ["corpus.jsonl"] if fmt == "jsonl" else [f"case-{i:05d}.{fmt}" for i in range(1, 13)]
    )


def test_a_case_depends_only_on_the_seed_and_its_number() -> None:
    assert list(generate_corpus(3, 30, 5)) == list(generate_corpus(6, 30, 5))[:3]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_file_reads_back_with_exactly_the_generated_events(tmp_path: Path, fmt: str) -> None:
    corpus = list(generate_corpus(40, 25, 3))
    files = write_corpus(corpus, 40, tmp_path, fmt)
    read = [case for file in files for case in load_chronologies(file)]
    assert [case.case for case in read] == [case["case"] for case in corpus]
    for case, data in zip(read, corpus, strict=True):
        assert case == chronology_from_data(data) or fmt == "jsonl"  # JSONL has no title
        assert [e.type for e in case.events] == [e["type"] for e in data["events"]]
        assert len(case.events) == 25
        assert case.in_event_order() == list(case.events)  # written in time order


def test_a_corpus_spans_years_with_dates_date_times_and_simultaneous_events() -> None:
    corpus = [chronology_from_data(case) for case in generate_corpus(50, 50, 1)]
    starts = [case.events[0].at for case in corpus]
    assert min(starts) >= datetime(2005, 1, 1, tzinfo=UTC)
    assert max(starts) < datetime(2021, 1, 1, tzinfo=UTC)
    spans = [(case.events[-1].at - case.events[0].at).days / 365.25 for case in corpus]
    assert min(spans) > 1.5
    assert max(spans) < 11
    timed = [e for case in corpus for e in case.events if e.at.hour or e.at.minute]
    assert timed and len(timed) < sum(len(case.events) for case in corpus) / 5
    assert any(len(moment) > 1 for case in corpus for moment in case.moments())


def test_200_cases_hold_every_event_type_and_raise_every_default_rule_at_a_realistic_rate() -> None:
    rules = load_rules()
    engine = Engine(rules)
    corpus = [chronology_from_data(case) for case in generate_corpus(200, 50, 1)]
    types = Counter(event.type for case in corpus for event in case.events)
    assert set(types) == set(EVENT_TYPES)
    results = engine.replay_all(corpus)
    alerts = [alert for result in results for alert in result.alerts]
    fired = Counter(alert.rule for alert in alerts)
    assert set(fired) == {rule.id for rule in rules.rules}
    # No rule drowns the others (issue 12): seed 1's loudest, community-concern, is 16%.
    assert fired.most_common(1)[0][1] <= len(alerts) / 3
    events = sum(types.values())
    years = sum((case.events[-1].at - case.events[0].at).days / 365.25 for case in corpus)
    # Measured with seed 1: 2,051 alerts for 10,000 events, 1.7 per case per year
    # (1,772 and 1.4 before the issue 12 rules); MAPPA reviews and home visits are
    # mostly kept on time, as the rules that expect them assume.
    assert len(alerts) < events / 4
    assert 1 <= len(alerts) / years <= 3
    # No case is a wall of alerts: reviews describe a handful a year.
    assert max(len(result.alerts) for result in results) < 50 * 0.75  # seed 1: 35


def test_the_command_writes_the_files_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    result = run("generate", "--cases", "3", "--events", "10", "--seed", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == [
        "case-00001.yaml",
        "case-00002.yaml",
        "case-00003.yaml",
    ]
    assert result.stdout == ""
    assert result.stderr == f"3 case(s), 30 event(s), 3 file(s) in {out}\n"
    feed = tmp_path / "feed"
    result = run(
        "generate", "--cases", "4", "--events", "5", "--out", str(feed), "--format", "jsonl"
    )
    assert result.exit_code == 0, result.output
    lines = (feed / "corpus.jsonl").read_text().splitlines()
    assert len(lines) == 20
    assert all(json.loads(line)["case"].startswith("gen-") for line in lines)
    assert len(load_chronologies(feed / "corpus.jsonl")) == 4


def test_the_command_refuses_to_overwrite_chronologies_without_force(tmp_path: Path) -> None:
    args = ["generate", "--cases", "2", "--events", "5", "--out", str(tmp_path)]
    assert run(*args).exit_code == 0
    before = _files(tmp_path)
    refused = run(*args, "--seed", "9")
    assert refused.exit_code == 1
    assert f"{tmp_path / 'case-00001.yaml'}: would be overwritten" in refused.stderr
    assert "--force" in refused.stderr
    assert _files(tmp_path) == before
    other = run(*args, "--format", "json")  # would overwrite nothing, but mix two corpora
    assert other.exit_code == 1
    assert "case-00001.yaml: is in the way" in other.stderr
    forced = run(*args, "--seed", "9", "--force")
    assert forced.exit_code == 0
    assert _files(tmp_path) != before


def test_the_library_refuses_a_file_as_the_directory(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("")
    with pytest.raises(InputError, match="is not a directory"):
        write_corpus(generate_corpus(1, 1, 1), 1, target, "yaml")


@pytest.mark.parametrize(
    "args",
    [
        ["--cases", "0"],
        ["--events", "0"],
        ["--format", "xml"],
        ["--seed", "one"],
        [],  # no --out
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    out = [] if args == [] else ["--out", str(tmp_path / "x")]
    result = run("generate", *args, *out)
    assert result.exit_code == 2
    assert not (tmp_path / "x").exists()
