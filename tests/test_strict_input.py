"""Input read strictly (issue 14): duplicate keys in JSON and JSONL are errors at their
line and column, as in YAML; dates are exactly the ISO 8601 forms the contract allows,
in every format and option that reads one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import MR_A
from triggers import ChronologyError, Store
from triggers.cli import cli
from triggers.models import parse_time
from triggers.reading import chronology_from_data, load_chronologies, parse_chronology

CONVICTION = '"at": "2011-06-20", "type": "conviction", "offence": "assault"'


def problems(text: str, file: str) -> list[str]:
    with pytest.raises(ChronologyError) as caught:
        parse_chronology(text, file)
    return [str(problem) for problem in caught.value.problems]


def test_a_key_twice_in_a_json_event_is_an_error_at_the_second() -> None:
    text = (
        '{"case": "c1",\n "events": [\n'
        f'  {{{CONVICTION}, "category": "sexual",\n'
        '   "category": "other"}]}\n'
    )
    assert problems(text, "case.json") == [
        "case.json:4:4: events[0].category: duplicate key 'category' (first at line 3)"
    ]


def test_every_repeated_key_of_a_json_file_is_reported_once() -> None:
    # A repeated key whose values are objects: the keys inside each are not repeats.
    text = '{"case": "c1", "case": "c2", "events": [], "title": {"a": 1}, "title": {"a": 2}}'
    assert problems(text, "case.json") == [
        "case.json:1:16: case: duplicate key 'case' (first at column 2)",
        "case.json:1:63: title: duplicate key 'title' (first at column 44)",
    ]


def test_case_twice_in_a_jsonl_record_is_an_error_and_the_other_lines_are_still_read() -> None:
    good = f'{{"case": "c1", {CONVICTION}, "category": "sexual"}}'
    moved = f'{{"case": "c1", {CONVICTION}, "category": "other", "case": "c2"}}'
    bad_type = '{"case": "c1", "at": "2011-06-21", "type": "nothing"}'
    assert problems(f"{good}\n{moved}\n{bad_type}\n", "feed.jsonl") == [
        "feed.jsonl:2:101: events[1].case: duplicate key 'case' (first at column 2)",
        "feed.jsonl:3: events[2].type: unknown event type 'nothing'",
    ]


def test_without_repeated_keys_json_reads_as_before() -> None:
    text = f'{{"case": "c1", "events": [{{{CONVICTION}, "category": "sexual"}}]}}'
    (case,) = parse_chronology(text, "case.json")
    assert case.events[0].category == "sexual"  # type: ignore[union-attr]


ACCEPTED = {
    "2011-06-20": datetime(2011, 6, 20, tzinfo=UTC),
    "2011-06-20T10:30": datetime(2011, 6, 20, 10, 30, tzinfo=UTC),
    "2011-06-20 10:30": datetime(2011, 6, 20, 10, 30, tzinfo=UTC),
    "2011-06-20T10:30:15": datetime(2011, 6, 20, 10, 30, 15, tzinfo=UTC),
    "2011-06-20T10:30:15.5Z": datetime(2011, 6, 20, 10, 30, 15, 500000, tzinfo=UTC),
    "2011-06-20T10:30:15.123456Z": datetime(2011, 6, 20, 10, 30, 15, 123456, tzinfo=UTC),
    "2011-06-20T00:30:00+01:00": datetime(2011, 6, 19, 23, 30, tzinfo=UTC),
    "2011-06-20T10:30-05:00": datetime(2011, 6, 20, 15, 30, tzinfo=UTC),
}


@pytest.mark.parametrize(("text", "moment"), ACCEPTED.items())
def test_the_iso_8601_forms_the_contract_allows_are_read(text: str, moment: datetime) -> None:
    assert parse_time(text) == moment


def test_python_dates_are_taken_as_they_are() -> None:
    assert parse_time(date(2011, 6, 20)) == datetime(2011, 6, 20, tzinfo=UTC)
    assert parse_time(datetime(2011, 6, 20, 10)) == datetime(2011, 6, 20, 10, tzinfo=UTC)


EXPECTED = "expected an ISO 8601 date or date-time, such as 2011-06-20 or 2011-06-20T14:30:00Z"
REFUSED = {
    "2011-06-20T10:00:00 +01:00": "no space is allowed before the offset",
    "2011-06-20T10": "give the time as hours and minutes (14:00)",
    "20110620": "write the date with hyphens (YYYY-MM-DD)",
    "2011W251": "week dates are not accepted: give the calendar date",
    "2011-W25-1": "week dates are not accepted: give the calendar date",
    "2011-171": "ordinal dates (day of the year) are not accepted: give the calendar date",
    "2011-06-20T10:00:00.123456789Z": (
        "at most six decimal places of a second (microseconds): round it"
    ),
    "2011-6-2": "write the month and the day with two digits each (2011-06-02)",
    "2011-06-20t10:00": "write T and Z as capitals",
    "2011-06-20T10:00+0100": "write the offset as ±HH:MM (+01:00)",
    " 2011-06-20": "remove the spaces around it",
}


@pytest.mark.parametrize(("text", "hint"), REFUSED.items())
def test_other_forms_are_refused_naming_the_value_and_what_is_right(text: str, hint: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_time(text)
    assert str(caught.value) == f"invalid date {text!r}: {hint}; {EXPECTED}"


@pytest.mark.parametrize("text", ["2011-13-45", "2011-02-30", "2011-06-20T24:00", "٢٠١١-06-20"])
def test_days_and_times_that_do_not_exist_are_refused(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_time(text)
    assert str(caught.value) == f"invalid date {text!r}: {EXPECTED}"


SPACE_BEFORE_OFFSET = (
    f"invalid date '2011-06-20T10:00:00 +01:00': no space is allowed before the offset; {EXPECTED}"
)


def test_yaml_timestamps_are_read_as_strictly_as_text() -> None:
    # YAML's own timestamps allow a space before the offset and drop nanoseconds.
    text = (
        "case: c1\nevents:\n"
        "  - {at: 2011-06-20T10:00:00 +01:00, type: strategy_meeting}\n"
        "  - {at: 2011-06-20T10:00:00.123456789Z, type: strategy_meeting}\n"
        "  - {at: 2011-06-20, recorded_at: 2011-06-20 10:30, type: strategy_meeting}\n"
    )
    assert problems(text, "case.yaml") == [
        f"case.yaml:3:10: events[0].at: {SPACE_BEFORE_OFFSET}",
        "case.yaml:4:10: events[1].at: invalid date '2011-06-20T10:00:00.123456789Z':"
        f" {REFUSED['2011-06-20T10:00:00.123456789Z']}; {EXPECTED}",
    ]


def test_json_jsonl_and_python_data_read_dates_alike(tmp_path: Path) -> None:
    event = '"at": "2011-06-20T10:00:00 +01:00", "type": "strategy_meeting"'
    assert problems(f'{{"case": "c1", "events": [{{{event}}}]}}', "case.json") == [
        f"case.json:1:34: events[0].at: {SPACE_BEFORE_OFFSET}"
    ]
    assert problems(f'{{"case": "c1", {event}}}\n', "feed.jsonl") == [
        f"feed.jsonl:1: events[0].at: {SPACE_BEFORE_OFFSET}"
    ]
    data = {"case": "c1", "events": [{"at": "2011-06-20T10", "type": "strategy_meeting"}]}
    with pytest.raises(ChronologyError) as caught:
        chronology_from_data(data, "system")
    assert [str(p) for p in caught.value.problems] == [
        f"system: events[0].at: invalid date '2011-06-20T10': {REFUSED['2011-06-20T10']};"
        f" {EXPECTED}"
    ]
    outcome = tmp_path / "case.yaml"
    outcome.write_text("case: c1\noutcomes:\n  - at: 20110620\nevents: []\n")
    with pytest.raises(ChronologyError) as caught:
        load_chronologies(outcome)
    assert [p.message for p in caught.value.problems] == [
        f"invalid date '20110620': {REFUSED['20110620']}; {EXPECTED}"
    ]


@pytest.mark.parametrize(
    ("command", "option"),
    [(["replay", str(MR_A)], "--until"), (["tick"], "--now"), (["audit"], "--since")],
)
def test_date_options_are_read_as_strictly(store_url: str, command: list[str], option: str) -> None:
    result = CliRunner().invoke(cli, [*command, option, "2011W251", "--store", store_url])
    assert result.exit_code == 2
    assert (
        f"Invalid value for '{option}': invalid date '2011W251': {REFUSED['2011W251']}; {EXPECTED}"
    ) in " ".join(result.stderr.split())
    with Store(store_url) as store:
        assert store.counts() == {"cases": 0, "events": 0, "alerts": 0, "audit": 0}
