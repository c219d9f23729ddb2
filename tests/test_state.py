"""Case state from catalogue version 2: each transition, simultaneous events, and rules on it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import chronology, summary
from triggers import Engine, load_rules
from triggers.engine.reference import ReferenceEngine
from triggers.models import STATE_FIELDS, CaseState
from triggers.rules.catalogue import state_fields


def state(*events: dict[str, Any]) -> CaseState:
    return CaseState.from_events(chronology(list(events)).events)


def at(day: str, kind: str, /, **fields: Any) -> dict[str, Any]:
    return {"at": day, "type": kind, **fields}


def test_risk_is_kept_per_tool_and_audience() -> None:
    s = state(
        at("2010-01-01", "risk_assessed", tool="RM2000", level="high", towards="children"),
        at("2010-02-01", "risk_assessed", tool="OASys", level="medium", towards="children"),
        at("2010-03-01", "risk_assessed", tool="OASys", level="very_high", towards="public"),
        at("2010-04-01", "risk_assessed", tool="OASys", level="low", towards="public"),
        at("2010-05-01", "risk_assessed", tool="KIRAT", level="high", towards="known_adult"),
        at("2010-06-01", "risk_assessed", tool="ARMS", level="low"),
    )
    values = s.values()
    # The latest towards each audience, whatever the tool: OASys's medium replaced RM2000's high.
    assert values["risk_towards_children"] == "medium"
    assert values["risk_towards_public"] == "low"
    assert values["risk_towards_known_adult"] == "high"
    assert "risk_towards_staff" not in values
    # The highest of the latest per tool and audience: RM2000's high still stands.
    assert values["highest_risk_level"] == "high"
    assert s.risk_level("RM2000", "children") == "high"
    assert s.risk_level("OASys", "public") == "low"
    assert s.risk_level("ARMS") == "low"
    assert s.risk_level("ARMS", "children") is None
    assert values["risk_to_children"] is True  # version 1's meaning: medium towards children


def test_version_1_risk_to_children_is_unchanged_by_other_audiences() -> None:
    s = state(at("2010-01-01", "risk_assessed", tool="OASys", level="very_high", towards="public"))
    assert s.values()["risk_to_children"] is False
    assert s.risk_towards_children is None


def test_a_licence_ends_at_licence_end_recall_or_custody() -> None:
    released = at("2010-01-01", "released", on="licence", licence_end="2011-01-01")
    assert state(released).on_licence
    assert not state(released).in_custody
    # licence_end: the state at any later event knows the licence ended, with no event for it.
    assert state(released).licence_end == _day("2011-01-01")
    assert not state(released).as_of(_day("2011-01-01")).on_licence
    assert state(released).as_of(_day("2010-12-31")).on_licence
    assert state(released, at("2011-01-01", "strategy_meeting")).on_licence is False
    assert state(released, at("2010-12-31", "strategy_meeting")).on_licence is True
    assert not state(released, at("2010-06-01", "recall_issued")).on_licence
    back = state(released, at("2010-06-01", "returned_to_custody"))
    assert (back.on_licence, back.in_custody) == (False, True)
    again = state(
        released,
        at("2010-06-01", "returned_to_custody"),
        at("2010-09-01", "released", on="sentence_end"),
    )
    assert (again.on_licence, again.in_custody) == (False, False)
    # Without licence_end a licence lasts until something ends it.
    assert state(at("2010-01-01", "released", on="licence")).as_of(_day("2100-01-01")).on_licence
    # A licence_end not after the release starts no licence.
    assert not state(
        at("2010-01-01", "released", on="licence", licence_end="2009-01-01")
    ).on_licence


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_custody_starts_only_at_returned_to_custody() -> None:
    arrested = state(at("2010-01-01", "arrest", offence="assault", category="violent"))
    assert not arrested.in_custody
    assert state(at("2010-01-01", "returned_to_custody")).in_custody
    assert not state(
        at("2010-01-01", "returned_to_custody"), at("2010-02-01", "released", on="remand_end")
    ).in_custody


def test_whereabouts_unknown_until_seen_or_in_custody() -> None:
    lost = at("2010-01-01", "contact_lost", agency="probation")
    assert state(lost).whereabouts_unknown
    assert state(lost, at("2010-02-01", "home_visit", outcome="not_in")).whereabouts_unknown
    seen = state(lost, at("2010-03-01", "home_visit", outcome="seen"))
    assert not seen.whereabouts_unknown
    assert seen.last_contact is not None and seen.last_contact.year == 2010
    assert "last_contact" not in seen.values()  # a date: kept, not tested by conditions
    assert not state(lost, at("2010-03-01", "returned_to_custody")).whereabouts_unknown
    assert state(at("2010-01-01", "home_visit", outcome="refused_entry")).last_contact is None


@pytest.mark.parametrize(
    ("event", "history"),
    [
        (at("2010-01-01", "domestic_incident", role="perpetrator"), True),
        (at("2010-01-01", "domestic_incident", role="victim"), False),
        (at("2010-01-01", "protective_order", kind="non_molestation"), True),
        (at("2010-01-01", "protective_order", kind="restraining"), True),
        (at("2010-01-01", "protective_order", kind="sexual_harm_prevention"), False),
        (
            at("2010-01-01", "conviction", offence="assault on his partner", category="violent"),
            True,
        ),
        (at("2010-01-01", "arrest", offence="Domestic ABH", category="violent"), True),
        (at("2010-01-01", "conviction", offence="assault", category="violent"), False),
        (at("2010-01-01", "conviction", offence="partner's car damaged", category="other"), False),
    ],
)
def test_domestic_abuse_history(event: dict[str, Any], history: bool) -> None:
    assert state(event).domestic_abuse_history is history


def test_adults_in_household_and_whether_checked() -> None:
    s = state(
        at("2010-01-01", "adult_joined_household", person="x", checked=True),
        at("2010-01-02", "adult_joined_household", person="y"),
        at("2010-01-03", "adult_joined_household", person="z", checked=False),
    )
    assert (s.values()["adults_in_household"], s.values()["unchecked_adults"]) == (3, 2)
    checked = state(
        at("2010-01-02", "adult_joined_household", person="y"),
        at("2010-02-02", "adult_joined_household", person="y", relationship="lodger", checked=True),
    )
    assert (checked.adults_in_household, checked.unchecked_adults) == (1, 0)


def test_a_child_who_left_is_no_longer_in_the_household() -> None:
    s = state(
        at("2010-01-01", "child_joined_household", child="a"),
        at("2010-01-01", "child_joined_household", child="b"),
        at("2010-05-01", "child_left_household", child="a", reason="placed"),
    )
    assert s.children_in_household == 1
    # Joined and left at one moment: catalogue order applies the leaving last.
    assert (
        state(
            at("2010-01-01", "child_left_household", child="a"),
            at("2010-01-01", "child_joined_household", child="a"),
        ).children_in_household
        == 0
    )


def test_referrals_open_per_agency_and_close() -> None:
    s = state(
        {**at("2010-01-01", "community_concern", reporter="n"), "source": "police"},
        {**at("2010-01-02", "injury_observed", child="a"), "source": "health"},
        {
            **at("2010-01-03", "intelligence_received", about="other", **{"from": "x"}),
            "source": "police",
        },
        {**at("2010-01-04", "community_concern", reporter="m", withdrawn=True), "source": "school"},
        at("2010-01-05", "domestic_incident", role="victim"),  # no source: no agency to name
    )
    assert s.referrals == frozenset({"police", "health"})
    assert s.values()["open_referrals"] == 2
    closed = state(
        {**at("2010-01-01", "domestic_incident", role="perpetrator"), "source": "police"},
        at("2010-02-01", "referral_closed", agency="police", reason="no_further_action"),
    )
    assert closed.open_referrals == 0


SIMULTANEOUS = [
    at("2010-01-01", "released", on="licence", licence_end="2012-01-01"),
    at("2010-01-01", "returned_to_custody"),
    at("2010-01-01", "contact_lost"),
    at("2010-01-01", "home_visit", outcome="seen"),
    at("2010-01-01", "adult_joined_household", person="p", checked=True),
    at("2010-01-01", "adult_joined_household", person="p"),
    {**at("2010-01-01", "injury_observed", child="c"), "source": "health"},
    at("2010-01-01", "referral_closed", agency="health", reason="other"),
    at("2010-01-01", "risk_assessed", tool="T", level="low", towards="staff"),
    at("2010-01-01", "risk_assessed", tool="T", level="high", towards="staff"),
]


def test_simultaneous_events_give_one_state_whatever_their_file_order() -> None:
    orders = itertools.permutations(SIMULTANEOUS[:6])
    states = {tuple(sorted(state(*order).values().items())) for order in orders}
    assert len(states) == 1
    reversed_ = state(*reversed(SIMULTANEOUS))
    forward = state(*SIMULTANEOUS)
    assert reversed_ == forward
    # Catalogue order: released, then returned to custody (which also ends whereabouts
    # unknown); referral_closed, then injury_observed (which opens a referral again).
    assert (forward.in_custody, forward.on_licence, forward.whereabouts_unknown) == (
        True,
        False,
        False,
    )
    assert forward.referrals == frozenset({"health"})
    assert (forward.adults_in_household, forward.unchecked_adults) == (1, 1)
    # home_visit comes before contact_lost: lost at the moment of a visit stays lost.
    assert state(SIMULTANEOUS[3], SIMULTANEOUS[2]).whereabouts_unknown


def test_every_state_value_has_a_rule_kind() -> None:
    fields = state_fields()
    assert set(fields) == set(STATE_FIELDS)
    assert fields["risk_towards_public"].ordered and fields["highest_risk_level"].ordered
    assert fields["open_referrals"].kind == "int"


RULES = """\
rules:
  - id: V1-licence
    title: t
    learning: l
    when:
      event: appointment_missed
      case:
        on_licence: true
        risk_towards_public: {ge: high}
    then:
      - {action: request_recall, reason: "missed while on licence at {case.risk_towards_public}"}
  - id: V2-missing
    title: t
    learning: l
    when:
      event: wanted_circulated
      case: {whereabouts_unknown: true, in_custody: false}
    then:
      - {action: circulate_wanted, params: {scope: "{event.scope}"}, reason: r}
  - id: V3-household
    title: t
    learning: l
    when:
      event: adult_joined_household
      case:
        any:
          - domestic_abuse_history: true
          - unchecked_adults: {ge: 1}
          - open_referrals: {gt: 0}
          - highest_risk_level: very_high
    then:
      - {action: check_household, params: {agency: police}, reason: r}
  - id: V4-intelligence
    title: t
    learning: l
    when:
      event: intelligence_received
      where: {from: school}
    then:
      - {action: flag, reason: "intelligence from {event.from}"}
"""


def test_rules_test_the_new_state_alike_in_the_engine_and_the_reference(tmp_path: Path) -> None:
    (tmp_path / "v2.yaml").write_text(RULES.replace('"{event.scope}"', "national"))
    rules = load_rules(tmp_path)
    case = chronology([
        at("2010-01-01", "risk_assessed", tool="OASys", level="high", towards="public"),
        at("2010-01-10", "released", on="licence", licence_end="2010-06-01"),
        at("2010-02-01", "appointment_missed"),  # on licence: fires
        at("2010-07-01", "appointment_missed"),  # licence ended in June: does not
        at("2010-08-01", "contact_lost"),
        at("2010-08-02", "wanted_circulated", scope="national"),  # fires
        at("2010-08-20", "home_visit", outcome="seen"),
        at("2010-08-21", "wanted_circulated", scope="local"),  # seen since: does not
        at("2010-09-01", "adult_joined_household", person="a", checked=True),  # nothing yet
        at("2010-09-02", "adult_joined_household", person="b", checked=False),  # still nothing
        at("2010-09-03", "adult_joined_household", person="c", checked=True),  # b unchecked
        {**at("2010-09-04", "intelligence_received", about="violence", **{"from": "school"})},
    ])  # fmt: skip
    engine = Engine(rules).replay(case).alerts
    reference = ReferenceEngine(rules).replay(case).alerts
    assert engine == reference
    assert summary(engine) == [
        ("2010-02-01", "V1-licence", "request_recall"),
        ("2010-08-02", "V2-missing", "circulate_wanted"),
        ("2010-09-03", "V3-household", "check_household"),
        ("2010-09-04", "V4-intelligence", "flag"),
    ]
    assert engine[0].reason == "missed while on licence at high"
    assert engine[1].params == {"scope": "national"}
    assert engine[3].reason == "intelligence from school"
