"""The rule language: loading, errors with positions, and the meaning of conditions."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import RULES, chronology
from triggers import CaseState, Engine, RuleFileError, load_rules
from triggers.cli import cli
from triggers.engine import event_values, state_values
from triggers.models.events import EVENT_TYPES
from triggers.rules import default_rules_path

HEADER = "rules:\n  - id: r1\n    title: t\n    learning: l\n"


def rule_file(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_rules_compile_and_have_their_learning() -> None:
    rules = load_rules(RULES)
    assert len(rules.rules) >= 9
    for rule in rules.rules:
        assert rule.title and rule.learning and rule.actions
        assert rule.source.file.endswith("core.yaml")
    assert default_rules_path().is_dir()


def test_the_version_follows_the_content(tmp_path: Path) -> None:
    text = (RULES / "core.yaml").read_text()
    a = load_rules(rule_file(tmp_path, text, "a.yaml"))
    b = load_rules(rule_file(tmp_path, text + "\n# a comment\n", "b.yaml"))
    assert a.version == load_rules(RULES).version
    assert a.version != b.version


FLAG = "    then:\n      - {action: flag, reason: r}\n"


def more_rules(last: int, when: Callable[[int], str]) -> str:
    """Rules r2..r`last` after the header's r1, each with `when(i)` as its `when` body."""
    return "".join(
        f"  - id: r{i}\n    title: t\n    learning: l\n    when:\n{when(i)}{FLAG}"
        for i in range(2, last + 1)
    )


def spread(i: int, offset: int = 0) -> str:
    """An event type chosen by number, so that generated rules spread over the catalogue."""
    return EVENT_TYPES[(i + offset) % len(EVENT_TYPES)]


BROKEN_RULES: list[tuple[str, str | list[str]]] = [
    (
        "    when:\n      event: new_pregnacy\n    then:\n      - {action: flag, reason: r}\n",
        "6:14: rules[0].when.event: unknown event type 'new_pregnacy'"
        " (did you mean 'new_pregnancy'?)",
    ),
    (
        "    when:\n      event: [arrest, convction]\n    then:\n      - {action: flag, reason: r}\n",
        "6:23: rules[0].when.event[1]: unknown event type 'convction' (did you mean 'conviction'?)",
    ),
    (
        "    when:\n      event: arrest\n      where:\n        categry: sexual\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:9: rules[0].when.where.categry: unknown field 'categry' for this rule's event type"
        " (did you mean 'category'?)",
    ),
    (
        "    when:\n      event: arrest\n      where:\n        category: sexy\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:19: rules[0].when.where.category: 'sexy' is not a possible 'category': expected one of"
        " 'sexual', 'violent', 'other' (did you mean 'sexual'?)",
    ),
    (
        "    when:\n      event: arrest\n      where:\n        category: {neq: sexual}\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:20: rules[0].when.where.category.neq: unknown operator 'neq': expected one of eq, ne,"
        " lt, le, gt, ge, in, not_in, present, includes, includes_any, excludes"
        " (did you mean 'ne'?)",
    ),
    (
        "    when:\n      event: arrest\n      where:\n        offence: {gt: x}\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:23: rules[0].when.where.offence.gt: 'offence' cannot be compared with 'gt': it is text,"
        " not a number or an ordered level",
    ),
    (
        "    when:\n      event: arrest\n      case:\n        risk_to_kids: true\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:9: rules[0].when.case.risk_to_kids: unknown case-state name 'risk_to_kids'"
        " (did you mean 'risk_to_children'?)",
    ),
    (
        "    when:\n      event: arrest\n      case:\n        registered: 'yes'\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:21: rules[0].when.case.registered: 'yes' is the wrong kind of value for 'registered':"
        " expected true or false",
    ),
    (
        "    when:\n      event: arrest\n      case:\n        active_plans: child_protection\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:23: rules[0].when.case.active_plans: 'active_plans' is a set: test it with 'includes',"
        " 'includes_any' or 'excludes'",
    ),
    (
        "    when:\n      event: arrest\n    then:\n      - {action: escalate, reason: r}\n",
        "8:18: rules[0].then[0].action: unknown action 'escalate': expected one of"
        " reopen_assessment, escalate_mappa, convene_strategy_meeting, notify_agency,"
        " review_risk_management_plan, escalate_case, flag, request_recall, circulate_wanted,"
        " request_medical, reallocate_case, check_household, enforce_order"
        " (did you mean 'escalate_case'?)",
    ),
    (
        "    when:\n      event: arrest\n    then:\n      - {action: notify_agency, reason: r}\n",
        "8:9: rules[0].then[0].params: action 'notify_agency' needs the param 'agency'",
    ),
    (
        "    when:\n      event: arrest\n    then:\n"
        "      - {action: escalate_mappa, params: {level: 4}, reason: r}\n",
        "8:50: rules[0].then[0].params.level: MAPPA escalation level must be 2 or 3, got 4",
    ),
    (
        "    when:\n      event: arrest\n    then:\n"
        "      - {action: flag, params: {agency: x}, reason: r}\n",
        "8:33: rules[0].then[0].params.agency: unknown param 'agency' for action 'flag'"
        " (it takes no params)",
    ),
    (
        "    when:\n      event: arrest\n    then:\n      - {action: flag, reason: '{event.ofence}'}\n",
        "8:32: rules[0].then[0].reason: the template names {event.ofence}, which this rule's event"
        " does not have (did you mean 'offence'?)",
    ),
    (
        "    when:\n      event: arrest\n    then:\n      - {action: flag, reason: '{event'}\n",
        "8:32: rules[0].then[0].reason: bad template: unmatched brace",
    ),
    (
        "    when:\n      event: arrest\n    then:\n      - {action: flag, reason: r, urgency: 1}\n",
        "8:35: rules[0].then[0].urgency: unknown key 'urgency'",
    ),
    (
        "    whn:\n      event: arrest\n    then:\n      - {action: flag, reason: r}\n",
        [
            "2:5: rules[0]: missing required key 'when'",
            "5:5: rules[0].whn: unknown key 'whn' (did you mean 'when'?)",
        ],
    ),
    (
        "    when:\n      event: arrest\n",
        "2:5: rules[0]: missing required key 'then'",
    ),
    (
        "    when:\n      event: arrest\n    then:\n      - {action: flag, reason: r}\n"
        "  - id: r1\n    title: t\n    learning: l\n    when:\n      event: arrest\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "9:9: rules[1].id: duplicate rule id 'r1' (first at {file}:2)",
    ),
    (
        "    when:\n      event: arrest\n      case:\n        active_plans: {present: true}\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:33: rules[0].when.case.active_plans.present: 'active_plans' is a set and always present:"
        " test it with 'includes', 'includes_any' or 'excludes'",
    ),
    (
        "    when:\n      event: arrest\n      where:\n        note: x\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:9: rules[0].when.where.note: 'note' cannot be tested by a rule: it is free text or an"
        " identity",
    ),
    (
        "    when:\n      event: conviction\n      where:\n        victim_age: 9223372036854775808\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "8:21: rules[0].when.where.victim_age: 9223372036854775808 is too large: whole numbers"
        " in rules have at most 15 digits",
    ),
    (
        "    when:\n      event: arrest\n      event: conviction\n"
        "    then:\n      - {action: flag, reason: r}\n",
        "7:7: rules[0].when.event: duplicate key 'event' (first at line 6)",
    ),
    (
        "    when:\n      event: arrest\n      after: {event: conviction, within: 3 fortnights}\n"
        + FLAG,
        "7:42: rules[0].when.after.within: '3 fortnights' is not a duration: write a whole number"
        " and a unit, such as 72h, 28d, 2w, 12 months or 1 year",
    ),
    (
        "    when:\n      event: child_missing\n      absent:\n        event: return_interview\n"
        "        within: 72h\n        where: {child: [a, b]}\n" + FLAG,
        "10:16: rules[0].when.absent.where: conditions on an absent event can only be all-of tests"
        " (equal, compare, present): 'any', 'not', lists of values and 'ne' cannot be checked for"
        " an absence; write one rule for each alternative",
    ),
    (
        "    when:\n      event: community_concern\n      count: {at_least: 0, within: 30d}\n"
        + FLAG,
        "7:25: rules[0].when.count.at_least: input should be greater than or equal to 2",
    ),
    (
        "    when:\n      event: community_concern\n"
        "      count: {at_least: 2, within: 30d, distinct: reportr}\n" + FLAG,
        "7:51: rules[0].when.count.distinct: this rule's event has no field 'reportr' to count"
        " (did you mean 'reporter'?)",
    ),
    (
        "    when:\n      event: risk_assessed\n      changed: {field: tool, direction: down}\n"
        + FLAG,
        "7:24: rules[0].when.changed.field: 'tool' cannot go down or up: it is text, not a number"
        " or an ordered level",
    ),
    (
        "    when:\n      event: child_missing\n    throttle: {within: 30d, per: [chld]}\n" + FLAG,
        "7:35: rules[0].throttle.per[0]: this rule's event has no field 'chld'"
        " (did you mean 'child'?)",
    ),
    (
        "    when:\n      event: arrest\n      after: {event: conviction, within: 1d}\n"
        "      absent: {event: conviction, within: 1d}\n" + FLAG,
        "8:15: rules[0].when.absent: a rule takes one time form: 'after' and 'absent' cannot be"
        " combined",
    ),
    (
        "    when:\n\t  event: arrest\n" + FLAG,
        "6:1: YAML syntax error: tabs are not allowed in YAML indentation; use spaces",
    ),
    (
        "    when:\n      event: [arrest\n" + FLAG,
        "7:9: YAML syntax error: expected ',' or ']', but got ':'",
    ),
    # durable_rules' own limits (docs/durable-rules.md), refused before they are reached.
    (
        "    when:\n      event: new_pregnancy\n      after: {event: arrest, within: 1d}\n"
        + FLAG
        + more_rules(
            65,
            lambda i: f"      event: new_pregnancy\n      after: {{event: arrest, within: {i}d}}\n",
        ),
        [
            f"514:5: rules[64].id: 65 rules involve {kind!r} events, but durable_rules matches one"
            " event against at most 64 rules: combine rules that share an event and actions, or"
            " remove some"
            for kind in ("arrest", "new_pregnancy")
        ],
    ),
    (
        "    when:\n      event: arrest\n      absent: {event: conviction, within: 1d}\n"
        + FLAG
        + more_rules(
            65,
            lambda i: (
                f"      event: {spread(i)}\n      absent: {{event: {spread(i, 1)}, within: 1d}}\n"
            ),
        ),
        "514:5: rules[64].id: a rule set may hold at most 64 rules with 'absent' (the engine's"
        " clock takes part in all of them) and this is number 65: combine absences that share a"
        " window",
    ),
    (
        "    when:\n      event: arrest\n      after: {event: conviction, within: 1h}\n"
        + FLAG
        + more_rules(
            80,
            lambda i: (
                f"      event: {spread(i)}\n      after: {{event: {spread(i, 1)}, within: {i}h}}\n"
            ),
        ),
        "522:5: rules[65].id: with this rule, a 'risk_assessed' event would carry 255 properties into"
        " durable_rules, which accepts at most 254: each different 'within' duration adds 3; use"
        " fewer different durations",
    ),
    (
        "    when:\n      event: arrest\n"
        + FLAG
        + more_rules(501, lambda i: f"      event: {spread(i)}\n"),
        "3502:5: rules[500].id: a rule set may hold at most 500 rules and this is rule 501: combine"
        " rules that share an event and actions, or remove some",
    ),
    (
        "    when:\n      event: arrest\n      after: {event: conviction, within: 1d}\n"
        + FLAG
        + more_rules(
            251,
            lambda i: (
                f"      event: {spread(i)}\n"
                f"      after: {{event: {spread(i, 5)}, within: {i % 40 + 1}d}}\n"
            ),
        ),
        "2002:5: rules[250].id: a rule set may hold at most 250 rules with 'after' or 'absent' and"
        " this is number 251: combine rules that share an event and actions, or remove some",
    ),
]


@pytest.mark.parametrize(("body", "expected"), BROKEN_RULES)
def test_rule_errors_name_file_line_and_column(
    tmp_path: Path, body: str, expected: str | list[str]
) -> None:
    path = rule_file(tmp_path, HEADER + body)
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    wanted = [expected] if isinstance(expected, str) else expected
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:{text.replace('{file}', str(path))}" for text in wanted
    ]


def test_broken_rules_table_is_large_enough() -> None:
    assert len(BROKEN_RULES) >= 25


@pytest.mark.parametrize(("body", "expected"), BROKEN_RULES)
def test_rules_check_exits_1_and_prints_each_problem(
    tmp_path: Path, body: str, expected: str | list[str]
) -> None:
    path = rule_file(tmp_path, HEADER + body)
    result = CliRunner().invoke(cli, ["rules", "check", str(path)])
    assert result.exit_code == 1
    # The console folds long lines; compare with whitespace runs collapsed.
    printed = " ".join(result.stderr.split())
    for text in [expected] if isinstance(expected, str) else expected:
        wanted = f"{path}:{text.replace('{file}', str(path))}"
        assert " ".join(wanted.split()) in printed


def test_all_problems_in_all_files_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    body = "    when:\n      event: nope\n    then:\n      - {action: nope, reason: r}\n"
    rule_file(folder, HEADER + body, "a.yaml")
    rule_file(folder, "rules:\n  - [\n", "b.yaml")
    with pytest.raises(RuleFileError) as caught:
        load_rules(folder)
    assert [(Path(p.file).name, p.line) for p in caught.value.problems] == [
        ("b.yaml", 3),
        ("a.yaml", 6),
        ("a.yaml", 8),
    ]


def test_missing_rule_path(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="no such rule file or directory"):
        load_rules(tmp_path / "absent.yaml")
    with pytest.raises(RuleFileError, match=r"no rule files \(\*.yaml\) in this directory"):
        load_rules(tmp_path)


# --- meaning: durable_rules and the condition tree agree --------------------------

CONDITIONS = {
    "eq": "victim_age: 12",
    "ne": "victim_age: {ne: 12}",
    "lt": "victim_age: {lt: 13}",
    "le": "victim_age: {le: 12}",
    "gt": "victim_age: {gt: 12}",
    "ge": "victim_age: {ge: 13}",
    "in": "victim_age: [3, 12]",
    "not_in": "victim_age: {not_in: [3, 12]}",
    "present": "victim_age: {present: true}",
    "absent": "victim_age: {present: false}",
    "not-lt": "not: {victim_age: {lt: 13}}",
    "not-any": "not: {any: [{victim_age: 12}, {category: sexual}]}",
    "enum-ge": "offence: x\n        category: {ne: other}",
}
STATE_CONDITIONS = {
    "includes": "active_plans: {includes: child_in_need}",
    "excludes": "active_plans: {excludes: child_in_need}",
    "includes_any": "plans_recorded: {includes_any: [child_in_need, written_agreement]}",
    "not-includes_any": "not: {plans_recorded: {includes_any: [child_in_need]}}",
    "mappa-not_in": "mappa_level: {not_in: [2, 3]}",
    "mappa-lt": "mappa_level: {lt: 3}",
    "not-mappa-ge": "not: {mappa_level: {ge: 2}}",
    "level-any": "any: [{registered: true}, {children_in_household: {ge: 2}}]",
}


def _conditions_file(tmp_path: Path) -> Path:
    text = "rules:\n"
    for name, condition in CONDITIONS.items():
        text += (
            f"  - id: where-{name}\n    title: t\n    learning: l\n    when:\n"
            f"      event: conviction\n      where:\n        {condition}\n"
            "    then:\n      - {action: flag, reason: r}\n"
        )
    for name, condition in STATE_CONDITIONS.items():
        text += (
            f"  - id: case-{name}\n    title: t\n    learning: l\n    when:\n"
            f"      event: conviction\n      case:\n        {condition}\n"
            "    then:\n      - {action: flag, reason: r}\n"
        )
    return rule_file(tmp_path, text)


PRELUDES: list[list[dict[str, Any]]] = [
    [],
    [{"at": "2000-01-01", "type": "plan_started", "plan": "child_in_need"}],
    [
        {"at": "2000-01-01", "type": "plan_started", "plan": "written_agreement"},
        {"at": "2000-01-01", "type": "mappa_level_set", "level": 2},
        {"at": "2000-01-01", "type": "registration_started"},
    ],
    [
        {"at": "2000-01-01", "type": "plan_started", "plan": "child_in_need"},
        {"at": "2000-02-01", "type": "plan_ended", "plan": "child_in_need"},
        {"at": "2000-01-01", "type": "mappa_level_set", "level": 3},
        {"at": "2000-01-01", "type": "child_joined_household", "child": "a"},
        {"at": "2000-01-01", "type": "child_joined_household", "child": "b"},
    ],
]
TRIGGERS = [
    {"at": "2001-01-01", "type": "conviction", "offence": offence, "category": category, **age}
    for offence, category, age in itertools.product(
        ["x", "y"],
        ["sexual", "other"],
        [{}, {"victim_age": 3}, {"victim_age": 12}, {"victim_age": 13}],
    )
]


def test_durable_rules_and_the_condition_tree_agree(tmp_path: Path) -> None:
    rules = load_rules(_conditions_file(tmp_path))
    engine = Engine(rules)
    checked = 0
    for prelude, trigger in itertools.product(PRELUDES, TRIGGERS):
        case = chronology([*prelude, trigger])
        got = sorted(a.rule for a in engine.replay(case).alerts if a.at.year == 2001)
        (event,) = [e for e in case.events if e.at.year == 2001]
        state = CaseState.from_events(e for e in case.in_event_order() if e.at.year < 2001)
        values = {"event": event_values(event), "state": state_values(state)}
        expected = sorted(r.id for r in rules.rules if r.matches("conviction", values))
        assert got == expected, (prelude, trigger)
        checked += 1
    assert checked == len(PRELUDES) * len(TRIGGERS) == 64


def test_several_event_types_share_their_values(tmp_path: Path) -> None:
    text = HEADER + (
        "    when:\n      event: [bail_lapsed, child_joined_household]\n"
        "      where:\n        reason: birth\n"
        "    then:\n      - {action: flag, reason: '{event.type}'}\n"
        "  - id: r2\n    title: t\n    learning: l\n    when:\n"
        "      event: [arrest, conviction]\n      where:\n        type: conviction\n"
        "    then:\n      - {action: flag, reason: r}\n"
    )
    engine = Engine(load_rules(rule_file(tmp_path, text)))
    events = [
        {"at": "2011-01-01", "type": "child_joined_household", "child": "a", "reason": "birth"},
        {"at": "2011-01-02", "type": "bail_lapsed", "reason": "expired"},
        {"at": "2011-01-03", "type": "arrest", "offence": "x", "category": "other"},
        {"at": "2011-01-04", "type": "conviction", "offence": "x", "category": "other"},
    ]
    alerts = engine.replay(chronology(events)).alerts
    assert [(a.rule, f"{a.at:%d}") for a in alerts] == [("r1", "01"), ("r2", "04")]
