"""The store's schema: made by Alembic migrations, refused when older or newer than the code."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy import Connection, create_engine, event, inspect, select, text
from sqlalchemy.engine import Engine as SQLAlchemyEngine
from sqlalchemy.exc import DatabaseError

import triggers.store.schema
from tests.conftest import MR_A, ROOT
from triggers import Engine, Store, StoreError, load_chronologies
from triggers.cli import cli
from triggers.errors import SchemaError
from triggers.store import HEAD_REVISION, schema_revision, upgrade_schema
from triggers.store.tables import Base


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def sql(store_url: str) -> Iterator[Connection]:
    """A plain connection to the store's database, committing each statement."""
    engine = create_engine(store_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


#: The revision after this code's: what a later version of risk-triggers would have.
NEXT = f"{int(HEAD_REVISION) + 1:04d}"


def older_than(url: str, revision: str, head: str) -> str:
    return (
        f"the store {url!r} has schema revision {revision}, older than this version of"
        f" risk-triggers expects ({head}): back up the database, then run:"
        f" triggers db upgrade --store {shlex.quote(url)}"
    )


def with_next_revision(root: Path, monkeypatch: pytest.MonkeyPatch, upgrade: str) -> None:
    """Make the code a later version: its migrations plus revision NEXT, now its head."""
    migrations = root / "migrations"
    shutil.copytree(
        triggers.store.schema._MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__")
    )
    (migrations / "versions" / f"{NEXT}_notes.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "{NEXT}"\ndown_revision = "{HEAD_REVISION}"\n\n\n'
        f"def upgrade():\n{textwrap.indent(textwrap.dedent(upgrade), '    ')}"
    )
    monkeypatch.setattr(triggers.store.schema, "_MIGRATIONS", migrations)
    monkeypatch.setattr(triggers.store.schema, "HEAD_REVISION", NEXT)


NOTES_TABLE = 'op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))'


def store_mr_a(url: str, engine: Engine) -> None:
    (case,) = load_chronologies(MR_A)
    with Store(url) as store:
        store.save(engine.replay(case))
        ids = [alert.id for alert in store.alerts(reason="review")]
        store.acknowledge(ids[0], note="seen", reason="supervision")


#: What revision 0002 added: the audit log's hash chain.
CHAIN = ("prev_hash", "hash")


def at_revision_0001(url: str, source: str) -> None:
    """Make `url` a store at revision 0001 holding what the store `source` holds (its
    audit log without the hash chain): as risk-triggers before revision 0002 wrote it."""
    target = create_engine(url)
    origin = create_engine(source)
    try:
        with target.begin() as connection, origin.connect() as reading:
            command.upgrade(triggers.store.schema._config(connection), "0001")
            for table in Base.metadata.sorted_tables:
                columns = [c for c in table.columns if c.name not in CHAIN]
                rows = [dict(row) for row in reading.execute(select(*columns)).mappings()]
                if rows:
                    connection.execute(table.insert(), rows)
                if (
                    connection.dialect.name == "postgresql"
                    and table.autoincrement_column is not None
                ):
                    connection.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), :n)"),
                        {"n": max([row["id"] for row in rows], default=0) + 1},
                    )
    finally:
        target.dispose()
        origin.dispose()


def chain_of(url: str) -> list[tuple[int, str, str]]:
    """Each audit entry's id, previous hash and hash."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.execute(
                    text("SELECT id, prev_hash, hash FROM audit_log ORDER BY id")
                )
            ]
    finally:
        engine.dispose()


def test_the_head_revision_is_the_newest_migration() -> None:
    scripts = ScriptDirectory(str(triggers.store.schema._MIGRATIONS))
    assert scripts.get_heads() == [HEAD_REVISION]


def test_a_new_database_gets_the_schema_at_the_head_revision(store_url: str) -> None:
    assert schema_revision(store_url) is None
    with Store(store_url) as store:
        assert store.counts() == {"cases": 0, "events": 0, "alerts": 0, "audit": 0}
    assert schema_revision(store_url) == HEAD_REVISION
    assert upgrade_schema(store_url) == (HEAD_REVISION, HEAD_REVISION)


def test_the_migrations_make_exactly_the_models_schema(store_url: str, sql: Connection) -> None:
    assert upgrade_schema(store_url) == (None, HEAD_REVISION)
    assert compare_metadata(MigrationContext.configure(sql), Base.metadata) == []


def test_the_audit_log_is_append_only_after_migration(store_url: str, sql: Connection) -> None:
    upgrade_schema(store_url)
    sql.execute(
        text(
            "INSERT INTO audit_log (at, actor, activity, operation, alert_ids, details,"
            " prev_hash, hash) VALUES ('2020-01-01 00:00:00', 'a', 'collection', 'replay',"
            " '[]', '{}', 'p', 'h')"
        )
    )
    statements = ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"]
    if sql.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with pytest.raises(DatabaseError, match="the audit log is append-only"):
            sql.execute(text(statement))
    assert sql.scalar(text("SELECT count(*) FROM audit_log")) == 1


def test_opening_an_up_to_date_store_costs_one_query(store_url: str) -> None:
    upgrade_schema(store_url)
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(SQLAlchemyEngine, "before_cursor_execute", record)
    try:
        Store(store_url).close()
    finally:
        event.remove(SQLAlchemyEngine, "before_cursor_execute", record)
    queries = [s for s in seen if not s.startswith("BEGIN")]  # SQLite's BEGIN IMMEDIATE
    # The schema's revision, then the audit log's triggers.
    assert queries[0] == "SELECT version_num FROM alembic_version"
    assert len(queries) == 2
    assert "audit_log" in queries[1]


def at_once(code: str, url: str, count: int) -> None:
    """Run Python `code` in `count` processes released together, once each has imported and
    set up (printed "ready"); `sys.argv[1]` is `url`. Fails with their errors if any fails."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    errors = [process.communicate(timeout=300)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * count, errors


def test_processes_opening_a_new_store_at_once_all_succeed(store_url: str) -> None:
    # Each process imports, says it is ready, and opens the store when told to go.
    code = (
        "import sys; from triggers import Store; print('ready', flush=True);"
        " sys.stdin.readline(); Store(sys.argv[1]).close()"
    )
    at_once(code, store_url, 4)
    assert schema_revision(store_url) == HEAD_REVISION


def test_an_older_revision_is_refused_until_db_upgrade(
    store_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_mr_a(store_url, engine)
    with_next_revision(tmp_path, monkeypatch, NOTES_TABLE)
    older = older_than(store_url, HEAD_REVISION, NEXT)
    with pytest.raises(SchemaError) as refused:
        Store(store_url)
    assert str(refused.value) == older
    status = run("db", "status", "--store", store_url)
    assert status.exit_code == 1
    assert status.stderr == f"error: {older}\n"

    upgraded = run("db", "upgrade", "--store", store_url)
    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.stderr == f"schema revision {HEAD_REVISION} → {NEXT}\n"
    with Store(store_url) as store:
        assert store.counts()["alerts"] == 29
    assert (
        run("db", "status", "--store", store_url).stdout == f"schema revision {NEXT}: up to date\n"
    )
    again = run("db", "upgrade", "--store", store_url)
    assert (again.exit_code, again.stderr) == (
        0,
        f"schema revision {NEXT}: already up to date, nothing to do\n",
    )


def test_a_store_at_revision_0001_gets_its_audit_chain_on_upgrade(
    store_url: str, scratch_sqlite_url: str, engine: Engine, sql: Connection
) -> None:
    # The same store written by this version: the chain the upgrade must compute.
    written = scratch_sqlite_url
    store_mr_a(written, engine)
    at_revision_0001(store_url, written)
    with pytest.raises(SchemaError) as refused:
        Store(store_url)
    assert str(refused.value) == older_than(store_url, "0001", HEAD_REVISION)

    result = run("db", "upgrade", "--store", store_url)
    assert (result.exit_code, result.stderr) == (0, f"schema revision 0001 → {HEAD_REVISION}\n")
    assert chain_of(store_url) == chain_of(written)
    assert len(chain_of(store_url)) == 3  # replay, alerts list, acknowledge
    assert compare_metadata(MigrationContext.configure(sql), Base.metadata) == []
    verified = run("audit", "verify", "--store", store_url)
    assert (verified.exit_code, verified.stdout) == (0, "audit log intact: 3 entries\n")
    with Store(store_url) as store:  # and it goes on from there
        store.log("consultation", "test", reason=None, details={})
    assert run("audit", "verify", "--store", store_url).stdout == "audit log intact: 4 entries\n"


def test_a_failed_migration_changes_nothing(
    store_url: str, sql: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade_schema(store_url)
    with_next_revision(tmp_path, monkeypatch, f"{NOTES_TABLE}\nraise RuntimeError('boom')")
    result = run("db", "upgrade", "--store", store_url)
    assert result.exit_code == 1
    assert result.stderr == f"error: cannot upgrade the store {store_url!r}: boom\n"
    assert "notes" not in inspect(sql).get_table_names()
    with pytest.raises(SchemaError, match=f"has schema revision {HEAD_REVISION}, older"):
        schema_revision(store_url)


def test_a_store_from_before_migrations_is_refused_then_adopted(
    store_url: str, scratch_sqlite_url: str, engine: Engine, sql: Connection
) -> None:
    written = scratch_sqlite_url
    store_mr_a(written, engine)
    at_revision_0001(store_url, written)
    sql.execute(text("DROP TABLE alembic_version"))  # as risk-triggers left it before migrations
    with pytest.raises(SchemaError) as refused:
        Store(store_url)
    assert str(refused.value) == (
        f"the store {store_url!r} has a schema from before risk-triggers managed it with"
        f" migrations, older than this version of risk-triggers expects (revision"
        f" {HEAD_REVISION}): back up the database, then run:"
        f" triggers db upgrade --store {shlex.quote(store_url)}"
    )
    result = run("db", "upgrade", "--store", store_url)
    assert (result.exit_code, result.stderr) == (0, f"schema revision none → {HEAD_REVISION}\n")
    assert chain_of(store_url) == chain_of(written)
    with Store(store_url) as store:
        assert store.counts() == {"cases": 1, "events": 26, "alerts": 29, "audit": 3}


def test_an_early_development_layout_is_not_adopted(store_url: str, sql: Connection) -> None:
    sql.execute(text("CREATE TABLE cases (id VARCHAR(200) PRIMARY KEY, title TEXT)"))
    with pytest.raises(SchemaError, match="from before risk-triggers managed it"):
        Store(store_url)
    result = run("db", "upgrade", "--store", store_url)
    assert result.exit_code == 1
    assert (
        f"error: the store {store_url!r} is from before risk-triggers managed its schema with"
        " migrations, but it does not have the layout of revision 0001 (table alert_history is"
        " missing; table alerts is missing; table audit_log is missing; cases lacks clock,"
        " created_at, subject, updated_at;"
    ) in result.stderr
    assert "cannot be upgraded. Replay its chronologies into a new store" in result.stderr
    assert inspect(sql).get_table_names() == ["cases"]


def test_a_newer_revision_is_refused(store_url: str, sql: Connection) -> None:
    upgrade_schema(store_url)
    sql.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    newer = (
        f"the store {store_url!r} has schema revision 0999, which this version of risk-triggers"
        f" (schema {HEAD_REVISION}) does not know: a newer risk-triggers upgraded it. Upgrade"
        " risk-triggers to use this store (pip install --upgrade risk-triggers)"
    )
    with pytest.raises(SchemaError) as refused:
        Store(store_url)
    assert str(refused.value) == newer
    for name in ("upgrade", "status"):
        result = run("db", name, "--store", store_url)
        assert (result.exit_code, result.stderr) == (1, f"error: {newer}\n")
    assert sql.scalar(text("SELECT version_num FROM alembic_version")) == "0999"


def test_another_applications_database_is_refused(store_url: str, sql: Connection) -> None:
    sql.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
    sql.execute(text("INSERT INTO alembic_version VALUES ('ae1027a6acf')"))
    with pytest.raises(SchemaError, match="it is another application's database"):
        Store(store_url)


def test_db_status_of_an_empty_store(store_url: str) -> None:
    result = run("db", "status", "--store", store_url)
    assert (result.exit_code, result.stdout) == (
        0,
        f"no schema yet: the first command that uses the store creates revision {HEAD_REVISION}\n",
    )


def test_a_password_is_never_shown(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://user:secret@/triggers?host={tmp_path}"  # no server there
    with pytest.raises(StoreError) as failed:
        upgrade_schema(url)
    assert str(failed.value).startswith(
        "cannot upgrade the store 'postgresql+psycopg://user:***@/triggers?host="
    )
    assert "secret" not in str(failed.value)
