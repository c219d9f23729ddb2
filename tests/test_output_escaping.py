"""Text from files and from the store is shown safely (issue 14): control characters,
escape sequences and bidirectional overrides are written as escapes, and console markup
is shown, not applied, in every table and message the command prints.

Input refuses control characters, but a store written by an older version, rule text
(YAML's "\\e" escapes) and file names still hold them: the hostile values here are put
straight into the store with SQL, or into rule files and file names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from tests.conftest import MR_A
from triggers import Store
from triggers.cli import cli
from triggers.cli.render import printable, progress, safe, stderr

#: Sets the terminal's title, shows what follows backwards, and tries console markup.
EVIL = "\x1b]0;pwned\x07\u202e[bold]b\x9b"
#: How it must be shown: each character a terminal acts on written as Python writes it.
SHOWN = "\\x1b]0;pwned\\x07\\u202e[bold]b\\x9b"
#: The same, short enough for a narrow table column (a case id, an actor).
ID = "\x1b[b]\u202e"
ID_SHOWN = "\\x1b[b]\\u202e"
#: What must never reach a terminal from a file or the store.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def run(*args: str) -> tuple[str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert RAW.search(result.stdout) is None, result.stdout
    assert RAW.search(result.stderr) is None, result.stderr
    return result.stdout, result.stderr


def test_printable_escapes_what_a_terminal_acts_on_and_keeps_the_rest() -> None:
    assert printable(EVIL) == SHOWN
    assert printable("tab\tnew\nline, café, 東京, ⚑") == "tab\tnew\nline, café, 東京, ⚑"
    assert printable("\x00\x7f\u200f\u2028\u2066\udcff") == "\\x00\\x7f\\u200f\\u2028\\u2066\\udcff"
    assert safe("[bold]b[/bold]") == "\\[bold]b\\[/bold]"


@pytest.fixture
def hostile_store(store_url: str) -> str:
    """A store with Mr A's case, then values no input check would let in, written with SQL."""
    CliRunner().invoke(cli, ["replay", str(MR_A), "--store", store_url])
    engine = create_engine(store_url)
    with engine.begin() as connection:
        values = {"evil": EVIL, "id": ID}
        connection.execute(text("UPDATE alerts SET reason = :evil WHERE id = 1"), values)
        connection.execute(text('UPDATE alert_history SET "by" = :evil WHERE alert_id = 1'), values)
        connection.execute(
            text(
                "INSERT INTO cases (id, title, subject, created_at, updated_at, clock)"
                " SELECT :id, :evil, subject, created_at, updated_at, clock FROM cases"
            ),
            values,
        )
        connection.execute(
            text(
                "INSERT INTO alerts (key, case_id, rule_id, rules_version, action, params,"
                " priority, at, reason, event_ids, raised_at, status, due_by)"
                " SELECT 'hostile', :id, :id, rules_version, action, params, priority, at,"
                " :evil, event_ids, raised_at, status, due_by FROM alerts WHERE id = 1"
            ),
            values,
        )
    engine.dispose()
    return store_url


def test_alerts_list_shows_stored_values_escaped(hostile_store: str) -> None:
    out, _ = run("alerts", "list", "--store", hostile_store)
    assert out.count(ID_SHOWN) == 2  # the hostile alert's case and rule


def test_explain_shows_stored_values_escaped(hostile_store: str) -> None:
    out, _ = run("explain", "1", "--store", hostile_store)
    assert f"open by {SHOWN}" in out  # the alert's history
    assert f"Reason: {SHOWN}" in out  # the stored reason


def test_the_audit_log_shows_stored_values_escaped(
    hostile_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An entry written by an older version, which checked nothing.
    monkeypatch.setattr("triggers.store.store.check_values", lambda **_: None)
    with Store(hostile_store, actor=ID) as store:
        store.alerts(ID, reason=ID)
    monkeypatch.undo()
    out, _ = run("audit", "--store", hostile_store)
    assert out.count(ID_SHOWN) == 3  # actor, case, reason


def test_the_replay_table_shows_rule_and_file_text_escaped(store_url: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: X1\n    title: t\n    learning: l\n"
        "    when: {event: strategy_meeting}\n"
        '    then: [{action: notify_agency, params: {agency: "\\u202epwned"}, reason: r}]\n'
    )
    case = tmp_path / "case.json"
    case.write_text(
        '{"case": "c1", "title": "\\u202e[bold]b[/bold]",'
        ' "events": [{"at": "2011-06-20", "type": "strategy_meeting"}]}'
    )
    out, _ = run("replay", str(case), "--rules", str(rules), "--store", store_url)
    assert "c1 — \\u202e[bold]b[/bold]" in out
    assert "⚑ notify_agency → \\u202epwned" in out


def test_rules_list_shows_rule_text_escaped(tmp_path: Path) -> None:
    # Control characters are refused in rule files; bidi overrides and markup are not.
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: X1\n"
        '    title: "\\u202e[bold]b"\n'
        '    learning: "\\u2066[red]cleared"\n'
        "    when: {event: strategy_meeting}\n"
        "    then: [{action: flag, reason: r}]\n"
    )
    out, _ = run("rules", "list", str(rules))
    assert "\\u202e[bold]b" in out
    assert "\\u2066[red]cleared" in out


def test_file_names_and_file_content_in_errors_are_escaped(store_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / f"{EVIL}.json").write_text('{"case": "c1", "events": [], "\\u001b[2J\\u202e": 1}')
    _, err = run("replay", str(folder), "--store", store_url)
    assert (
        f"error: {folder}/{SHOWN}.json:1:30: \\x1b[2J\\u202e: unknown top-level key"
        " '\\x1b[2J\\u202e'"
    ) in err
    assert f"1 problem in {folder}/{SHOWN}.json" in err


def test_progress_descriptions_are_escaped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal, so the bar is shown
    with progress(2, stderr()) as bar:
        assert bar is not None
        bar.add_task(EVIL, total=2)
        bar.refresh()
    err = capsys.readouterr().err
    assert SHOWN in err
    assert "\x1b]0;pwned" not in err and "\u202e" not in err


def test_markup_in_a_name_given_on_the_command_line_is_shown_not_applied(store_url: str) -> None:
    assert CliRunner().invoke(cli, ["replay", str(MR_A), "--store", store_url]).exit_code == 0
    _, err = run("alerts", "ack", "1", "--by", "[/x]", "--store", store_url)
    assert "alert 1 is now acknowledged (by [/x])" in err
    _, err = run("case", "erase", "hh-ii-jj", "--reason", "r", "--by", "[b]x", "--store", store_url)
    assert "recorded as erased by [b]x" in err


def test_a_stored_title_this_version_refuses_is_an_error_not_a_traceback(
    hostile_store: str,
) -> None:
    engine = create_engine(hostile_store)
    with engine.begin() as connection:
        connection.execute(text("UPDATE cases SET title = :evil"), {"evil": EVIL})
    engine.dispose()
    result = CliRunner().invoke(cli, ["explain", "1", "--store", hostile_store])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: case 'hh-ii-jj': the stored title is refused by this version: contains the"
        " control character U+001B (character 1): remove it; tab and newline are the only"
        " control characters allowed; erase the case and replay it from its corrected files\n"
    )
