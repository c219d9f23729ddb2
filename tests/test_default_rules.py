"""Each default rule firing, and not firing where its circumstances do not hold."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import replay
from triggers import Engine


def ev(at: str, type_: str, **fields: Any) -> dict[str, Any]:
    return {"at": at, "type": type_, **fields}


SEXUAL_CONVICTION = ev("2010-01-04", "conviction", offence="indecent images", category="sexual")
OTHER_CONVICTION = ev("2010-01-04", "conviction", offence="theft", category="other")
REGISTERED = ev("2010-01-05", "registration_started", years=10)
REGISTRATION_ENDED = ev("2010-06-01", "registration_ended")
MAPPA_1 = ev("2010-02-01", "mappa_level_set", level=1, area="north")
MAPPA_2 = ev("2010-02-01", "mappa_level_set", level=2, area="north")
MAPPA_ENDED = ev("2010-03-01", "mappa_ended")
CHILD_RISK_MEDIUM = ev(
    "2010-01-10", "risk_assessed", tool="OASys", level="medium", towards="children"
)
CHILD_RISK_LOW = ev("2010-01-10", "risk_assessed", tool="OASys", level="low", towards="children")
PUBLIC_RISK_HIGH = ev("2010-01-10", "risk_assessed", tool="OASys", level="high", towards="public")
CHILD_JOINED = ev("2010-04-01", "child_joined_household", child="c1", age=0, reason="birth")

PREGNANCY = ev("2011-01-03", "new_pregnancy", household_member="partner")
NEW_CHILD = ev("2011-01-03", "child_joined_household", child="c2", age=3, reason="moved_in")
FAILURE = ev("2011-01-03", "monitoring_software_failure", device="laptop", cause="upgrade")
MOVED = ev("2011-01-03", "offender_moved_area", from_area="north", to_area="south")
BAIL_LAPSED = ev("2011-01-03", "bail_lapsed", reason="expired")
RELATIONSHIP = ev("2011-01-03", "new_relationship", partner_has_children=True, partner="ms-x")
RELATIONSHIP_NO_CHILDREN = ev("2011-01-03", "new_relationship", partner_has_children=False)
SEXUAL_ARREST = ev("2011-01-03", "arrest", offence="assault", category="sexual")
VIOLENT_CONVICTION = ev("2011-01-03", "conviction", offence="wounding", category="violent")
OTHER_ARREST = ev("2011-01-03", "arrest", offence="theft", category="other")
AGREEMENT = ev("2011-01-03", "plan_started", plan="written_agreement", child="c1")
CP_PLAN = ev("2011-01-03", "plan_started", plan="child_protection", child="c1")
CONCERN = ev("2011-01-03", "community_concern", reporter="n1", concern="seen at a school gate")
POLICE_CONCERN = ev(
    "2011-01-03", "community_concern", source="police", reporter="pc-1", concern="seen at a school"
)

D1 = ("D1-pregnancy-or-new-child", "reopen_assessment")
D2 = ("D2-monitoring-failure", "review_risk_management_plan")
D2C = ("D2-monitoring-failure-children", "reopen_assessment")
D2C_PLAN = ("D2-monitoring-failure-children-plan", "reopen_assessment")
D3 = ("D3-moved-area", "notify_agency")
D4 = ("D4-bail-lapsed", "escalate_mappa")
D15 = ("D15-no-mappa-review-level-2", "escalate_case")
D8 = [
    ("D8-relationship-with-parent", "convene_strategy_meeting"),
    ("D8-relationship-with-parent", "notify_agency"),
]
D9 = [("D9-new-offence", "review_risk_management_plan"), ("D9-new-offence", "notify_agency")]
D12 = ("D12-written-agreement", "flag")
D17 = ("D17-arrest-of-a-known-risk", "review_risk_management_plan")
CONCERN_RULE = ("community-concern", "notify_agency")

CASES: list[tuple[str, list[dict[str, Any]], list[tuple[str, str]]]] = [
    ("D1 pregnancy after a sexual conviction", [SEXUAL_CONVICTION, PREGNANCY], [D1]),
    ("D1 new child while registered", [OTHER_CONVICTION, REGISTERED, NEW_CHILD], [D1]),
    ("D1 assessed medium towards children", [CHILD_RISK_MEDIUM, PREGNANCY], [D1]),
    ("D1 no risk to children", [OTHER_CONVICTION, PREGNANCY], []),
    ("D1 assessed low towards children", [CHILD_RISK_LOW, PREGNANCY], []),
    ("D1 high risk towards the public only", [PUBLIC_RISK_HIGH, PREGNANCY], []),
    ("D1 registration ended", [OTHER_CONVICTION, REGISTERED, REGISTRATION_ENDED, PREGNANCY], []),
    ("D2 failure alone", [FAILURE], [D2]),
    ("D2 failure with a child at home", [CHILD_JOINED, FAILURE], [D2, D2C]),
    (
        "D2 failure after a child in need plan ended",
        [
            ev("2010-02-01", "plan_started", plan="child_in_need"),
            ev("2010-03-01", "plan_ended", plan="child_in_need"),
            FAILURE,
        ],
        [D2, D2C_PLAN],
    ),
    (
        "D2 failure after a risk management plan only",
        [ev("2010-02-01", "plan_started", plan="risk_management"), FAILURE],
        [D2],
    ),
    ("D3 registered subject moves", [REGISTERED, MOVED], [D3]),
    ("D3 MAPPA-managed subject moves", [MAPPA_1, MOVED], [D3]),
    ("D3 unmanaged subject moves", [OTHER_CONVICTION, MOVED], []),
    ("D3 after MAPPA ended", [MAPPA_1, MAPPA_ENDED, MOVED], []),
    (
        "D4 violent arrest, bail lapses",
        [ev("2010-01-04", "arrest", offence="x", category="violent"), BAIL_LAPSED],
        [D4],
    ),
    ("D4 sexual conviction at MAPPA 1", [SEXUAL_CONVICTION, MAPPA_1, BAIL_LAPSED], [D4]),
    ("D4 registered", [REGISTERED, BAIL_LAPSED], [D4]),
    # The third 16 weeks at level 2 with no MAPPA review end that same day (D15).
    ("D4 already at MAPPA level 2", [SEXUAL_CONVICTION, MAPPA_2, BAIL_LAPSED], [D15]),
    ("D4 other offences only", [OTHER_CONVICTION, BAIL_LAPSED], []),
    ("D8 risk to children, partner has children", [SEXUAL_CONVICTION, RELATIONSHIP], D8),
    ("D8 partner without children", [SEXUAL_CONVICTION, RELATIONSHIP_NO_CHILDREN], []),
    ("D8 no risk to children", [OTHER_CONVICTION, RELATIONSHIP], []),
    ("D9 registered, sexual arrest", [REGISTERED, SEXUAL_ARREST], D9),
    ("D9 MAPPA-managed, violent conviction", [MAPPA_1, VIOLENT_CONVICTION], D9),
    # Issue 12: any arrest of a registered subject reviews the plan (D17).
    ("D9 registered, other arrest", [REGISTERED, OTHER_ARREST], [D17]),
    ("D9 unmanaged, sexual arrest", [OTHER_CONVICTION, SEXUAL_ARREST], []),
    ("D12 written agreement, risk to children", [SEXUAL_CONVICTION, AGREEMENT], [D12]),
    ("D12 child protection plan is not an agreement", [SEXUAL_CONVICTION, CP_PLAN], []),
    ("D12 no risk to children", [OTHER_CONVICTION, AGREEMENT], []),
    ("concern about a risk to children", [REGISTERED, CONCERN], [CONCERN_RULE]),
    # A concern is how the risk becomes known: every concern reaches the police
    # (issue 12, section 3), unless the police raised it.
    ("concern, no risk to children", [OTHER_CONVICTION, CONCERN], [CONCERN_RULE]),
    ("concern raised by the police", [REGISTERED, POLICE_CONCERN], []),
]


@pytest.mark.parametrize(("events", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_default_rule(
    engine: Engine, events: list[dict[str, Any]], expected: list[tuple[str, str]]
) -> None:
    last = events[-1]["at"]
    alerts = [a for a in replay(engine, events) if f"{a.at:%Y-%m-%d}" == last]
    assert sorted((a.rule, a.action) for a in alerts) == sorted(expected)


def test_d3_notifies_the_receiving_area(engine: Engine) -> None:
    (alert,) = replay(engine, [REGISTERED, MOVED])
    assert alert.params == {"agency": "south"}
    assert alert.reason == (
        "subject moved from north to south: the receiving area must take over management"
    )


def test_d4_escalates_to_level_2(engine: Engine) -> None:
    (alert,) = replay(engine, [REGISTERED, BAIL_LAPSED])
    assert (alert.params, alert.priority) == ({"level": 2}, "high")


def test_d8_and_d9_notify_childrens_services(engine: Engine) -> None:
    alerts = replay(engine, [REGISTERED, SEXUAL_ARREST]) + replay(
        engine, [REGISTERED, RELATIONSHIP]
    )
    notified = [a.params for a in alerts if a.action == "notify_agency"]
    assert notified == [{"agency": "childrens_services"}, {"agency": "childrens_services"}]


def test_concern_notifies_police(engine: Engine) -> None:
    (alert,) = replay(engine, [REGISTERED, CONCERN])
    assert alert.params == {"agency": "police"}
    assert alert.reason == "community concern from n1: seen at a school gate"
