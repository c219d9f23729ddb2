"""The rule-language forms of issue 12: each at its edges, in the engine and the reference.

`differ:`, throttles that an event resets, counts over several event types,
absence before the trigger, counts that an `unless:` event cancels and events `due:`
within a period set by case state. Every case is replayed by both evaluators, which must
raise exactly the alerts listed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import chronology
from triggers import Engine, ReferenceEngine, RuleFileError, load_rules
from triggers.engine.explain import explain
from triggers.engine.explain.text import render

T0 = datetime(2020, 3, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def event(n: float, event_type: str, **fields: Any) -> dict[str, Any]:
    return {"at": day(n).isoformat(), "type": event_type, **fields}


def rule_file(tmp_path: Path, when: str, extra: str = "") -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - id: r\n    title: t\n    learning: l\n    when:\n"
        + "".join(f"      {line}\n" for line in when.strip().splitlines())
        + "    then:\n      - {action: flag, reason: r}\n"
        + "".join(f"    {line}\n" for line in extra.strip().splitlines())
    )
    return path


def alerts(
    tmp_path: Path,
    when: str,
    events: list[dict[str, Any]],
    extra: str = "",
    until: datetime | None = None,
) -> list[tuple[float, tuple[str, ...]]]:
    """(day of the alert, ids of its events) of every alert; both evaluators must agree."""
    rules = load_rules(rule_file(tmp_path, when, extra))
    case = chronology([{**e, "id": f"e{i}"} for i, e in enumerate(events)])
    got = Engine(rules).replay(case, until)
    expected = ReferenceEngine(rules).replay(case, until)
    assert got.alerts == expected.alerts
    for alert in got.alerts:
        explained = explain(rules, case, alert, until)  # explaining a new form never fails
        assert explained.reproduced
        assert render(explained)
    return [((a.at - T0) / timedelta(days=1), a.events) for a in got.alerts]


def problems(tmp_path: Path, when: str, extra: str = "") -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_rules(rule_file(tmp_path, when, extra))
    return [str(p).rsplit("/", 1)[-1] for p in caught.value.problems]


# --- differ ------------------------------------------------------------------------

DIFFER = """
event: risk_assessed
after: {event: risk_assessed, within: 30d, differ: [tool], where: {level: high}}
"""


def test_differ_needs_another_value_recorded_on_both(tmp_path: Path) -> None:
    events = [
        event(0, "risk_assessed", tool="rm2000", level="high"),
        event(10, "risk_assessed", tool="rm2000", level="low"),  # same tool: no
        event(20, "risk_assessed", tool="oasys", level="low"),  # differs from e0
    ]
    assert alerts(tmp_path, DIFFER, events) == [(20, ("e0", "e2"))]


def test_differ_names_the_latest_other_that_differs(tmp_path: Path) -> None:
    events = [
        event(0, "risk_assessed", tool="a", level="high"),
        event(5, "risk_assessed", tool="b", level="high"),
        event(30, "risk_assessed", tool="b", level="low"),  # e1 is the same tool; e0 at 30d
    ]
    assert alerts(tmp_path, DIFFER, events) == [
        (5, ("e0", "e1")),
        (30, ("e0", "e2")),
    ]


def test_differ_with_a_mapping_and_same(tmp_path: Path) -> None:
    when = """
event: child_missing
after: {event: return_interview, within: 10d, differ: {child: child}}
"""
    events = [
        event(0, "return_interview", child="a"),
        event(0, "child_missing", child="a"),
        event(1, "child_missing", child="b"),
    ]
    assert alerts(tmp_path, when, events) == [(1, ("e0", "e2"))]


def test_differ_misuse_is_reported(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        "event: child_missing\nabsent: {event: return_interview, within: 3d, differ: [child]}",
    ) == [
        "rules.yaml:7:53: rules[0].when.absent.differ: 'differ' is only for 'after' and"
        " 'absent' with 'before': an 'absent' event that differs cannot be waited for; write"
        " the values it must not have in its 'where'"
    ]
    assert problems(
        tmp_path,
        "event: child_missing\nafter: {event: return_interview, within: 3d, differ: [hours],"
        " same: [child]}",
    ) == ["rules.yaml:7:60: rules[0].when.after.differ: the other event has no field 'hours'"
          " to compare"]  # fmt: skip
    assert problems(
        tmp_path,
        "event: child_missing\nafter: {event: return_interview, within: 3d, differ: [child],"
        " same: [child]}",
    ) == ["rules.yaml:7:60: rules[0].when.after.differ: 'child' cannot be both the same and"
          " different"]  # fmt: skip


# --- throttle reset ----------------------------------------------------------------

RESET = "throttle: {within: 30d, reset_by: [strategy_meeting, mappa_review]}"


@pytest.mark.parametrize(
    ("meeting", "expected"),
    [
        (None, [0, 31]),  # no reset: day 10 and 30 are held back, 31 is past the window
        (5, [0, 10]),  # a decision between two concerns ends the window; 30, 31 within 10's
        (10, [0, 10]),  # at the new concern's moment: it is raised
        (0, [0, 31]),  # at the moment of the alert that opened the window: no reset
        (30, [0, 30]),  # day 31 falls within the window opened again on day 30
    ],
)
def test_a_decision_resets_the_throttle(
    tmp_path: Path, meeting: float | None, expected: list[float]
) -> None:
    events = [event(n, "community_concern", reporter="x") for n in (0, 10, 30, 31)]
    if meeting is not None:
        events.append(event(meeting, "strategy_meeting"))
    got = alerts(tmp_path, "event: community_concern", events, RESET)
    assert [at for at, _ in got] == expected


def test_a_reset_ends_every_key_and_a_deadline_after_it(tmp_path: Path) -> None:
    when = "event: child_missing\nabsent: {event: return_interview, within: 3d}"
    extra = "throttle: {within: 30d, per: [child], reset_by: mappa_review}"
    events = [
        event(0, "child_missing", child="a"),
        event(1, "child_missing", child="a"),
        event(2, "child_missing", child="b"),
        event(4, "mappa_review", level=1),  # at e1's deadline: it passes after the review
        event(6, "child_missing", child="b"),
    ]
    assert alerts(tmp_path, when, events, extra, until=day(20)) == [
        (3, ("e0",)),
        (4, ("e1",)),
        (5, ("e2",)),
    ]


def test_throttle_reset_misuse_is_reported(tmp_path: Path) -> None:
    extra = "throttle: {within: 30d, reset_by: [strategy_meting]}"
    assert problems(tmp_path, "event: community_concern", extra) == [
        "rules.yaml:9:40: rules[0].throttle.reset_by[0]: unknown event type 'strategy_meting'"
        " (did you mean 'strategy_meeting'?)"
    ]


# --- counts across several event types ---------------------------------------------

SIGNALS = """
event: [community_concern, child_missing, mappa_review]
count: {at_least: 3, within: 30d}
"""


def test_a_count_across_several_event_types(tmp_path: Path) -> None:
    events = [
        event(0, "community_concern", reporter="x"),
        event(10, "child_missing", child="a"),
        event(20, "return_interview", child="a"),  # not a signal
        event(30, "mappa_review", level=1),  # day 0 is exactly 30 days back: counted
        event(31, "community_concern", reporter="y"),  # day 0 is out: 10, 30, 31
        event(61, "child_missing", child="b"),  # 31, 61 only
    ]
    assert alerts(tmp_path, SIGNALS, events) == [
        (30, ("e0", "e1", "e3")),
        (31, ("e1", "e3", "e4")),
    ]


def test_a_count_across_types_takes_simultaneous_events_in_event_order(tmp_path: Path) -> None:
    events = [
        event(0, "mappa_review", level=1),
        event(0, "child_missing", child="a"),
        event(0, "community_concern", reporter="x"),
    ]
    # Catalogue order: the third in event order is the trigger, whatever the file order.
    (alert,) = alerts(tmp_path, SIGNALS, events)
    assert alert[0] == 0 and sorted(alert[1]) == ["e0", "e1", "e2"]


# --- absence before ----------------------------------------------------------------

BEFORE = """
event: child_missing
absent: {event: return_interview, within: 10d, before: true, same: [child]}
"""


@pytest.mark.parametrize(
    ("gap", "fires"),
    [(0, False), (5, False), (10, False), (10.25, True), (30, True)],
)
def test_absence_before_at_its_edges(tmp_path: Path, gap: float, fires: bool) -> None:
    events = [event(0, "return_interview", child="a"), event(gap, "child_missing", child="a")]
    expected = [(gap, ("e1",))] if fires else []
    assert alerts(tmp_path, BEFORE, events) == expected


def test_absence_before_another_child_and_later_events(tmp_path: Path) -> None:
    events = [
        event(0, "return_interview", child="b"),  # another child
        event(1, "child_missing", child="a"),
        event(2, "return_interview", child="a"),  # after the trigger: too late to count
        event(20, "child_missing", child="a"),
        event(20, "return_interview", child="a"),  # simultaneous: in the window
    ]
    assert alerts(tmp_path, BEFORE, events) == [(1, ("e1",))]


def test_absence_before_of_the_same_kind_looks_at_earlier_ones_in_event_order(
    tmp_path: Path,
) -> None:
    when = "event: risk_assessed\nabsent: {event: risk_assessed, within: 30d, before: true}"
    events = [
        event(0, "risk_assessed", tool="b", level="low"),
        event(0, "risk_assessed", tool="a", level="low"),
        event(40, "risk_assessed", tool="a", level="low"),
    ]
    # e0 and e1 are simultaneous; in event order (by id) e0 comes first and breaks e1's.
    assert alerts(tmp_path, when, events) == [(0, ("e0",)), (40, ("e2",))]


def test_absence_before_with_alternatives_and_differ(tmp_path: Path) -> None:
    when = """
event: risk_assessed
where: {level: low}
absent:
  event: risk_assessed
  within: 28d
  before: true
  where: {any: [{level: [high, very_high]}, {towards: children}]}
"""
    events = [
        event(0, "risk_assessed", tool="a", level="high"),
        event(10, "risk_assessed", tool="a", level="low"),  # e0 in the window
        event(40, "risk_assessed", tool="b", level="medium", towards="public"),  # neither
        event(50, "risk_assessed", tool="a", level="low"),
    ]
    assert alerts(tmp_path, when, events) == [(50, ("e3",))]
    differ = when.replace("before: true", "before: true\n  differ: [tool]")
    # e0 was made with the same tool: it does not count against the absence.
    assert alerts(tmp_path, differ, events[:2]) == [(10, ("e1",))]


def test_absence_before_misuse_is_reported(tmp_path: Path) -> None:
    assert problems(
        tmp_path, "event: child_missing\nafter: {event: return_interview, within: 3d, before: true}"
    ) == [
        "rules.yaml:7:52: rules[0].when.after.before: 'before' is only for 'absent': 'after'"
        " always looks before the triggering event"
    ]
    assert problems(
        tmp_path,
        "event: child_missing\nabsent: {event: return_interview, within: 3d, before: 1}",
    ) == ["rules.yaml:7:61: rules[0].when.absent.before: input should be a valid boolean"]
    assert problems(
        tmp_path,
        "event: child_missing\nabsent: {event: return_intervew, within: 3d, before: true}\n"
        "count: {at_least: 2, within: 3d}",
    ) == [
        "rules.yaml:7:23: rules[0].when.absent.event: unknown event type 'return_intervew'"
        " (did you mean 'return_interview'?)",
        "rules.yaml:8:14: rules[0].when.count: a rule takes one time form: 'absent' and"
        " 'count' cannot be combined",
    ]


# --- a count with an event that cancels it ------------------------------------------

UNLESS = """
event: child_missing
count:
  at_least: 3
  within: 30d
  same: [child]
  unless: {event: return_interview, same: [child]}
"""


@pytest.mark.parametrize(
    ("interview", "fires"),
    [(-0.25, True), (0, False), (5, False), (20, False), (20.25, True)],
)
def test_count_unless_at_its_edges(tmp_path: Path, interview: float, fires: bool) -> None:
    events = [
        event(0, "child_missing", child="a"),
        event(10, "child_missing", child="a"),
        event(20, "child_missing", child="a"),
        event(interview, "return_interview", child="a"),
    ]
    # From the first counted event's moment to the trigger's, both included.
    expected = [(20.0, ("e0", "e1", "e2"))] if fires else []
    assert alerts(tmp_path, UNLESS, events) == expected


def test_count_unless_another_child_where_and_a_later_window(tmp_path: Path) -> None:
    when = UNLESS.replace(
        "{event: return_interview, same: [child]}",
        "{event: return_interview, same: [child], where: {source: police}}",
    )
    events = [
        event(0, "child_missing", child="a"),
        event(5, "return_interview", child="b", source="police"),  # another child
        event(6, "return_interview", child="a", source="school"),  # not the police's
        event(10, "child_missing", child="a"),
        event(20, "child_missing", child="a"),  # fires: nothing cancels it
        event(25, "return_interview", child="a", source="police"),
        event(35, "child_missing", child="a"),  # 10, 20, 35: the interview at 25 cancels
        event(50, "child_missing", child="a"),  # 20, 35, 50: so does it
        event(56, "child_missing", child="a"),  # 35, 50, 56: after the interview, fires
    ]
    assert alerts(tmp_path, when, events) == [
        (20.0, ("e0", "e3", "e4")),
        (56.0, ("e6", "e7", "e8")),
    ]


def test_count_unless_at_the_same_moment_as_the_trigger(tmp_path: Path) -> None:
    events = [
        event(0, "child_missing", child="a"),
        event(1, "child_missing", child="a"),
        event(2, "return_interview", child="a"),  # after the trigger in event order
        event(2, "child_missing", child="a"),
    ]
    assert alerts(tmp_path, UNLESS, events) == []
    # Without the `unless`, the count fires as before.
    plain = "event: child_missing\ncount: {at_least: 3, within: 30d, same: [child]}"
    assert alerts(tmp_path, plain, events) == [(2.0, ("e0", "e1", "e3"))]


def test_count_unless_misuse_is_reported(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        "event: child_missing\ncount: {at_least: 2, within: 3d, unless: {event: child_missing}}",
    ) == [
        "rules.yaml:7:56: rules[0].when.count.unless.event: 'child_missing' is counted by"
        " this rule: an 'unless' event is of other types"
    ]
    assert problems(
        tmp_path,
        "event: child_missing\ncount: {at_least: 2, within: 3d,"
        " unless: {event: return_interview, within: 3d}}",
    ) == ["rules.yaml:7:74: rules[0].when.count.unless.within: unknown key 'within'"]
    assert problems(
        tmp_path,
        "event: child_missing\ncount: {at_least: 2, within: 3d,"
        " unless: {event: [return_interview, child_missing], where: {sauce: police}}}",
    ) == [
        "rules.yaml:7:75: rules[0].when.count.unless.event[1]: 'child_missing' is counted by"
        " this rule: an 'unless' event is of other types",
        "rules.yaml:7:99: rules[0].when.count.unless.where.sauce: unknown field 'sauce' for"
        " this rule's event type (did you mean 'source'?)",
    ]
    assert problems(
        tmp_path,
        "event: child_missing\ncount: {at_least: 2, within: 3d,"
        " unless: {event: return_interview, where: {sauce: police}}}",
    ) == [
        "rules.yaml:7:82: rules[0].when.count.unless.where.sauce: unknown field 'sauce' for"
        " this rule's event type (did you mean 'source'?)"
    ]
    assert problems(
        tmp_path,
        "event: child_missing\ncount: {at_least: 2, within: 3d,"
        " unless: {event: return_interview, same: {childd: child, child: name}}}",
    ) == [
        "rules.yaml:7:89: rules[0].when.count.unless.same.childd: the unless event has no"
        " field 'childd' to compare (did you mean 'child'?)",
        "rules.yaml:7:103: rules[0].when.count.unless.same.child: the triggering event has no"
        " field 'name' to compare",
    ]


def test_count_unless_is_explained(tmp_path: Path) -> None:
    rules = load_rules(rule_file(tmp_path, UNLESS))
    case = chronology(
        [{**event(n, "child_missing", child="a"), "id": f"e{n}"} for n in (0, 10, 20)]
    )
    (alert,) = Engine(rules).replay(case).alerts
    text = render(explain(rules, case, alert))
    assert any(line.startswith("    no return_interview from 2020-03-01") for line in text)


# --- an event due within a period set by case state ---------------------------------

DUE = """
event: risk_assessed
due:
  event: home_visit
  where: {outcome: seen}
  state: risk_towards_children
  every: {high: 3 months, medium: 6 months, low: 12 months}
"""


def assessed(n: float, level: str) -> dict[str, Any]:
    return event(n, "risk_assessed", tool="rm2000", level=level, towards="children")


def days(moment: str) -> float:
    return (datetime.fromisoformat(moment + "T00:00:00+00:00") - T0) / timedelta(days=1)


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        ("2020-05-31", []),
        ("2020-06-01", ["2020-06-01"]),  # the deadline itself is reached
        ("2020-08-31", ["2020-06-01"]),
        ("2020-09-01", ["2020-06-01", "2020-09-01"]),  # re-armed from the missed deadline
        ("2021-03-01", ["2020-06-01", "2020-09-01", "2020-12-01", "2021-03-01"]),
    ],
)
def test_due_fires_once_per_missed_period(tmp_path: Path, until: str, expected: list[str]) -> None:
    got = alerts(tmp_path, DUE, [assessed(0, "high")], until=day(days(until)))
    assert got == [(days(d), ("e0",)) for d in expected]


def test_due_visits_restart_the_clock_and_meet_a_deadline_at_its_moment(
    tmp_path: Path,
) -> None:
    events = [
        assessed(0, "high"),
        event(days("2020-06-01"), "home_visit", outcome="seen"),  # at the deadline: in time
        event(days("2020-08-01"), "home_visit", outcome="not_in"),  # not seen: no restart
        event(days("2020-09-01"), "home_visit", outcome="refused_entry"),  # ... at the deadline
    ]
    got = alerts(tmp_path, DUE, events, until=day(days("2020-12-01")))
    assert got == [(days("2020-09-01"), ("e1",)), (days("2020-12-01"), ("e1",))]
    # A trigger restarts the clock whatever it is: here every visit.
    every_visit = DUE.replace("event: risk_assessed", "event: [risk_assessed, home_visit]")
    got = alerts(tmp_path, every_visit, events, until=day(days("2020-12-01")))
    assert got == [(days("2020-12-01"), ("e3",))]


def test_due_periods_follow_the_state(tmp_path: Path) -> None:
    events = [
        assessed(0, "high"),
        assessed(days("2020-07-01"), "low"),  # a trigger: restarts on the low period
        assessed(days("2021-08-01"), "very_high"),  # no period for very_high: no clock
    ]
    got = alerts(tmp_path, DUE, events, until=day(days("2023-01-01")))
    assert got == [(days("2020-06-01"), ("e0",)), (days("2021-07-01"), ("e1",))]
    # Only visits restart it: an assessment changes the period from the next deadline.
    visits = DUE.replace("event: risk_assessed", "event: home_visit")
    events = [
        assessed(-1, "high"),
        event(0, "home_visit", outcome="seen"),
        assessed(days("2020-05-01"), "medium"),
    ]
    got = alerts(tmp_path, visits, events, until=day(days("2021-01-01")))
    assert got == [(days("2020-06-01"), ("e1",)), (days("2020-12-01"), ("e1",))]


def test_due_with_changed_compares_only_the_rules_own_events(tmp_path: Path) -> None:
    when = (
        DUE.replace("event: home_visit", "event: mappa_review").replace(
            "  where: {outcome: seen}\n", ""
        )
        + "changed: {field: level, direction: down}\n"
    )
    events = [
        assessed(0, "high"),
        event(1, "mappa_review", level=2),  # a number: never compared with a risk level
        assessed(2, "medium"),  # down: restarts the clock (6 months)
    ]
    got = alerts(tmp_path, when, events, until=day(days("2020-09-03")))
    assert got == [(days("2020-09-03"), ("e2",))]


def test_due_is_explained(tmp_path: Path) -> None:
    rules = load_rules(rule_file(tmp_path, DUE))
    case = chronology(
        [
            {**assessed(0, "high"), "id": "e0"},
            {**assessed(days("2020-05-01"), "low"), "id": "e1"},
            {**event(days("2020-06-01"), "home_visit", outcome="seen"), "id": "e2"},
        ]
    )
    raised = Engine(rules).replay(case, day(days("2022-06-01"))).alerts
    assert [(a.at, a.events) for a in raised] == [
        (day(days("2021-06-01")), ("e2",)),
        (day(days("2022-06-01")), ("e2",)),
    ]
    explained = explain(rules, case, raised[1])
    assert explained.reproduced and explained.timing.due is not None
    due = explained.timing.due
    assert (due.started_by, due.missed_before, due.value, due.period) == (
        "e2",
        (day(days("2021-06-01")),),
        "low",
        "12 months",
    )
    assert any(
        line.startswith("  due: home_visit every {high: 3 months") for line in render(explained)
    )


def test_due_misuse_is_reported(tmp_path: Path) -> None:
    def due(**parts: str) -> str:
        body = {"event": "home_visit", "state": "risk_towards_children", "every": "{low: 1d}"}
        body.update(parts)
        return (
            "event: risk_assessed\ndue: {" + ", ".join(f"{k}: {v}" for k, v in body.items()) + "}"
        )

    assert problems(tmp_path, due(state="risk_towards_childen")) == [
        "rules.yaml:7:39: rules[0].when.due.state: unknown case-state name"
        " 'risk_towards_childen' (did you mean 'risk_towards_children'?)"
    ]
    assert problems(tmp_path, due(state="on_licence")) == [
        "rules.yaml:7:39: rules[0].when.due.state: 'on_licence' is true or false: a period"
        " is set by a value from a list, such as a risk level or the MAPPA level"
    ]
    assert problems(tmp_path, due(every="{hgih: 3 months, low: 12h}")) == [
        "rules.yaml:7:70: rules[0].when.due.every.hgih: 'risk_towards_children' is never"
        " 'hgih': it is one of 'low', 'medium', 'high', 'very_high' (did you mean 'high'?)",
        "rules.yaml:7:91: rules[0].when.due.every.low: '12h' is too short: a due period is"
        " at least 1 day (the clock re-arms at each missed deadline)",
    ]
    assert problems(tmp_path, due(every="{}")) == [
        "rules.yaml:7:69: rules[0].when.due.every: dictionary should have at least 1 item"
        " after validation, not 0"
    ]
    assert problems(tmp_path, due() + "\ncount: {at_least: 2, within: 3d}") == [
        "rules.yaml:7:12: rules[0].when.due: a rule takes one time form: 'count' and 'due'"
        " cannot be combined"
    ]


# --- lists of values on an event (scales) --------------------------------------------

SCALES = """
event: risk_assessed
where:
  scales: {present: true}
  any:
    - scales: {excludes: violence}
    - scales: {includes_any: [combined]}
"""


def test_an_events_list_of_values_is_tested_as_a_set(tmp_path: Path) -> None:
    events = [
        event(0, "risk_assessed", tool="t", level="high", scales=["sexual"]),  # no violence
        event(1, "risk_assessed", tool="t", level="high", scales=["sexual", "violence"]),
        event(2, "risk_assessed", tool="t", level="high", scales=["violence", "combined"]),
        event(3, "risk_assessed", tool="t", level="high", scales=[]),  # recorded, empty
        event(4, "risk_assessed", tool="t", level="high"),  # not recorded
    ]
    assert alerts(tmp_path, SCALES, events) == [(0, ("e0",)), (2, ("e2",)), (3, ("e3",))]


def test_an_events_list_of_values_takes_set_tests_only(tmp_path: Path) -> None:
    assert problems(tmp_path, "event: risk_assessed\nwhere: {scales: sexual}") == [
        "rules.yaml:7:23: rules[0].when.where.scales: 'scales' is a set: test it with"
        " 'includes', 'includes_any', 'excludes' or 'present'"
    ]
    assert problems(tmp_path, "event: risk_assessed\nwhere: {scales: {includes: sexuall}}") == [
        "rules.yaml:7:34: rules[0].when.where.scales.includes: 'sexuall' can never be in"
        " 'scales': expected one of 'sexual', 'violence', 'combined' (did you mean 'sexual'?)"
    ]


def test_fields_holding_lists_are_not_compared(tmp_path: Path) -> None:
    # A list has no one value to compare: the engine would have failed on it.
    assert problems(
        tmp_path, "event: risk_assessed\nchanged: {field: level, direction: down, same: [scales]}"
    ) == [
        "rules.yaml:7:55: rules[0].when.changed.same[0]: 'scales' is a set of 'sexual',"
        " 'violence', 'combined': fields are compared (same, differ, distinct, per) by one"
        " value each, not by lists; name a field with one value"
    ]
    assert problems(
        tmp_path, "event: bail_granted\ncount: {at_least: 2, within: 30d, distinct: conditions}"
    ) == [
        "rules.yaml:7:51: rules[0].when.count.distinct: 'conditions' is a list: fields are"
        " compared (same, differ, distinct, per) by one value each, not by lists; name a"
        " field with one value"
    ]
