"""Loading chronologies: formats, normalisation, ids, and errors that point at the line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.conftest import BROKEN_CHRONOLOGY, EXAMPLES, MR_A, chronology
from triggers import CaseState, ChronologyError, load_chronologies, parse_chronology
from triggers.models import EVENT_MODELS, EVENT_TYPES, derive_event_id, event_adapter


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def messages(error: ChronologyError) -> list[str]:
    return [str(problem) for problem in error.problems]


def test_catalogue_has_every_event_type_of_the_contract() -> None:
    assert EVENT_TYPES == (
        "conviction", "arrest", "registration_started", "registration_ended", "risk_assessed",
        "mappa_level_set", "mappa_review", "mappa_ended", "offender_moved_area", "bail_granted",
        "bail_lapsed", "monitoring_installed", "monitoring_software_failure", "community_concern",
        "new_relationship", "new_pregnancy", "child_joined_household", "plan_started",
        "plan_ended", "assessment_completed", "strategy_meeting", "conference_refused",
        "child_missing", "return_interview",
        # Version 2.
        "home_visit", "appointment_missed", "contact_lost", "notification_breach",
        "wanted_circulated", "released", "licence_condition_changed", "enforcement_decision",
        "recall_issued", "returned_to_custody", "allocation_changed", "adult_joined_household",
        "subject_joined_household", "child_left_household", "association_with_family",
        "intelligence_received", "domestic_incident", "protective_order", "referral_closed",
        "injury_observed",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event_type", "required"),
    [
        ("conviction", {"offence", "category"}),
        ("arrest", {"offence", "category"}),
        ("risk_assessed", {"tool", "level"}),
        ("mappa_level_set", {"level"}),
        ("offender_moved_area", {"from_area", "to_area"}),
        ("bail_lapsed", {"reason"}),
        ("community_concern", {"reporter"}),
        ("new_relationship", {"partner_has_children"}),
        ("child_joined_household", {"child"}),
        ("plan_started", {"plan"}),
        ("plan_ended", {"plan"}),
        ("child_missing", {"child"}),
        ("return_interview", {"child"}),
        ("strategy_meeting", set()),
    ],
)
def test_required_fields_follow_the_contract(event_type: str, required: set[str]) -> None:
    # Required in files (the JSON Schema); built in Python, a model knows its own type.
    schema = EVENT_MODELS[event_type].model_json_schema()
    assert set(schema["required"]) == {"at", "type", *required}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2011-06-20", datetime(2011, 6, 20, tzinfo=UTC)),
        ("2011-06-20T14:30:00", datetime(2011, 6, 20, 14, 30, tzinfo=UTC)),
        ("2011-06-20T14:30:00Z", datetime(2011, 6, 20, 14, 30, tzinfo=UTC)),
        ("2011-06-20T15:30:00+01:00", datetime(2011, 6, 20, 14, 30, tzinfo=UTC)),
    ],
)
def test_times_are_utc(given: str, expected: datetime) -> None:
    event = event_adapter.validate_python({"at": given, "type": "strategy_meeting"})
    assert event.at == expected


def test_events_are_immutable_and_reject_unknown_fields() -> None:
    event = event_adapter.validate_python({"at": "2011-01-01", "type": "strategy_meeting"})
    with pytest.raises(ValidationError):
        event.at = datetime(2012, 1, 1, tzinfo=UTC)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        event_adapter.validate_python({"at": "2011-01-01", "type": "strategy_meeting", "x": 1})


def test_derived_ids_are_stable_and_distinct_for_identical_events() -> None:
    missing = {"at": "2020-01-01", "type": "child_missing", "child": "a"}
    first = chronology([missing, missing, {**missing, "child": "b"}])
    again = chronology([{**missing, "child": "b"}, missing, missing])
    ids = first.event_ids()
    assert len(set(ids)) == 3
    assert sorted(ids) == sorted(again.event_ids())
    assert ids[1] == ids[0] + "-2"
    assert ids[0] == derive_event_id(first.events[0])


def test_explicit_ids_are_kept_and_must_be_unique() -> None:
    a = {"at": "2020-01-01", "type": "strategy_meeting", "id": "ev-1"}
    assert chronology([a]).event_ids() == ["ev-1"]
    with pytest.raises(ValidationError, match="share the id 'ev-1'"):
        chronology([a, {**a, "at": "2020-02-02"}])


def test_the_worked_example_loads() -> None:
    (case,) = load_chronologies(MR_A)
    assert case.case == "hh-ii-jj"
    assert len(case.events) == 26
    assert case.outcomes[0].at == datetime(2015, 8, 10, tzinfo=UTC)


def test_json_and_yaml_load_the_same(tmp_path: Path) -> None:
    (yaml_case,) = load_chronologies(MR_A)
    data = yaml_case.model_dump(mode="json")
    path = write(tmp_path, "mr-a.json", json.dumps(data))
    (json_case,) = load_chronologies(path)
    assert json_case == yaml_case


def test_jsonl_groups_events_by_case() -> None:
    cases = {c.case: c for c in load_chronologies(EXAMPLES / "feed.jsonl")}
    assert sorted(cases) == ["mr-g", "ms-f"]
    assert [e.type for e in cases["ms-f"].in_event_order()] == [
        "registration_started", "new_pregnancy", "plan_started",
    ]  # fmt: skip


def test_unknown_type_missing_field_and_bad_date_are_reported_together(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", BROKEN_CHRONOLOGY)
    with pytest.raises(ChronologyError) as caught:
        load_chronologies(path)
    assert messages(caught.value) == [
        f"{path}:4:11: events[0].type: unknown event type 'new_pregnacy'"
        " (did you mean 'new_pregnancy'?)",
        f"{path}:5:5: events[1]: missing required field 'category' for event type 'arrest'",
        f"{path}:8:9: events[2].at: invalid date '2011-13-45': expected an ISO 8601 date or"
        " date-time, such as 2011-06-20 or 2011-06-20T14:30:00Z",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("case: c\ntitel: x\nevents: []\n",
         "2:1: titel: unknown top-level key 'titel' (did you mean 'title'?)"),
        ("events: []\n", "1:1: missing required key 'case' (the case id)"),
        ("case: c\n", "1:1: missing required key 'events' (a list, which may be empty)"),
        ("case: c\nevents: {}\n", "2:9: events: 'events' must be a list, got a mapping"),
        ("case: c\ncase: d\nevents: []\n", "2:1: case: duplicate key 'case' (first at line 1)"),
        ("case: c\nevents:\n  - [1]\n", "3:5: events[0]: an event must be a mapping of fields, got a list"),
        ("case: c\nevents:\n  - at: 2011-01-01\n", "3:5: events[0]: missing required field 'type' (the event type)"),
        ("case: c\nevents:\n  - at: 2011-01-01\n    type: arrest\n    offence: x\n    category: sexuall\n",
         "6:15: events[0].category: 'sexuall' is not allowed for 'category': expected 'sexual',"
         " 'violent' or 'other'"),
        ("case: c\nevents:\n  - at: 2011-01-01\n    type: strategy_meeting\n    colour: red\n",
         "5:5: events[0].colour: unknown field 'colour' for event type 'strategy_meeting'"),
        ("case: c\nevents:\n  - at: 2011-01-01\n    type: new_relationship\n    partner_has_children: 'yes'\n",
         "5:27: events[0].partner_has_children: input should be a valid boolean"),
        ("case: c\nevents:\n  - at: 2011-01-01\n    type: mappa_level_set\n    level: 4\n",
         "5:12: events[0].level: 4 is not allowed for 'level': expected 1, 2 or 3"),
        ("case: c\nevents:\n  - at: 2011-01-01\n    type: mappa_level_set\n    level: true\n",
         "5:12: events[0].level: expected a whole number, got True"),
        ("case: c\nevents:\n  - at: 2011-01-01\n    id: e1\n    type: strategy_meeting\n"
         "  - at: 2011-01-02\n    id: e1\n    type: strategy_meeting\n",
         "7:9: events[1].id: event id 'e1' is already used by events[0]"),
        ("case: c\nevents:\n  - at: 2011-01-01\n\ttype: x\n",
         "4:1: YAML syntax error: tabs are not allowed in YAML indentation; use spaces"),
        ("case: [c\n", "2:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"),
    ],
)  # fmt: skip
def test_yaml_errors_name_file_line_and_column(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "case.yaml", text)
    with pytest.raises(ChronologyError) as caught:
        load_chronologies(path)
    assert messages(caught.value) == [f"{path}:{expected}"]


def test_json_errors_name_the_event_index_line_and_column() -> None:
    text = '{"case": "c", "events": [{"at": "2011-01-01", "type": "arrest", "offence": "x"}]}'
    with pytest.raises(ChronologyError) as caught:
        parse_chronology(text, "feed.json")
    assert messages(caught.value) == [
        "feed.json:1:26: events[0]: missing required field 'category' for event type 'arrest'"
    ]


def test_json_syntax_errors_have_a_position() -> None:
    with pytest.raises(ChronologyError) as caught:
        parse_chronology('{"case": "c",\n "events": [}', "feed.json")
    assert messages(caught.value) == ["feed.json:2:13: invalid JSON: Expecting value"]


def test_jsonl_errors_name_the_line() -> None:
    text = (
        '{"case": "a", "at": "2011-01-01", "type": "strategy_meeting"}\n'
        "\n"
        '{"at": "2011-01-02", "type": "strategy_meeting"}\n'
        '{"case": "a", "at": "2011-01-03", "type": "bogus"}\n'
        "not json\n"
    )
    with pytest.raises(ChronologyError) as caught:
        parse_chronology(text, "feed.jsonl")
    assert messages(caught.value) == [
        "feed.jsonl:3: events[1]: missing required field 'case' (each JSONL event names its case)",
        "feed.jsonl:4: events[2].type: unknown event type 'bogus'",
        "feed.jsonl:5:1: events[3]: invalid JSON: Expecting value",
    ]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.yaml", None, "file not found"),
        (
            "case.txt",
            "x",
            "unsupported file type '.txt': expected one of .yaml, .yml, .json, .jsonl, .csv",
        ),
        ("empty.yaml", "", "a chronology must be a mapping with 'case' and 'events', got nothing"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str | None, expected: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ChronologyError) as caught:
        load_chronologies(path)
    assert messages(caught.value) == [f"{path}: {expected}"]


def test_case_state_follows_the_worked_example() -> None:
    (case,) = load_chronologies(MR_A)
    state = CaseState.from_events(case.in_event_order())
    assert state.values() == {
        "risk_to_children": True,
        "registered": True,
        "mappa_managed": True,
        "mappa_level": 1,
        "mappa_area": "area-b",
        "area": "area-b",
        "children_in_household": 3,
        "partner_has_children": False,
        "active_plans": ("written_agreement",),
        "plans_recorded": ("child_in_need", "child_protection", "written_agreement"),
        "conviction_categories": ("sexual",),
        "arrest_categories": ("sexual",),
        # Version 2: what a version-1 file says of them.
        "risk_towards_children": "medium",
        "highest_risk_level": "medium",
        "on_licence": False,
        "in_custody": False,
        "seen_at_home": False,
        "whereabouts_unknown": False,
        "domestic_abuse_history": False,
        "adults_in_household": 0,
        "unchecked_adults": 0,
        "open_referrals": 0,
    }


def test_case_state_transitions() -> None:
    events = chronology([
        {"at": "2010-01-01", "type": "mappa_level_set", "level": 2, "area": "x"},
        {"at": "2010-02-01", "type": "mappa_review", "level": 3},
        {"at": "2010-03-01", "type": "plan_started", "plan": "child_in_need", "child": "a"},
        {"at": "2010-03-01", "type": "plan_started", "plan": "child_in_need", "child": "b"},
        {"at": "2010-04-01", "type": "plan_ended", "plan": "child_in_need", "child": "a"},
        {"at": "2010-05-01", "type": "new_relationship", "partner_has_children": True},
    ]).in_event_order()  # fmt: skip
    state = CaseState.from_events(events)
    assert (state.mappa_level, state.mappa_area) == (3, "x")
    assert state.active_plans == frozenset({"child_in_need"})
    assert state.partner_has_children
    assert not state.risk_to_children
    ended = state.apply(event_adapter.validate_python({"at": "2011-01-01", "type": "mappa_ended"}))
    assert (ended.mappa_level, ended.mappa_managed, ended.mappa_area) == (None, False, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("case: c\nevents:\n  - {<<: 5, at: 2011-01-01, type: strategy_meeting}\n",
         "3:5: events[0]: bad merge key: expected a mapping or list of mappings for merging, but found scalar"),
        ("case: c\nevents: &e [*e]\n", "2:9: events[0]: an alias refers to the mapping or list that contains it"),
        ("case: !!python/object:os.system x\nevents: []\n",
         "1:7: case: unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system': write plain values"),
        ("case: 010\nevents: []\n", "1:7: case: 'case' must be text; quote an id that looks like a number, such as case: \"010\""),
        ("case: c\nevents:\n  - {at: '0001-01-01T00:00:00+01:00', type: strategy_meeting}\n",
         "3:10: events[0].at: invalid date '0001-01-01T00:00:00+01:00': out of range in UTC"),
        ("case: c\nevents:\n  - {at: 2011-01-01, type: child_missing, child: a, hours: .inf}\n",
         "3:60: events[0].hours: input should be a finite number"),
        ("case: c\nevents:\n  - {at: 2011-01-01, type: registration_started, years: 9007199254740992}\n",
         "3:57: events[0].years: input should be less than or equal to 9007199254740991"),
        ("case: c\nevents: " + "[" * 3000 + "]" * 3000 + "\n",
         "2:73: nested more than 64 levels deep: a chronology or rule file needs only a few"),
    ],
)  # fmt: skip
def test_hostile_yaml_is_an_error_not_a_crash(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "case.yaml", text)
    with pytest.raises(ChronologyError) as caught:
        load_chronologies(path)
    assert messages(caught.value) == [
        f"{path}:{expected}" if expected[0].isdigit() else f"{path}: {expected}"
    ]


def test_aliases_are_built_once(tmp_path: Path) -> None:
    # Five levels of ten-fold aliases: 10**5 events, within MAX_YAML_VALUES once expanded
    # (a document beyond it is refused: tests/test_hostile_input.py).
    lines = ["a0: &a0 {at: 2011-01-01, type: strategy_meeting}"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 6)]
    located, problems = __import__("triggers._yaml", fromlist=["load_yaml"]).load_yaml(
        "\n".join(lines), "bomb.yaml"
    )
    assert problems == []
    assert located.data["a5"][9][9][9][9][9] == {
        "at": located.data["a0"]["at"],
        "type": "strategy_meeting",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"case": "c", "events": [{"at": "2011-01-01", "type": "registration_started", "years": 1'
            + "0" * 5000
            + "}]}",
            "feed.json: invalid JSON: Exceeds the limit (4300 digits) for integer string conversion: value has 5001 digits; use sys.set_int_max_str_digits() to increase the limit",
        ),
        (
            '{"case": "c", "events": ' + "[" * 100000 + "]" * 100000 + "}",
            "feed.json: invalid JSON: nested too deeply to read",
        ),
    ],
)
def test_hostile_json_is_an_error_not_a_crash(text: str, expected: str) -> None:
    with pytest.raises(ChronologyError) as caught:
        parse_chronology(text, "feed.json")
    assert messages(caught.value) == [expected]


def test_a_derived_id_taken_by_an_explicit_one_is_reported(tmp_path: Path) -> None:
    meeting = {"at": "2011-01-01", "type": "strategy_meeting"}
    taken = derive_event_id(event_adapter.validate_python(meeting), 2)
    events = [meeting, meeting, {"at": "2011-02-02", "type": "strategy_meeting", "id": taken}]
    path = write(tmp_path, "case.json", json.dumps({"case": "c", "events": events}))
    with pytest.raises(ChronologyError) as caught:
        load_chronologies(path)
    assert messages(caught.value) == [
        f"{path}:1:181: events[2].id: event id {taken!r} is already used by events[1]"
    ]


def test_an_event_repeated_with_its_id_is_one_event() -> None:
    event = {"at": "2011-01-01", "type": "monitoring_software_failure", "id": "e1"}
    assert chronology([event, event]).event_ids() == ["e1"]


def test_a_chronology_from_python_records_reports_problems_with_their_key_paths() -> None:
    from triggers import chronology_from_data

    records = [
        {"at": "2023-01-09", "type": "arrest", "offence": "x", "category": "sexual"},
        {"at": "2023-13-01", "type": "new_pregnancy", "household": "partner"},
    ]
    with pytest.raises(ChronologyError) as raised:
        chronology_from_data({"case": "c-1", "events": records}, "system")
    assert [str(p) for p in raised.value.problems] == [
        "system: events[1].at: invalid date '2023-13-01': expected an ISO 8601 date or"
        " date-time, such as 2011-06-20 or 2011-06-20T14:30:00Z",
        "system: events[1].household: unknown field 'household' for event type"
        " 'new_pregnancy' (did you mean 'household_member'?)",
    ]
    case = chronology_from_data({"case": "c-1", "events": records[:1]})
    assert [e.type for e in case.events] == ["arrest"]


def test_event_models_built_in_python_know_their_own_type() -> None:
    from triggers.models.events import ConvictionEvent

    event = ConvictionEvent(at="2010-01-01", offence="x", category="sexual")
    assert event.type == "conviction"
    assert event.model_dump(mode="json")["type"] == "conviction"
