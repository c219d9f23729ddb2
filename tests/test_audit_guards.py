"""The audit log is append-only against the application itself: every route to change,
remove or replace an entry is refused by the database; a lost trigger is refused at
every opening; on PostgreSQL the application's role may only read and add."""

from __future__ import annotations

import shlex
import sqlite3
import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DatabaseError

from tests.conftest import MR_A, backend
from tests.postgres import ROLE, PostgresServer
from triggers import AuditLogError, Store
from triggers.cli import cli
from triggers.store import HEAD_REVISION
from triggers.store.connection import connect

sqlite_only = pytest.mark.sqlite_only
postgresql_only = pytest.mark.skipif(
    backend() != "postgresql", reason="needs a PostgreSQL server to connect to"
)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def entries(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT id, actor, hash FROM audit_log ORDER BY id"))
            return [tuple(row) for row in found]
    finally:
        engine.dispose()


@pytest.fixture
def logged(store_url: str) -> str:
    """A store with three audit entries."""
    with Store(store_url, actor="analyst-1") as store:
        for number in range(3):
            store.log("consultation", "report", reason=None, details={"n": number})
    return store_url


def lost(url: str, problem: str) -> str:
    """The message for a store whose audit log lost its protection."""
    quoted = shlex.quote(url)
    owner = ", connecting as the tables' owner" if url.startswith("postgresql") else ""
    return (
        f"the store {url!r} has lost the audit log's protection: {problem}. Its entries may"
        " have been changed or removed meanwhile: check them with triggers audit verify"
        f" --store {quoted}, then restore the protection with triggers db upgrade --store"
        f" {quoted}{owner}"
    )


# --- SQLite ------------------------------------------------------------------------------

#: Every way to change, remove or replace entry 1, and what SQLite answers.
CHANGED = "the audit log is append-only: an entry cannot be changed"
REMOVED = "the audit log is append-only: an entry cannot be removed"
REPLACED = "the audit log is append-only: an entry cannot be replaced"
_COLUMNS = "(id, at, actor, activity, operation, alert_ids, details, prev_hash, hash)"
_VALUES = "'2020-01-01 00:00:00', 'mallory', 'consultation', 'x', '[]', '{}'"
SQLITE_ROUTES = {
    "UPDATE": ("UPDATE audit_log SET actor = 'mallory' WHERE id = 1", CHANGED),
    "DELETE": ("DELETE FROM audit_log WHERE id = 1", REMOVED),
    "REPLACE INTO": (
        f"REPLACE INTO audit_log {_COLUMNS} VALUES (1, {_VALUES}, 'p', 'h')",
        REPLACED,
    ),
    "INSERT OR REPLACE": (
        f"INSERT OR REPLACE INTO audit_log {_COLUMNS} VALUES (1, {_VALUES}, 'p', 'h')",
        REPLACED,
    ),
    "INSERT OR REPLACE over its link": (
        f"INSERT OR REPLACE INTO audit_log {_COLUMNS} VALUES (99, {_VALUES}, '{'0' * 64}', 'h')",
        REPLACED,
    ),
    "INSERT with its id": (
        f"INSERT INTO audit_log {_COLUMNS} VALUES (1, {_VALUES}, 'p', 'h')",
        REPLACED,
    ),
    "upsert": (
        f"INSERT INTO audit_log {_COLUMNS} VALUES (1, {_VALUES}, 'p', 'h')"
        " ON CONFLICT (id) DO UPDATE SET actor = 'mallory'",
        REPLACED,
    ),
}


@sqlite_only
@pytest.mark.parametrize(("statement", "refusal"), SQLITE_ROUTES.values(), ids=SQLITE_ROUTES)
def test_sqlite_refuses_every_route_to_rewrite_an_entry(
    logged: str, statement: str, refusal: str
) -> None:
    before = entries(logged)
    path = make_url(logged).database
    assert path is not None
    # As the sqlite3 shell would (recursive_triggers off), and as the store connects.
    plain = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match=f"^{refusal}$"):
            plain.execute(statement)
    finally:
        plain.close()
    engine = connect(logged)
    try:
        with pytest.raises(DatabaseError, match=refusal), engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    assert entries(logged) == before


@sqlite_only
def test_the_store_runs_sqlite_with_recursive_triggers(store_url: str) -> None:
    engine = connect(store_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA recursive_triggers").scalar() == 1
    finally:
        engine.dispose()


@sqlite_only
def test_a_dropped_trigger_is_refused_at_every_opening_until_restored(logged: str) -> None:
    path = make_url(logged).database
    assert path is not None
    with sqlite3.connect(path) as shell:
        shell.execute("DROP TRIGGER audit_log_no_update")
        shell.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")  # now it can
    message = lost(logged, "trigger audit_log_no_update (which refuses UPDATE) is missing")
    with pytest.raises(AuditLogError) as refused:
        Store(logged)
    assert (str(refused.value), refused.value.exit_code, refused.value.entry) == (message, 1, None)
    for command in (["audit"], ["alerts", "list"], ["db", "status"], ["tick"]):
        result = run(*command, "--store", logged)
        assert (result.exit_code, result.stderr) == (1, f"error: {message}\n"), command
    # verify still reads the log: the changed entry first, then the lost trigger.
    verified = run("audit", "verify", "--store", logged)
    assert verified.exit_code == 1
    assert verified.stderr.startswith(
        "error: audit log broken at entry 2: its content does not match its hash"
    )

    restored = run("db", "upgrade", "--store", logged)
    assert (restored.exit_code, restored.stderr) == (
        0,
        "restored the audit log's protection, as trigger audit_log_no_update (which refuses"
        " UPDATE) is missing\n",
    )
    Store(logged).close()
    with sqlite3.connect(path) as shell, pytest.raises(sqlite3.IntegrityError, match=CHANGED):
        shell.execute("UPDATE audit_log SET actor = 'x' WHERE id = 2")
    # The changed entry stays the evidence it is.
    assert run("audit", "verify", "--store", logged).exit_code == 1


@sqlite_only
def test_verify_reports_an_intact_chain_and_then_the_lost_trigger(logged: str) -> None:
    with sqlite3.connect(str(make_url(logged).database)) as shell:
        shell.execute("DROP TRIGGER audit_log_no_delete")
    result = run("audit", "verify", "--store", logged)
    assert (result.exit_code, result.stdout) == (1, "audit log intact: 3 entries\n")
    message = lost(logged, "trigger audit_log_no_delete (which refuses DELETE) is missing")
    assert result.stderr.endswith(f"\nerror: {message}\n")


@sqlite_only
def test_an_altered_trigger_is_refused(logged: str) -> None:
    path = make_url(logged).database
    assert path is not None
    with sqlite3.connect(path) as shell:
        shell.execute("DROP TRIGGER audit_log_no_delete")
        shell.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT 1; END"
        )
        shell.execute("DROP TRIGGER audit_log_no_overwrite")
    with pytest.raises(AuditLogError) as refused:
        Store(logged)
    assert str(refused.value) == lost(
        logged,
        "trigger audit_log_no_delete is not as risk-triggers made it; trigger"
        " audit_log_no_overwrite (which refuses REPLACE and inserts over an existing entry)"
        " is missing",
    )


@sqlite_only
def test_an_app_role_is_for_postgresql(store_url: str) -> None:
    result = run("db", "upgrade", "--store", store_url, "--app-role", "app")
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: the store {store_url!r}: --app-role is for PostgreSQL stores; an SQLite store"
        " is a file, which only its file permissions protect\n",
    )


# --- PostgreSQL, as the tables' owner ------------------------------------------------------

_PG_INSERT = (
    "INSERT INTO audit_log (id, at, actor, activity, operation, alert_ids, details,"
    " prev_hash, hash) VALUES (1, now(), 'm', 'consultation', 'x', '[]', '{}', 'p', 'h')"
)
#: Every way to change, remove or replace entry 1, and what PostgreSQL answers.
PG_ROUTES = {
    "UPDATE": (
        "UPDATE audit_log SET actor = 'mallory' WHERE id = 1",
        "the audit log is append-only: UPDATE is refused",
    ),
    "DELETE": (
        "DELETE FROM audit_log WHERE id = 1",
        "the audit log is append-only: DELETE is refused",
    ),
    "TRUNCATE": ("TRUNCATE audit_log", "the audit log is append-only: TRUNCATE is refused"),
    "upsert": (
        f"{_PG_INSERT} ON CONFLICT (id) DO UPDATE SET actor = 'mallory'",
        "the audit log is append-only: UPDATE is refused",
    ),
    "INSERT with its id": (
        _PG_INSERT,
        'duplicate key value violates unique constraint "audit_log_pkey"',
    ),
}


@postgresql_only
@pytest.mark.parametrize(("statement", "refusal"), PG_ROUTES.values(), ids=PG_ROUTES)
def test_postgresql_refuses_changes_even_to_the_owner_in_replica_mode(
    logged: str, statement: str, refusal: str
) -> None:
    before = entries(logged)
    engine = create_engine(logged)
    try:
        for replica in (False, True):
            with pytest.raises(DatabaseError, match=refusal), engine.begin() as connection:
                if replica:  # what would switch off an ordinary trigger
                    connection.execute(text("SET LOCAL session_replication_role = replica"))
                connection.execute(text(statement))
    finally:
        engine.dispose()
    assert entries(logged) == before


PG_LOST = {
    "dropped": (
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "trigger audit_log_append_only (which refuses UPDATE, DELETE and TRUNCATE) is missing",
    ),
    "disabled": (
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "trigger audit_log_append_only is disabled",
    ),
    "not always": (
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
        "trigger audit_log_append_only fires only while session_replication_role is origin or"
        " local, not always",
    ),
    "emptied": (
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NULL; END $$",
        "function audit_log_append_only(), which the trigger runs, is not as risk-triggers made it",
    ),
}


@postgresql_only
@pytest.mark.parametrize(("statement", "problem"), PG_LOST.values(), ids=PG_LOST)
def test_postgresql_refuses_to_open_a_store_whose_trigger_was_tampered_with(
    logged: str, statement: str, problem: str
) -> None:
    engine = create_engine(logged)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
    with pytest.raises(AuditLogError) as refused:
        Store(logged)
    assert str(refused.value) == lost(logged, problem)
    restored = run("db", "upgrade", "--store", logged)
    assert restored.exit_code == 0, restored.stderr
    assert restored.stderr == f"restored the audit log's protection, as {problem}\n"
    assert run("audit", "verify", "--store", logged).stdout == "audit log intact: 3 entries\n"


# --- PostgreSQL: an owner role and the application's role -----------------------------------


def as_role(url: str, role: str) -> str:
    """The test server's URL for `role` (the server trusts its socket)."""
    return make_url(url).set(username=role).render_as_string(hide_password=False)


@pytest.fixture
def roles(store_url: str, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """An owner role, owning the test's database, and an application role: both LOGIN."""
    server: PostgresServer = request.getfixturevalue("postgres")
    suffix = uuid.uuid4().hex[:8]
    owner, app = f"owner_{suffix}", f"app_{suffix}"
    database = make_url(store_url).database
    with server.connect(str(database)) as admin:
        admin.execute(f"CREATE ROLE {owner} LOGIN".encode())
        admin.execute(f"CREATE ROLE {app} LOGIN".encode())
        admin.execute(f'ALTER DATABASE "{database}" OWNER TO {owner}'.encode())
    yield owner, app
    with server.connect(str(database)) as admin:
        admin.execute(f'ALTER DATABASE "{database}" OWNER TO {ROLE}'.encode())
        admin.execute(f"DROP OWNED BY {owner}, {app}".encode())
        admin.execute(f"DROP ROLE {owner}, {app}".encode())


#: What the application's role tries on the log, and how PostgreSQL refuses it.
APP_REFUSALS = {
    "UPDATE audit_log SET actor = 'mallory'": "permission denied for table audit_log",
    "DELETE FROM audit_log": "permission denied for table audit_log",
    "TRUNCATE audit_log": "permission denied for table audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only": "must be owner of table",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL": "must be owner of table audit_log",
    "DROP TRIGGER audit_log_append_only ON audit_log": "must be owner of relation audit_log",
    "DROP TABLE audit_log": "must be owner of table audit_log",
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN RETURN NULL; END $$": "permission denied for schema public",
    "DROP FUNCTION audit_log_append_only() CASCADE": "must be owner of function",
    "ALTER TABLE audit_log RENAME TO old_log": "must be owner of table audit_log",
}


@postgresql_only
def test_the_application_role_may_only_read_and_add_to_the_log(
    store_url: str, roles: tuple[str, str]
) -> None:
    owner, app = roles
    owner_url, app_url = as_role(store_url, owner), as_role(store_url, app)
    done = run("db", "upgrade", "--store", owner_url, "--app-role", app)
    assert (done.exit_code, done.stderr) == (
        0,
        f"schema revision none → {HEAD_REVISION}\nrole {app} may read the store and add to it;"
        " on the audit log it may only SELECT and INSERT\n",
    )
    # The application works as that role...
    for command in (
        ["replay", str(MR_A), "--workers", "1"],
        ["alerts", "ack", "1", "--note", "seen"],
        ["alerts", "resolve", "1", "--note", "done"],
        ["tick", "--now", "2030-01-01"],
        ["audit"],
    ):
        result = run(*command, "--store", app_url)
        assert result.exit_code == 0, (command, result.output)
    verified = run("audit", "verify", "--store", app_url)
    assert (verified.exit_code, verified.stdout) == (0, "audit log intact: 4 entries\n")
    # ...and can neither change, remove nor unprotect the log.
    engine = create_engine(app_url)
    try:
        for statement, refusal in APP_REFUSALS.items():
            with pytest.raises(DatabaseError, match=refusal), engine.begin() as connection:
                connection.execute(text(statement))
    finally:
        engine.dispose()
    assert run("audit", "verify", "--store", app_url).stdout == "audit log intact: 4 entries\n"
    # An erasure's VACUUM needs the tables' owner: the owner erases.
    erased = run("case", "erase", "hh-ii-jj", "--reason", "retention ended", "--store", owner_url)
    assert erased.exit_code == 0, erased.stderr
    assert erased.stderr.startswith("erased case hh-ii-jj: 26 event(s), 29 alert(s)")
    assert run("audit", "verify", "--store", app_url).stdout == "audit log intact: 5 entries\n"


@postgresql_only
def test_an_app_role_that_owns_the_tables_is_refused(
    store_url: str, roles: tuple[str, str], postgres: PostgresServer
) -> None:
    owner, app = roles
    with postgres.connect(str(make_url(store_url).database)) as admin:
        admin.execute(f"GRANT CREATE ON SCHEMA public TO {app}".encode())
    Store(as_role(store_url, app)).close()  # the application made the tables: it owns them
    owner_url = as_role(store_url, owner)
    result = run("db", "upgrade", "--store", owner_url, "--app-role", app)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: the store {owner_url!r}: cannot keep role {app!r} to its share of the store:"
        " alembic_version, alert_history, alerts, audit_log, audit_log_append_only(), cases,"
        f" erasures, events, rule_sets belong to {app!r}, not to {owner!r}, the role this"
        " command connects as, which must own them all so that no other role can alter or"
        f" drop them. As a superuser, in this database, run REASSIGN OWNED BY {app} TO"
        f" {owner}; then run this command again\n"
    )


@postgresql_only
def test_an_app_role_must_be_another_ordinary_role(store_url: str, roles: tuple[str, str]) -> None:
    owner, _ = roles
    owner_url = as_role(store_url, owner)
    for role, refusal in (
        (
            "nobody_here",
            "there is no role 'nobody_here': create it first (CREATE ROLE nobody_here LOGIN)",
        ),
        (
            owner,
            f"{owner!r} is the role this command connects as, which owns the tables:"
            " connect as the owner role and name the application's role",
        ),
        (ROLE, f"{ROLE!r} is a superuser, whom no privilege limits: give it a role of its own"),
    ):
        result = run("db", "upgrade", "--store", owner_url, "--app-role", role)
        assert (result.exit_code, result.stderr) == (
            1,
            f"error: the store {owner_url!r}: cannot keep role {role!r} to its share of the"
            f" store: {refusal}\n",
        )
