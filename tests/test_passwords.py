"""A store's password is never shown: not by any command that opens a store, whether it
cannot connect, lacks the driver, fails to write or succeeds, nor in the library's
messages and `Store.url`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import make_url

from tests.conftest import MR_A, backend
from tests.postgres import PostgresServer
from triggers import Store
from triggers.cli import cli
from triggers.errors import StoreError
from triggers.store.connection import failure, masked, shown

PASSWORD = "S3cretPW"
#: Nothing listens on port 1: the connection is refused at once.
UNREACHABLE = f"postgresql+psycopg://alice:{PASSWORD}@127.0.0.1:1/triggers"

#: Every command that opens a store, as (name, arguments but the store's).
COMMANDS: list[tuple[str, Callable[[Path], list[str]]]] = [
    ("replay", lambda _: ["replay", str(MR_A), "--workers", "1"]),
    ("ingest", lambda _: ["ingest", str(MR_A)]),
    ("alerts list", lambda _: ["alerts", "list"]),
    ("alerts ack", lambda _: ["alerts", "ack", "1", "--note", "seen"]),
    ("alerts resolve", lambda _: ["alerts", "resolve", "1", "--note", "done"]),
    ("alerts dismiss", lambda _: ["alerts", "dismiss", "2", "--note", "no need"]),
    ("audit", lambda _: ["audit"]),
    ("audit verify", lambda _: ["audit", "verify"]),
    ("summary", lambda _: ["summary"]),
    ("tick", lambda _: ["tick", "--now", "2030-01-01"]),
    ("explain", lambda _: ["explain", "3"]),
    ("report", lambda tmp: ["report", "hh-ii-jj", "--html", str(tmp / "report.html")]),
    ("case erase", lambda _: ["case", "erase", "hh-ii-jj", "--reason", "retention ended"]),
    ("db status", lambda _: ["db", "status"]),
    ("db upgrade", lambda _: ["db", "upgrade"]),
]
NAMES = [name for name, _ in COMMANDS]


def _store_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[str]:
    """The names of every command with a `--store` option, below `group`."""
    found: list[str] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found.extend(_store_commands(command, (*prefix, name)))
        if any(param.name == "store" for param in command.params):
            found.append(" ".join((*prefix, name)))
    return found


def test_every_command_that_opens_a_store_is_walked_here() -> None:
    assert sorted(_store_commands(cli)) == sorted(NAMES)


def invoke(args: Sequence[str], url: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--store", url])


def assert_hidden(result: Result, secret: str = PASSWORD) -> None:
    shown_text = result.stdout + result.stderr
    assert secret not in shown_text, shown_text
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert secret not in str(result.exception)


@pytest.mark.parametrize(("name", "args"), COMMANDS, ids=NAMES)
def test_a_store_that_cannot_be_reached_is_named_without_its_password(
    name: str, args: Callable[[Path], list[str]], tmp_path: Path
) -> None:
    result = invoke(args(tmp_path), UNREACHABLE)
    assert result.exit_code == 1, result.output
    assert_hidden(result)
    assert "'postgresql+psycopg://alice:***@127.0.0.1:1/triggers'" in result.stderr


@pytest.mark.parametrize(("name", "args"), COMMANDS, ids=NAMES)
def test_a_missing_driver_is_reported_without_the_password(
    name: str, args: Callable[[Path], list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    result = invoke(args(tmp_path), UNREACHABLE)
    assert result.exit_code == 1, result.output
    assert_hidden(result)
    assert "cannot use the store 'postgresql+psycopg://alice:***@127.0.0.1:1/triggers'" in (
        result.stderr
    )
    assert "pip install 'risk-triggers[postgresql]'" in result.stderr


def test_store_url_and_messages_hide_every_form_of_the_password() -> None:
    url = f"postgresql+psycopg://alice:{PASSWORD}%40x@db.example/triggers?sslpassword=K3y"
    given = shown(url)
    assert given == "postgresql+psycopg://alice:***@db.example/triggers?sslpassword=***"
    # A driver's message that echoes the connection string, quoted or not.
    echoed = Exception(f"bad dsn 'password={PASSWORD}@x sslpassword=K3y' in {url}")
    assert PASSWORD not in failure(echoed, url) and "K3y" not in failure(echoed, url)
    assert masked("nothing secret", url) == "nothing secret"
    assert shown("sqlite:///triggers.sqlite") == "sqlite:///triggers.sqlite"
    assert shown("alice:pw@somewhere") == "alice:***@somewhere"  # not even an SQLAlchemy URL
    with pytest.raises(StoreError) as failed:
        Store(UNREACHABLE)
    assert PASSWORD not in str(failed.value)


def _with_password(url: str) -> str:
    """The test server's URL with a password in it (the server trusts its socket, so the
    password is never asked for, and any will do)."""
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


postgresql_only = pytest.mark.skipif(
    backend() != "postgresql", reason="needs a PostgreSQL server to connect to"
)


@postgresql_only
def test_summaries_of_commands_that_succeed_hide_the_password(
    store_url: str, tmp_path: Path
) -> None:
    url = _with_password(store_url)
    for name, args in COMMANDS:
        result = invoke(args(tmp_path), url)
        assert result.exit_code == 0, f"{name}: {result.output}"
        assert_hidden(result)
    replayed = invoke(["replay", str(MR_A), "--workers", "1"], url)
    assert f"in {shown(url)}" in replayed.stderr and ":***@" in replayed.stderr


@postgresql_only
def test_a_failed_write_names_the_store_without_its_password(
    store_url: str, request: pytest.FixtureRequest
) -> None:
    Store(store_url).close()  # the schema is made; from now on, nothing can be written
    server: PostgresServer = request.getfixturevalue("postgres")
    database = make_url(store_url).database
    with server.connect() as admin:
        admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    result = invoke(["replay", str(MR_A), "--workers", "1"], _with_password(store_url))
    assert result.exit_code == 1
    assert "read-only transaction" in result.stderr
    assert "'postgresql+psycopg://triggers:***@/" in result.stderr
    assert_hidden(result)
