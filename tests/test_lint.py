"""Warnings for rules that can never fire or that another rule shadows; engine limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import RULES, chronology
from tests.test_rules import FLAG, HEADER, more_rules, rule_file
from triggers import Engine, RuleFileError, load_rules
from triggers.cli import cli
from triggers.engine import durable
from triggers.engine.durable.limits import MAX_PROPERTIES, message_properties
from triggers.models.events import EVENT_TYPES


def warnings(tmp_path: Path, text: str) -> list[str]:
    """Each warning for the rule file `text`, without the file name."""
    path = rule_file(tmp_path, text)
    return [str(w).split(":", 1)[1] for w in load_rules(path).warnings]


def one_rule(when: str, then: str = FLAG) -> str:
    return HEADER + "    when:\n" + when + then


def second_rule(rule_id: str, when: str, then: str = FLAG) -> str:
    return f"  - id: {rule_id}\n    title: t\n    learning: l\n    when:\n{when}{then}"


NEVER = (
    "rule 'r1' can never fire: no event and case state can meet all of its conditions at once;"
    " check for tests that contradict each other"
)


@pytest.mark.parametrize(
    "when",
    [
        "      event: risk_assessed\n      where: {level: {lt: low}}\n",
        "      event: arrest\n      where:\n        category: sexual\n        not: {category: sexual}\n",
        "      event: conviction\n      where: {victim_age: {gt: 15, lt: 14}}\n",
        "      event: conviction\n      where: {victim_age: {gt: 15, lt: 16}}\n",
        "      event: arrest\n      where:\n        offence: {present: false}\n"
        "        all: [{offence: theft}]\n",
        "      event: arrest\n      case:\n        registered: true\n"
        "        all: [{registered: false}]\n",
        "      event: mappa_level_set\n      where: {level: {in: [1, 2]}}\n"
        "      case: {mappa_level: {gt: 3}}\n",
        "      event: arrest\n      case:\n        active_plans: {includes: child_in_need}\n"
        "        all: [{active_plans: {excludes: child_in_need}}]\n",
    ],
)
def test_contradictory_conditions_warn_that_the_rule_never_fires(tmp_path: Path, when: str) -> None:
    assert warnings(tmp_path, one_rule(when)) == [f"5:5: rules[0].when: {NEVER}"]


@pytest.mark.parametrize(
    "when",
    [
        "      event: risk_assessed\n      where: {level: {le: low}}\n",
        "      event: conviction\n      where: {victim_age: {gt: 14, lt: 16}}\n",
        "      event: arrest\n      where:\n        any: [{category: sexual}, {category: violent}]\n"
        "        not: {category: sexual}\n",
        "      event: arrest\n      where: {offence: {ne: theft}}\n",
        "      event: arrest\n      case:\n        active_plans: {includes: child_in_need}\n"
        "        all: [{active_plans: {excludes: written_agreement}}]\n",
    ],
)
def test_satisfiable_conditions_do_not_warn(tmp_path: Path, when: str) -> None:
    assert warnings(tmp_path, one_rule(when)) == []


def test_an_impossible_after_condition_and_an_impossible_distinct_count_warn(
    tmp_path: Path,
) -> None:
    text = one_rule(
        "      event: arrest\n      after:\n        event: risk_assessed\n        within: 1d\n"
        "        where: {level: {gt: very_high}}\n"
    ) + second_rule(
        "r2",
        "      event: plan_started\n      count: {at_least: 5, within: 30d, distinct: plan}\n",
    )
    assert warnings(tmp_path, text) == [
        "7:7: rules[0].when.after: rule 'r1' can never fire: no earlier event can meet the"
        " conditions under 'after'",
        "18:7: rules[1].when.count: rule 'r2' can never fire: 'plan' has only 4 possible values,"
        " fewer than at_least 5",
    ]


def test_a_rule_another_always_accompanies_is_shadowed(tmp_path: Path) -> None:
    text = one_rule("      event: arrest\n      where: {category: sexual}\n") + second_rule(
        "r2", "      event: [arrest, conviction]\n"
    )
    assert warnings(tmp_path, text) == [
        f"2:5: rules[0].id: rule 'r1' is shadowed by rule 'r2' ({tmp_path / 'rules.yaml'}:10):"
        " whenever 'r1' fires, 'r2' fires for the same events with the same actions, so it"
        " only adds duplicate alerts"
    ]


def test_identical_rules_warn_once_at_the_later(tmp_path: Path) -> None:
    when = "      event: arrest\n"
    found = warnings(tmp_path, one_rule(when) + second_rule("r2", when))
    assert len(found) == 1
    assert found[0].startswith("9:5: rules[1].id: rule 'r2' is shadowed by rule 'r1'")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Different actions: both alerts are wanted.
        (
            "      event: arrest\n",
            "      event: arrest\n",
        ),
        # The wider rule's condition does not cover the narrower one.
        (
            "      event: arrest\n      where: {category: sexual}\n",
            "      event: arrest\n      where: {category: violent}\n",
        ),
        # Different timing (a throttle would drop alerts the other raises).
        (
            "      event: arrest\n      after: {event: conviction, within: 1d}\n",
            "      event: arrest\n      after: {event: conviction, within: 2d}\n",
        ),
        # A `due` rule raises its alerts at deadlines, not at its triggers.
        (
            "      event: arrest\n",
            "      event: arrest\n      due: {event: conviction, state: highest_risk_level,"
            " every: {high: 30d}}\n",
        ),
        # A count's `unless` drops alerts the plain count raises.
        (
            "      event: arrest\n      count: {at_least: 2, within: 30d}\n",
            "      event: arrest\n      count: {at_least: 2, within: 30d,"
            " unless: {event: conviction}}\n",
        ),
    ],
)
def test_rules_that_add_something_are_not_shadowed(tmp_path: Path, first: str, second: str) -> None:
    other_action = "    then:\n      - {action: reopen_assessment, reason: r}\n"
    same_action = first == second
    text = one_rule(first) + second_rule("r2", second, other_action if same_action else FLAG)
    assert warnings(tmp_path, text) == []


def test_a_due_rule_whose_trigger_never_matches_still_fires(tmp_path: Path) -> None:
    when = (
        "      event: arrest\n      where: {all: [{category: sexual}, {category: violent}]}\n"
        "      due: {event: conviction, state: highest_risk_level, every: {high: 30d}}\n"
    )
    assert warnings(tmp_path, one_rule(when)) == []


def test_the_default_rules_have_no_warnings() -> None:
    assert load_rules(RULES).warnings == ()


def test_rules_check_prints_warnings_and_strict_fails_on_them(tmp_path: Path) -> None:
    path = rule_file(
        tmp_path, one_rule("      event: risk_assessed\n      where: {level: {lt: low}}\n")
    )
    result = CliRunner().invoke(cli, ["rules", "check", str(path)])
    assert result.exit_code == 0
    assert f"warning: {path}:5:5: rules[0].when: rule 'r1' can never fire" in result.stderr
    assert "no errors, 1 warning" in result.stderr
    strict = CliRunner().invoke(cli, ["rules", "check", "--strict", str(path)])
    assert strict.exit_code == 1


# --- limits -----------------------------------------------------------------------


def test_64_rules_on_one_event_run_in_durable_rules(tmp_path: Path) -> None:
    """The limit is durable_rules' own: one rule fewer than the refused table row runs."""
    text = one_rule(
        "      event: new_pregnancy\n      after: {event: arrest, within: 1d}\n"
    ) + more_rules(
        64,
        lambda i: f"      event: new_pregnancy\n      after: {{event: arrest, within: {i}d}}\n",
    )
    rules = load_rules(rule_file(tmp_path, text))
    case = chronology(
        [
            {"at": "2010-01-01", "type": "arrest", "offence": "x", "category": "other"},
            {"at": "2010-01-01", "type": "new_pregnancy"},
        ]
    )
    assert len(Engine(rules).replay(case).alerts) == 64


def _count(value: Any) -> int:
    """Properties of a fact as durable_rules counts them: nested ones too."""
    if not isinstance(value, dict):
        return 0
    return sum(1 + _count(item) for item in value.values())


def test_facts_never_carry_more_properties_than_the_limit_check_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = one_rule(
        "      event: risk_assessed\n      changed: {field: level, direction: down}\n"
        "      after: {event: [plan_started, plan_ended], within: 30d}\n"
    ) + second_rule(
        "r2",
        "      event: plan_started\n"
        "      absent: {event: [risk_assessed, plan_ended], within: 2w}\n",
    )
    rules = load_rules(rule_file(tmp_path, text))
    seen: list[dict[str, Any]] = []
    host = durable.get_host()
    original = host.assert_fact

    def record(name: str, fact: Any) -> Any:
        seen.append(dict(fact))
        return original(name, fact)

    monkeypatch.setattr(host, "assert_fact", record)
    plans = ["child_in_need", "child_protection", "written_agreement", "risk_management"]
    events: list[dict[str, Any]] = [
        {"at": f"2010-01-0{i + 1}", "type": "plan_started", "plan": plan, "source": "s"}
        for i, plan in enumerate(plans)
    ]
    events += [
        {"at": "2010-02-01", "type": "risk_assessed", "tool": "t", "level": "high",
         "towards": "children", "source": "s"},
        {"at": "2010-02-02", "type": "risk_assessed", "tool": "t", "level": "low",
         "towards": "children", "source": "s"},
        {"at": "2010-02-03", "type": "plan_ended", "plan": "risk_management", "contingency": True},
    ]  # fmt: skip
    Engine(rules).replay(chronology(events))
    facts = [fact for fact in seen if fact.get("kind") == "event"]
    assert {fact["event"]["type"] for fact in facts} == {
        "plan_started",
        "risk_assessed",
        "plan_ended",
    }
    for fact in facts:
        estimate = message_properties(fact["event"]["type"], rules.rules)
        assert _count(fact) <= estimate <= MAX_PROPERTIES


def test_a_rule_set_at_the_limits_compiles(tmp_path: Path) -> None:
    # 64 absent rules (the clock's limit) and 71 different windows (the properties' limit).
    absent = more_rules(
        64,
        lambda i: (
            f"      event: {EVENT_TYPES[i % 24]}\n"
            f"      absent: {{event: {EVENT_TYPES[(i + 1) % 24]}, within: {i}h}}\n"
        ),
    )
    text = one_rule("      event: arrest\n      absent: {event: conviction, within: 1h}\n")
    rules = load_rules(rule_file(tmp_path, text + absent))
    assert len(rules.rules) == 64
    with pytest.raises(RuleFileError):
        load_rules(
            rule_file(
                tmp_path,
                text
                + absent
                + second_rule(
                    "r65", "      event: arrest\n      absent: {event: arrest, within: 1d}\n"
                ),
                "more.yaml",
            )
        )


#: Case conditions that take 2 + 2 + 8 * 2 + 4 + 4 + 2 + 2 = 32 places in the trigger's
#: pattern ('ne' is an `$or`, 'not_in' an `$or` of an `$and`); 30 with one 'ne' less.
INTRICATE = (
    "      event: community_concern\n"
    "      where: {reporter: {not_in: [a, b]}, concern: {not_in: [a, b]},"
    " source: {ne: a}, reporter_type: {ne: parent}}\n"
    "      case: {risk_to_children: {ne: true}, registered: {ne: true},"
    " mappa_managed: {ne: true}, mappa_level: {ne: 1}, mappa_area: {ne: a}, area: {ne: a},"
    " children_in_household: {ne: 1}, partner_has_children: {ne: true}}\n"
)


def test_conditions_too_intricate_for_durable_rules_are_refused(tmp_path: Path) -> None:
    # durable_rules refused such a rule set when it was registered (error 113).
    with pytest.raises(
        RuleFileError, match="take 32 places in its list of one event's tests, which holds 31"
    ):
        load_rules(rule_file(tmp_path, one_rule(INTRICATE)))
    simpler = INTRICATE.replace(", reporter_type: {ne: parent}", "")
    rules = load_rules(rule_file(tmp_path, one_rule(simpler), "simpler.yaml"))
    event = {"at": "2010-01-01", "type": "community_concern", "reporter": "c"}
    assert len(Engine(rules).replay(chronology([event])).alerts) == 1
