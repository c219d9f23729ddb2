"""The store's schema: Alembic migrations, and whether a database's schema is this code's.

A store opens only a database whose schema is this code's revision
(`HEAD_REVISION`); it creates the schema in an empty database, and refuses an
older or newer one, saying what to run (`triggers db upgrade`, `upgrade_schema`),
and one whose audit log has lost a trigger that keeps it append-only (`guards`),
which `triggers db upgrade` restores.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from triggers.errors import SchemaError, StoreError, TriggersError
from triggers.store import guards
from triggers.store.connection import connect, failure, masked, shown
from triggers.store.settings import store_url
from triggers.store.tables import Base

__all__ = [
    "HEAD_REVISION",
    "Upgrade",
    "open_schema",
    "schema_revision",
    "upgrade",
    "upgrade_schema",
]

#: PostgreSQL advisory lock held while the tables are made ("triggers" in ASCII).
_SCHEMA_LOCK = 0x7472696767657273

#: The schema revision this version of risk-triggers reads and writes: the newest
#: migration in triggers/migrations/versions (a test keeps the two in step).
HEAD_REVISION = "0002"
#: The revision whose schema risk-triggers created before it had migrations.
_BASELINE_REVISION = "0001"
_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_VERSION_TABLE = "alembic_version"

#: Where a database's schema stands against this code.
_SchemaState = Literal["current", "empty", "unversioned", "older", "newer", "foreign"]


def _config(connection: Connection) -> Config:
    """Alembic's configuration: the packaged migrations, run on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    config.attributes["metadata"] = Base.metadata
    return config


def _schema_state(connection: Connection) -> tuple[_SchemaState, str | None]:
    """Where the database's schema stands, and the revision it records."""
    tables = set(inspect(connection).get_table_names())
    ours = not tables.isdisjoint(Base.metadata.tables)
    revisions: list[str] = []
    if _VERSION_TABLE in tables:
        revisions = list(connection.scalars(text(f"SELECT version_num FROM {_VERSION_TABLE}")))
    if not revisions:
        return ("unversioned" if ours else "empty"), None
    revision = ", ".join(revisions)
    if revisions == [HEAD_REVISION]:
        return "current", revision
    known = {script.revision for script in ScriptDirectory(str(_MIGRATIONS)).walk_revisions()}
    if not known.issuperset(revisions):
        return ("newer" if ours else "foreign"), revision
    return "older", revision


def _refusal(url: str, state: _SchemaState, revision: str | None) -> SchemaError:
    """Why this code will not use the database, and what to run."""
    given = shown(url)
    store = f"the store {given!r}"
    upgrade = f"back up the database, then run: triggers db upgrade --store {shlex.quote(given)}"
    if state == "unversioned":
        return SchemaError(
            f"{store} has a schema from before risk-triggers managed it with migrations, older"
            f" than this version of risk-triggers expects (revision {HEAD_REVISION}): {upgrade}"
        )
    if state == "older":
        return SchemaError(
            f"{store} has schema revision {revision}, older than this version of risk-triggers"
            f" expects ({HEAD_REVISION}): {upgrade}"
        )
    if state == "newer":
        return SchemaError(
            f"{store} has schema revision {revision}, which this version of risk-triggers"
            f" (schema {HEAD_REVISION}) does not know: a newer risk-triggers upgraded it."
            " Upgrade risk-triggers to use this store (pip install --upgrade risk-triggers)"
        )
    return SchemaError(
        f"{store} records schema revision {revision} in {_VERSION_TABLE} but has none of"
        " risk-triggers' tables: it is another application's database. Give risk-triggers"
        " a database of its own"
    )


def open_schema(engine: Engine, url: str) -> None:
    """Check that the schema is this code's and the audit log's triggers are in place (two
    queries), creating the schema in an empty database."""
    with engine.connect() as connection:
        try:
            revisions = list(connection.scalars(text(f"SELECT version_num FROM {_VERSION_TABLE}")))
        except SQLAlchemyError:  # no version table: empty, or older; looked into below
            revisions = []
        else:
            if revisions == [HEAD_REVISION]:
                guards.check(connection, url)
                return
    _migrate(engine, url, upgrade=False)


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade` did: the revisions from (None: no schema) and to, the audit-log
    triggers it restored (what was wrong with each), and the application role it set up."""

    before: str | None
    after: str
    restored: tuple[str, ...] = ()
    app_role: str | None = None


def _migrate(engine: Engine, url: str, *, upgrade: bool, app_role: str | None = None) -> Upgrade:
    """Bring the schema to HEAD_REVISION in one transaction.

    An empty database gets the whole schema. With `upgrade`, an older schema is
    migrated, one from before migrations is checked and adopted, and missing or
    altered audit-log triggers are restored; otherwise they are refused, as a newer
    schema always is. With `app_role`, that role is left only what the application
    needs (`guards.check_app_role`, `guards.grant_app_role`).
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes opening a new database at once would both create its
            # tables; the second waits here and then finds them.
            connection.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
        if app_role is not None:  # first: the owner may not even read another's tables
            guards.check_app_role(connection, app_role, url)
        state, revision = _schema_state(connection)
        restored: list[str] = []
        if state in ("newer", "foreign") or (state not in ("empty", "current") and not upgrade):
            raise _refusal(url, state, revision)
        if state == "current":
            restored = guards.problems(connection) if upgrade else []
            if restored:
                guards.install(connection)
        else:
            config = _config(connection)
            if state == "unversioned":
                _check_baseline(connection, url)
                command.stamp(config, _BASELINE_REVISION)
            command.upgrade(config, HEAD_REVISION)
        if app_role is not None:
            guards.grant_app_role(connection, app_role)
    return Upgrade(revision, HEAD_REVISION, tuple(restored), app_role)


def _layout(connection: Connection) -> dict[str, set[str]]:
    """Each table's column names."""
    inspector = inspect(connection)
    return {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in inspector.get_table_names()
        if table != _VERSION_TABLE
    }


def _check_baseline(connection: Connection, url: str) -> None:
    """Refuse to adopt a database from before migrations unless it has the baseline's layout."""
    baseline = connect("sqlite://")
    try:
        with baseline.begin() as memory:
            command.upgrade(_config(memory), _BASELINE_REVISION)
            expected = _layout(memory)
    finally:
        baseline.dispose()
    found = _layout(connection)
    problems = [
        f"table {table} is missing"
        if table not in found
        else f"{table} lacks {', '.join(sorted(columns - found[table]))}"
        for table, columns in sorted(expected.items())
        if not columns <= found.get(table, set())
    ]
    if problems:
        raise SchemaError(
            f"the store {shown(url)!r} is from before risk-triggers managed its schema with"
            f" migrations, but it does not have the layout of revision {_BASELINE_REVISION}"
            f" ({'; '.join(problems)}): an early development version wrote it, and it cannot"
            " be upgraded. Replay its chronologies into a new store"
        )


def upgrade_schema(url: str | None = None) -> tuple[str | None, str]:
    """Migrate the store's schema to `HEAD_REVISION`; returns the (from, to) revisions.

    One transaction: the migration completes or changes nothing. An empty database
    gets the whole schema (from None); a database from before migrations is checked
    against the initial revision and adopted (from None). Missing or altered
    audit-log triggers are restored. Raises `SchemaError` if the schema is newer
    than this code, `StoreError` if the migration fails.
    """
    done = upgrade(url)
    return done.before, done.after


def upgrade(url: str | None = None, *, app_role: str | None = None) -> Upgrade:
    """`upgrade_schema`, saying which triggers it restored; on PostgreSQL, with `app_role`,
    it also leaves that role only what the application needs (SELECT and INSERT on the
    audit log), in the same transaction. The connecting role must own the tables."""
    url = store_url(url)
    engine = connect(url)
    try:
        return _migrate(engine, url, upgrade=True, app_role=app_role)
    except TriggersError:
        raise
    except SQLAlchemyError as error:
        raise StoreError(
            f"cannot upgrade the store {shown(url)!r}: {failure(error, url)}"
        ) from None
    except Exception as error:  # a migration failed: nothing of it was kept
        raise StoreError(
            f"cannot upgrade the store {shown(url)!r}: {masked(str(error), url)}"
        ) from error
    finally:
        engine.dispose()


def schema_revision(url: str | None = None, *, check_guards: bool = True) -> str | None:
    """The store's schema revision: `HEAD_REVISION`, or None for an empty database.

    Raises `SchemaError`, saying what to run, if the schema is older or newer than
    this code, and (unless `check_guards` is false) `AuditLogError` if a trigger that keeps
    the audit log append-only is missing, altered or disabled.
    """
    url = store_url(url)
    engine = connect(url)
    try:
        with engine.connect() as connection:
            state, revision = _schema_state(connection)
            if state == "current" and check_guards:
                guards.check(connection, url)
    except SQLAlchemyError as error:
        raise StoreError(f"cannot open the store {shown(url)!r}: {failure(error, url)}") from None
    finally:
        engine.dispose()
    if state == "current":
        return revision
    if state == "empty":
        return None
    raise _refusal(url, state, revision)
