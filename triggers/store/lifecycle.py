"""Moving alerts through their lifecycle, several at once and all or none."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from triggers.errors import LifecycleError, NotFoundError
from triggers.models.alerts import TRANSITIONS, Move, StoredAlert
from triggers.store import audit
from triggers.store.cases import add_status
from triggers.store.queries import stored_alert
from triggers.store.tables import ALERT_IDS, AlertRow

__all__ = ["move_alerts"]


def _unchanged(ids: Sequence[int]) -> str:
    """What a refusal adds when several alerts were to move: none of them did."""
    return f"; none of the {len(ids)} alerts was changed" if len(ids) > 1 else ""


def move_alerts(
    session: Session,
    actor: str,
    move: Move,
    ids: Sequence[int],
    *,
    note: str | None,
    reason: str | None,
) -> list[StoredAlert]:
    """Make `move` on each alert of `ids` in the session's transaction, logging each move;
    raises before anything is written if an id is unknown or an alert cannot make it."""
    target, sources = TRANSITIONS[move]
    storable = [alert_id for alert_id in ids if alert_id in ALERT_IDS]
    query = select(AlertRow).where(AlertRow.id.in_(storable))
    rows = {row.id: row for row in session.scalars(query)}
    missing = [alert_id for alert_id in ids if alert_id not in rows]
    if missing:
        named = " or ".join(str(alert_id) for alert_id in missing)
        raise NotFoundError(
            "alert", missing[0], f"no alert with id {named} in this store{_unchanged(ids)}"
        )
    for alert_id in ids:
        status = rows[alert_id].status
        if status not in sources:
            raise LifecycleError(
                alert_id,
                status,
                target,
                f"alert {alert_id} is {status}; only {' or '.join(sources)} alerts can be"
                f" {target}{_unchanged(ids)}",
            )
    moved = []
    for alert_id in ids:
        row = rows[alert_id]
        row.status = target
        add_status(session, actor, row, target, note)
        audit.log(
            session,
            actor,
            "alteration",
            move,
            case=row.case_id,
            alerts=[alert_id],
            reason=reason,
            # The note is case content: it stays in the alert's history, which an
            # erasure removes; the append-only log only says whether one was given.
            details={"status": target, "note_given": bool(note and note.strip())},
        )
        moved.append(stored_alert(row))
    session.flush()
    return moved
