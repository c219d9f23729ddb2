"""Limits on rule-test files: a test file just inside every limit loads and its tests run;
one just outside is refused, at its key, with the limit in the message; hostile files
are refused quickly (in a subprocess, so that a regression fails rather than hangs)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import ROOT, expected_problems, printed_problems
from triggers import CompiledRuleSet, RuleTestError, load_rule_tests, load_rules, run_rule_tests

HOSTILE = ROOT / "tests" / "data" / "hostile-rules"
#: A rule id of the longest length a rule file allows.
RULE = "r" * 100
AGENCY = "a" * 1000
PARAMS = f"params: {{agency: {AGENCY}"

RULES = f"""\
rules:
  - id: {RULE}
    title: t
    learning: l
    when:
      event: new_pregnancy
    then:
      - {{action: flag, reason: r}}
      - {{action: reopen_assessment, reason: r, params: {{agency: {AGENCY}}}}}
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> CompiledRuleSet:
    path = tmp_path_factory.mktemp("rules") / "long.yaml"
    path.write_text(RULES)
    return load_rules(path)


def alerts(n: int, alert: str = f"{{rule: {RULE}, action: flag, at: 2011-01-03}}") -> str:
    return f"      - {alert}\n" * n


def a_test(
    *,
    name: str = "n",
    expect: str = alerts(1),
    forbid: str = "",
    extra: str = "",
) -> str:
    """One test, in a file of its own: its name is on line 2, its expect list on line 6."""
    return (
        f"  - name: {name}\n    events:\n      - {{at: 2011-01-03, type: new_pregnancy}}\n"
        f"    expect:\n{expect}" + (f"    forbid:\n{forbid}" if forbid else "") + extra
    )


def write(tmp_path: Path, *tests: str, before: str = "") -> Path:
    path = tmp_path / "long.test.yaml"
    path.write_text(before + "tests:\n" + "".join(tests))
    return path


def problems(path: Path, rules: CompiledRuleSet) -> list[str]:
    with pytest.raises(RuleTestError) as caught:
        load_rule_tests([path], rules)
    return [str(p) for p in caught.value.problems]


# (test text just inside a limit, test text just outside it, the problem without the file)
CASES = {
    "test name": (
        a_test(name="n" * 200),
        a_test(name="n" * 201),
        "2:11: tests[0].name: a test name is at most 200 characters and this one has 201",
    ),
    "rule": (
        a_test(),
        a_test(expect=alerts(1, f"{{rule: {'r' * 101}, action: flag}}")),
        "6:16: tests[0].expect[0].rule: a rule id is at most 100 characters and this one has 101",
    ),
    "action": (
        a_test(expect=alerts(1, "{action: reopen_assessment, at: 2011-01-03}")),
        a_test(expect=alerts(1, f"{{action: {'f' * 10_000_000}, at: 2011-01-03}}")),
        "6:18: tests[0].expect[0].action: an action is at most 64 characters and this one has"
        " 10000000",
    ),
    "param": (
        a_test(expect=alerts(1, f"{{action: reopen_assessment, at: 2011-01-03, {PARAMS}}}}}")),
        a_test(expect=alerts(1, f"{{action: reopen_assessment, at: 2011-01-03, {PARAMS}a}}}}")),
        "6:70: tests[0].expect[0].params.agency: a param is at most 1000 characters and this"
        " one has 1001",
    ),
    "expected alerts": (
        a_test(expect=alerts(100)),
        a_test(expect=alerts(101)),
        "6:7: tests[0].expect: a test lists at most 100 expected alerts and this one has 101:"
        " split it into several tests",
    ),
    "forbidden alerts": (
        a_test(forbid=alerts(100, "{action: flag, at: 2012-01-03}")),
        a_test(forbid=alerts(101, "{action: flag, at: 2012-01-03}")),
        "8:7: tests[0].forbid: a test lists at most 100 forbidden alerts and this one has 101:"
        " split it into several tests",
    ),
    "until": (
        a_test(extra="    until: 2011-01-03T00:00:00.000000+00:00\n"),
        a_test(extra="    until: " + "x" * 201 + "\n"),
        "7:12: tests[0].until: a value is at most 200 characters and this one has 201",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_just_inside_a_limit_loads_and_passes(
    tmp_path: Path, rules: CompiledRuleSet, name: str
) -> None:
    tests = load_rule_tests([write(tmp_path, CASES[name][0])], rules)
    assert [result.passed for result in run_rule_tests(tests, rules)] == [True]


@pytest.mark.parametrize("name", list(CASES))
def test_just_outside_a_limit_is_refused_when_read(
    tmp_path: Path, rules: CompiledRuleSet, name: str
) -> None:
    path = write(tmp_path, CASES[name][1])
    assert problems(path, rules) == [f"{path}:{CASES[name][2]}"]


def test_a_test_file_holds_at_most_1000_tests(tmp_path: Path, rules: CompiledRuleSet) -> None:
    inside = write(tmp_path, *(a_test(name=f"t{i}") for i in range(1000)))
    assert len(load_rule_tests([inside], rules)) == 1000
    path = write(tmp_path, *(a_test(name=f"t{i}") for i in range(1001)))
    assert problems(path, rules) == [
        f"{path}:5002:5: tests[1000].name: a rule-test file holds at most 1000 tests and this"
        " is test 1001: split the tests into several files beside the rules"
        " (core.<topic>.test.yaml)"
    ]


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        (
            "{action: reopen_assessment, params: {" + "a" * 65 + ": x}}",
            "6:46: tests[0].expect[0].params.'"
            + "a" * 27
            + "..."
            + "a" * 28
            + "': a name is at most 64 characters and this one has 65",
        ),
        (
            "{action: reopen_assessment, params: {agency: 1000000000000000}}",
            "6:54: tests[0].expect[0].params.agency: 1000000000000000 is too large: whole"
            " numbers in rule tests have at most 15 digits",
        ),
        (
            "{action: flag, at: [" + ", ".join(["2011-01-03"] * 257) + "]}",
            "6:28: tests[0].expect[0].at: a list in a test holds at most 256 values and this"
            " one has 257",
        ),
        (
            "{action: flag, params: {agency: " + "[" * 21 + "x" + "]" * 21 + "}}",
            "2:5: tests[0]: a test nests mappings and lists at most 24 deep",
        ),
    ],
    ids=["param name", "whole number", "list", "nesting"],
)
def test_other_inputs_of_an_alert_are_bounded(
    tmp_path: Path, rules: CompiledRuleSet, written: str, problem: str
) -> None:
    path = write(tmp_path, a_test(expect=alerts(1, written)))
    assert problems(path, rules) == [f"{path}:{problem}"]


def test_a_long_unknown_key_is_shortened_and_not_matched(
    tmp_path: Path, rules: CompiledRuleSet
) -> None:
    key = "t" * 1000  # YAML's longest plain key
    path = write(tmp_path, a_test(), before=f"{key}: 1\n")
    shortened = "'" + "t" * 27 + "..." + "t" * 28 + "'"
    assert problems(path, rules) == [
        f"{path}:1:1: {shortened}: unknown key {shortened}: expected tests"
    ]


def test_the_first_10_unknown_rules_of_a_file_get_a_suggestion(tmp_path: Path) -> None:
    # A short id: "did you mean" is sought only for names of 64 characters or fewer.
    rule = "D9-a-short-rule-about-something"
    rules_path = tmp_path / "short.yaml"
    rules_path.write_text(RULES.replace(RULE, rule))
    rules = load_rules(rules_path)
    unknown = [rule[:-2] + f"{i:02d}" for i in range(25)]
    path = write(
        tmp_path,
        a_test(
            expect="".join(
                alerts(1, f"{{rule: {rule}, action: flag, at: 2011-01-03}}") for rule in unknown
            )
        ),
        a_test(
            name="again", expect=alerts(1, f"{{rule: {unknown[0]}, action: flag, at: 2011-01-03}}")
        ),
    )
    with pytest.raises(RuleTestError) as caught:
        load_rule_tests([path], rules)
    assert [p.suggestion for p in caught.value.problems] == [rule] * 10 + [None] * 15 + [rule]


def _spread_rules(n: int) -> str:
    """`n` rules with ids of 100 characters, spread over the event types of the catalogue."""
    types = ["new_pregnancy", "conviction", "arrest", "registration_started"]
    return "rules:\n" + "".join(
        f"  - id: {hashlib.sha256(str(i).encode()).hexdigest() * 2}"[:108]
        + f"\n    title: t\n    learning: l\n    when:\n      event: {types[i % len(types)]}\n"
        "    then:\n      - {action: flag, reason: r}\n"
        for i in range(n)
    )


def test_unknown_rules_are_checked_quickly_against_a_large_rule_set(tmp_path: Path) -> None:
    # Each "did you mean" compares a long name with every rule id (0.2 s here): unbounded,
    # the 10,000 unknown rules below would take half an hour.
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(_spread_rules(500))
    unknown = (hashlib.sha256(b"unknown").hexdigest() * 2)[:80]
    tests = [
        a_test(
            name=f"t{t}",
            expect="".join(
                alerts(1, f"{{rule: {unknown}{t}x{i}, action: flag, at: 2011-01-03}}")
                for i in range(100)
            ),
        )
        for t in range(100)
    ]
    tests_path = write(tmp_path, *tests)
    printed = printed_problems(
        "load_rule_tests([sys.argv[2]], read_rules(sys.argv[1]))",
        str(rules_path),
        str(tests_path),
    ).splitlines()
    assert len(printed) == 10_000
    assert not any("did you mean" in line for line in printed)


@pytest.mark.parametrize("path", sorted(HOSTILE.glob("*.test.yaml")), ids=lambda p: p.name)
def test_hostile_test_files_are_refused_quickly_at_their_key(path: Path) -> None:
    problems = printed_problems("load_rule_tests([sys.argv[1]], load_rules())", str(path))
    assert problems == expected_problems(path)
