"""The audit log: who collected, consulted, altered or erased which case's data, when and why.

Entries are only ever added; the database itself refuses to change or remove one
(triggers the initial migration makes). No code here updates or deletes a row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from triggers.errors import ReasonRequiredError
from triggers.models.audit import Activity, AuditEntry
from triggers.store.settings import REQUIRE_REASON_ENV
from triggers.store.tables import AuditRow, table_of

__all__ = ["check_reason", "entries", "log"]


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
    """Add one entry, in the transaction of the operation it records."""
    session.execute(
        insert(table_of(AuditRow)).values(
            at=datetime.now(UTC),
            actor=actor,
            activity=activity,
            operation=operation,
            case_id=case,
            alert_ids=list(alerts),
            justification=reason,
            details=dict(details or {}),
        )
    )


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
