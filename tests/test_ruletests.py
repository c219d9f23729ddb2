"""Rule tests in YAML beside the rules: the shipped ones pass, failures and bad files are shown."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import RULES
from triggers import (
    CompiledRuleSet,
    RuleFileError,
    RuleTestError,
    load_rule_tests,
    load_rules,
    rule_test_files,
    run_rule_tests,
)
from triggers.cli import cli
from triggers.rules import rule_files

CORE_TESTS = RULES / "core.test.yaml"
D1_TEST = "D1 fires on a pregnancy in the household of a man with a sexual conviction"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["rules", "test", *args], catch_exceptions=False)


def copy_rules(tmp_path: Path) -> Path:
    """The shipped rules and their tests, copied where a test may change them."""
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    return folder


def line_of(text: str, needle: str, after: int = 0) -> int:
    """The 1-based number of the first line at or after line `after` containing `needle`."""
    lines = text.splitlines()
    return next(i for i in range(max(after - 1, 0), len(lines)) if needle in lines[i]) + 1


def write_tests(folder: Path, text: str, name: str = "core.test.yaml") -> Path:
    folder.mkdir(exist_ok=True)
    shutil.copy(RULES / "core.yaml", folder / "core.yaml")
    path = folder / name
    path.write_text(text)
    return path


# --- the shipped tests ----------------------------------------------------------------


def test_the_default_rules_pass_their_tests() -> None:
    result = run()
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout == ""
    count = len(load_rule_tests([CORE_TESTS], load_rules(RULES)))
    assert result.stderr.strip() == f"{count} tests, 0 failed"


def test_every_default_rule_is_shown_firing_and_not_firing(
    default_rules: CompiledRuleSet,
) -> None:
    tests = load_rule_tests(rule_test_files(RULES), default_rules)
    for rule in default_rules.rules:
        # Firing: every action of the rule, at a date, with the action's parameters.
        for action in rule.actions:
            assert any(
                rule.id in pattern.rule_ids
                and pattern.action == action.action
                and pattern.at is not None
                and set(action.params) <= set(pattern.params)
                for test in tests
                for pattern in test.expect
            ), f"no test shows {rule.id} raising {action.action} with its date and params"
        # Not firing: a near miss that forbids the rule.
        assert any(rule.id in pattern.rule_ids for test in tests for pattern in test.forbid), (
            f"no test shows {rule.id} not firing"
        )


def test_rule_files_are_not_test_files() -> None:
    assert [path.name for path in rule_files(RULES)] == ["core.yaml"]
    with pytest.raises(RuleFileError, match="this is a rule test file"):
        load_rules(CORE_TESTS)


# --- failures ---------------------------------------------------------------------------


def test_a_changed_expected_date_fails_with_expected_versus_got(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    tests = folder / "core.test.yaml"
    text = tests.read_text()
    test_line = line_of(text, f"- name: {D1_TEST}")
    expect_line = line_of(text, "- rule: D1-pregnancy-or-new-child", after=test_line)
    at_line = line_of(text, "at: 2011-01-03", after=expect_line)
    lines = text.splitlines(keepends=True)
    lines[at_line - 1] = lines[at_line - 1].replace("2011-01-03", "2011-01-02")
    tests.write_text("".join(lines))

    result = run(str(folder))

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tests}:{test_line}: test '{D1_TEST}'",
        f"    expected (line {expect_line}): reopen_assessment from D1-pregnancy-or-new-child"
        " on 2011-01-02 with agency=childrens_services",
        "    got:                reopen_assessment from D1-pregnancy-or-new-child"
        " on 2011-01-03 with agency=childrens_services",
    ]
    count = len(load_rule_tests([tests], load_rules(folder)))
    assert result.stderr.strip() == f"{count} tests, 1 failed"


def test_a_forbidden_alert_that_is_raised_fails(tmp_path: Path) -> None:
    path = write_tests(
        tmp_path / "rules",
        """\
tests:
  - name: registration ended, so no D1 (wrongly)
    events:
      - {at: 2010-01-05, type: registration_started}
      - {at: 2011-01-03, type: new_pregnancy}
    forbid:
      - {rule: D1}
      - {rule: D9-new-offence}
""",
    )
    result = run(str(path.parent / "core.yaml"))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:2: test 'registration ended, so no D1 (wrongly)'",
        "    forbidden (line 7): any alert from D1",
        "    got:                reopen_assessment from D1-pregnancy-or-new-child"
        " on 2011-01-03 with agency=childrens_services",
    ]
    # Every rule this one test leaves unproved is named, then counted in the summary.
    rules = load_rules(path.parent / "core.yaml").rules
    lines = result.stderr.splitlines()
    assert lines[0] == "warning: rule D1-pregnancy-or-new-child has no test that expects it to fire"
    assert lines[1] == "warning: rule D2-monitoring-failure has no test"
    assert "warning: rule D9-new-offence has no test that expects it to fire" in lines
    assert len(lines) == len(rules) + 1
    assert lines[-1] == f"1 test, 1 failed, {len(rules)} rule(s) not fully tested"


def test_a_rule_with_no_near_miss_is_reported(tmp_path: Path) -> None:
    path = write_tests(
        tmp_path / "rules",
        """\
tests:
  - name: D1 fires
    events:
      - {at: 2010-01-05, type: registration_started}
      - {at: 2011-01-03, type: new_pregnancy}
    expect:
      - {rule: D1, action: reopen_assessment, at: 2011-01-03}
""",
    )
    result = run(str(path.parent / "core.yaml"))
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        "warning: rule D1-pregnancy-or-new-child has no test of a near miss that forbids it"
    )


def test_a_missing_alert_lists_what_was_raised_and_why_the_clock_matters(
    tmp_path: Path, default_rules: CompiledRuleSet
) -> None:
    path = write_tests(
        tmp_path / "rules",
        """\
tests:
  - name: a missing child
    events:
      - {at: 2020-01-01T10:00:00Z, type: child_missing, child: a}
    expect:
      - {rule: D10b, action: flag, at: 2020-01-04}
  - name: nothing happens
    events: []
    expect:
      - {action: escalate_case, at: 2020-01-01}
  - name: the wrong action
    events:
      - {at: 2010-01-05, type: registration_started}
      - {at: 2011-01-03, type: new_pregnancy}
    expect:
      - {action: flag, at: 2011-01-03}
""",
    )
    results = run_rule_tests(load_rule_tests([path], default_rules), default_rules)
    assert [(r.name, r.file, r.line, r.passed) for r in results] == [
        ("a missing child", str(path), 2, False),
        ("nothing happens", str(path), 7, False),
        ("the wrong action", str(path), 11, False),
    ]
    assert results[0].failures[0].explain() == [
        "expected (line 6): flag from D10b on 2020-01-04",
        "got:               no alerts at all",
        "note: the clock stopped at 2020-01-01 10:00 UTC, before the expected alert;"
        " give the test an 'until' date to run it on",
    ]
    assert results[1].failures[0].explain() == [
        "expected (line 10): escalate_case on 2020-01-01",
        "got:                no alerts at all",
    ]
    assert results[2].failures[0].explain() == [
        "expected (line 16): flag on 2011-01-03",
        "got:                no flag; the alerts raised were",
        "                    reopen_assessment from D1-pregnancy-or-new-child on 2011-01-03"
        " with agency=childrens_services",
    ]


def test_what_an_expected_alert_matches(tmp_path: Path, default_rules: CompiledRuleSet) -> None:
    path = write_tests(
        tmp_path / "rules",
        """\
tests:
  - name: the keys given must match, and only those
    events:
      - {at: 2020-01-01T10:00:00Z, type: child_missing, child: a}
      - {at: 2020-01-02, type: monitoring_software_failure}
      - {at: 2020-01-03, type: registration_started}
      - {at: 2020-01-04, type: bail_lapsed, reason: expired, id: bail}
    until: 2020-01-10
    expect:
      - {action: flag, at: 2020-01-04}                        # any time that day
      - {action: flag, at: "2020-01-04T10:00:00Z"}            # that moment
      - {rule: D2, action: review_risk_management_plan, at: 2020-01-02}
      - {action: escalate_mappa, at: 2020-01-04, params: {level: "2"}}
    forbid:
      - {action: flag, at: 2020-01-04T10:00:01Z}
      - {rule: D2-monitoring-failure-children}                # not D2's other rule
      - {params: {level: 3}}
""",
    )
    (result,) = run_rule_tests(load_rule_tests([path], default_rules), default_rules)
    assert result.passed, [f.explain() for f in result.failures]
    patterns = load_rule_tests([path], default_rules)[0].expect
    assert patterns[2].rule_ids == (
        "D2-monitoring-failure",
        "D2-monitoring-failure-children",
        "D2-monitoring-failure-children-plan",
    )


# --- broken test files --------------------------------------------------------------------

BROKEN = """\
tests:
  - name: several problems at once
    evnts: []
    events:
      - {at: 2011-06-20, type: new_pregnacy}
      - {at: 2011-13-45, type: registration_ended}
    until: soon
    expect:
      - {rule: D99, action: flg, at: 2012-01-01}
      - {rule: D3-moved-area, action: escalate_mappa, at: 2011-02-30}
      - {action: notify_agency, at: 2011-01-01, params: {agncy: police, level: 2}}
      - {rule: D1}
    forbid:
      - {}
  - name: several problems at once
    events: []
    forbid: [{action: flag}]
  - {events: [], case: 7, expect: [], extra: 1}
  - just text
"""

BROKEN_PROBLEMS = [
    "3:5: tests[0].evnts: unknown key 'evnts': expected name, case, events, until, expect,"
    " forbid (did you mean 'events'?)",
    "5:32: tests[0].events[0].type: unknown event type 'new_pregnacy'"
    " (did you mean 'new_pregnancy'?)",
    "6:14: tests[0].events[1].at: invalid date '2011-13-45': expected an ISO 8601 date or"
    " date-time, such as 2011-06-20 or 2011-06-20T14:30:00Z",
    "7:12: tests[0].until: invalid date 'soon': expected an ISO 8601 date or date-time,"
    " such as 2011-06-20 or 2011-06-20T14:30:00Z",
    "9:16: tests[0].expect[0].rule: unknown rule 'D99': no rule in the rule set has this id"
    " (did you mean 'D9'?)",
    "9:29: tests[0].expect[0].action: unknown action 'flg': expected one of reopen_assessment,"
    " escalate_mappa, convene_strategy_meeting, notify_agency, review_risk_management_plan,"
    " escalate_case, flag, request_recall, circulate_wanted, request_medical, reallocate_case,"
    " check_household, enforce_order (did you mean 'flag'?)",
    "10:39: tests[0].expect[1].action: rule 'D3-moved-area' never raises 'escalate_mappa':"
    " it raises notify_agency",
    "10:59: tests[0].expect[1].at: invalid date '2011-02-30': expected an ISO 8601 date or"
    " date-time, such as 2011-06-20 or 2011-06-20T14:30:00Z",
    "11:58: tests[0].expect[2].params.agncy: unknown parameter 'agncy' for action"
    " 'notify_agency': expected agency (did you mean 'agency'?)",
    "11:73: tests[0].expect[2].params.level: unknown parameter 'level' for action"
    " 'notify_agency': expected agency",
    "12:9: tests[0].expect[3]: missing required key 'action' for an expected alert",
    "12:9: tests[0].expect[3]: missing required key 'at' for an expected alert",
    "14:9: tests[0].forbid[0]: a forbidden alert needs at least one of rule, action, at, params",
    "15:11: tests[1].name: duplicate test name 'several problems at once' (first at line 2)",
    "18:5: tests[2]: missing required key 'name' (what the test shows)",
    "18:24: tests[2].case: 'case' must be text; quote an id that looks like a number,"
    ' such as case: "010"',
    "18:39: tests[2].extra: unknown key 'extra': expected name, case, events, until, expect,"
    " forbid",
    "19:5: tests[3]: a test is a mapping with 'name', 'events' and 'expect' or 'forbid'",
]


def test_a_broken_test_file_reports_every_problem_with_its_place(
    tmp_path: Path, default_rules: CompiledRuleSet
) -> None:
    path = write_tests(tmp_path / "rules", BROKEN)
    with pytest.raises(RuleTestError) as caught:
        load_rule_tests([path], default_rules)
    # In the order of the file, each at its line and column.
    assert [str(p) for p in caught.value.problems] == [f"{path}:{p}" for p in BROKEN_PROBLEMS]


def test_the_command_shows_the_problems_and_exits_1(tmp_path: Path) -> None:
    path = write_tests(tmp_path / "rules", BROKEN)
    result = run(str(path.parent))
    assert result.exit_code == 1
    assert result.stdout == ""
    err = result.stderr
    assert f"error: {path}:5:32: tests[0].events[0].type: unknown event type 'new_pregnacy'" in err
    assert "      - {at: 2011-06-20, type: new_pregnacy}\n" in err  # the line, with a caret
    assert f"{len(BROKEN_PROBLEMS)} problems in {path}" in err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", ": a rule test file is a mapping with a 'tests' list, got nothing"),
        ("- a\n", ":1:1: a rule test file is a mapping with a 'tests' list, got list"),
        ("tests: {}\n", ":1:8: tests: 'tests' must be a list of tests"),
        ("tests:\n", ":1:7: tests: 'tests' must be a list of tests"),
        (
            "tests: [\n",
            ":2:1: YAML syntax error: expected the node content, but found '<stream end>'",
        ),
        (
            "tests:\n  - {name: x, events: []}\n",
            ":2:5: tests[0]: a test needs 'expect' (alerts that must be raised) or 'forbid'",
        ),
        (
            "tests:\n  - {name: x, events: [{at: 2011-01-02, type: registration_ended}],"
            " until: 2011-01-01, forbid: [{rule: D1}]}\n",
            ":2:76: tests[0].until: 'until' (2011-01-01) is before the last event (2011-01-02):"
            " it would not run the clock on",
        ),
        (
            "tests:\n  - {name: x, events: [], forbid: [{params: {level: true}}]}\n",
            ":2:53: tests[0].forbid[0].params.level: parameter 'level' must be text or a whole"
            " number",
        ),
    ],
    ids=[
        "empty",
        "a list",
        "tests not a list",
        "tests empty",
        "syntax",
        "no expect",
        "until",
        "bool",
    ],
)
def test_malformed_test_files(
    tmp_path: Path, default_rules: CompiledRuleSet, text: str, problem: str
) -> None:
    path = write_tests(tmp_path / "rules", text)
    with pytest.raises(RuleTestError) as caught:
        load_rule_tests([path], default_rules)
    assert [str(p) for p in caught.value.problems] == [f"{path}{problem}"]


# --- finding test files --------------------------------------------------------------------


def names(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def test_tests_are_found_beside_the_rules(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    for name in ["core.yaml", "extra.yaml"]:
        write_tests(folder, "", name)
    for name in ["core.test.yaml", "core.children.test.yml", "extra.test.yaml", "notes.yaml.bak"]:
        (folder / name).write_text("tests: []\n")
    assert names(rule_test_files(folder)) == [
        "core.children.test.yml",
        "core.test.yaml",
        "extra.test.yaml",
    ]
    assert names(rule_test_files(folder / "core.yaml")) == [
        "core.children.test.yml",
        "core.test.yaml",
    ]
    assert names(rule_test_files()) == ["core.test.yaml"]
    with pytest.raises(RuleTestError, match=r"no rule tests \(\*.test.yaml\) beside the rules"):
        rule_test_files(tmp_path)


def test_no_tests_beside_a_rule_file_exits_1(tmp_path: Path) -> None:
    rules = tmp_path / "mine.yaml"
    shutil.copy(RULES / "core.yaml", rules)
    result = run(str(rules))
    assert result.exit_code == 1
    assert (
        f"error: {rules}: no rule tests (mine.test.yaml or mine.*.test.yaml) beside the rules"
        in result.stderr
    )


def test_bad_rules_exit_1_before_any_test(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    (folder / "core.yaml").write_text("rules: {}\n")
    result = run(str(folder))
    assert result.exit_code == 1
    assert "'rules' must be a list of rules" in result.stderr
    assert "tests," not in result.stderr


def test_the_readme_example_passes(tmp_path: Path, default_rules: CompiledRuleSet) -> None:
    readme = (RULES.parent / "README.md").read_text()
    (example,) = [
        b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if b.startswith("tests:")
    ]
    path = write_tests(tmp_path / "rules", example)
    results = run_rule_tests(load_rule_tests([path], default_rules), default_rules)
    assert [result.passed for result in results] == [True, True]
