"""The audit log: who collected, consulted, altered or erased which case's data, when and why.

Entries are only ever added; the database itself refuses to change or remove one
(triggers, see `guards`). No code here updates or deletes a row.

Each entry carries the hash of the entry before it (`prev_hash`) and its own
(`hash`), so that a change, removal, insertion or reordering of entries shows:

    hash = SHA-256(prev_hash + "\\n" + canonical)   (hex digests; UTF-8 text)

where `canonical` is the JSON object of the entry's fields `activity`, `actor`,
`alert_ids`, `at` (UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ"), `case`, `details`,
`justification` and `operation`, with sorted keys, no spaces and non-ASCII
characters escaped (Python's `json.dumps(..., sort_keys=True, separators=(",", ":"))`).
The first entry chains from `GENESIS`. Entries follow one another in id order.

An operation's entries are written when its transaction commits, after everything
else it did: on PostgreSQL they take a lock that orders them with other processes'
entries (SQLite runs one writer at a time), and taking it last, held only for the
commit, cannot make two transactions wait on each other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from triggers.errors import AuditLogError, ReasonRequiredError, StoreError
from triggers.models.audit import Activity, AuditEntry
from triggers.store.connection import connect, failure, shown
from triggers.store.schema import schema_revision
from triggers.store.settings import REQUIRE_REASON_ENV, store_url
from triggers.store.tables import AuditRow, table_of

__all__ = [
    "GENESIS",
    "AuditCheck",
    "chain_on_commit",
    "check_reason",
    "entries",
    "entry_hash",
    "log",
    "savepoint",
    "verify",
    "verify_audit",
]

#: What the first entry chains from.
GENESIS = "0" * 64
#: PostgreSQL advisory lock held while entries are added ("audit" in ASCII).
_AUDIT_LOCK = 0x6175646974
#: Where a session keeps the entries its transaction will write when it commits.
_PENDING = "triggers.audit.pending"


def entry_hash(previous: str, fields: Mapping[str, Any]) -> str:
    """The hash of an entry with these fields (as `log` takes them) chaining from `previous`."""
    at: datetime = fields["at"]
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    content = {
        "activity": fields["activity"],
        "actor": fields["actor"],
        "alert_ids": list(fields["alert_ids"]),
        "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "case": fields["case_id"],
        "details": fields["details"],
        "justification": fields["justification"],
        "operation": fields["operation"],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{previous}\n{canonical}".encode()).hexdigest()


def log(
    session: Session,
    actor: str,
    activity: Activity,
    operation: str,
    *,
    case: str | None = None,
    alerts: Sequence[int] = (),
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Add one entry, written when the transaction of the operation it records commits."""
    session.info.setdefault(_PENDING, []).append(
        {
            "at": datetime.now(UTC),
            "actor": actor,
            "activity": activity,
            "operation": operation,
            "case_id": case,
            "alert_ids": list(alerts),
            "justification": reason,
            # As the database gives it back, so that the hash is of what is stored.
            "details": json.loads(json.dumps(dict(details or {}))),
        }
    )


def _write_pending(session: Session) -> None:
    """Chain and insert the entries the committing transaction logged (a savepoint's
    wait for the transaction's own commit)."""
    if session.in_nested_transaction():
        return
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    if session.get_bind().dialect.name == "postgresql":
        # Held to the commit: the next writer reads the last hash after this one's entries.
        session.execute(select(func.pg_advisory_xact_lock(_AUDIT_LOCK)))
    previous = session.scalar(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1))
    previous = previous or GENESIS
    table = table_of(AuditRow)
    for fields in pending:  # one at a time: ids are given in chain order
        digest = entry_hash(previous, fields)
        session.execute(insert(table).values(**fields, prev_hash=previous, hash=digest))
        previous = digest


def chain_on_commit(sessions: sessionmaker[Session]) -> None:
    """Have the sessions of `sessions` write their logged entries as they commit."""
    event.listen(sessions, "before_commit", _write_pending)


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A savepoint: if the block raises, the entries it logged are dropped with the rest."""
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    mark = len(pending)
    try:
        with session.begin_nested():
            yield
    except BaseException:
        del pending[mark:]
        raise


def check_reason(
    required: Collection[Activity], activity: Activity, operation: str, reason: str | None
) -> None:
    """Raise `ReasonRequiredError` if the deployment requires a justification and none is given."""
    if activity in required and not (reason and reason.strip()):
        raise ReasonRequiredError(
            operation,
            activity,
            f"{operation}: this deployment requires a justification for {activity}"
            f" ({REQUIRE_REASON_ENV})",
            REQUIRE_REASON_ENV,
        )


def entries(
    session: Session,
    *,
    case: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
) -> list[AuditEntry]:
    """Entries, oldest first, optionally of one case, one actor, or since a time."""
    query = select(AuditRow).order_by(AuditRow.id)
    if case is not None:
        query = query.where(AuditRow.case_id == case)
    if actor is not None:
        query = query.where(AuditRow.actor == actor)
    if since is not None:
        query = query.where(AuditRow.at >= since)
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


@dataclass(frozen=True)
class AuditCheck:
    """An intact audit log: how many entries, and the newest one's id and hash (None when
    empty). Entries removed from the end leave the chain intact: only a copy of the last
    hash kept elsewhere shows them."""

    entries: int
    last: tuple[int, str] | None


def verify(session: Session) -> AuditCheck:
    """Walk the chain in id order; raise `AuditLogError` at the first broken link."""
    previous, previous_id, count = GENESIS, None, 0
    query = select(*table_of(AuditRow).columns).order_by(AuditRow.id)
    with session.execute(query.execution_options(yield_per=1000)) as rows:
        for row in rows:
            fields = row._asdict()
            problem = _broken_link(fields, previous, previous_id)
            if problem is not None:
                raise AuditLogError(f"audit log broken at entry {row.id}: {problem}", row.id)
            previous, previous_id, count = fields["hash"], row.id, count + 1
    return AuditCheck(count, None if previous_id is None else (previous_id, previous))


def _broken_link(fields: Mapping[str, Any], previous: str, previous_id: int | None) -> str | None:
    """What is wrong with an entry that follows entry `previous_id` (hash `previous`)."""
    if fields["prev_hash"] != previous:
        if previous_id is None:
            return (
                f"it chains from {fields['prev_hash']}, but the first entry must chain from the"
                f" genesis value {GENESIS}: entries before it were removed, or it was moved"
            )
        return (
            f"it chains from {fields['prev_hash']}, but the entry before it (entry"
            f" {previous_id}) has hash {previous}: an entry between them was removed, or one"
            " was inserted or moved"
        )
    computed = entry_hash(previous, fields)
    if computed != fields["hash"]:
        return (
            "its content does not match its hash, so it was changed after it was written"
            f" (recorded hash {fields['hash']}, hash of its content {computed})"
        )
    return None


def verify_audit(url: str | None = None) -> AuditCheck:
    """Check the audit log's hash chain from the first entry to the last.

    Raises `AuditLogError` at the first broken link (naming the entry and what differs),
    `SchemaError` if the schema is not this code's. An empty database has an intact,
    empty log. Whether the log's triggers are in place is `schema_revision`'s to say.
    """
    url = store_url(url)
    if schema_revision(url, check_guards=False) is None:
        return AuditCheck(0, None)
    engine = connect(url)
    try:
        with Session(engine) as session, session.begin():
            return verify(session)
    except SQLAlchemyError as error:
        raise StoreError(f"cannot open the store {shown(url)!r}: {failure(error, url)}") from None
    finally:
        engine.dispose()
