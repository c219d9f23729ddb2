"""The SQL store: cases, their events, alerts and their lifecycle, rule-set versions, audit log.

SQLite by default, any SQLAlchemy URL otherwise (PostgreSQL for teams).
Everything written for one case happens in one transaction, and writing the
same case again adds nothing that is already there. Events are append-only
(only an erasure removes them); the audit log is append-only without exception,
which the database itself enforces. ORM rows never leave this module: callers
get Pydantic models.

The schema is made by the Alembic migrations in `triggers/migrations/`. A store
opens only a database whose schema is this code's revision (`HEAD_REVISION`);
it creates the schema in an empty database, and refuses an older or newer one,
saying what to run (`triggers db upgrade`, `upgrade_schema`).
"""

from __future__ import annotations

import getpass
import os
import shlex
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    delete,
    func,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from triggers.engine.explain import Explanation, explain
from triggers.engine.replay import CaseResult
from triggers.engine.replay import Engine as ReplayEngine
from triggers.errors import (
    LifecycleError,
    NotFoundError,
    ReasonRequiredError,
    SchemaError,
    StoreError,
    TriggersError,
)
from triggers.models.alerts import Alert, AlertStatus, StatusChange, StoredAlert
from triggers.models.audit import ACTIVITIES, Activity, AuditEntry, ErasureRecord
from triggers.models.chronology import Chronology
from triggers.models.events import Event, event_adapter
from triggers.rules.compiled import CompiledRuleSet
from triggers.rules.loader import rules_from_texts

__all__ = [
    "ACTOR_ENV",
    "DEFAULT_STORE_URL",
    "HEAD_REVISION",
    "REQUIRE_REASON_ENV",
    "STORE_ENV",
    "SaveSummary",
    "Store",
    "schema_revision",
    "store_url",
    "upgrade_schema",
]

STORE_ENV = "TRIGGERS_STORE"
ACTOR_ENV = "TRIGGERS_ACTOR"
REQUIRE_REASON_ENV = "TRIGGERS_REQUIRE_REASON"
DEFAULT_STORE_URL = "sqlite:///triggers.sqlite"
#: PostgreSQL advisory lock held while the tables are made ("triggers" in ASCII).
_SCHEMA_LOCK = 0x7472696767657273


def store_url(url: str | None = None) -> str:
    """The store to use: `url`, else `$TRIGGERS_STORE`, else `triggers.sqlite` here."""
    return url or os.environ.get(STORE_ENV) or DEFAULT_STORE_URL


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class _Base(DeclarativeBase):
    pass


class _CaseRow(_Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Event time up to which deadlines have passed for this case (`tick`, `--until`).
    clock: Mapped[datetime | None] = mapped_column(UTCDateTime)


class _EventRow(_Base):
    __tablename__ = "events"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    type: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class _RuleSetRow(_Base):
    __tablename__ = "rule_sets"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    files: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class _AlertRow(_Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("key", name="uq_alerts_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(200), index=True)
    rules_version: Mapped[str] = mapped_column(ForeignKey("rule_sets.version"))
    action: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(Text)
    event_ids: Mapped[list[str]] = mapped_column(JSON)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), index=True)
    due_by: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    superseded_reason: Mapped[str | None] = mapped_column(Text)


class _StatusChangeRow(_Base):
    __tablename__ = "alert_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


# The database itself refuses to change or remove an audit entry, through triggers
# that the initial migration makes (triggers/migrations/versions/0001_initial.py).
class _AuditRow(_Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    activity: Mapped[str] = mapped_column(String(16))
    operation: Mapped[str] = mapped_column(String(64))
    # No foreign key: the log outlives an erased case.
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    alert_ids: Mapped[list[int]] = mapped_column(JSON)
    justification: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class _ErasureRow(_Base):
    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    events: Mapped[int] = mapped_column(Integer)
    alerts: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class SaveSummary:
    """What saving or ingesting one case changed in the store."""

    case: str
    new_events: int
    new_alerts: int
    superseded: int = 0


#: Statuses from which people may still act on an alert.
_ACTIVE = ("open", "acknowledged")
#: Which statuses each lifecycle operation may start from.
_TRANSITIONS: dict[str, tuple[AlertStatus, tuple[str, ...]]] = {
    "acknowledge": ("acknowledged", ("open",)),
    "resolve": ("resolved", _ACTIVE),
    "dismiss": ("dismissed", _ACTIVE),
}


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook open transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Switching a new file to WAL while another process does the same can answer
    # "database is locked" at once, without waiting on busy_timeout: retry for 30 s.
    for attempt in range(300):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == 299:
                raise
            time.sleep(0.1)
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock at the start: two processes ingesting the same case must
    # not both read its history and then both write (busy_timeout makes one wait).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _now() -> datetime:
    return datetime.now(UTC)


def _default_actor() -> str:
    return os.environ.get(ACTOR_ENV) or getpass.getuser()


def _required_reasons() -> frozenset[str]:
    """Activities for which this deployment requires a justification ($TRIGGERS_REQUIRE_REASON)."""
    setting = os.environ.get(REQUIRE_REASON_ENV, "")
    names = {name.strip() for name in setting.split(",") if name.strip()}
    if "all" in names:
        return frozenset(ACTIVITIES)
    unknown = names - set(ACTIVITIES)
    if unknown:
        raise StoreError(
            f"{REQUIRE_REASON_ENV} names {', '.join(sorted(unknown))}: expected a comma-separated"
            f" list of {', '.join(ACTIVITIES)}, or all"
        )
    return frozenset(names)


def _create_engine(url: str) -> Engine:
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as error:
        raise StoreError(
            f"cannot use the store {url!r}: {error}. Give an SQLAlchemy URL such as"
            " sqlite:///triggers.sqlite or postgresql+psycopg://user@host/db"
        ) from None
    if engine.dialect.name == "sqlite":
        sqlalchemy_event.listen(engine, "connect", _sqlite_connect)
        sqlalchemy_event.listen(engine, "begin", _sqlite_begin)
    return engine


# --- the schema: Alembic migrations ------------------------------------------------

#: The schema revision this version of risk-triggers reads and writes: the newest
#: migration in triggers/migrations/versions (a test keeps the two in step).
HEAD_REVISION = "0001"
#: The revision whose schema risk-triggers created before it had migrations.
_BASELINE_REVISION = "0001"
_MIGRATIONS = Path(__file__).with_name("migrations")
_VERSION_TABLE = "alembic_version"

#: Where a database's schema stands against this code.
_SchemaState = Literal["current", "empty", "unversioned", "older", "newer", "foreign"]


def _config(connection: Connection) -> Config:
    """Alembic's configuration: the packaged migrations, run on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    config.attributes["metadata"] = _Base.metadata
    return config


def _schema_state(connection: Connection) -> tuple[_SchemaState, str | None]:
    """Where the database's schema stands, and the revision it records."""
    tables = set(inspect(connection).get_table_names())
    ours = not tables.isdisjoint(_Base.metadata.tables)
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


def _shown(url: str) -> str:
    """The URL as it may be shown: as given, unless it has a password to hide."""
    parsed = make_url(url)
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


def _refusal(url: str, state: _SchemaState, revision: str | None) -> SchemaError:
    """Why this code will not use the database, and what to run."""
    shown = _shown(url)
    store = f"the store {shown!r}"
    upgrade = f"back up the database, then run: triggers db upgrade --store {shlex.quote(shown)}"
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


def _open_schema(engine: Engine, url: str) -> None:
    """Check that the schema is this code's (one query), creating it in an empty database."""
    with engine.connect() as connection:
        try:
            revisions = list(connection.scalars(text(f"SELECT version_num FROM {_VERSION_TABLE}")))
        except SQLAlchemyError:  # no version table: empty, or older; looked into below
            revisions = []
    if revisions != [HEAD_REVISION]:
        _migrate(engine, url, upgrade=False)


def _migrate(engine: Engine, url: str, *, upgrade: bool) -> tuple[str | None, str]:
    """Bring the schema to HEAD_REVISION in one transaction; returns (from, to) revisions.

    An empty database gets the whole schema. With `upgrade`, an older schema is
    migrated, and one from before migrations is checked and adopted; otherwise
    they are refused, as a newer schema always is.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes opening a new database at once would both create its
            # tables; the second waits here and then finds them.
            connection.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
        state, revision = _schema_state(connection)
        if state == "current":
            return revision, HEAD_REVISION
        if state in ("newer", "foreign") or (state != "empty" and not upgrade):
            raise _refusal(url, state, revision)
        config = _config(connection)
        if state == "unversioned":
            _check_baseline(connection, url)
            command.stamp(config, _BASELINE_REVISION)
        command.upgrade(config, HEAD_REVISION)
    return revision, HEAD_REVISION


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
    baseline = _create_engine("sqlite://")
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
            f"the store {_shown(url)!r} is from before risk-triggers managed its schema with"
            f" migrations, but it does not have the layout of revision {_BASELINE_REVISION}"
            f" ({'; '.join(problems)}): an early development version wrote it, and it cannot"
            " be upgraded. Replay its chronologies into a new store"
        )


def upgrade_schema(url: str | None = None) -> tuple[str | None, str]:
    """Migrate the store's schema to `HEAD_REVISION`; returns the (from, to) revisions.

    One transaction: the migration completes or changes nothing. An empty database
    gets the whole schema (from None); a database from before migrations is checked
    against the initial revision and adopted (from None). Raises `SchemaError` if
    the schema is newer than this code, `StoreError` if the migration fails.
    """
    url = store_url(url)
    engine = _create_engine(url)
    try:
        return _migrate(engine, url, upgrade=True)
    except TriggersError:
        raise
    except SQLAlchemyError as error:
        raise StoreError(
            f"cannot upgrade the store {_shown(url)!r}: {error.__cause__ or error}"
        ) from None
    except Exception as error:  # a migration failed: nothing of it was kept
        raise StoreError(f"cannot upgrade the store {_shown(url)!r}: {error}") from error
    finally:
        engine.dispose()


def schema_revision(url: str | None = None) -> str | None:
    """The store's schema revision: `HEAD_REVISION`, or None for an empty database.

    Raises `SchemaError`, saying what to run, if the schema is older or newer than
    this code.
    """
    url = store_url(url)
    engine = _create_engine(url)
    try:
        with engine.connect() as connection:
            state, revision = _schema_state(connection)
    except SQLAlchemyError as error:
        raise StoreError(
            f"cannot open the store {_shown(url)!r}: {error.__cause__ or error}"
        ) from None
    finally:
        engine.dispose()
    if state == "current":
        return revision
    if state == "empty":
        return None
    raise _refusal(url, state, revision)


class Store:
    """Cases, events, alerts, rule-set versions and the audit log in a SQL database.

    `actor` is who is acting (default: $TRIGGERS_ACTOR, else the OS user); every
    operation on case data is logged in the audit log under that name.
    """

    def __init__(self, url: str | None = None, *, actor: str | None = None) -> None:
        self.url = store_url(url)
        self.actor = actor or _default_actor()
        self._required = _required_reasons()
        self._engine: Engine = _create_engine(self.url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        try:
            _open_schema(self._engine, self.url)
        except (SQLAlchemyError, CommandError) as error:
            self._engine.dispose()
            raise StoreError(
                f"cannot open the store {self.url!r}: {error.__cause__ or error}"
            ) from None
        except SchemaError:
            self._engine.dispose()
            raise

    @property
    def dialect(self) -> str:
        """The database's kind: "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        try:
            with self._sessions() as session, session.begin():
                yield session
        except SQLAlchemyError as error:
            raise StoreError(f"store {self.url!r}: {error.__cause__ or error}") from error

    # --- the audit log -----------------------------------------------------------

    def _log(
        self,
        session: Session,
        activity: Activity,
        operation: str,
        *,
        case: str | None = None,
        alerts: Sequence[int] = (),
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        session.add(
            _AuditRow(
                at=_now(),
                actor=self.actor,
                activity=activity,
                operation=operation,
                case_id=case,
                alert_ids=list(alerts),
                justification=reason,
                details=dict(details or {}),
            )
        )

    def _check_reason(self, activity: Activity, operation: str, reason: str | None) -> None:
        if activity in self._required and not (reason and reason.strip()):
            raise ReasonRequiredError(
                f"{operation}: this deployment requires a justification for {activity}"
                f" ({REQUIRE_REASON_ENV}); give one with --reason"
            )

    def audit(
        self,
        *,
        case: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """Audit log entries, oldest first, optionally of one case, one actor, or since a time."""
        query = select(_AuditRow).order_by(_AuditRow.id)
        if case is not None:
            query = query.where(_AuditRow.case_id == case)
        if actor is not None:
            query = query.where(_AuditRow.actor == actor)
        if since is not None:
            query = query.where(_AuditRow.at >= since)
        with self._transaction() as session:
            return [
                AuditEntry(
                    id=row.id,
                    at=row.at,
                    actor=row.actor,
                    activity=row.activity,
                    operation=row.operation,
                    case=row.case_id,
                    alerts=tuple(row.alert_ids),
                    justification=row.justification,
                    details=row.details,
                )
                for row in session.scalars(query)
            ]

    # --- collection: replay, ingest, tick ----------------------------------------

    def _record_rules(self, session: Session, rules: CompiledRuleSet) -> None:
        """Keep the rule set's files under its version, once."""
        if session.get(_RuleSetRow, rules.version) is None:
            files = [
                {"name": name, "text": text}
                for name, text in zip(rules.files, rules.texts, strict=True)
            ]
            insert = (postgresql_insert if self.dialect == "postgresql" else sqlite_insert)(
                _RuleSetRow
            ).values(version=rules.version, files=files, recorded_at=_now())
            # Another process may be recording the same version for another case right
            # now (PostgreSQL locks cases, not the store): whichever commits first wins.
            session.execute(insert.on_conflict_do_nothing(index_elements=["version"]))

    def rule_set(self, version: str) -> list[tuple[str, str]]:
        """The (name, text) of each file of a recorded rule-set version."""
        with self._transaction() as session:
            row = session.get(_RuleSetRow, version)
            if row is None:
                raise NotFoundError(f"no rule-set version {version!r} is recorded in this store")
            return [(item["name"], item["text"]) for item in row.files]

    def save(self, result: CaseResult, *, reason: str | None = None) -> SaveSummary:
        """Store a replayed case's events and alerts, in one transaction, adding only what is new.

        Alerts already stored keep their lifecycle. Raises `StoreError` (and stores
        nothing of the case) if an event id is already stored for the case with
        different content: events are append-only.
        """
        rules = _rules_of(result)
        self._check_reason("collection", "replay", reason)
        chronology = result.chronology
        with self._transaction() as session:
            now = _now()
            self._record_rules(session, rules)
            case = self._case(session, chronology, now)
            if result.until is not None and (case.clock is None or case.clock < result.until):
                case.clock = result.until
            new_events = self._add_events(session, chronology.case, chronology.events, now)
            added, _ = self._merge_alerts(session, result, rules, now, supersede=None)
            self._log(
                session,
                "collection",
                "replay",
                case=chronology.case,
                alerts=added,
                reason=reason,
                details={"new_events": len(new_events), "rules_version": rules.version},
            )
        return SaveSummary(chronology.case, len(new_events), len(added))

    def ingest(
        self,
        chronologies: Iterable[Chronology],
        engine: ReplayEngine,
        *,
        reason: str | None = None,
    ) -> list[SaveSummary]:
        """Append events to their cases and evaluate each changed case's whole stored history.

        One transaction per case. An event already stored changes nothing; an event
        earlier than the case's latest stored event re-evaluates the case, and alerts
        the corrected history no longer raises become `superseded`.
        """
        self._check_reason("collection", "ingest", reason)
        return [self._ingest_case(chronology, engine, reason) for chronology in chronologies]

    def _ingest_case(
        self, chronology: Chronology, engine: ReplayEngine, reason: str | None
    ) -> SaveSummary:
        with self._transaction() as session:
            now = _now()
            case = self._case(session, chronology, now, lock=True)
            latest = session.scalar(
                select(func.max(_EventRow.at)).where(_EventRow.case_id == chronology.case)
            )
            new = self._add_events(session, chronology.case, chronology.events, now)
            if not new:
                return SaveSummary(chronology.case, 0, 0)
            late = [e for e in new if latest is not None and e.at < latest]
            result = self._evaluate(session, engine, case)
            self._record_rules(session, engine.rules)
            supersede = None
            if late:
                described = ", ".join(f"{e.id} ({e.type} at {e.at:%Y-%m-%d})" for e in late)
                supersede = (
                    f"the case was re-evaluated on {now:%Y-%m-%d %H:%M} UTC after the late"
                    f" event(s) {described} arrived, and the corrected history no longer"
                    f" raises this alert (rules version {engine.rules.version})"
                )
            added, superseded = self._merge_alerts(
                session, result, engine.rules, now, supersede=supersede
            )
            self._log(
                session,
                "collection",
                "ingest",
                case=chronology.case,
                alerts=added,
                reason=reason,
                details={
                    "new_events": [e.id for e in new],
                    "late_events": [e.id for e in late],
                    "rules_version": engine.rules.version,
                },
            )
            if superseded:
                self._log(
                    session,
                    "alteration",
                    "supersede",
                    case=chronology.case,
                    alerts=superseded,
                    reason=supersede,
                )
        return SaveSummary(chronology.case, len(new), len(added), len(superseded))

    def tick(
        self, engine: ReplayEngine, now: datetime, *, reason: str | None = None
    ) -> list[SaveSummary]:
        """Run every case's clock on to `now` (event time), raising alerts whose deadline passed."""
        self._check_reason("collection", "tick", reason)
        summaries = []
        for case_id in self.cases():
            with self._transaction() as session:
                case = self._lock_case(session, case_id)
                if case is None or (case.clock is not None and case.clock >= now):
                    continue
                case.clock = now
                result = self._evaluate(session, engine, case)
                self._record_rules(session, engine.rules)
                added, _ = self._merge_alerts(session, result, engine.rules, _now(), supersede=None)
                if added:
                    self._log(
                        session,
                        "collection",
                        "tick",
                        case=case_id,
                        alerts=added,
                        reason=reason,
                        details={"clock": now.isoformat(), "rules_version": engine.rules.version},
                    )
                summaries.append(SaveSummary(case_id, 0, len(added)))
        with self._transaction() as session:
            self._log(
                session,
                "collection",
                "tick",
                reason=reason,
                details={
                    "clock": now.isoformat(),
                    "cases": len(summaries),
                    "new_alerts": sum(s.new_alerts for s in summaries),
                },
            )
        return summaries

    def _chronology(self, session: Session, case: _CaseRow) -> Chronology:
        """The case's whole stored history as a chronology."""
        rows = session.scalars(
            select(_EventRow)
            .where(_EventRow.case_id == case.id)
            .order_by(_EventRow.at, _EventRow.position)
        )
        return Chronology(
            case=case.id,
            title=case.title,
            subject=case.subject,
            events=[event_adapter.validate_python(row.payload) for row in rows],
        )

    def _evaluate(self, session: Session, engine: ReplayEngine, case: _CaseRow) -> CaseResult:
        """Replay the case's whole stored history, with its clock."""
        chronology = self._chronology(session, case)
        return engine.replay(chronology, _clock_beyond(chronology, case.clock))

    def _case(
        self, session: Session, chronology: Chronology, now: datetime, *, lock: bool = False
    ) -> _CaseRow:
        insert = (postgresql_insert if self.dialect == "postgresql" else sqlite_insert)(
            _CaseRow
        ).values(
            id=chronology.case,
            title=chronology.title,
            subject=chronology.subject,
            created_at=now,
            updated_at=now,
        )
        session.execute(insert.on_conflict_do_nothing(index_elements=["id"]))
        row = self._lock_case(session, chronology.case) if lock else None
        row = row or session.get(_CaseRow, chronology.case)
        assert row is not None  # inserted just above
        row.title = chronology.title or row.title
        row.subject = chronology.subject or row.subject
        row.updated_at = now
        session.flush()
        return row

    def _lock_case(self, session: Session, case: str) -> _CaseRow | None:
        """The case's row, locked until the transaction ends (SQLite locks the whole store)."""
        query = select(_CaseRow).where(_CaseRow.id == case)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        return session.scalars(query).first()

    def _add_events(
        self, session: Session, case: str, events: Sequence[Event], now: datetime
    ) -> list[Event]:
        stored = {
            row.event_id: row.payload
            for row in session.scalars(select(_EventRow).where(_EventRow.case_id == case))
        }
        added = []
        for event in events:
            event_id = event.id or ""
            payload = event.model_dump(mode="json")
            if event_id in stored:
                if stored[event_id] != payload:
                    raise StoreError(
                        f"case {case!r}: event {event_id!r} is already stored with"
                        " different content; stored events are never changed. Give the"
                        " corrected event a new id."
                    )
                continue
            session.add(
                _EventRow(
                    case_id=case,
                    event_id=event_id,
                    at=event.at,
                    type=event.type,
                    position=len(stored),
                    payload=payload,
                    stored_at=now,
                )
            )
            stored[event_id] = payload
            added.append(event)
        session.flush()
        return added

    def _merge_alerts(
        self,
        session: Session,
        result: CaseResult,
        rules: CompiledRuleSet,
        now: datetime,
        *,
        supersede: str | None,
    ) -> tuple[list[int], list[int]]:
        """Add the alerts not yet stored; with `supersede`, retire those no longer raised.

        Returns the ids of the alerts added and of those superseded.
        """
        stored = {
            row.key: row
            for row in session.scalars(select(_AlertRow).where(_AlertRow.case_id == result.case))
        }
        added: list[_AlertRow] = []
        raised = set()
        for alert in result.alerts:
            raised.add(alert.key)
            row = stored.get(alert.key)
            if row is not None:
                if row.status == "superseded" and supersede is not None:
                    # The corrected history raises it again: it is live once more.
                    row.status, row.superseded_reason = "open", None
                    self._change(session, row, "open", now, "raised again by the corrected history")
                continue
            row = _AlertRow(
                key=alert.key,
                case_id=alert.case,
                rule_id=alert.rule,
                rules_version=rules.version,
                action=alert.action,
                params=dict(alert.params),
                priority=alert.priority,
                at=alert.at,
                reason=alert.reason,
                event_ids=list(alert.events),
                raised_at=now,
                status="open",
                due_by=rules.act_within(alert.rule, alert.action).after(alert.at),
                superseded_reason=None,
            )
            session.add(row)
            stored[alert.key] = row
            added.append(row)
        session.flush()
        for row in added:
            self._change(session, row, "open", now, None)
        superseded = []
        if supersede is not None:
            for key, row in stored.items():
                if key not in raised and row.status != "superseded":
                    row.status, row.superseded_reason = "superseded", supersede
                    self._change(session, row, "superseded", now, supersede)
                    superseded.append(row.id)
        session.flush()
        return [row.id for row in added], superseded

    def _change(
        self, session: Session, row: _AlertRow, status: str, now: datetime, note: str | None
    ) -> None:
        session.add(
            _StatusChangeRow(alert_id=row.id, status=status, by=self.actor, at=now, note=note)
        )

    # --- consultation and alteration ---------------------------------------------

    def alerts(
        self,
        case: str | None = None,
        *,
        status: AlertStatus | None = None,
        rule: str | None = None,
        overdue_at: datetime | None = None,
        operation: str = "alerts list",
        reason: str | None = None,
    ) -> list[StoredAlert]:
        """Stored alerts in case and time order, filtered; the consultation is logged.

        `overdue_at` keeps only open or acknowledged alerts due before that time.
        """
        self._check_reason("consultation", operation, reason)
        query = select(_AlertRow).order_by(_AlertRow.case_id, _AlertRow.at, _AlertRow.id)
        if case is not None:
            query = query.where(_AlertRow.case_id == case)
        if status is not None:
            query = query.where(_AlertRow.status == status)
        if rule is not None:
            query = query.where(_AlertRow.rule_id == rule)
        if overdue_at is not None:
            query = query.where(_AlertRow.status.in_(_ACTIVE), _AlertRow.due_by < overdue_at)
        with self._transaction() as session:
            found = [_stored(row) for row in session.scalars(query)]
            self._log(
                session,
                "consultation",
                operation,
                case=case,
                alerts=[a.id for a in found],
                reason=reason,
                details={
                    name: value
                    for name, value in (
                        ("status", status),
                        ("rule", rule),
                        ("overdue_at", overdue_at.isoformat() if overdue_at else None),
                    )
                    if value is not None
                },
            )
            return found

    def alert(
        self, alert_id: int, *, operation: str = "alert show", reason: str | None = None
    ) -> StoredAlert:
        """One stored alert; the consultation is logged."""
        self._check_reason("consultation", operation, reason)
        with self._transaction() as session:
            row = self._alert_row(session, alert_id)
            self._log(
                session,
                "consultation",
                operation,
                case=row.case_id,
                alerts=[alert_id],
                reason=reason,
            )
            return _stored(row)

    def history(self, alert_id: int) -> list[StatusChange]:
        """The alert's lifecycle, oldest first."""
        with self._transaction() as session:
            self._alert_row(session, alert_id)
            rows = session.scalars(
                select(_StatusChangeRow)
                .where(_StatusChangeRow.alert_id == alert_id)
                .order_by(_StatusChangeRow.id)
            )
            return [
                StatusChange(
                    alert_id=row.alert_id,
                    status=row.status,
                    by=row.by,
                    at=row.at,
                    note=row.note,
                )
                for row in rows
            ]

    def acknowledge(
        self, alert_id: int, *, note: str | None = None, reason: str | None = None
    ) -> StoredAlert:
        """Someone has seen the alert and owns it."""
        return self._move(alert_id, "acknowledge", note, reason)

    def resolve(self, alert_id: int, *, note: str, reason: str | None = None) -> StoredAlert:
        """The action was taken; `note` says what was done."""
        return self._move(alert_id, "resolve", note, reason)

    def dismiss(self, alert_id: int, *, note: str, reason: str | None = None) -> StoredAlert:
        """No action is needed; `note` says why."""
        return self._move(alert_id, "dismiss", note, reason)

    def _move(
        self, alert_id: int, operation: str, note: str | None, reason: str | None
    ) -> StoredAlert:
        target, sources = _TRANSITIONS[operation]
        if operation != "acknowledge" and not (note and note.strip()):
            raise LifecycleError(f"alert {alert_id}: say what was done or why, with a note")
        self._check_reason("alteration", operation, reason)
        with self._transaction() as session:
            row = self._alert_row(session, alert_id)
            if row.status not in sources:
                raise LifecycleError(
                    f"alert {alert_id} is {row.status}; only {' or '.join(sources)} alerts can"
                    f" be {target}"
                )
            row.status = target
            now = _now()
            self._change(session, row, target, now, note)
            self._log(
                session,
                "alteration",
                operation,
                case=row.case_id,
                alerts=[alert_id],
                reason=reason,
                details={"status": target, "note": note},
            )
            session.flush()
            return _stored(row)

    def _alert_row(self, session: Session, alert_id: int) -> _AlertRow:
        row = session.get(_AlertRow, alert_id)
        if row is None:
            raise NotFoundError(f"no alert with id {alert_id} in this store")
        return row

    def explain(self, alert_id: int, *, reason: str | None = None) -> Explanation:
        """Why the alert was raised, by the rule-set version that raised it; logged.

        The explanation is rebuilt from the stored events and the recorded rule
        files; a superseded alert's explanation says why it was superseded.
        """
        self._check_reason("consultation", "explain", reason)
        with self._transaction() as session:
            row = self._alert_row(session, alert_id)
            stored = _stored(row)
            rule_set = session.get(_RuleSetRow, row.rules_version)
            case = session.get(_CaseRow, row.case_id)
            assert rule_set is not None and case is not None  # foreign keys
            files = [(item["name"], item["text"]) for item in rule_set.files]
            chronology = self._chronology(session, case)
            clock = case.clock
            self._log(
                session,
                "consultation",
                "explain",
                case=row.case_id,
                alerts=[alert_id],
                reason=reason,
            )
        rules = rules_from_texts(files)
        explanation = explain(rules, chronology, stored.alert, _clock_beyond(chronology, clock))
        notes = [f"alert {alert_id} is {stored.status}; due by {stored.due_by:%Y-%m-%d %H:%M} UTC"]
        if stored.superseded_reason:
            notes.append(f"superseded: {stored.superseded_reason}")
        notes.extend(
            f"{change.at:%Y-%m-%d %H:%M} {change.status} by {change.by}"
            + (f": {change.note}" if change.note else "")
            for change in self.history(alert_id)
        )
        return explanation.with_notes(*notes)

    # --- erasure -------------------------------------------------------------------

    def erase_case(self, case: str, *, reason: str) -> ErasureRecord:
        """Remove a case's events and alerts; only an erasure record and the audit log remain."""
        if not reason.strip():
            raise ReasonRequiredError("erasing a case needs a reason")
        with self._transaction() as session:
            row = self._lock_case(session, case)
            if row is None:
                raise NotFoundError(f"no case {case!r} in this store")
            alert_ids = list(session.scalars(select(_AlertRow.id).where(_AlertRow.case_id == case)))
            session.execute(
                delete(_StatusChangeRow).where(_StatusChangeRow.alert_id.in_(alert_ids))
            )
            session.execute(delete(_AlertRow).where(_AlertRow.case_id == case))
            events = session.scalar(
                select(func.count()).select_from(_EventRow).where(_EventRow.case_id == case)
            )
            session.execute(delete(_EventRow).where(_EventRow.case_id == case))
            session.delete(row)
            now = _now()
            record = ErasureRecord(
                case=case,
                erased_at=now,
                by=self.actor,
                reason=reason,
                events=events or 0,
                alerts=len(alert_ids),
            )
            session.add(
                _ErasureRow(
                    case_id=case,
                    erased_at=now,
                    by=self.actor,
                    reason=reason,
                    events=record.events,
                    alerts=record.alerts,
                )
            )
            self._log(
                session,
                "erasure",
                "case erase",
                case=case,
                alerts=alert_ids,
                reason=reason,
                details={"events": record.events, "alerts": record.alerts},
            )
        return record

    def erasures(self) -> list[ErasureRecord]:
        """Every erasure record, oldest first."""
        with self._transaction() as session:
            return [
                ErasureRecord(
                    case=row.case_id,
                    erased_at=row.erased_at,
                    by=row.by,
                    reason=row.reason,
                    events=row.events,
                    alerts=row.alerts,
                )
                for row in session.scalars(select(_ErasureRow).order_by(_ErasureRow.id))
            ]

    # --- plain reads used by the engine and tests ------------------------------------

    def cases(self) -> list[str]:
        """Ids of the stored cases, sorted."""
        with self._transaction() as session:
            return list(session.scalars(select(_CaseRow.id).order_by(_CaseRow.id)))

    def events(self, case: str) -> list[Event]:
        """A case's stored events, in event order."""
        with self._transaction() as session:
            rows = session.scalars(
                select(_EventRow)
                .where(_EventRow.case_id == case)
                .order_by(_EventRow.at, _EventRow.position)
            )
            return [event_adapter.validate_python(row.payload) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many cases, events, alerts and audit entries are stored."""
        with self._transaction() as session:
            return {
                name: session.scalar(select(func.count()).select_from(table)) or 0
                for name, table in (
                    ("cases", _CaseRow),
                    ("events", _EventRow),
                    ("alerts", _AlertRow),
                    ("audit", _AuditRow),
                )
            }


def _clock_beyond(chronology: Chronology, clock: datetime | None) -> datetime | None:
    """The case clock if it has run on past the last event (replay's `until`), else None."""
    last = max((e.at for e in chronology.events), default=None)
    return clock if clock is not None and (last is None or clock > last) else None


def _rules_of(result: CaseResult) -> CompiledRuleSet:
    if result.rules is None:
        raise StoreError("a replay result without its rule set cannot be stored")
    return result.rules


def _stored(row: _AlertRow) -> StoredAlert:
    return StoredAlert(
        id=row.id,
        alert=Alert(
            case=row.case_id,
            rule=row.rule_id,
            action=row.action,
            at=row.at,
            params=row.params,
            priority=row.priority,
            reason=row.reason,
            events=tuple(row.event_ids),
        ),
        status=row.status,
        due_by=row.due_by,
        rules_version=row.rules_version,
        raised_at=row.raised_at,
        superseded_reason=row.superseded_reason,
    )
