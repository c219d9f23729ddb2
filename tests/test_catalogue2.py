"""Event catalogue and action vocabulary version 2: every type valid and invalid, v1 unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from triggers import EVENT_TYPES, InputError, RuleFileError, load_chronologies, load_rules
from triggers.cli import cli
from triggers.models import EVENT_MODELS, STATE_FIELDS, derive_event_id, event_adapter

#: A valid event of each version-2 type, every field given, and a field to break with
#: the message it then gets (the valid values named).
V2: dict[str, tuple[dict[str, Any], str, Any, str]] = {
    "home_visit": (
        {"outcome": "seen", "agency": "police", "announced": False},
        "outcome", "sen",
        "'sen' is not allowed for 'outcome': expected 'seen', 'not_in', 'not_at_address' or"
        " 'refused_entry'",
    ),
    "appointment_missed": ({"agency": "probation"}, "agency", "", "at least 1"),
    "contact_lost": ({"agency": "probation"}, "agency", 3, "valid string"),
    "notification_breach": (
        {"kind": "household_child"},
        "kind", "car",
        "expected 'address', 'travel', 'name', 'household_child' or 'other'",
    ),
    "wanted_circulated": (
        {"scope": "national"}, "scope", "regional", "expected 'local' or 'national'",
    ),
    "released": (
        {"on": "licence", "licence_end": "2013-01-01"},
        "on", "parole", "expected 'licence', 'sentence_end' or 'remand_end'",
    ),
    "licence_condition_changed": (
        {"condition": "curfew", "change": "relaxed"},
        "change", "lifted", "expected 'added', 'relaxed' or 'removed'",
    ),
    "enforcement_decision": (
        {"kind": "formal_warning"},
        "kind", "warning", "expected 'verbal_warning', 'formal_warning' or 'recall_requested'",
    ),
    "recall_issued": ({}, "reason", "x", "unknown field 'reason'"),
    "returned_to_custody": ({}, "on", "licence", "unknown field 'on'"),
    "allocation_changed": ({"agency": "probation"}, "agency", True, "valid string"),
    "adult_joined_household": (
        {"person": "mr-c", "relationship": "lodger", "checked": False},
        "checked", "no", "valid boolean",
    ),
    "subject_joined_household": (
        {"children": 2, "with_person": "ms-d"}, "children", "2", "whole number",
    ),
    "child_left_household": (
        {"child": "aa", "reason": "placed"},
        "reason", "adopted", "expected 'moved_out', 'placed' or 'other'",
    ),
    "association_with_family": ({"family": "the smiths", "children": True}, "children", 1, "valid boolean"),
    "intelligence_received": (
        {"about": "domestic_abuse", "from": "neighbour"},
        "about", "drugs",
        "expected 'sexual_risk_children', 'domestic_abuse', 'violence' or 'other'",
    ),
    "domestic_incident": (
        {"role": "perpetrator", "children_present": True},
        "role", "witness", "expected 'perpetrator' or 'victim'",
    ),
    "protective_order": (
        {"kind": "non_molestation", "protects": "ms-b"},
        "kind", "shpo",
        "expected 'restraining', 'non_molestation', 'sexual_harm_prevention' or 'other'",
    ),
    "referral_closed": (
        {"agency": "childrens_services", "reason": "malicious"},
        "reason", "closed",
        "expected 'no_further_action', 'malicious', 'other_agency_involved' or 'other'",
    ),
    "injury_observed": ({"child": "aa", "site": "arm", "seen_by": "teacher"}, "child", "", "at least 1"),
}  # fmt: skip

#: New fields on version-1 types: a valid value, a bad one and part of its message.
V1_ADDITIONS: dict[tuple[str, str], tuple[dict[str, Any], Any, Any, str]] = {
    ("risk_assessed", "scales"): (
        {"tool": "RM2000", "level": "high"}, ["sexual", "combined"], ["sexual", "sex"],
        "expected 'sexual', 'violence' or 'combined'",
    ),
    ("risk_assessed", "subject_seen"): ({"tool": "RM2000", "level": "high"}, True, "yes", "valid boolean"),
    ("assessment_completed", "outcome"): (
        {}, "child_in_need", "cin",
        "expected 'no_further_action', 'child_in_need', 'child_protection' or 'other'",
    ),
    ("community_concern", "category"): (
        {"reporter": "n"}, "violent", "violence", "expected 'sexual', 'violent' or 'other'",
    ),
    ("community_concern", "withdrawn"): ({"reporter": "n"}, True, "true", "valid boolean"),
    ("arrest", "on_licence"): ({"offence": "o", "category": "other"}, False, 0, "valid boolean"),
}  # fmt: skip


def _file(tmp_path: Path, events: list[dict[str, Any]]) -> Path:
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump({"case": "c", "events": events}, sort_keys=False))
    return path


def test_the_tables_cover_every_version_2_type() -> None:
    assert set(V2) == set(EVENT_TYPES[24:])
    assert len(EVENT_TYPES) == 44


@pytest.mark.parametrize("event_type", list(V2))
def test_each_version_2_type_is_valid_with_every_field(tmp_path: Path, event_type: str) -> None:
    fields = V2[event_type][0]
    (case,) = load_chronologies(
        _file(tmp_path, [{"at": "2012-01-01", "type": event_type, **fields}])
    )
    (event,) = case.events
    assert event.type == event_type
    expected = {k: v for k, v in fields.items() if k != "licence_end"}
    assert {k: v for k, v in event.fields().items() if k != "licence_end"} == expected
    assert set(event.fields()) == set(fields)


@pytest.mark.parametrize("event_type", list(V2))
def test_each_version_2_type_refuses_a_bad_value_at_its_line(
    tmp_path: Path, event_type: str
) -> None:
    fields, name, bad, message = V2[event_type]
    events = [
        {"at": "2012-01-01", "type": "strategy_meeting"},
        {"at": "2012-01-02", "type": event_type, **fields, name: bad},
    ]
    path = _file(tmp_path, events)
    with pytest.raises(InputError) as raised:
        load_chronologies(path)
    text = str(raised.value)
    line = next(
        i
        for i, text in enumerate(path.read_text().splitlines(), 1)
        if text.lstrip().strip("'").startswith((f"{name}:", f"{name}':")) and i > 4
    )
    assert text.startswith(f"{path}:{line}:"), text
    assert f"events[1].{name}" in text
    assert message in text


@pytest.mark.parametrize(
    "event_type",
    [
        t
        for t in V2
        if any(
            EVENT_MODELS[t].model_fields[n].is_required()
            for n in EVENT_MODELS[t].model_fields
            if n not in ("at", "type")
        )
    ],
)
def test_each_required_field_is_required(tmp_path: Path, event_type: str) -> None:
    required = [
        f.alias or n
        for n, f in EVENT_MODELS[event_type].model_fields.items()
        if f.is_required() and n not in ("at", "type")
    ]
    with pytest.raises(InputError, match=f"missing required field '{required[0]}'"):
        load_chronologies(_file(tmp_path, [{"at": "2012-01-01", "type": event_type}]))


@pytest.mark.parametrize("key", list(V1_ADDITIONS), ids="{0[0]}.{0[1]}".format)
def test_new_fields_on_version_1_types(tmp_path: Path, key: tuple[str, str]) -> None:
    event_type, name = key
    base, good, bad, message = V1_ADDITIONS[key]
    event = {"at": "2012-01-01", "type": event_type, **base}
    (case,) = load_chronologies(_file(tmp_path, [{**event, name: good}]))
    assert case.events[0].fields()[name] == good
    with pytest.raises(InputError, match="events\\[0\\]") as raised:
        load_chronologies(_file(tmp_path, [{**event, name: bad}]))
    assert message in str(raised.value)
    assert f"{tmp_path / 'case.yaml'}:" in str(raised.value)


def test_a_version_1_event_keeps_its_derived_id() -> None:
    concern = event_adapter.validate_python(
        {"at": "2012-01-01", "type": "community_concern", "reporter": "n"}
    )
    assert concern.fields()["withdrawn"] is False  # rules see the default
    # The id is the version-1 id: content without the new default.
    assert derive_event_id(concern) == "ev-" + _v1_digest(
        {"at": "2012-01-01T00:00:00Z", "type": "community_concern", "reporter": "n"}
    )
    withdrawn = concern.model_copy(update={"withdrawn": True})
    assert derive_event_id(withdrawn) != derive_event_id(concern)


def _v1_digest(content: dict[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def test_on_is_a_key_in_yaml_and_from_is_the_field_name(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(
        "case: c\nevents:\n"
        "  - {at: 2012-01-01, type: released, on: licence}\n"
        "  - {at: 2012-01-02, type: intelligence_received, about: other, from: school}\n"
    )
    released, intelligence = load_chronologies(path)[0].events
    assert released.fields() == {"on": "licence"}
    assert intelligence.fields() == {"about": "other", "from": "school"}
    path.write_text(
        "case: c\nevents:\n  - {at: 2012-01-02, type: intelligence_received, about: other,"
        " from_: school}\n"
    )
    with pytest.raises(InputError, match=r"unknown field 'from_'.*did you mean 'from'"):
        load_chronologies(path)


def test_licence_end_is_a_bounded_date(tmp_path: Path) -> None:
    event = {"at": "2012-01-01", "type": "released", "on": "licence", "licence_end": "2301-01-01"}
    with pytest.raises(InputError, match="outside the dates a chronology may hold"):
        load_chronologies(_file(tmp_path, [event]))


RULE = """\
rules:
  - id: r
    title: t
    learning: l
    when: {{event: contact_lost}}
    then:
      - {{action: {action}, {params}reason: r}}
"""


@pytest.mark.parametrize(
    ("action", "params", "problem"),
    [
        ("request_recall", "", None),
        ("circulate_wanted", "params: {scope: national}, ", None),
        ("request_medical", "", None),
        ("reallocate_case", "params: {agency: probation}, ", None),
        ("check_household", "", None),
        ("enforce_order", "", None),
        ("circulate_wanted", "", "action 'circulate_wanted' needs the param 'scope'"),
        (
            "circulate_wanted",
            "params: {scope: regional}, ",
            "r.yaml:7:52: rules[0].then[0].params.scope: param 'scope' of action 'circulate_wanted'"
            " must be one of 'local', 'national', got 'regional' (did you mean 'national'?)",
        ),
        ("enforce_order", "params: {agency: x}, ", "unknown param 'agency'"),
    ],
)
def test_version_2_actions(tmp_path: Path, action: str, params: str, problem: str | None) -> None:
    (tmp_path / "r.yaml").write_text(RULE.format(action=action, params=params))
    if problem is None:
        (rule,) = load_rules(tmp_path).rules
        assert rule.actions[0].action == action
    else:
        with pytest.raises(RuleFileError) as raised:
            load_rules(tmp_path)
        assert problem in str(raised.value)


def test_events_list_prints_the_catalogue() -> None:
    result = CliRunner().invoke(cli, ["events", "list"], catch_exceptions=False)
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("Event catalogue version 2: 44 types.")
    for event_type in EVENT_TYPES:
        assert f"\n{event_type}: " in out
    assert (
        "  outcome    required  one of 'seen', 'not_in', 'not_at_address', 'refused_entry'" in out
    )
    assert "  licence_end  optional  a date" in out
    for name in STATE_FIELDS:
        assert f"  {name} " in out
    assert "circulate_wanted: scope (required: 'local' or 'national') (1d)" in out


def test_events_schema_lists_state_and_actions() -> None:
    result = CliRunner().invoke(cli, ["events", "schema"], catch_exceptions=False)
    schema = json.loads(result.stdout)
    assert schema["x-catalogue-version"] == 2
    assert set(schema["x-case-state"]) == set(STATE_FIELDS)
    assert schema["x-case-state"]["risk_towards_public"]["values"] == [
        "low", "medium", "high", "very_high",
    ]  # fmt: skip
    assert schema["x-actions"]["circulate_wanted"]["params"]["scope"] == {
        "required": True,
        "values": ["local", "national"],
    }
    events = schema["properties"]["events"]["items"]["oneOf"]
    assert len(events) == 44
