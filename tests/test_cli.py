"""The `triggers` command: output, errors on standard error, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from tests.conftest import BROKEN_CHRONOLOGY, EXAMPLES, MR_A
from tests.test_engine import MR_A_EXPECTED
from triggers import Store
from triggers.cli import cli


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def url(store_url: str) -> str:
    return store_url


def test_json_output_is_exactly_the_contract(url: str) -> None:
    result = run("replay", str(MR_A), "--store", url, "--format", "json")
    assert result.exit_code == 0
    alerts = json.loads(result.stdout)
    assert [(a["at"][:10], a["rule"], a["action"]) for a in alerts] == MR_A_EXPECTED
    for alert in alerts:
        assert list(alert) == [
            "case",
            "rule",
            "action",
            "at",
            "params",
            "priority",
            "reason",
            "events",
        ]
        assert alert["at"].endswith("T00:00:00Z")
    assert alerts[-1]["params"] == {"agency": "childrens_services"}
    assert "29 alert(s)" in result.stderr


def test_table_output_is_a_timeline(url: str) -> None:
    result = run("replay", str(MR_A), "--store", url)
    assert result.exit_code == 0
    out = result.stdout
    assert "hh-ii-jj — Mr A and the children HH, II and JJ" in out
    assert out.index("2008-10-06") < out.index("2009-04-14") < out.index("2015-08-10")
    assert out.count("⚑ reopen_assessment") == 9
    assert "notify_agency → area-b" in out
    assert "29 alerts" in out


def test_replaying_twice_stores_no_duplicates(url: str) -> None:
    run("replay", str(MR_A), "--store", url)
    second = run("replay", str(MR_A), "--store", url)
    assert "stored 0 new event(s) and 0 new alert(s)" in second.stderr
    with Store(url) as store:
        assert store.counts() == {"cases": 1, "events": 26, "alerts": 29, "audit": 2}


def test_the_store_can_come_from_the_environment(url: str) -> None:
    result = run("replay", str(MR_A), env={"TRIGGERS_STORE": url})
    assert result.exit_code == 0
    with Store(url) as store:
        assert store.cases() == ["hh-ii-jj"]


def test_a_bad_file_fails_but_the_others_are_stored(tmp_path: Path, url: str) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN_CHRONOLOGY)
    result = run("replay", str(broken), str(MR_A), "--store", url, "--format", "json")
    assert result.exit_code == 1
    assert [a["case"] for a in json.loads(result.stdout)] == ["hh-ii-jj"] * 29
    err = result.stderr
    assert f"{broken}:4:11: events[0].type: unknown event type 'new_pregnacy'" in err
    assert f"{broken}:5:5: events[1]: missing required field 'category'" in err
    assert f"{broken}:8:9: events[2].at: invalid date '2011-13-45'" in err
    assert "    type: new_pregnacy\n              ^" in err
    assert "1 of 2 file(s) failed" in err
    with Store(url) as store:
        assert store.cases() == ["hh-ii-jj"]


def test_every_example_replays(url: str) -> None:
    files = sorted(str(p) for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".jsonl"))
    result = run("replay", *files, "--store", url, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert {a["case"] for a in json.loads(result.stdout)} >= {"hh-ii-jj", "mr-c", "mr-d", "ms-f"}


def test_bad_rules_exit_1_with_the_place(tmp_path: Path, url: str) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: x\n    title: t\n    learning: l\n    when:\n      event: new_pregnacy\n"
        "    then:\n      - {action: flag, reason: r}\n"
    )
    result = run("replay", str(MR_A), "--rules", str(rules), "--store", url)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        f"{rules}:6:14: rules[0].when.event: unknown event type 'new_pregnacy'"
        " (did you mean 'new_pregnancy'?)"
    ) in result.stderr


def test_a_bad_store_url_exits_1(tmp_path: Path) -> None:
    result = run("replay", str(MR_A), "--store", "nonsense")
    assert result.exit_code == 1
    assert "cannot use the store 'nonsense'" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["replay"],
        ["replay", str(MR_A), "--format", "xml"],
        ["nonsense"],
        ["replay", "--bogus", "x"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command and group under `group`, as the words that invoke it."""
    paths = [list(prefix)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, (*prefix, name)))
        else:
            paths.append([*prefix, name])
    return paths


@pytest.mark.parametrize("command", command_paths(cli), ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout
    assert len(result.stdout.splitlines()) > 5


def test_the_command_tree() -> None:
    assert [" ".join(path) for path in command_paths(cli)] == [
        "",
        "alerts",
        "alerts ack",
        "alerts dismiss",
        "alerts list",
        "alerts resolve",
        "audit",
        "audit verify",
        "backtest",
        "case",
        "case erase",
        "db",
        "db status",
        "db upgrade",
        "events",
        "events list",
        "events schema",
        "explain",
        "generate",
        "ingest",
        "replay",
        "report",
        "rules",
        "rules check",
        "rules list",
        "rules schema",
        "rules test",
        "summary",
        "tick",
    ]


def test_rules_check_passes_on_the_default_rules() -> None:
    result = run("rules", "check")
    assert result.exit_code == 0
    assert "no errors, 0 warnings" in result.stderr


def test_rules_check_fails_with_the_place(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: x\n    title: t\n    learning: l\n    when:\n      event: new_pregnacy\n"
        "    then:\n      - {action: flag, reason: r}\n"
    )
    result = run("rules", "check", str(rules))
    assert result.exit_code == 1
    assert f"{rules}:6:14: rules[0].when.event: unknown event type 'new_pregnacy'" in result.stderr


def test_rules_list_shows_id_title_learning_and_action() -> None:
    out = run("rules", "list").stdout
    assert "D1-pregnancy-or-new-child" in out
    assert "is never" in out
    assert "escalate_mappa" in out
    assert "level: 2" in out


def test_until_runs_the_clock_past_the_last_event(tmp_path: Path, url: str) -> None:
    case = tmp_path / "missing.yaml"
    case.write_text(
        "case: m-1\nevents:\n  - {at: 2020-01-01T10:00:00Z, type: child_missing, child: a}\n"
    )
    without = json.loads(run("replay", str(case), "--store", url, "--format", "json").stdout)
    assert without == []
    result = run("replay", str(case), "--store", url, "--format", "json", "--until", "2020-02-01")
    (alert,) = json.loads(result.stdout)
    assert (alert["rule"], alert["at"]) == ("D10b-no-return-interview", "2020-01-04T10:00:00Z")
    table = run("replay", str(case), "--store", url, "--until", "2020-02-01").stdout
    assert "deadline passed" in table


def test_a_bad_until_is_a_usage_error(url: str) -> None:
    result = run("replay", str(MR_A), "--store", url, "--until", "soon")
    assert result.exit_code == 2
    assert "Invalid value for '--until': invalid date 'soon'" in result.stderr


@pytest.mark.parametrize("command", [["alerts", "ack"], ["explain"]])
@pytest.mark.parametrize("alert_id", ["99999999999999999999999", "0"])
def test_an_alert_id_no_store_could_hold_is_no_such_alert(
    url: str, command: list[str], alert_id: str
) -> None:
    result = CliRunner().invoke(cli, [*command, alert_id, "--store", url, "--by", "me"])
    assert result.exit_code == 1, result.output
    expected = f"error: no alert with id {alert_id} in this store"
    assert result.stderr.startswith(expected), result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["replay", str(EXAMPLES / "mr-a.yaml")], ["alerts", "list"]])
def test_an_empty_store_url_is_an_error_not_the_default_store(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [*command, "--store", ""])
    assert result.exit_code == 1
    assert "the store URL is empty" in result.output
    assert not (tmp_path / "triggers.sqlite").exists()


def test_python_dash_m_triggers_runs_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "triggers", "rules", "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no errors, 0 warnings" in result.stderr + result.stdout
