"""Spreadsheet chronologies: CSV rows, column mappings, UK dates, bad rows, YAML 1.2 words."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

import triggers.limits
import triggers.reading
import triggers.spreadsheet
from tests.conftest import EXAMPLES, MR_A, ROOT
from triggers import ChronologyError, Engine, load_chronologies, load_rules, parse_chronology
from triggers._yaml import load_yaml
from triggers.cli import cli
from triggers.cluster import replay_on_cluster
from triggers.mapping import ColumnMapping, load_mapping, mapping_schema
from triggers.parallel import FileReplay, replay_files
from triggers.reading import chronology_files, load_cases, parse_cases
from triggers.spreadsheet import sheet_date

MR_A_CSV = ROOT / "docs" / "spreadsheet" / "mr-a.csv"
SHEET = ROOT / "docs" / "spreadsheet" / "mr-c-bail.csv"
MAPPING = ROOT / "docs" / "spreadsheet" / "mapping.yaml"
HEADER = "case,at,type,source,offence,category,household_member,partner_has_children,note\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def messages(error: ChronologyError) -> list[str]:
    return [str(problem) for problem in error.problems]


def twenty_rows() -> str:
    """A CSV of 20 event rows (rows 2 to 21) of two cases; rows 6, 11 and 17 are bad."""
    rows = []
    for number in range(2, 22):
        case = "case-1" if number % 2 else "case-2"
        day = f"{number:02}/03/2011"
        if number == 6:
            day = "03/04/11"
        kind = "new_pregnacy" if number == 11 else "new_pregnancy"
        if number == 17:
            rows.append(f"{case},{day},arrest,police,,sexual,,,\n")
        else:
            rows.append(f"{case},{day},{kind},health,,,ms-{number},,\n")
    return HEADER + "".join(rows)


BAD_ROWS = [
    "c.csv:6: row 6, column 'at': invalid date '03/04/11': a two-digit year is ambiguous"
    " (which century?): write the year in full; expected DD/MM/YYYY (UK, day first),"
    " DD/MM/YYYY HH:MM, or ISO 8601 (YYYY-MM-DD)",
    "c.csv:11: row 11, column 'type': unknown event type 'new_pregnacy'"
    " (did you mean 'new_pregnancy'?)",
    "c.csv:17: row 17: missing required field 'offence' for event type 'arrest'",
]


def test_a_csv_with_3_bad_rows_among_20_loads_the_17_good_ones() -> None:
    loaded = parse_cases(twenty_rows(), "c.csv")
    assert [c.case for c in loaded.chronologies] == ["case-2", "case-1"]
    assert sum(len(c.events) for c in loaded.chronologies) == 17
    assert loaded.skipped is not None
    assert messages(loaded.skipped) == BAD_ROWS
    with pytest.raises(ChronologyError) as caught:  # all or nothing where asked
        parse_chronology(twenty_rows(), "c.csv")
    assert messages(caught.value) == BAD_ROWS


def test_replay_stores_the_good_rows_names_the_bad_and_exits_1(
    tmp_path: Path, store_url: str
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(twenty_rows())
    result = run("replay", str(path), "--store", store_url, "--workers", "1")
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    for message in BAD_ROWS:
        assert " ".join(message.replace("c.csv", str(path)).split()) in err
    assert "stored 17 new event(s)" in err
    assert "1 of 1 file(s) failed" in err
    assert "case-1" in result.stdout and "case-2" in result.stdout


def test_ingest_stores_the_good_rows_and_exits_1(tmp_path: Path, store_url: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(twenty_rows())
    result = run("ingest", str(path), "--store", store_url)
    assert result.exit_code == 1
    assert "ingested 17 new event(s)" in result.stderr
    assert "row 17: missing required field 'offence'" in result.stderr


def test_the_same_chronology_as_csv_and_as_yaml_raises_the_same_alerts(
    store_url: str, engine: Engine
) -> None:
    (from_csv,) = load_chronologies(MR_A_CSV)
    (from_yaml,) = load_chronologies(MR_A)
    assert from_csv == from_yaml.model_copy(update={"outcomes": ()})  # CSV holds no outcomes
    assert engine.replay(from_csv).alerts == engine.replay(from_yaml).alerts
    outputs = [
        run("replay", str(path), "--store", f"{store_url}", "--format", "json", "--workers", "1")
        for path in (MR_A_CSV, MR_A)
    ]
    assert [o.exit_code for o in outputs] == [0, 0]
    assert json.loads(outputs[0].stdout) == json.loads(outputs[1].stdout)
    assert len(json.loads(outputs[0].stdout)) == 29


def test_csv_files_are_chronology_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(MR_A_CSV.read_text())
    (tmp_path / "b.txt").write_text("not a chronology")
    assert chronology_files([str(tmp_path)]) == [str(tmp_path / "a.csv")]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("14/03/2011", "2011-03-14"),
        ("3/4/2011", "2011-04-03"),  # day first: 3 April
        ("14/03/2011 10:30", "2011-03-14T10:30:00"),
        ("14/03/2011 10:30:15", "2011-03-14T10:30:15"),
        ("2011-03-14", "2011-03-14"),
        ("2011-03-14T10:30:00Z", "2011-03-14T10:30:00Z"),
        ("2011-03-14 10:30+01:00", "2011-03-14 10:30+01:00"),
    ],
)
def test_dates_in_iso_and_uk_day_first_form_are_read(text: str, iso: str) -> None:
    assert sheet_date(text) == iso


FORMS = "expected DD/MM/YYYY (UK, day first), DD/MM/YYYY HH:MM, or ISO 8601 (YYYY-MM-DD)"
ISO = (
    "expected an ISO 8601 date or date-time, such as 2011-06-20 or 2011-06-20T14:30:00Z;"
    " or a UK day-first date such as 20/06/2011"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "03/04/11",
            "invalid date '03/04/11': a two-digit year is ambiguous (which century?): write"
            f" the year in full; {FORMS}",
        ),
        (
            "03/14/2011",
            "invalid date '03/14/2011': there is no month 14; dates are read day first"
            " (DD/MM/YYYY), and this looks month first (US): write 14/03/2011 or 2011-03-14",
        ),
        (
            "14-03-2011",
            "invalid date '14-03-2011': day-first dates are written with slashes only"
            f" (DD/MM/YYYY); {FORMS}",
        ),
        (
            "14.03.2011",
            "invalid date '14.03.2011': day-first dates are written with slashes only"
            f" (DD/MM/YYYY); {FORMS}",
        ),
        (
            "14/03-2011",
            "invalid date '14/03-2011': the parts are separated by different characters:"
            f" write DD/MM/YYYY or YYYY-MM-DD; {FORMS}",
        ),
        (
            "2011/03/14",
            "invalid date '2011/03/14': a year-first date is written with hyphens"
            f" (YYYY-MM-DD); {FORMS}",
        ),
        ("03/2011", f"invalid date '03/2011': a date needs a day, a month and a year; {FORMS}"),
        ("2011-03", f"invalid date '2011-03': a date needs a day, a month and a year; {FORMS}"),
        ("31/02/2011", "invalid date '31/02/2011': no such day or time"),
        (
            "2011-06-20T10",
            "invalid date '2011-06-20T10': give the time as hours and minutes (14:00); " + ISO,
        ),
        ("20110620", "invalid date '20110620': write the date with hyphens (YYYY-MM-DD); " + ISO),
        ("14 Mar 2011", "invalid date '14 Mar 2011': " + ISO),
    ],
)
def test_an_ambiguous_or_malformed_date_is_an_error_never_a_guess(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        sheet_date(text)
    assert str(caught.value) == message


def test_an_ambiguous_date_names_its_row_column_and_value() -> None:
    text = "Case,Date of event,Event\nc,14/03/2011,strategy_meeting\nc,03/04/11,strategy_meeting\n"
    mapping = {"Case": "case", "Date of event": "at", "Event": "type"}
    loaded = parse_cases(text, "c.csv", mapping=_mapping(mapping))
    assert len(loaded.chronologies[0].events) == 1
    assert loaded.skipped is not None
    assert messages(loaded.skipped) == [
        "c.csv:3: row 3, column 'Date of event': invalid date '03/04/11': a two-digit year is"
        f" ambiguous (which century?): write the year in full; {FORMS}"
    ]


def _mapping(columns: dict[str, str]) -> ColumnMapping:
    return ColumnMapping("map.yaml", columns)


def test_cells_are_read_by_their_field_type() -> None:
    text = (
        "case,at,type,partner_has_children,conditions,level,category,hours,child,title\n"
        "c,2011-01-01,new_relationship,TRUE,,,,,,Mr X\n"
        "c,2011-01-02,bail_granted,,curfew; no contact with children,,,,,\n"
        "c,2011-01-03,mappa_level_set,,,2,3,,,Mr X\n"
        "c,2011-01-04,child_missing,,,,,1.5,kk,\n"
    )
    (case,) = parse_chronology(text, "c.csv")
    assert case.title == "Mr X"
    fields = [event.fields() for event in case.events]
    assert fields[0] == {"partner_has_children": True}
    assert fields[1] == {"conditions": ["curfew", "no contact with children"]}
    assert fields[2] == {"level": 2, "category": 3}
    assert fields[3] == {"child": "kk", "hours": 1.5}


def test_bad_cells_are_reported_with_what_would_be_right() -> None:
    text = (
        "case,at,type,partner_has_children,conditions,level,offence,title,id\n"
        "c,2011-01-01,new_relationship,yes,,,,,e1\n"
        "c,2011-01-02,bail_granted,,curfew;;x,,,Mr X,\n"
        "c,2011-01-03,mappa_level_set,,,two,,,\n"
        "c,2011-01-04,mappa_level_set,,,2,theft,,\n"
        "c,2011-01-05,strategy_meeting,,,,,Mr X,\n"
        "c,2011-01-06,strategy_meeting,,,,,Mr Y,\n"
        "c,2011-01-07,strategy_meeting,,,,,,e2\n"
        "c,2011-01-08,mappa_ended,,,,,,e2\n"
        "c,2011-01-09,strategy_meeting,,,,,,,extra\n"
        ",,,,,,,,\n"  # a blank row, as spreadsheets leave: passed over
        "c,2011-01-10\n"
        'c,"2011-01-11",strategy_meeting,,,,,,,,\n'  # empty cells past the header: fine
    )
    loaded = parse_cases(text, "c.csv")
    (case,) = loaded.chronologies
    assert (case.title, len(case.events)) == ("Mr X", 3)
    assert loaded.skipped is not None
    assert messages(loaded.skipped) == [
        "c.csv:2: row 2, column 'partner_has_children': expected true or false, got 'yes'"
        " (a mapping file's 'values' can turn other words into true and false)",
        "c.csv:3: row 3, column 'conditions': an empty item in the list 'curfew;;x': items"
        " are separated by ';'",
        "c.csv:4: row 4, column 'level': expected a whole number, got 'two'",
        "c.csv:5: row 5, column 'offence': event type 'mappa_level_set' has no field 'offence'",
        "c.csv:7: row 7, column 'title': case 'c' has the title 'Mr X' (row 6)",
        "c.csv:9: row 9, column 'id': event id 'e2' is already used by row 8",
        "c.csv:10: row 10: cell 10 holds 'extra' but has no header",
        "c.csv:12: row 12: the 'type' cell is empty",
    ]


def test_a_row_is_numbered_as_the_spreadsheet_numbers_it_and_placed_at_its_line() -> None:
    text = (
        'case,at,type,note\nc,2011-01-01,strategy_meeting,"two\nlines"\nc,2011-13-01,mappa_ended,\n'
    )
    loaded = parse_cases(text, "c.csv")
    assert loaded.skipped is not None
    assert messages(loaded.skipped) == [
        "c.csv:4: row 3, column 'at': invalid date '2011-13-01': expected an ISO 8601 date or"
        " date-time, such as 2011-06-20 or 2011-06-20T14:30:00Z"
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "case,date,type\n",
            [
                "c.csv:1: row 1, column 2: unknown column 'date': expected a column of a"
                " chronology (or map it to one with --mapping) (did you mean 'at'?)",
                "c.csv:1: row 1: missing the column(s) 'at': every event row needs them",
            ],
        ),
        (
            "case,at,type,at\n",
            ["c.csv:1: row 1, column 4: 'at' is the column 'at' again (first as 'at')"],
        ),
        ("", ["c.csv: empty: a CSV chronology starts with a header row"]),
    ],
)
def test_a_bad_header_fails_the_file(header: str, expected: list[str]) -> None:
    with pytest.raises(ChronologyError) as caught:
        parse_cases(header + "c,2011-01-01,strategy_meeting\n" * bool(header), "c.csv")
    assert messages(caught.value) == expected


def test_yaml_reads_yes_no_on_off_as_words_and_only_true_false_as_booleans() -> None:
    text = """\
case: c
events:
  - {at: 2011-01-01, type: offender_moved_area, from_area: no, to_area: on}
  - {at: 2011-01-02, type: child_missing, child: y}
  - {at: 2011-01-03, type: new_relationship, partner_has_children: TRUE, partner: yes}
"""
    (case,) = parse_chronology(text, "c.yaml")
    assert [event.fields() for event in case.events] == [
        {"from_area": "no", "to_area": "on"},
        {"child": "y"},
        {"partner_has_children": True, "partner": "yes"},
    ]
    with pytest.raises(ChronologyError) as caught:  # a word is never silently a boolean
        parse_chronology(text.replace("TRUE", "yes"), "c.yaml")
    assert messages(caught.value) == [
        "c.yaml:5:68: events[2].partner_has_children: input should be a valid boolean"
    ]


def test_a_mapping_maps_headers_and_values(store_url: str, engine: Engine) -> None:
    mapping = load_mapping(MAPPING)
    (from_sheet,) = load_chronologies(SHEET, mapping)
    (from_yaml,) = load_chronologies(EXAMPLES / "mr-c-bail.yaml")
    assert from_sheet == from_yaml
    result = run(
        "replay", str(SHEET), "--mapping", str(MAPPING), "--store", store_url, "--format", "json"
    )
    assert result.exit_code == 0
    expected = [a.to_json() for a in engine.replay(from_yaml).alerts]
    assert json.loads(result.stdout) == expected != []
    unmapped = run("replay", str(SHEET), "--store", store_url)
    assert unmapped.exit_code == 1
    assert "unknown column 'Case ref'" in unmapped.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "columns:\n  Date: when\n",
            [
                "map.yaml:2:9: columns.Date: 'when' is not a column of a chronology: expected"
                " one of case, type, at, source, id, recorded_at, note, title, subject, offence,"
                " category, victim_age, on_licence, years, tool, level, towards, scales,"
                " subject_seen, area, from_area, to_area, conditions, reason, device, cause,"
                " reporter, reporter_type, concern, withdrawn, partner_has_children, partner,"
                " household_member, child, age, plan, contingency, agency, kind, outcome,"
                " requested_by, hours, announced, scope, on, licence_end, condition, change,"
                " person, relationship, checked, children, with_person, family, about, from,"
                " role, children_present, protects, site, seen_by"
            ],
        ),
        (
            "columns:\n  Worker:\n",
            [
                "map.yaml:2:10: columns.Worker: no column given: list a column to leave out"
                " under 'ignore'"
            ],
        ),
        (
            "columns:\n  Date: at\n  When: at\n",
            ["map.yaml:3:9: columns.When: 'at' is already the column 'Date'"],
        ),
        (
            "values:\n  type:\n    Pregnancy: new_pregnacy\n",
            [
                "map.yaml:3:16: values.type.Pregnancy: 'new_pregnacy' is not a value of 'type':"
                " expected one of " + ", ".join(sorted(triggers.EVENT_TYPES)) + " (did you mean"
                " 'new_pregnancy'?)"
            ],
        ),
        (
            "values:\n  contingency:\n    Yes: yes\n",
            [
                "map.yaml:3:10: values.contingency.Yes: 'yes' is not a value of 'contingency':"
                " expected one of false, true"
            ],
        ),
        (
            "values:\n  kinds:\n    A: b\n",
            [
                "map.yaml:2:3: values.kinds: 'kinds' is not a column of a chronology: 'values'"
                " is keyed by the contract's column names (did you mean 'kind'?)"
            ],
        ),
        (
            "colums:\n  A: at\nignore: Worker\n",
            [
                "map.yaml:1:1: colums: unknown key 'colums': expected columns, ignore, values"
                " (did you mean 'columns'?)",
                "map.yaml:3:9: ignore: 'ignore' must be a list of headers, got 'Worker'",
            ],
        ),
        (
            "columns: [\n",
            [
                "map.yaml:2:1: YAML syntax error: expected the node content, but found '<stream end>'"
            ],
        ),
    ],
)
def test_a_bad_mapping_file_is_an_error_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("map.yaml").write_text(text)
    with pytest.raises(ChronologyError) as caught:
        load_mapping("map.yaml")
    assert messages(caught.value) == expected


def test_a_bad_mapping_stops_replay_before_any_file_is_read(tmp_path: Path, store_url: str) -> None:
    (tmp_path / "map.yaml").write_text("columns:\n  Date: when\n")
    result = run(
        "replay", str(MR_A_CSV), "--mapping", str(tmp_path / "map.yaml"), "--store", store_url
    )
    assert result.exit_code == 1
    assert "map.yaml:2:9: columns.Date: 'when' is not a column of a chronology" in result.stderr
    assert "case(s)" not in result.stderr


def test_csv_meets_the_limits_on_input(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "c,2011-01-01,strategy_meeting,\n" * 3
    monkeypatch.setattr(triggers.spreadsheet, "MAX_EVENTS_PER_FILE", 2)
    with pytest.raises(ChronologyError) as caught:
        parse_cases("case,at,type,note\n" + rows, "c.csv")
    assert messages(caught.value) == [
        "c.csv:4: row 4: more than 2 events: a file may hold at most 2; split it"
    ]
    monkeypatch.undo()
    long_note = "c,2011-01-01,strategy_meeting," + "x" * 10_001 + "\n"
    loaded = parse_cases("case,at,type,note\n" + long_note + rows, "c.csv")
    assert loaded.skipped is not None
    assert messages(loaded.skipped) == [
        "c.csv:2: row 2, column 'note': too long: 10,001 characters, at most 10,000 are allowed"
    ]
    huge_cell = "c,2011-01-01,strategy_meeting," + "x" * 200_000 + "\n"
    with pytest.raises(ChronologyError) as caught:
        parse_cases("case,at,type,note\n" + huge_cell, "c.csv")
    assert messages(caught.value) == [
        "c.csv:2: not readable as CSV: field larger than field limit (131072)"
    ]
    with pytest.raises(ChronologyError) as caught:
        parse_cases("case,at,type" + ",x" * 998 + "\n", "c.csv")
    assert messages(caught.value) == [
        "c.csv:1: row 1: 1,001 columns: a CSV chronology may have at most 1,000"
    ]
    stray = parse_cases("case,at,type\nc,2011-01-01,strategy_meeting" + ",x" * 5000, "c.csv")
    assert stray.skipped is not None
    assert messages(stray.skipped) == [
        "c.csv:2: row 2: cell 4 holds 'x' but has no header (and 4,999 more cells)"
    ]
    control = "c\x1b,2011-01-01,strategy_meeting,\n"
    loaded = parse_cases("case,at,type,note\n" + control, "c.csv")
    assert loaded.skipped is not None
    assert messages(loaded.skipped) == [
        "c.csv:2: row 2, column 'case': contains the control character U+001B (character 2):"
        " remove it; tab and newline are the only control characters allowed"
    ]


def test_a_file_too_large_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("wb") as out:
        out.truncate(triggers.limits.MAX_FILE_BYTES + 1)
    with pytest.raises(ChronologyError) as caught:
        load_cases(path)
    assert "too large" in messages(caught.value)[0]


def _outcomes(outcomes: Iterable[FileReplay]) -> list[tuple[str, list[str], list[str]]]:
    return [
        (
            Path(outcome.file).name,
            [json.dumps(a.to_json()) for r in outcome.results for a in r.alerts],
            messages(outcome.error) if isinstance(outcome.error, ChronologyError) else [],
        )
        for outcome in outcomes
    ]


def test_workers_and_a_cluster_read_csv_through_the_mapping_and_keep_the_good_rows(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "c.csv"
    bad.write_text(twenty_rows())
    files = [str(SHEET), str(bad), str(MR_A_CSV)]
    rules, mapping = load_rules(), load_mapping(MAPPING)
    one = _outcomes(replay_files(files, rules, workers=1, mapping=mapping))
    assert [len(alerts) for _, alerts, _ in one] == [3, 0, 29]
    assert one[1][2] == [m.replace("c.csv", str(bad)) for m in BAD_ROWS]
    assert _outcomes(replay_files(files, rules, workers=2, mapping=mapping)) == one
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    ) as cluster:
        on_cluster = replay_on_cluster(
            files, rules, address=cluster.scheduler_address, mapping=mapping
        )
        assert _outcomes(on_cluster) == one


def test_csv_meets_the_limit_on_events_per_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triggers.reading, "MAX_EVENTS_PER_CASE", 2)
    rows = "".join(f"c,2011-01-0{day},strategy_meeting\n" for day in range(1, 4))
    with pytest.raises(ChronologyError) as caught:
        parse_cases("case,at,type\n" + rows, "c.csv")
    assert messages(caught.value) == [
        "c.csv:4: row 4: more than 2 events for case 'c': a case may hold at most 2"
    ]


def test_the_mapping_schema_is_shipped_and_the_example_meets_it() -> None:
    schema_file = ROOT / "docs" / "spreadsheet" / "mapping.schema.json"
    assert json.loads(schema_file.read_text()) == mapping_schema()
    validator = jsonschema.Draft202012Validator(mapping_schema())
    located, problems = load_yaml(MAPPING.read_text(), str(MAPPING))
    assert problems == []
    validator.validate(located.data)
    wrong = {"columns": {"Date": "when"}, "values": {"type": {"Pregnancy": "new_pregnacy"}}}
    assert len(list(validator.iter_errors(wrong))) == 2
