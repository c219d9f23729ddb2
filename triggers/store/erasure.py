"""After an erasure: reclaiming the space the erased case held, so that none of it stays readable.

Deleting rows does not remove their bytes. SQLite, which the store runs with
`PRAGMA secure_delete=ON` (see `connection`), overwrites deleted content with
zeros, but in WAL mode the pages as they stood before, case and all, remain in the
write-ahead log until it is checkpointed and emptied: `reclaim` does both. PostgreSQL
keeps deleted rows as dead tuples until a vacuum: `reclaim` vacuums the tables the
case was in, index entries included. What neither can reach (PostgreSQL's WAL
segments and their archives, replicas, backups) the README's "Erasure" says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from triggers.errors import NotFoundError, StoreError
from triggers.models.audit import ErasureRecord
from triggers.store import audit
from triggers.store.cases import lock_case
from triggers.store.connection import failure
from triggers.store.tables import AlertRow, CaseRow, ErasureRow, EventRow, StatusChangeRow

__all__ = ["ERASED_TABLES", "delete_case", "erasure_record", "reclaim"]

#: The tables an erasure deletes rows from (the erasure record and the audit log only grow).
ERASED_TABLES = tuple(
    str(model.__tablename__) for model in (EventRow, StatusChangeRow, AlertRow, CaseRow)
)


def delete_case(session: Session, actor: str, case: str, reason: str) -> ErasureRecord:
    """Delete a case's events, alerts and their histories in the session's transaction,
    leaving an erasure record and an audit entry; raises `NotFoundError` for no such case."""
    case_row = lock_case(session, case)
    if case_row is None:
        raise NotFoundError("case", case, f"no case {case!r} in this store")
    alert_ids = list(session.scalars(select(AlertRow.id).where(AlertRow.case_id == case)))
    session.execute(delete(StatusChangeRow).where(StatusChangeRow.alert_id.in_(alert_ids)))
    session.execute(delete(AlertRow).where(AlertRow.case_id == case))
    events = session.scalar(
        select(func.count()).select_from(EventRow).where(EventRow.case_id == case)
    )
    session.execute(delete(EventRow).where(EventRow.case_id == case))
    session.delete(case_row)
    row = ErasureRow(
        case_id=case,
        erased_at=datetime.now(UTC),
        by=actor,
        reason=reason,
        events=events or 0,
        alerts=len(alert_ids),
    )
    session.add(row)
    record = erasure_record(row)
    audit.log(
        session,
        actor,
        "erasure",
        "case erase",
        case=case,
        alerts=alert_ids,
        reason=reason,
        details={"events": record.events, "alerts": record.alerts},
    )
    return record


def erasure_record(row: ErasureRow) -> ErasureRecord:
    """An erasure record row as a model."""
    return ErasureRecord(
        case=row.case_id,
        erased_at=row.erased_at,
        by=row.by,
        reason=row.reason,
        events=row.events,
        alerts=row.alerts,
    )


def reclaim(engine: Engine, shown_url: str, url: str) -> None:
    """Make what an erasure just committed unreadable in the database's files, as far as
    the database allows. Raises `StoreError` if it cannot (the erasure itself stands)."""
    driver_error: Any = engine.dialect.loaded_dbapi.Error
    try:
        if engine.dialect.name == "sqlite":
            _checkpoint(engine, shown_url)
        elif engine.dialect.name == "postgresql":
            _vacuum(engine, shown_url)
    except (SQLAlchemyError, driver_error) as error:
        raise StoreError(
            _unfinished(shown_url, failure(error, url), "run the command again")
        ) from error


def _unfinished(shown_url: str, problem: str, remedy: str) -> str:
    """The message for an erasure whose space is not reclaimed: what, why, what to do."""
    return (
        f"store {shown_url!r}: the case was erased, but the space it held could not be"
        f" reclaimed ({problem}); until it is, the deleted rows may still be read from the"
        f" database's files: {remedy}"
    )


def _checkpoint(engine: Engine, shown_url: str) -> None:
    """Copy the write-ahead log into the database file and empty it (TRUNCATE).

    Through the driver's own connection: SQLAlchemy would open a transaction first, in
    which no checkpoint can run. It waits for readers and writers (busy_timeout).
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row: Any = cursor.fetchone()
        cursor.close()
    finally:
        raw.close()
    # (busy, frames in the log, frames checkpointed); busy is -1 when not in WAL mode
    # (an in-memory database), where there is no log to empty.
    if row is not None and row[0] == 1:
        raise StoreError(
            _unfinished(
                shown_url,
                "another connection kept using the store's write-ahead log for 30 s",
                "when the store is idle, run sqlite3 on it with PRAGMA wal_checkpoint(TRUNCATE)",
            )
        )


def _vacuum(engine: Engine, shown_url: str) -> None:
    """VACUUM the tables the case was in, index entries too (outside any transaction, as
    VACUUM must be). PostgreSQL only warns, and skips the table, when the role may not
    vacuum it: that is an error here."""
    warnings: list[str] = []

    def collect(notice: Any) -> None:  # psycopg 3's notices
        if notice.severity_nonlocalized == "WARNING":
            warnings.append(str(notice.message_primary))

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        driver: Any = connection.connection.driver_connection
        listening = hasattr(driver, "add_notice_handler")
        if listening:
            driver.add_notice_handler(collect)
        try:
            for table in ERASED_TABLES:
                connection.exec_driver_sql(f"VACUUM (INDEX_CLEANUP ON) {table}")
        finally:
            if listening:
                driver.remove_notice_handler(collect)
        # psycopg2 keeps notices as text on the connection.
        warnings += [str(n).strip() for n in getattr(driver, "notices", []) if "WARNING" in n]
    if warnings:
        tables = ", ".join(ERASED_TABLES)
        raise StoreError(
            _unfinished(shown_url, "; ".join(warnings), f"VACUUM {tables} as their owner")
        )
