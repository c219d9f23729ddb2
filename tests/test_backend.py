"""Each run proves its backend: the store's rows are in SQLite, or in the PostgreSQL server
the tests started. And that server leaves nothing behind."""

from __future__ import annotations

import ast
import sqlite3

import pytest
from sqlalchemy import create_engine, make_url, text

from tests import postgres
from tests.conftest import MR_A, ROOT, backend
from tests.postgres import (
    PostgresServer,
    PostgresUnavailableError,
    find_bindir,
    postgres_server,
    process_alive,
)
from triggers import Engine, Store, load_chronologies


def test_the_store_writes_to_the_backend_under_test(
    engine: Engine, store_url: str, request: pytest.FixtureRequest
) -> None:
    (case,) = load_chronologies(MR_A)
    with Store(store_url) as store:
        store.save(engine.replay(case))
    url = make_url(store_url)
    assert url.get_backend_name() == backend()
    if backend() == "sqlite":
        assert url.database is not None
        with sqlite3.connect(url.database) as connection:
            (alerts,) = connection.execute("SELECT count(*) FROM alerts").fetchone()
            (version,) = connection.execute("SELECT sqlite_version()").fetchone()
        assert (alerts, version) == (29, sqlite3.sqlite_version)
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    sql = create_engine(store_url)
    try:
        with sql.connect() as connection:
            version = connection.scalar(text("SELECT version()"))
            data = connection.scalar(text("SELECT current_setting('data_directory')"))
            alerts = connection.scalar(text("SELECT count(*) FROM alerts"))
    finally:
        sql.dispose()
    assert sql.dialect.name == "postgresql"
    assert str(version).startswith("PostgreSQL ")
    # The server the tests started, in their temporary directory: not some other one.
    assert data == str(server.data)
    assert alerts == 29


@pytest.mark.skipif(backend() != "postgresql", reason="needs the PostgreSQL run's binaries")
def test_a_test_server_is_stopped_and_removed_even_after_a_failure() -> None:
    with pytest.raises(RuntimeError, match="a test failed"), postgres_server() as server:
        pid = int((server.data / "postmaster.pid").read_text().split()[0])
        with server.connect() as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        raise RuntimeError("a test failed")
    assert not server.root.exists()
    assert not process_alive(pid)


def test_missing_server_binaries_are_an_error_that_says_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres, "_candidates", lambda: [])
    with pytest.raises(PostgresUnavailableError, match=r"apt-get install postgresql"):
        find_bindir()


def test_stores_on_temporary_paths_come_from_store_url() -> None:
    """A test that makes its own SQLite file would not run on PostgreSQL: it takes
    `store_url`, unless it is about SQLite itself (`@pytest.mark.sqlite_only`)."""
    offenders = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if node.name in ("store_url", "scratch_sqlite_url") or any(
                "sqlite_only" in ast.unparse(decorator) for decorator in node.decorator_list
            ):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.JoinedStr) and "sqlite:" in ast.unparse(inner):
                    offenders.append(f"{path.name}:{inner.lineno} in {node.name}")
    assert offenders == [], "take the store_url fixture, or mark the test sqlite_only"
