"""Writing one case: its row, its events (append-only), its alerts and rule set, in one transaction.

A `CaseWriter` is what a store hands out for one case's transaction: everything
written through it commits together or not at all, and the case stays locked
meanwhile (PostgreSQL locks the row; SQLite takes the write lock at the start).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from triggers.errors import StoreError
from triggers.models.alerts import Alert, AlertStatus
from triggers.models.audit import Activity
from triggers.models.chronology import Chronology
from triggers.models.events import Event, event_adapter
from triggers.rules.compiled import CompiledRuleSet
from triggers.store import audit
from triggers.store.tables import AlertRow, CaseRow, EventRow, RuleSetRow, StatusChangeRow

__all__ = ["CaseWriter", "SaveSummary", "add_status", "history_of", "lock_case"]


@dataclass(frozen=True)
class SaveSummary:
    """What saving or ingesting one case changed in the store."""

    case: str
    new_events: int
    new_alerts: int
    superseded: int = 0


def lock_case(session: Session, case: str) -> CaseRow | None:
    """The case's row, locked until the transaction ends (SQLite locks the whole store)."""
    query = select(CaseRow).where(CaseRow.id == case)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def history_of(session: Session, case: CaseRow) -> Chronology:
    """The case's whole stored history as a chronology."""
    rows = session.scalars(
        select(EventRow).where(EventRow.case_id == case.id).order_by(EventRow.at, EventRow.position)
    )
    return Chronology(
        case=case.id,
        title=case.title,
        subject=case.subject,
        events=[event_adapter.validate_python(row.payload) for row in rows],
    )


def add_status(
    session: Session, actor: str, row: AlertRow, status: AlertStatus, note: str | None
) -> None:
    """Record one step of an alert's lifecycle."""
    session.add(
        StatusChangeRow(alert_id=row.id, status=status, by=actor, at=datetime.now(UTC), note=note)
    )


def _insert(session: Session, table: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)


class CaseWriter:
    """One case's writes in one transaction, the case locked; made by `Store.writing`."""

    def __init__(self, session: Session, actor: str, row: CaseRow) -> None:
        self.session = session
        self.actor = actor
        self.row = row
        self.now = datetime.now(UTC)

    @property
    def case(self) -> str:
        """The case id."""
        return self.row.id

    @property
    def clock(self) -> datetime | None:
        """Event time up to which deadlines have passed for this case."""
        return self.row.clock

    def run_clock_to(self, moment: datetime) -> None:
        """Move the case's clock on to `moment` (never back)."""
        if self.row.clock is None or self.row.clock < moment:
            self.row.clock = moment

    def history(self) -> Chronology:
        """The case's whole stored history, as written so far in this transaction."""
        self.session.flush()
        return history_of(self.session, self.row)

    def latest(self) -> datetime | None:
        """The time of the case's latest stored event."""
        return self.session.scalar(
            select(func.max(EventRow.at)).where(EventRow.case_id == self.case)
        )

    def add_events(self, events: Sequence[Event]) -> list[Event]:
        """Append the events not yet stored; returns them. Stored events are never changed:
        an event id already stored with other content raises `StoreError`."""
        stored = {
            row.event_id: row.payload
            for row in self.session.scalars(select(EventRow).where(EventRow.case_id == self.case))
        }
        added = []
        for event in events:
            event_id = event.id or ""
            payload = event.model_dump(mode="json")
            if event_id in stored:
                if stored[event_id] != payload:
                    raise StoreError(
                        f"case {self.case!r}: event {event_id!r} is already stored with"
                        " different content; stored events are never changed. Give the"
                        " corrected event a new id."
                    )
                continue
            self.session.add(
                EventRow(
                    case_id=self.case,
                    event_id=event_id,
                    at=event.at,
                    type=event.type,
                    position=len(stored),
                    payload=payload,
                    stored_at=self.now,
                )
            )
            stored[event_id] = payload
            added.append(event)
        self.session.flush()
        return added

    def record_rules(self, rules: CompiledRuleSet) -> None:
        """Keep the rule set's files under its version, once."""
        if self.session.get(RuleSetRow, rules.version) is not None:
            return
        files = [
            {"name": name, "text": text}
            for name, text in zip(rules.files, rules.texts, strict=True)
        ]
        insert = _insert(self.session, RuleSetRow).values(
            version=rules.version, files=files, recorded_at=datetime.now(UTC)
        )
        # Another process may be recording the same version for another case right
        # now (PostgreSQL locks cases, not the store): whichever commits first wins.
        self.session.execute(insert.on_conflict_do_nothing(index_elements=["version"]))

    def merge_alerts(
        self, alerts: Sequence[Alert], rules: CompiledRuleSet, *, supersede: str | None = None
    ) -> tuple[list[int], list[int]]:
        """Add the alerts not yet stored; with `supersede`, retire those no longer raised.

        Records the rule set. Returns the ids of the alerts added and of those superseded.
        """
        self.record_rules(rules)
        session = self.session
        stored = {
            row.key: row
            for row in session.scalars(select(AlertRow).where(AlertRow.case_id == self.case))
        }
        added: list[AlertRow] = []
        raised = set()
        for alert in alerts:
            raised.add(alert.key)
            row = stored.get(alert.key)
            if row is not None:
                if row.status == "superseded" and supersede is not None:
                    # The corrected history raises it again: it is live once more.
                    row.status, row.superseded_reason = "open", None
                    add_status(
                        session, self.actor, row, "open", "raised again by the corrected history"
                    )
                continue
            row = AlertRow(
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
                raised_at=self.now,
                status="open",
                due_by=rules.act_within(alert.rule, alert.action).after(alert.at),
                superseded_reason=None,
            )
            session.add(row)
            stored[alert.key] = row
            added.append(row)
        session.flush()
        for row in added:
            add_status(session, self.actor, row, "open", None)
        superseded = []
        if supersede is not None:
            for key, row in stored.items():
                if key not in raised and row.status != "superseded":
                    row.status, row.superseded_reason = "superseded", supersede
                    add_status(session, self.actor, row, "superseded", supersede)
                    superseded.append(row.id)
        session.flush()
        return [row.id for row in added], superseded

    def log(
        self,
        activity: Activity,
        operation: str,
        *,
        alerts: Sequence[int] = (),
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Add an audit entry about this case, in this transaction."""
        audit.log(
            self.session,
            self.actor,
            activity,
            operation,
            case=self.case,
            alerts=alerts,
            reason=reason,
            details=details,
        )
