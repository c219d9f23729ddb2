"""One set of input limits for SQLite and PostgreSQL (issue 14): what one backend refuses,
the other refuses too, with the same message, before anything is written.

Run on both backends (TRIGGERS_TEST_BACKEND=sqlite, =postgresql): PostgreSQL itself
refuses a NUL character or more than 200 characters in an id column, and SQLite keeps
anything; every value is checked against `triggers.limits` before it reaches either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import MR_A
from triggers import Store, StoreError
from triggers.cli import cli

LONG = "a" * 201
CONTROL = "remove it; tab and newline are the only control characters allowed"
TOO_LONG = "too long: 201 characters, at most 200 are allowed"
SHOWN_LONG = f"'{'a' * 60}'… (201 characters)"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, " ".join(result.stderr.split())


def snapshot(url: str) -> tuple[Any, ...]:
    """Everything a refused command could have changed, read without adding to the log."""
    with Store(url) as store:
        return (store.counts(), store.history(1), store.erasures(), store.cases())


@pytest.fixture
def stored(store_url: str) -> str:
    """A store holding one replayed case (Mr A: 29 alerts)."""
    assert run("replay", str(MR_A), "--store", store_url)[0] == 0
    return store_url


#: The options every command shares (--by, --reason) are usage errors naming the option;
#: the others are refused by the store, naming what the value is.
OPTIONS = {
    "an actor too long": (
        ["alerts", "ack", "1", "--by", LONG],
        f"Error: Invalid value for '--by' (env var: 'TRIGGERS_ACTOR'): {TOO_LONG}",
    ),
    "an actor too long, replaying": (
        ["replay", str(MR_A), "--by", LONG],
        f"Error: Invalid value for '--by' (env var: 'TRIGGERS_ACTOR'): {TOO_LONG}",
    ),
    "NUL in an actor": (
        ["tick", "--by", "a\x00b"],
        "Error: Invalid value for '--by' (env var: 'TRIGGERS_ACTOR'): contains the control character U+0000 (character 2):"
        f" {CONTROL}",
    ),
    "NUL in a note": (
        ["alerts", "resolve", "1", "--note", "done\x00"],
        f"error: note 'done\\x00': contains the control character U+0000 (character 5): {CONTROL}",
    ),
    "a note too long": (
        ["alerts", "dismiss", "1", "--note", "n" * 10_001],
        f"error: note '{'n' * 60}'… (10,001 characters): too long: 10,001 characters,"
        " at most 10,000 are allowed",
    ),
    "an escape in a reason": (
        ["alerts", "ack", "1", "--reason", "why\x1b[2J"],
        "Error: Invalid value for '--reason': contains the control character U+001B"
        f" (character 4): {CONTROL}",
    ),
    "a command line that is not UTF-8": (
        ["alerts", "ack", "1", "--note", "caf\udce9"],
        "error: note 'caf\\udce9': contains U+DCE9 (character 4), a lone surrogate, which is"
        " not valid Unicode: remove it",
    ),
    "a case id too long, erasing": (
        ["case", "erase", LONG, "--reason", "retention ended"],
        f"error: case id {SHOWN_LONG}: {TOO_LONG}",
    ),
    "NUL in an erasure's reason": (
        ["case", "erase", "hh-ii-jj", "--reason", "\x00"],
        f"error: reason '\\x00': contains the control character U+0000 (character 1): {CONTROL}",
    ),
    "a case id too long, listing": (
        ["alerts", "list", "--case", LONG],
        f"error: case id {SHOWN_LONG}: {TOO_LONG}",
    ),
    "NUL in a rule id, listing": (
        ["alerts", "list", "--rule", "D1\x00"],
        f"error: rule id 'D1\\x00': contains the control character U+0000 (character 3): {CONTROL}",
    ),
    "NUL in an actor, reading the log": (
        ["audit", "--actor", "\x00"],
        f"error: actor '\\x00': contains the control character U+0000 (character 1): {CONTROL}",
    ),
}


@pytest.mark.parametrize(("args", "message"), OPTIONS.values(), ids=OPTIONS)
def test_values_from_options_over_the_limits_are_refused_and_change_nothing(
    stored: str, args: list[str], message: str
) -> None:
    before = snapshot(stored)
    code, err = run(*args, "--store", stored)
    if message.startswith("Error: Invalid value"):
        assert code == 2
        assert err.endswith(message)
    else:
        assert (code, err) == (1, message)
    assert snapshot(stored) == before


def test_the_store_refuses_the_same_values_given_in_python(store_url: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store(store_url, actor=LONG)
    assert str(caught.value) == f"actor {SHOWN_LONG}: {TOO_LONG}"
    with Store(store_url) as store:
        for call in (
            lambda: store.erase_case("c\x00", reason="r"),
            lambda: store.events("c\x00"),
            lambda: store.audit(case="c\x00"),
        ):
            with pytest.raises(StoreError) as caught:
                call()
            assert str(caught.value) == (
                f"case id 'c\\x00': contains the control character U+0000 (character 2): {CONTROL}"
            )
        assert store.counts() == {"cases": 0, "events": 0, "alerts": 0, "audit": 0}


FILES = {
    "case.json": (
        json.dumps({"case": LONG, "events": []}),
        f"{{file}}:1:10: case: {TOO_LONG}",
    ),
    "feed.jsonl": (
        json.dumps({"case": "c\x00", "at": "2011-06-20", "type": "strategy_meeting"}),
        "{file}:1: events[0].case: contains the control character U+0000 (character 2):"
        f" {CONTROL}",
    ),
    "case.yaml": (
        f"case: c1\nsubject: {LONG}\nevents:\n"
        f"  - {{at: 2011-06-20, type: strategy_meeting, id: {LONG}}}\n",
        f"{{file}}:2:10: subject: {TOO_LONG}",
    ),
}


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("command", ["replay", "ingest"])
def test_values_from_files_over_the_limits_are_refused_and_change_nothing(
    stored: str, tmp_path: Path, command: str, name: str
) -> None:
    text, message = FILES[name]
    path = tmp_path / name
    path.write_text(text)
    before = snapshot(stored)
    code, err = run(command, str(path), "--store", stored)
    assert code == 1
    assert f"error: {message.format(file=path)}" in err
    assert snapshot(stored) == before


def test_an_alert_reason_a_rule_writes_with_nul_is_refused_and_changes_nothing(
    stored: str, tmp_path: Path
) -> None:
    # Refused as the rules are read, before any store is touched, on both backends alike.
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: X1\n    title: t\n    learning: l\n"
        "    when: {event: strategy_meeting}\n"
        "    then:\n      - {action: flag, reason: 'meeting \\0 held'}\n".replace("'", '"')
    )
    case = tmp_path / "case.yaml"
    case.write_text("case: c1\nevents:\n  - {at: 2011-06-20, type: strategy_meeting}\n")
    before = snapshot(stored)
    code, err = run("replay", str(case), "--rules", str(rules), "--store", stored)
    assert code == 1
    assert (
        f"error: {rules}:7:32: rules[0].then[0].reason: a reason contains the control"
        f" character U+0000 (character 9): {CONTROL}"
    ) in err
    assert snapshot(stored) == before
