"""No dependency's exception escapes: the public API raises `TriggersError`, the CLI exits cleanly.

SQLAlchemy, Alembic, PyYAML, pydantic and durable_rules each fail in their own
way; every such failure reachable from a file, a URL or a call reaches the user
as one of the project's exceptions (with its exit code), and through the command
line as a message and an exit status, never a traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import triggers
from tests.conftest import MR_A, RULES
from tests.test_engine_backend import TOO_MANY
from triggers.cli import cli

#: The libraries whose exceptions must never reach a user.
DEPENDENCIES = ("sqlalchemy", "alembic", "yaml", "pydantic", "pydantic_core", "durable")


def _file(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def _not_a_database(tmp_path: Path) -> str:
    return "sqlite:///" + _file(tmp_path, "garbage.sqlite", b"this is not a database" * 100)


def _newer_schema(tmp_path: Path) -> str:
    url = "sqlite:///" + str(tmp_path / "newer.sqlite")
    triggers.Store(url).close()
    with sqlite3.connect(tmp_path / "newer.sqlite") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    return url


#: (name, a call that fails inside a dependency, the exception the user gets)
API_CASES: list[tuple[str, Callable[[Path], Any], type[triggers.TriggersError]]] = [
    (
        "yaml control character in rules",
        lambda t: triggers.load_rules(_file(t, "r.yaml", "rules: []\x00\n")),
        triggers.RuleFileError,
    ),
    (
        "yaml syntax in rules",
        lambda t: triggers.load_rules(_file(t, "r.yaml", "rules: [\n")),
        triggers.RuleFileError,
    ),
    (
        "rules not utf-8",
        lambda t: triggers.load_rules(_file(t, "r.yaml", b"rules: [\xff]\n")),
        triggers.RuleFileError,
    ),
    (
        "durable_rules limits",
        lambda t: triggers.Engine(triggers.rules.read_rules(_file(t, "r.yaml", TOO_MANY))),
        triggers.RuleFileError,
    ),
    (
        "yaml control character in a chronology",
        lambda t: triggers.parse_chronology("case: a\x1b\nevents: []\n", "c.yaml"),
        triggers.ChronologyError,
    ),
    (
        "pydantic validation of python data",
        lambda t: triggers.chronology_from_data({"case": "c", "events": [{"type": "arrest"}]}),
        triggers.ChronologyError,
    ),
    (
        "pydantic validation of a header",
        lambda t: triggers.chronology_from_data({"case": 7, "events": "none"}),
        triggers.ChronologyError,
    ),
    (
        "json nesting",
        lambda t: triggers.parse_chronology("[" * 100_000, "c.json"),
        triggers.ChronologyError,
    ),
    (
        "rule tests file",
        lambda t: triggers.load_rule_tests(
            [Path(_file(t, "r.test.yaml", "tests: [\n"))], triggers.load_rules(RULES)
        ),
        triggers.RuleTestError,
    ),
    (
        "sqlalchemy url",
        lambda t: triggers.Store("nonsense://nowhere"),
        triggers.StoreError,
    ),
    (
        "sqlalchemy driver missing",
        lambda t: triggers.Store("mysql+nodriver://localhost/x"),
        triggers.StoreError,
    ),
    (
        "sqlite file that is not a database",
        lambda t: triggers.Store(_not_a_database(t)),
        triggers.StoreError,
    ),
    (
        "sqlite in a folder that does not exist",
        lambda t: triggers.Store(f"sqlite:///{t / 'missing' / 'x.sqlite'}"),
        triggers.StoreError,
    ),
    (
        "alembic: upgrading a database that is not one",
        lambda t: triggers.upgrade_schema(_not_a_database(t)),
        triggers.StoreError,
    ),
    (
        "alembic: a schema newer than the code",
        lambda t: triggers.Store(_newer_schema(t)),
        triggers.SchemaError,
    ),
    (
        "no such alert",
        lambda t: triggers.Store(f"sqlite:///{t / 's.sqlite'}").alert(404),
        triggers.NotFoundError,
    ),
]


@pytest.mark.sqlite_only  # the stores here are SQLite files made to be broken
@pytest.mark.parametrize(
    ("call", "expected"),
    [(call, expected) for _, call, expected in API_CASES],
    ids=[name for name, _, _ in API_CASES],
)
def test_no_dependency_exception_escapes_the_public_api(
    tmp_path: Path, call: Callable[[Path], Any], expected: type[triggers.TriggersError]
) -> None:
    with pytest.raises(triggers.TriggersError) as raised:
        call(tmp_path)
    assert isinstance(raised.value, expected), repr(raised.value)
    assert type(raised.value).__module__.startswith("triggers")
    assert raised.value.exit_code == 1
    assert str(raised.value)


#: (name, the command line, given a temporary folder)
CLI_CASES: list[tuple[str, Callable[[Path], list[str]]]] = [
    ("rules check: yaml", lambda t: ["rules", "check", _file(t, "r.yaml", "rules: [\x1b]\n")]),
    ("rules check: limits", lambda t: ["rules", "check", _file(t, "r.yaml", TOO_MANY)]),
    ("rules test: yaml", lambda t: ["rules", "test", _file(t, "r.yaml", "rules: [\n")]),
    (
        "replay: a store that is not a database",
        lambda t: [
            "replay",
            _file(t, "c.yaml", "case: a\nevents: []\n"),
            "--store",
            _not_a_database(t),
        ],
    ),
    ("replay: a bad url", lambda t: ["replay", _file(t, "c.json", "{}"), "--store", "x://y"]),
    ("alerts list: newer schema", lambda t: ["alerts", "list", "--store", _newer_schema(t)]),
    ("explain: no such alert", lambda t: ["explain", "7", "--store", f"sqlite:///{t / 'e.db'}"]),
    ("db upgrade: not a database", lambda t: ["db", "upgrade", "--store", _not_a_database(t)]),
    ("db status: bad url", lambda t: ["db", "status", "--store", "nonsense://"]),
    (
        "case erase: no such case",
        lambda t: ["case", "erase", "nobody", "--reason", "r", "--store", f"sqlite:///{t / 'e'}"],
    ),
    ("ingest: unreadable", lambda t: ["ingest", _file(t, "c.jsonl", b"\xff\n"), "--store", "x:/"]),
]


@pytest.mark.sqlite_only  # as above
@pytest.mark.parametrize(
    "command", [command for _, command in CLI_CASES], ids=[name for name, _ in CLI_CASES]
)
def test_no_dependency_exception_escapes_the_cli(
    tmp_path: Path, command: Callable[[Path], list[str]]
) -> None:
    result = CliRunner().invoke(cli, command(tmp_path))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "error:" in result.stderr


def test_store_errors_carry_what_they_are_about(
    store_url: str, engine: triggers.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    (case,) = triggers.load_chronologies(MR_A)
    with triggers.Store(store_url) as store:
        store.save(engine.replay(case))
        first = store.alerts(case.case)[0].id
        store.dismiss(first, note="not needed")
        with pytest.raises(triggers.LifecycleError) as moved:
            store.resolve(first, note="done")
        assert (moved.value.alert_id, moved.value.from_status, moved.value.to_status) == (
            first,
            "dismissed",
            "resolved",
        )
        with pytest.raises(triggers.NotFoundError) as missing:
            store.erase_case("nobody", reason="r")
        assert (missing.value.kind, missing.value.key) == ("case", "nobody")
        monkeypatch.setenv("TRIGGERS_REQUIRE_REASON", "consultation")
    with triggers.Store(store_url) as store:
        with pytest.raises(triggers.ReasonRequiredError) as unjustified:
            store.alerts(case.case, export="csv")
        assert (unjustified.value.operation, unjustified.value.activity) == (
            "alerts export (csv)",
            "consultation",
        )
    result = CliRunner().invoke(cli, ["alerts", "list", "--store", store_url])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: alerts list: this deployment requires a justification for consultation"
        " (TRIGGERS_REQUIRE_REASON); give one with --reason\n"
    )
    assert unjustified.value.setting == "TRIGGERS_REQUIRE_REASON"
    blank = CliRunner().invoke(
        cli, ["case", "erase", case.case, "--reason", " ", "--store", store_url]
    )
    assert blank.exit_code == 1
    assert blank.stderr == "error: erasing a case needs a reason\n"
