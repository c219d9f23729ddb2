"""`rules check` passes only rule files that the engine runs (issue 14, item 7).

A few hundred rule files made from the shipped rules by the rule fuzzer
(`tests/fuzzing.py`, `mutate_rules`: hostile numbers, long lists, `any` blocks of a
repeated YAML alias, deep nesting, windows at their longest, many rules on one event
type), from a fixed seed: each one that `rules check` passes is loaded into the
engine and replays chronologies that reach many rules (the examples, generated
cases, every event type at the first and last moments). Any refusal by
durable_rules, traceback, crash, hang or load over 5 s fails. The holes the fuzzer
found have tests of their own below, with the exact message `rules check` gives.

The long run: `python -m tests.fuzzing engine 5000 [SEED]`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import RULES, chronology
from tests.fuzzing import LOAD_BOUND, engine_verdicts, judge_in_engine, replay_chronologies
from triggers import Engine, RuleFileError, load_rules
from triggers.cli import cli

#: Rule files in the suite's run: about 40 s on the project's 2 cores, shared.
FILES = 300


def test_rule_files_that_rules_check_passes_load_and_replay_in_the_engine() -> None:
    verdicts = engine_verdicts(FILES, seed=1)
    assert sorted(verdicts) == list(range(FILES))
    failed = {n: f"{v.outcome}: {v.detail}" for n, v in verdicts.items() if v.failed}
    assert failed == {}
    outcomes = Counter(v.outcome for v in verdicts.values())
    # The fuzzer reaches the engine: most files pass the check, and none loads slowly.
    assert outcomes["ok"] > FILES // 2, outcomes
    assert max(v.seconds for v in verdicts.values() if v.outcome == "ok") < LOAD_BOUND


def test_the_judge_tells_a_refusal_by_the_engine_from_one_by_rules_check(
    tmp_path: Path,
) -> None:
    chronologies = replay_chronologies()
    good = judge_in_engine((RULES / "core.yaml").read_bytes(), tmp_path, chronologies)
    refused = judge_in_engine(b"rules: [{id: r}]\n", tmp_path, chronologies)
    assert (good.outcome, refused.outcome) == ("ok", "error")
    assert "missing required key" in refused.detail


def _any(
    tmp_path: Path, test: str, times: int, form: str = "", event: str = "conference_refused"
) -> Path:
    """A rule whose `where` is an `any` of one block written once and repeated by alias."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - id: r\n    title: t\n    learning: l\n    when:\n"
        f"      event: {event}\n{form}"
        f"      where:\n        any: [&a {test}{', *a' * (times - 1)}]\n"
        "    then:\n      - {action: flag, reason: r}\n"
    )
    return path


def _replays(path: Path, event: str = "conference_refused", **fields: str) -> int:
    """Alerts from two events of type `event` with `fields`, through the rules at `path`."""
    events = [{"at": f"2020-01-0{d}", "type": event, **fields} for d in (1, 2)]
    return len(Engine(load_rules(path)).replay(chronology(events)).alerts)


def _checked(path: Path) -> list[str]:
    """The problems `rules check` prints (each also raised by `load_rules`); it exits 1."""
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    problems = [str(problem) for problem in caught.value.problems]
    result = CliRunner().invoke(cli, ["rules", "check", str(path)])
    assert result.exit_code == 1
    printed = " ".join(result.stderr.split())
    assert all(f"error: {problem}" in printed for problem in problems)
    return problems


WAITING = (
    "{path}:2:5: rules[0].id: with this rule, one event can have 65 tests waiting at once in"
    " durable_rules' network of tests, which keeps at most 64 (each alternative of an 'any'"
    " that can hold with the others, each 'not recorded' test and each 'after' or 'absent'"
    " rule on the event type takes one): write each alternative once, or split the rule"
)


@pytest.mark.parametrize(
    ("test", "fields"),
    [("{requested_by: {present: true}}", {"requested_by": "x"}), ("{source: x}", {"source": "x"})],
)
@pytest.mark.parametrize("form", ["", "      count: {at_least: 2, within: 30d}\n"])
def test_alternatives_that_hold_together_are_bounded_by_the_engines_stack(
    tmp_path: Path, test: str, fields: dict[str, str], form: str
) -> None:
    # durable_rules failed every replay with error 303, or crashed the process, at 65.
    assert _replays(_any(tmp_path, test, 64, form), **fields) == 2 - bool(form)
    path = _any(tmp_path, test, 65, form)
    assert _checked(path) == [WAITING.format(path=path)]


def test_not_recorded_tests_of_a_missing_value_are_bounded_by_the_engines_stack(
    tmp_path: Path,
) -> None:
    # `source` is not recorded, so every test is pushed: 65 crashed the process.
    assert _replays(_any(tmp_path, "{source: {present: false}}", 64)) == 2
    path = _any(tmp_path, "{source: {present: false}}", 65)
    assert _checked(path) == [WAITING.format(path=path)]
    # A value every such event records is never missing: those tests never wait.
    path = _any(tmp_path, "{child: {present: false}}", 100, event="child_missing")
    assert _replays(path, "child_missing", child="a") == 0


def test_alternatives_ending_at_one_test_are_bounded_by_the_engines_list(
    tmp_path: Path,
) -> None:
    # durable_rules refused 129 with error 107 (EngineError, no file or line); with an
    # `absent` the alternatives never all hold at once, so only this limit applies.
    absent = "      absent: {event: strategy_meeting, within: 1d}\n"
    assert _replays(_any(tmp_path, "{source: x}", 64, absent), source="x") == 1
    path = _any(tmp_path, "{source: x}", 128, absent)
    assert _checked(path) == [
        f"{path}:2:5: rules[0].id: with this rule, 128 alternatives (of 'any', or values of a"
        " list) end at the same test, where durable_rules' network of tests links at most 127:"
        " write each alternative and each value once, or combine rules"
    ]
