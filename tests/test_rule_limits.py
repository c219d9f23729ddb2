"""Limits on rule files: a rule file that `read_rules` passes loads in the engine and
replays; one just outside a limit is refused, at its key, with the limit in the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MR_A, ROOT, expected_problems, printed_problems
from triggers import Engine, RuleFileError, load_rules, parse_chronology
from triggers.rules import read_rules

HOSTILE = ROOT / "tests" / "data" / "hostile-rules"


def rule(
    *,
    id: str = "r1",
    title: str = "t",
    learning: str = "l",
    when: str = "      event: conviction\n",
    then: str = "      - {action: flag, reason: r}\n",
    extra: str = "",
) -> str:
    return (
        f"  - id: {id}\n    title: {title}\n    learning: {learning}\n"
        f"    when:\n{when}    then:\n{then}{extra}"
    )


def write(tmp_path: Path, *rules: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n" + "".join(rules))
    return path


def where(condition: str, event: str = "conviction") -> str:
    return f"      event: {event}\n      where:\n        {condition}\n"


def values(n: int) -> str:
    return "[" + ", ".join(f"v{i}" for i in range(n)) + "]"


def nested(depth: int) -> str:
    """`all` and `any` nested `depth` deep, as a condition block's line."""
    inner = "{category: sexual}"
    for level in range(depth - 1):
        inner = f"{{{'any' if level % 2 else 'all'}: [{inner}, {{victim_age: {level}}}]}}"
    return f"{'any' if depth % 2 == 0 else 'all'}: [{inner}, {{victim_age: 99}}]"


# (rule text just inside a limit, rule text just outside it, the problem without the file)
CASES = {
    # Text from a rule file reaches alerts, the store and terminals: no control characters.
    "control character in a title": (
        rule(title='"tab\tand newline\n"'),
        rule(title='"clear \\x1b[2J"'),
        "3:12: rules[0].title: a title contains the control character U+001B (character 7):"
        " remove it; tab and newline are the only control characters allowed",
    ),
    "control character in a reason": (
        rule(then="      - {action: flag, reason: 'ok'}\n"),
        rule(then='      - {action: flag, reason: "x\\0y"}\n'),
        "8:32: rules[0].then[0].reason: a reason contains the control character U+0000"
        " (character 2): remove it; tab and newline are the only control characters allowed",
    ),
    "rule id": (
        rule(id="r" * 100),
        rule(id="r" * 101),
        "2:9: rules[0].id: a rule id is at most 100 characters and this one has 101",
    ),
    "title": (
        rule(title="t" * 200),
        rule(title="t" * 201),
        "3:12: rules[0].title: a title is at most 200 characters and this one has 201",
    ),
    "learning": (
        rule(learning="l" * 4000),
        rule(learning="l" * 4001),
        "4:15: rules[0].learning: the learning is at most 4000 characters and this one has 4001",
    ),
    "reason": (
        rule(then=f"      - {{action: flag, reason: {'r' * 1000}}}\n"),
        rule(then=f"      - {{action: flag, reason: {'r' * 1001}}}\n"),
        "8:32: rules[0].then[0].reason: a reason is at most 1000 characters and this one has 1001",
    ),
    "event type": (
        rule(),
        rule(when="      event: " + "x" * 10_000_000 + "\n"),
        "6:14: rules[0].when.event: an event type is at most 64 characters and this one has"
        " 10000000",
    ),
    "field name": (
        rule(when=where("offence: x")),
        rule(when=where("o" * 65 + ": x")),
        "8:9: rules[0].when.where.'"
        + "o" * 27
        + "..."
        + "o" * 28
        + "': a name is at most 64 characters and"
        " this one has 65",
    ),
    "in list": (
        rule(when=where(f"offence: {values(256)}")),
        rule(when=where(f"offence: {values(257)}")),
        "8:18: rules[0].when.where.offence: a list in a rule holds at most 256 values and this"
        " one has 257: split the rule, or test a broader value",
    ),
    "actions": (
        rule(then="      - {action: flag, reason: r}\n" * 20),
        rule(then="      - {action: flag, reason: r}\n" * 21),
        "8:7: rules[0].then: a rule has at most 20 actions and this one has 21",
    ),
    "nesting of any and all": (
        rule(when=where(nested(8))),
        rule(when=where(nested(9))),
        "8:65: rules[0].when.where.all[0].any[0].all[0].any[0].all[0].any[0].all[0].any[0].all:"
        " 'any', 'all' and 'not' nest at most 8 deep: write the conditions flatter, or split"
        " the rule",
    ),
    "throttle": (
        rule(extra="    throttle: 100 years\n"),
        rule(extra="    throttle: 1201 months\n"),
        "9:15: rules[0].throttle: '1201 months' is too long: a duration is at most 100 years"
        " (1200 months, 36525 days)",
    ),
    "window": (
        rule(when="      event: conviction\n      after: {event: arrest, within: 36525d}\n"),
        rule(when="      event: conviction\n      after: {event: arrest, within: 36526d}\n"),
        "7:38: rules[0].when.after.within: '36526d' is too long: a duration is at most 100"
        " years (1200 months, 36525 days)",
    ),
    "act_within with 5,000 digits": (
        rule(then="      - {action: flag, reason: r, act_within: 876600h}\n"),
        rule(then="      - {action: flag, reason: r, act_within: " + "9" * 5000 + "d}\n"),
        "8:47: rules[0].then[0].act_within: a duration is at most 32 characters and this one"
        " has 5001",
    ),
    "whole number": (
        rule(when=where("victim_age: 999999999999999")),
        rule(when=where("victim_age: 1000000000000000")),
        "8:21: rules[0].when.where.victim_age: 1000000000000000 is too large: whole numbers in"
        " rules have at most 15 digits",
    ),
    "tiny decimal": (
        rule(when=where("hours: {ge: 0.0001}", "child_missing")),
        rule(when=where("hours: {ge: 0.00001}", "child_missing")),
        "8:21: rules[0].when.where.hours.ge: 1e-05 is too small: decimals in rules are 0 or at"
        " least 0.0001 in size",
    ),
    "large decimal": (
        rule(when=where("hours: {lt: 1000000000.0}", "child_missing")),
        rule(when=where("hours: {lt: 1.0e+308}", "child_missing")),
        "8:21: rules[0].when.where.hours.lt: 1e+308 is too large: decimals in rules are at most"
        " 1,000,000,000",
    ),
    "infinite decimal": (
        rule(when=where("hours: {lt: 24.5}", "child_missing")),
        rule(when=where("hours: {lt: .inf}", "child_missing")),
        "8:21: rules[0].when.where.hours.lt: inf is not a number a rule can test: numbers in"
        " rules are finite",
    ),
}


def _replays(rules_path: Path) -> None:
    rules = load_rules(rules_path)
    (case,) = parse_chronology(MR_A.read_text(), str(MR_A))
    Engine(rules).replay(case)


@pytest.mark.parametrize("name", list(CASES))
def test_just_inside_a_limit_loads_in_the_engine_and_replays(tmp_path: Path, name: str) -> None:
    _replays(write(tmp_path, CASES[name][0]))


@pytest.mark.parametrize("name", list(CASES))
def test_just_outside_a_limit_is_refused_when_read(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, CASES[name][1])
    with pytest.raises(RuleFileError) as caught:
        read_rules(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}:{CASES[name][2]}"]


def test_a_rule_file_holds_at_most_500_rules(tmp_path: Path) -> None:
    path = write(tmp_path, *(rule(id=f"r{i}") for i in range(600)))
    with pytest.raises(RuleFileError) as caught:
        read_rules(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3502:5: rules[500].id: a rule set may hold at most 500 rules and this is rule"
        " 501: combine rules that share an event and actions, or remove some"
    ]


def _spread(rules: int, each: int) -> list[str]:
    """`rules` rules on one event type, each testing `each` values no other rule tests."""
    return [
        rule(id=f"r{k}", when=where(f"offence: [{', '.join(f'v{k}_{i}' for i in range(each))}]"))
        for k in range(rules)
    ]


def test_values_over_the_rules_of_an_event_type_are_bounded(tmp_path: Path) -> None:
    # durable_rules hangs at 512 different tests after one (10 rules of 60 values hung).
    _replays(write(tmp_path, *_spread(10, 50)))
    path = write(tmp_path, *_spread(10, 60))
    read_rules(path)  # the language allows it: the engine's limit
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:74:5: rules[8].id: with this rule, 501 different tests follow one test in"
        " durable_rules' network of tests, which holds 500 (lists of values and 'any' add one"
        " for each value, over every rule of an event type): use fewer different values, or"
        " combine rules"
    ]


def _absences(n: int) -> str:
    items = ", ".join(["*a"] * (n - 1))
    return rule(when=where(f"any: [&a {{offence: {{present: false}}}}, {items}]"))


def test_not_recorded_tests_after_one_test_are_bounded(tmp_path: Path) -> None:
    # durable_rules refused 130 with error 107 (EngineError, no file or line).
    _replays(write(tmp_path, _absences(127)))
    path = write(tmp_path, _absences(130))
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2:5: rules[0].id: with this rule, 128 different 'not recorded' tests follow"
        " one test in durable_rules' network of tests, which holds 127 (lists of values and"
        " 'any' add one for each value, over every rule of an event type): use fewer"
        " different values, or combine rules"
    ]


@pytest.mark.parametrize(
    "path",
    sorted(p for p in HOSTILE.glob("*.yaml") if not p.name.endswith(".test.yaml")),
    ids=lambda p: p.name,
)
def test_hostile_rule_files_are_refused_quickly_at_their_key(path: Path) -> None:
    assert printed_problems("load_rules(sys.argv[1])", str(path)) == expected_problems(path)
