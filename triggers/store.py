"""The SQL store: cases, their events (append-only) and the alerts raised.

SQLite by default, any SQLAlchemy URL otherwise. Everything written for one
case happens in one transaction, and writing the same case again adds nothing
that is already there. ORM rows never leave this module: callers get Pydantic
models.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
    func,
    select,
)
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from triggers.engine.replay import CaseResult
from triggers.errors import StoreError
from triggers.models.alerts import Alert
from triggers.models.chronology import Chronology
from triggers.models.events import Event, event_adapter

__all__ = ["DEFAULT_STORE_URL", "STORE_ENV", "SaveSummary", "Store", "store_url"]

STORE_ENV = "TRIGGERS_STORE"
DEFAULT_STORE_URL = "sqlite:///triggers.sqlite"


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


class _EventRow(_Base):
    __tablename__ = "events"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    type: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class _AlertRow(_Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("key", name="uq_alerts_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(200))
    rules_version: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(Text)
    event_ids: Mapped[list[str]] = mapped_column(JSON)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class SaveSummary:
    """What saving one case added to the store."""

    case: str
    new_events: int
    new_alerts: int


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Cases, events and alerts in a SQL database."""

    def __init__(self, url: str | None = None) -> None:
        self.url = store_url(url)
        try:
            self._engine: Engine = create_engine(self.url)
        except (ArgumentError, ImportError) as error:
            raise StoreError(
                f"cannot use the store {self.url!r}: {error}. Give an SQLAlchemy URL such as"
                " sqlite:///triggers.sqlite or postgresql+psycopg://user@host/db"
            ) from None
        if self._engine.dialect.name == "sqlite":
            sqlalchemy_event.listen(self._engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        try:
            _Base.metadata.create_all(self._engine)
        except SQLAlchemyError as error:
            raise StoreError(
                f"cannot open the store {self.url!r}: {error.__cause__ or error}"
            ) from None

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

    def save(self, result: CaseResult) -> SaveSummary:
        """Store a replayed case's events and alerts, in one transaction, adding only what is new.

        Raises `StoreError` (and stores nothing of the case) if an event id is already
        stored for the case with different content: events are append-only.
        """
        chronology = result.chronology
        with self._transaction() as session:
            now = _now()
            self._upsert_case(session, chronology, now)
            new_events = self._add_events(session, chronology, now)
            new_alerts = self._add_alerts(session, result, now)
        return SaveSummary(chronology.case, new_events, new_alerts)

    def _upsert_case(self, session: Session, chronology: Chronology, now: datetime) -> None:
        row = session.get(_CaseRow, chronology.case)
        if row is None:
            session.add(
                _CaseRow(
                    id=chronology.case,
                    title=chronology.title,
                    subject=chronology.subject,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            row.title = chronology.title or row.title
            row.subject = chronology.subject or row.subject
            row.updated_at = now
        session.flush()

    def _add_events(self, session: Session, chronology: Chronology, now: datetime) -> int:
        stored = {
            row.event_id: row.payload
            for row in session.scalars(
                select(_EventRow).where(_EventRow.case_id == chronology.case)
            )
        }
        added = 0
        for event in chronology.events:
            event_id = event.id or ""
            payload = event.model_dump(mode="json")
            if event_id in stored:
                if stored[event_id] != payload:
                    raise StoreError(
                        f"case {chronology.case!r}: event {event_id!r} is already stored with"
                        " different content; stored events are never changed. Give the"
                        " corrected event a new id."
                    )
                continue
            session.add(
                _EventRow(
                    case_id=chronology.case,
                    event_id=event_id,
                    at=event.at,
                    type=event.type,
                    position=len(stored),
                    payload=payload,
                    stored_at=now,
                )
            )
            stored[event_id] = payload
            added += 1
        session.flush()
        return added

    def _add_alerts(self, session: Session, result: CaseResult, now: datetime) -> int:
        keys = set(session.scalars(select(_AlertRow.key).where(_AlertRow.case_id == result.case)))
        added = 0
        for alert in result.alerts:
            if alert.key in keys:
                continue
            session.add(
                _AlertRow(
                    key=alert.key,
                    case_id=alert.case,
                    rule_id=alert.rule,
                    rules_version=result.rules_version,
                    action=alert.action,
                    params=dict(alert.params),
                    priority=alert.priority,
                    at=alert.at,
                    reason=alert.reason,
                    event_ids=list(alert.events),
                    raised_at=now,
                )
            )
            keys.add(alert.key)
            added += 1
        session.flush()
        return added

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

    def alerts(self, case: str | None = None) -> list[Alert]:
        """Stored alerts, of one case or all, in case and time order."""
        query = select(_AlertRow).order_by(_AlertRow.case_id, _AlertRow.at, _AlertRow.id)
        if case is not None:
            query = query.where(_AlertRow.case_id == case)
        with self._transaction() as session:
            return [_alert(row) for row in session.scalars(query)]

    def counts(self) -> dict[str, int]:
        """How many cases, events and alerts are stored."""
        with self._transaction() as session:
            return {
                name: session.scalar(select(func.count()).select_from(table)) or 0
                for name, table in (
                    ("cases", _CaseRow),
                    ("events", _EventRow),
                    ("alerts", _AlertRow),
                )
            }


def _alert(row: _AlertRow) -> Alert:
    return Alert(
        case=row.case_id,
        rule=row.rule_id,
        action=row.action,
        at=row.at,
        params=row.params,
        priority=row.priority,
        reason=row.reason,
        events=tuple(row.event_ids),
    )
