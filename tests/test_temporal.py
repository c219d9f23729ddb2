"""Time in the rule language: windows at their boundaries, in event time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MR_A, chronology, summary
from triggers import Engine, RuleFileError, load_chronologies, load_rules

WITHIN_RULES = """
rules:
  - id: again
    title: the same kind of event again within a window
    learning: l
    when:
      event: child_missing
      after:
        event: child_missing
        within: 30d
    then:
      - {action: flag, reason: "again ({event.child})"}
  - id: again-same-child
    title: the same child again
    learning: l
    when:
      event: child_missing
      after:
        event: child_missing
        within: 30d
        same: [child]
    then:
      - {action: flag, reason: r}
  - id: after-other
    title: a return interview for the child within 72 hours before
    learning: l
    when:
      event: child_missing
      after:
        event: return_interview
        within: 72h
        same: {child: child}
    then:
      - {action: flag, reason: r}
"""

BASE = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)


def rules_engine(folder: Path, text: str) -> Engine:
    """An engine for a rule file with this text."""
    path = folder / "rules.yaml"
    path.write_text(text)
    return Engine(load_rules(path))


def missing(at: datetime, child: str = "a") -> dict[str, Any]:
    return {"at": at.isoformat(), "type": "child_missing", "child": child}


def interview(at: datetime, child: str = "a") -> dict[str, Any]:
    return {"at": at.isoformat(), "type": "return_interview", "child": child}


@pytest.fixture(scope="module")
def within(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return rules_engine(tmp_path_factory.mktemp("rules"), WITHIN_RULES)


def fired(engine: Engine, events: list[dict[str, Any]]) -> list[str]:
    return sorted(a.rule for a in engine.replay(chronology(events)).alerts)


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (timedelta(days=30), ["again", "again-same-child"]),
        (timedelta(days=30) - timedelta(seconds=1), ["again", "again-same-child"]),
        (timedelta(days=30) + timedelta(seconds=1), []),
        (timedelta(0), ["again", "again-same-child"]),
    ],
    ids=["exactly D", "D minus a second", "D plus a second", "same instant"],
)
def test_within_at_its_boundaries(within: Engine, gap: timedelta, expected: list[str]) -> None:
    assert fired(within, [missing(BASE), missing(BASE + gap)]) == expected


def test_within_same_instant_fires_once_whatever_the_order(within: Engine) -> None:
    events = [missing(BASE), missing(BASE, "b")]
    for order in (events, events[::-1]):
        alerts = within.replay(chronology(order)).alerts
        assert [a.rule for a in alerts] == ["again"]
        assert len(alerts[0].events) == 2


def test_within_correlates_on_the_same_field(within: Engine) -> None:
    assert fired(within, [missing(BASE, "a"), missing(BASE + timedelta(days=1), "b")]) == ["again"]
    assert fired(within, [missing(BASE, "a"), missing(BASE + timedelta(days=1), "a")]) == [
        "again",
        "again-same-child",
    ]


@pytest.mark.parametrize(
    ("gap", "child", "expected"),
    [
        (timedelta(hours=72), "a", ["after-other"]),
        (timedelta(hours=72, seconds=1), "a", []),
        (timedelta(0), "a", ["after-other"]),
        (timedelta(hours=1), "b", []),
        (-timedelta(hours=1), "a", []),
    ],
    ids=["exactly 72h", "72h plus a second", "same instant", "another child", "other comes later"],
)
def test_within_another_kind_of_event(
    within: Engine, gap: timedelta, child: str, expected: list[str]
) -> None:
    assert fired(within, [interview(BASE, child), missing(BASE + gap)]) == expected


ALTERNATIVES = """
rules:
  - id: either
    title: a missing episode or an interview, after a missing episode
    learning: l
    when:
      event: [child_missing, return_interview]
      after: {event: child_missing, within: 1d}
    then:
      - {action: flag, reason: r}
  - id: listed-child
    title: child a or b missing after an interview
    learning: l
    when:
      event: child_missing
      where: {child: [a, b]}
      after: {event: return_interview, within: 1d}
    then:
      - {action: flag, reason: r}
"""


@pytest.mark.parametrize(
    ("first", "then", "expected"),
    [(interview, missing, ["listed-child"]), (missing, interview, ["either"])],
    ids=["interview then missing", "missing then interview"],
)
def test_alternatives_in_the_trigger_keep_its_window(
    tmp_path: Path, first: Any, then: Any, expected: list[str]
) -> None:
    # durable_rules ignores correlated tests after an `$or` in a pattern (the trigger's
    # two types, its list of children): each rule also fired with the later event as
    # its trigger and the earlier one as the other.
    engine = rules_engine(tmp_path, ALTERNATIVES)
    assert fired(engine, [first(BASE), then(BASE + timedelta(hours=1))]) == expected


def test_another_kind_of_event_later_in_the_same_moment(tmp_path: Path) -> None:
    # The interview comes after the missing episode in event order (catalogue order):
    # the engine let go of the episode before the interview, at the same moment, came.
    only = "rules:\n  - id: after-other\n" + WITHIN_RULES.split("  - id: after-other\n")[1]
    engine = rules_engine(tmp_path, only)
    assert fired(engine, [interview(BASE), missing(BASE)]) == ["after-other"]


def test_one_alert_per_trigger_naming_the_latest_other(within: Engine) -> None:
    events = [missing(BASE + timedelta(days=d)) for d in (0, 10, 20, 45)]
    case = chronology(events)
    alerts = [a for a in within.replay(case).alerts if a.rule == "again"]
    # 10 follows 0; 20 follows 0 and 10 (the latest, 10, is named); 45 follows 20 only.
    ids = {e.at.day: e.id for e in case.events}
    assert [(f"{a.at:%d}", a.events) for a in alerts] == [
        ("11", (ids[1], ids[11])),
        ("21", (ids[11], ids[21])),
        ("15", (ids[21], ids[15])),
    ]


def test_windows_in_calendar_months(tmp_path: Path) -> None:
    path = tmp_path / "months.yaml"
    path.write_text(WITHIN_RULES.replace("within: 30d", "within: 1 month", 1))
    engine = Engine(load_rules(path))
    # One month before 28 February is 28 January (the window is [D.before(t), t]).
    feb28 = missing(datetime(2021, 2, 28, tzinfo=UTC))
    jan28 = datetime(2021, 1, 28, tzinfo=UTC)
    assert "again" in fired(engine, [missing(jan28), feb28])
    assert "again" not in fired(engine, [missing(jan28 - timedelta(seconds=1)), feb28])
    # One month after 31 January is 28 February.
    assert "again" in fired(engine, [missing(datetime(2021, 1, 31, tzinfo=UTC)), feb28])
    # One month before 31 March 2012 is 29 February, though a month after it is 29 March:
    # the engine let go of the earlier event too soon.
    leap = [missing(datetime(2012, 2, 29, tzinfo=UTC)), missing(datetime(2012, 3, 31, tzinfo=UTC))]
    assert "again" in fired(engine, leap)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("{event: child_missing, within: 30 dys}",
         "rules[0].when.after.within: '30 dys' is not a duration: write a whole number and a unit,"
         " such as 72h, 28d, 2w, 12 months or 1 year"),
        ("{event: child_mising, within: 30d}",
         "rules[0].when.after.event: unknown event type 'child_mising' (did you mean 'child_missing'?)"),
        ("{event: return_interview, within: 30d, same: [hours]}",
         "rules[0].when.after.same: the other event has no field 'hours' to compare"),
        ("{event: child_missing, within: 30d, same: {child: kid}}",
         "rules[0].when.after.same.child: the triggering event has no field 'kid' to compare"),
        ("{event: child_missing, within: 30d, sme: [child]}",
         "rules[0].when.after.sme: unknown key 'sme' (did you mean 'same'?)"),
    ],
)  # fmt: skip
def test_bad_windows_are_reported(tmp_path: Path, after: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "rules:\n  - id: r\n    title: t\n    learning: l\n    when:\n      event: child_missing\n"
        f"      after: {after}\n    then:\n      - {{action: flag, reason: r}}\n"
    )
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert [str(p).split(": ", 1)[1] for p in caught.value.problems] == [expected]


def test_worked_example_escalates_on_the_second_monitoring_failure(engine: Engine) -> None:
    (case,) = load_chronologies(MR_A)
    alerts = [
        a
        for a in engine.replay(case).alerts
        if a.action == "escalate_mappa" and a.rule.startswith("D2b")
    ]
    assert summary(alerts) == [("2011-02-07", "D2b-repeated-monitoring-failure", "escalate_mappa")]
    assert alerts[0].params == {"level": 2}
    assert len(alerts[0].events) == 2


def test_temporal_results_do_not_depend_on_file_order(within: Engine) -> None:
    rng = random.Random(3)
    events = [
        (missing if rng.random() < 0.7 else interview)(
            BASE + timedelta(hours=rng.randrange(0, 24 * 90)), rng.choice("abc")
        )
        for _ in range(60)
    ]
    expected = within.replay(chronology(events)).alerts
    assert len(expected) > 10
    for seed in range(3):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        assert within.replay(chronology(shuffled)).alerts == expected


ABSENT_RULES = """
rules:
  - id: no-interview
    title: no return interview for the same child within 72 hours
    learning: l
    when:
      event: child_missing
      absent:
        event: return_interview
        within: 72h
        same: [child]
    then:
      - {action: flag, reason: "{event.child}"}
  - id: not-again
    title: not missing again within 30 days
    learning: l
    when:
      event: child_missing
      absent:
        event: child_missing
        within: 30d
    then:
      - {action: flag, reason: r}
"""


@pytest.fixture(scope="module")
def absent(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return rules_engine(tmp_path_factory.mktemp("rules"), ABSENT_RULES)


def deadline_alerts(
    engine: Engine, events: list[dict[str, Any]], until: datetime | None = None
) -> list[tuple[str, datetime]]:
    return [(a.rule, a.at) for a in engine.replay(chronology(events), until).alerts]


H72 = timedelta(hours=72)
LATER = BASE + timedelta(days=400)


@pytest.mark.parametrize(
    ("gap", "fires"),
    [
        (H72, False),
        (H72 - timedelta(seconds=1), False),
        (H72 + timedelta(seconds=1), True),
        (timedelta(0), False),
    ],
    ids=[
        "interview exactly at the deadline",
        "a second before",
        "a second late (too late)",
        "same instant",
    ],
)
def test_absence_at_its_boundaries(absent: Engine, gap: timedelta, fires: bool) -> None:
    events = [missing(BASE), interview(BASE + gap), missing(LATER, "z"), interview(LATER, "z")]
    got = [x for x in deadline_alerts(absent, events) if x[0] == "no-interview"]
    assert got == ([("no-interview", BASE + H72)] if fires else [])


def test_an_interview_for_another_child_does_not_count(absent: Engine) -> None:
    events = [
        missing(BASE, "a"),
        interview(BASE + timedelta(hours=1), "b"),
        missing(LATER, "z"),
        interview(LATER, "z"),
    ]
    assert ("no-interview", BASE + H72) in deadline_alerts(absent, events)


@pytest.mark.parametrize(
    ("last", "until", "fires"),
    [
        (BASE + H72, None, True),
        (BASE + H72 - timedelta(seconds=1), None, False),
        (BASE + timedelta(hours=1), BASE + H72, True),
        (BASE + timedelta(hours=1), BASE + H72 - timedelta(seconds=1), False),
        (BASE + H72, BASE, True),
    ],
    ids=[
        "deadline on the last event",
        "deadline after the last event",
        "--until the deadline",
        "--until just before",
        "--until before the last event",
    ],
)
def test_deadlines_and_the_end_of_the_replay(
    absent: Engine, last: datetime, until: datetime | None, fires: bool
) -> None:
    events = [missing(BASE), {"at": last.isoformat(), "type": "strategy_meeting"}]
    got = [x for x in deadline_alerts(absent, events, until) if x[0] == "no-interview"]
    assert got == ([("no-interview", BASE + H72)] if fires else [])


def test_an_earlier_event_does_not_count_against_an_absence(tmp_path: Path) -> None:
    # With two tests on the absent event, durable_rules ignored the window: the interview
    # the day before (kept for another rule) counted as in time.
    keep = WITHIN_RULES.split("  - id: after-other\n")[1].replace("72h", "30d")
    engine = rules_engine(
        tmp_path,
        ABSENT_RULES.replace("        same: [child]\n", "        where: {child: a, source: s}\n")
        + "  - id: after-other\n"
        + keep,
    )
    events = [
        {**interview(BASE - timedelta(days=1)), "source": "s"},
        missing(BASE),
        {"at": (BASE + timedelta(days=10)).isoformat(), "type": "strategy_meeting"},
    ]
    assert ("no-interview", BASE + H72) in deadline_alerts(engine, events)


def test_absence_of_the_same_kind_of_event(absent: Engine) -> None:
    events = [missing(BASE), missing(BASE + timedelta(days=10)), missing(BASE + timedelta(days=50))]
    got = [
        x
        for x in deadline_alerts(absent, events, until=BASE + timedelta(days=100))
        if x[0] == "not-again"
    ]
    # The first was followed within 30 days; the second and third were not.
    assert got == [
        ("not-again", BASE + timedelta(days=40)),
        ("not-again", BASE + timedelta(days=80)),
    ]


def test_a_deadline_alert_fires_once(absent: Engine) -> None:
    events = [missing(BASE)] + [
        {"at": (BASE + timedelta(days=d)).isoformat(), "type": "strategy_meeting"}
        for d in range(5, 200, 5)
    ]
    got = [x for x in deadline_alerts(absent, events) if x[0] == "no-interview"]
    assert got == [("no-interview", BASE + H72)]


def test_worked_example_deadlines(engine: Engine) -> None:
    (case,) = load_chronologies(MR_A)
    alerts = engine.replay(case).alerts
    assert [(f"{a.at:%Y-%m-%d}", a.rule) for a in alerts if a.rule.startswith("D7")] == [
        ("2010-06-14", "D7-plan-ended-without-contingency"),
        ("2010-08-16", "D7-plan-ended-without-contingency"),
        ("2011-06-14", "D7b-no-assessment-after-plan-ended"),
        ("2011-08-16", "D7b-no-assessment-after-plan-ended"),
    ]
    # Ownership of the 2009 move was accepted within 28 days: no D3b escalation.
    assert not [a for a in alerts if a.rule.startswith("D3b")]


def test_unconfirmed_ownership_after_a_move(engine: Engine) -> None:
    events: list[dict[str, Any]] = [
        {"at": "2020-01-01", "type": "mappa_level_set", "level": 1, "area": "north"},
        {
            "at": "2020-02-01",
            "type": "offender_moved_area",
            "from_area": "north",
            "to_area": "south",
        },
        {"at": "2020-02-20", "type": "mappa_review", "area": "north"},
    ]
    until = datetime(2020, 3, 31, tzinfo=UTC)
    got = [
        (f"{a.at:%Y-%m-%d}", a.reason)
        for a in engine.replay(chronology(events), until).alerts
        if a.rule.startswith("D3b")
    ]
    assert got == [("2020-02-29", "MAPPA ownership unconfirmed after move to south")]
    confirmed = [*events, {"at": "2020-02-29", "type": "mappa_review", "area": "south"}]
    assert not [
        a for a in engine.replay(chronology(confirmed), until).alerts if a.rule.startswith("D3b")
    ]


def test_several_absent_types_and_or_conditions(tmp_path: Path) -> None:
    # durable_rules mishandles `$or` inside `none`: types go through a flag, and
    # alternatives in an absent event's conditions are refused at compile time.
    path = tmp_path / "bad.yaml"
    path.write_text(
        "rules:\n  - id: r\n    title: t\n    learning: l\n    when:\n      event: child_missing\n"
        "      absent:\n        event: return_interview\n        within: 1d\n"
        "        where: {child: [a, b]}\n    then:\n      - {action: flag, reason: r}\n"
    )
    with pytest.raises(
        RuleFileError, match="conditions on an absent event can only be all-of tests"
    ):
        load_rules(path)


COUNT_RULES = """
rules:
  - id: three
    title: three of the same child within 30 days
    learning: l
    when:
      event: child_missing
      count: {at_least: 3, within: 30d, same: [child]}
    then:
      - {action: flag, reason: r}
  - id: distinct
    title: two different reporters within 10 days
    learning: l
    when:
      event: community_concern
      count: {at_least: 2, within: 10d, distinct: reporter}
    then:
      - {action: flag, reason: r}
"""


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return rules_engine(tmp_path_factory.mktemp("rules"), COUNT_RULES)


def concern(at: datetime, reporter: str) -> dict[str, Any]:
    return {"at": at.isoformat(), "type": "community_concern", "reporter": reporter}


@pytest.mark.parametrize(
    ("span", "fires"),
    [
        (timedelta(days=30), True),
        (timedelta(days=30) - timedelta(seconds=1), True),
        (timedelta(days=30) + timedelta(seconds=1), False),
        (timedelta(0), True),
    ],
    ids=["exactly D", "D minus a second", "D plus a second", "all at the same instant"],
)
def test_count_at_its_boundaries(counts: Engine, span: timedelta, fires: bool) -> None:
    events = [missing(BASE), missing(BASE + span / 2), missing(BASE + span)]
    alerts = counts.replay(chronology(events)).alerts
    assert [(a.rule, a.at, len(a.events)) for a in alerts] == (
        [("three", BASE + span, 3)] if fires else []
    )


def test_count_only_the_same_child(counts: Engine) -> None:
    events = [
        missing(BASE, "a"),
        missing(BASE + timedelta(days=1), "b"),
        missing(BASE + timedelta(days=2), "a"),
    ]
    assert counts.replay(chronology(events)).alerts == ()


@pytest.mark.parametrize(
    ("reporters", "fires"),
    [(["x", "y"], True), (["x", "x"], False), (["x", "x", "x"], False), (["x", "x", "y"], True)],
)
def test_count_distinct_values(counts: Engine, reporters: list[str], fires: bool) -> None:
    events = [concern(BASE + timedelta(days=i), r) for i, r in enumerate(reporters)]
    alerts = counts.replay(chronology(events)).alerts
    assert [a.rule for a in alerts] == (["distinct"] if fires else [])


def test_counts_do_not_depend_on_file_order(counts: Engine) -> None:
    events = [missing(BASE, "a"), missing(BASE, "a"), missing(BASE, "a"), missing(BASE, "a")]
    expected = counts.replay(chronology(events)).alerts
    # Four at one instant: the third and the fourth each complete a count of three or more.
    assert [len(a.events) for a in expected] == [3, 4]
    for seed in range(3):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        assert counts.replay(chronology(shuffled)).alerts == expected


def test_default_count_rules(engine: Engine) -> None:
    registered = {"at": "2019-01-01", "type": "registration_started"}
    day = datetime(2020, 1, 1, tzinfo=UTC)
    concerns = [
        concern(day + timedelta(days=d), r) for d, r in [(0, "n1"), (100, "n1"), (200, "n1")]
    ]
    rules = [a.rule for a in engine.replay(chronology([registered, *concerns])).alerts]
    assert rules.count("D5b-repeated-concerns-from-one-reporter") == 1
    assert "D5-concerns-from-several-reporters" not in rules
    mixed = [concern(day, "n1"), concern(day + timedelta(days=364), "n2")]
    rules = [a.rule for a in engine.replay(chronology([registered, *mixed])).alerts]
    assert "D5-concerns-from-several-reporters" in rules
    refused = [{"at": f"2020-0{m}-01", "type": "conference_refused"} for m in (1, 9)]
    (alert,) = [a for a in engine.replay(chronology(refused)).alerts if a.rule.startswith("D11")]
    assert (alert.action, alert.params) == ("escalate_case", {"to": "senior_manager"})
    # Issue 12: a concern is how the risk becomes known, so concerns from two people
    # raise a strategy meeting even with no known risk to children.
    assert [a.rule for a in engine.replay(chronology(mixed)).alerts if a.rule.startswith("D5")] == [
        "D5-concerns-from-several-reporters"
    ]


CHANGED_RULES = """
rules:
  - id: lowered
    title: risk lowered for the same tool
    learning: l
    when:
      event: risk_assessed
      changed: {field: level, direction: down, same: [tool]}
    then:
      - {action: flag, reason: r}
  - id: raised
    title: risk raised, any tool
    learning: l
    when:
      event: risk_assessed
      changed: {field: level, direction: up}
    then:
      - {action: flag, reason: r}
"""


def assessed(day: int, tool: str, level: str) -> dict[str, Any]:
    return {
        "at": (BASE + timedelta(days=day)).isoformat(),
        "type": "risk_assessed",
        "tool": tool,
        "level": level,
    }


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([assessed(0, "A", "high"), assessed(1, "A", "medium")], ["lowered"]),
        ([assessed(0, "A", "high"), assessed(1, "B", "medium")], []),
        (
            [assessed(0, "A", "high"), assessed(1, "B", "low"), assessed(2, "A", "medium")],
            ["lowered", "raised"],
        ),
        ([assessed(0, "A", "low"), assessed(1, "A", "very_high")], ["raised"]),
        ([assessed(0, "A", "medium"), assessed(1, "A", "medium")], []),
        ([assessed(0, "A", "medium")], []),
    ],
    ids=[
        "lowered",
        "another tool",
        "against the previous of its tool",
        "raised",
        "unchanged",
        "no previous",
    ],
)
def test_changed_against_the_previous_event(
    tmp_path: Path, events: list[dict[str, Any]], expected: list[str]
) -> None:
    path = tmp_path / "changed.yaml"
    path.write_text(CHANGED_RULES)
    alerts = Engine(load_rules(path)).replay(chronology(events)).alerts
    assert (
        sorted(a.rule for a in alerts if a.at == BASE + timedelta(days=len(events) - 1)) == expected
    )


def test_changed_compares_a_number_named_level(tmp_path: Path) -> None:
    # A MAPPA level is a number and a risk level a word; the engine ranked the number
    # among the words and failed.
    path = tmp_path / "changed.yaml"
    path.write_text(
        CHANGED_RULES.replace("event: risk_assessed", "event: mappa_level_set").replace(
            "same: [tool]", "same: [area]"
        )
    )
    levels = [(0, 2), (1, 3), (2, 1)]
    events = [
        {"at": (BASE + timedelta(days=d)).isoformat(), "type": "mappa_level_set", "level": level}
        for d, level in levels
    ]
    alerts = Engine(load_rules(path)).replay(chronology(events)).alerts
    assert [(a.rule, (a.at - BASE).days) for a in alerts] == [("raised", 1), ("lowered", 2)]


def test_changed_needs_an_ordered_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        CHANGED_RULES.replace("field: level, direction: down", "field: tool, direction: down")
    )
    with pytest.raises(RuleFileError, match="'tool' cannot go down or up: it is text"):
        load_rules(path)


def test_worked_example_risk_lowered_after_changes(engine: Engine) -> None:
    (case,) = load_chronologies(MR_A)
    alerts = [a for a in engine.replay(case).alerts if a.rule.startswith("D6")]
    assert summary(alerts) == [
        ("2010-10-11", "D6-risk-lowered-after-a-change", "review_risk_management_plan"),
        ("2014-07-07", "D6-risk-lowered-after-a-change", "review_risk_management_plan"),
    ]
    events = {e.id: e for e in case.events}
    # The latest change before each lowering is named: the 2010 failure, the 2014 birth.
    assert [events[a.events[0]].type for a in alerts] == [
        "monitoring_software_failure",
        "child_joined_household",
    ]


THROTTLED = """
rules:
  - id: each
    title: every missing episode, at most once per 10 days per child
    learning: l
    when:
      event: child_missing
    then:
      - {action: flag, reason: r}
      - {action: convene_strategy_meeting, reason: r}
    throttle: {within: 10d, per: [child]}
  - id: case-wide
    title: at most once per 10 days in the case
    learning: l
    when:
      event: child_missing
    then:
      - {action: flag, reason: r}
    throttle: 10d
"""


@pytest.mark.parametrize(
    ("days", "child", "each", "case_wide"),
    [
        ([0, 10], "a", [0], [0]),
        ([0, 10.00001], "a", [0, 10.00001], [0, 10.00001]),
        ([0, 5, 12], "a", [0, 12], [0, 12]),
        ([0, 0], "a", [0], [0]),
        ([0, 1], "b", [0, 1], [0]),
    ],
    ids=[
        "exactly D later",
        "just over D later",
        "window from the last raised",
        "same instant",
        "per child",
    ],
)
def test_throttle(
    tmp_path: Path, days: list[float], child: str, each: list[float], case_wide: list[float]
) -> None:
    path = tmp_path / "throttle.yaml"
    path.write_text(THROTTLED)
    events = [missing(BASE + timedelta(days=days[0]), "a")] + [
        missing(BASE + timedelta(days=d), child) for d in days[1:]
    ]
    alerts = Engine(load_rules(path)).replay(chronology(events)).alerts

    def raised(rule: str) -> list[float]:
        return sorted({(a.at - BASE) / timedelta(days=1) for a in alerts if a.rule == rule})

    assert raised("each") == each
    assert raised("case-wide") == case_wide
    # Both actions of a raised firing are kept together.
    assert len([a for a in alerts if a.rule == "each"]) == 2 * len(each)


def test_default_throttles(engine: Engine) -> None:
    events = [missing(BASE + timedelta(days=d), "a") for d in range(0, 12, 2)]
    alerts = [a for a in engine.replay(chronology(events)).alerts if a.rule.startswith("D10-")]
    # Third episode on day 4 raises; days 6 to 10 are within the 30-day throttle.
    assert [(a.at - BASE).days for a in alerts] == [4]
