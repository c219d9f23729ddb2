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

from pydantic import ValidationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from triggers.errors import StoreError
from triggers.models.alerts import Alert, AlertStatus
from triggers.models.audit import Activity
from triggers.models.chronology import Chronology
from triggers.models.events import EVENT_MODELS, Event, event_adapter
from triggers.rules.compiled import CompiledRuleSet
from triggers.store import audit
from triggers.store.limits import check_values
from triggers.store.tables import (
    AlertRow,
    CaseRow,
    EventRow,
    RuleSetRow,
    StatusChangeRow,
    table_of,
)

__all__ = [
    "CaseWriter",
    "SaveSummary",
    "add_status",
    "history_of",
    "insert_unless_present",
    "lock_case",
]


#: Fields that an older version stored under their Python names (`from_`), by that name.
_PYTHON_NAMES = {
    name: field.alias
    for model in EVENT_MODELS.values()
    for name, field in model.model_fields.items()
    if field.alias is not None and field.alias != name
}


def _named_as_files_do(payload: dict[str, Any]) -> dict[str, Any]:
    """A stored event's payload with its fields named as files name them (`from`)."""
    if not any(name in payload for name in _PYTHON_NAMES):
        return payload
    return {_PYTHON_NAMES.get(key, key): value for key, value in payload.items()}


def stored_event(payload: dict[str, Any]) -> Event:
    """An event from its stored payload, whichever version of risk-triggers stored it."""
    return event_adapter.validate_python(_named_as_files_do(payload))


@dataclass(frozen=True)
class SaveSummary:
    """What saving or ingesting one case changed in the store."""

    case: str
    new_events: int
    new_alerts: int
    superseded: int = 0
    #: The alerts newly stored (`new_alerts` of them), for counting by rule and priority.
    alerts: tuple[Alert, ...] = ()


def lock_case(session: Session, case: str) -> CaseRow | None:
    """The case's row, locked until the transaction ends (SQLite locks the whole store)."""
    query = select(CaseRow).where(CaseRow.id == case)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def history_of(session: Session, case: CaseRow) -> Chronology:
    """The case's whole stored history as a chronology.

    Raises `StoreError` if what is stored breaks a check this version makes (an older
    version let control characters into titles and events).
    """
    rows = session.scalars(
        select(EventRow).where(EventRow.case_id == case.id).order_by(EventRow.at, EventRow.position)
    )
    try:
        return Chronology(
            case=case.id,
            title=case.title,
            subject=case.subject,
            events=[stored_event(row.payload) for row in rows],
        )
    except ValidationError as error:
        detail = error.errors()[0]
        where = ".".join(str(part) for part in detail["loc"])
        raise StoreError(
            f"case {case.id!r}: the stored {where} is refused by this version:"
            f" {detail.get('ctx', {}).get('error', detail['msg'])}; erase the case and replay"
            " it from its corrected files"
        ) from None


def add_status(
    session: Session, actor: str, row: AlertRow, status: AlertStatus, note: str | None
) -> None:
    """Record one step of an alert's lifecycle."""
    session.add(
        StatusChangeRow(alert_id=row.id, status=status, by=actor, at=datetime.now(UTC), note=note)
    )


def insert_unless_present(
    session: Session, table: type[Any], key: str, values: Mapping[str, Any]
) -> Any:
    """An INSERT of `values` that does nothing when a row with the same `key` exists."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    return insert.values(**values).on_conflict_do_nothing(index_elements=[key])


class CaseWriter:
    """One case's writes in one transaction, the case locked; made by `Store.writing`."""

    def __init__(
        self,
        session: Session,
        actor: str,
        row: CaseRow,
        recorded: set[str] | None = None,
        *,
        new: bool = False,
    ) -> None:
        self.session = session
        self.actor = actor
        self.row = row
        #: Whether the case is known to have no events, or no alerts, stored yet (it was
        #: created by this transaction, and nothing was added since): no need to look.
        self._no_events = self._no_alerts = new
        self.now = datetime.now(UTC)
        #: Rule-set versions known to be recorded already (the store's, across cases), and
        #: those this transaction records (known only once it commits).
        self.recorded = frozenset(recorded or ())
        self.recording: set[str] = set()
        #: The alerts this transaction stored that were not stored before.
        self.raised: list[Alert] = []

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
        query = select(EventRow.event_id, EventRow.payload).where(EventRow.case_id == self.case)
        stored: dict[str, Any] = {}
        if not self._no_events:
            stored = {
                event_id: _named_as_files_do(payload)
                for event_id, payload in self.session.execute(query)
            }
        added, rows = [], []
        for event in events:
            event_id = event.id or ""
            payload = event.model_dump(mode="json", by_alias=True)
            if event_id in stored:
                if stored[event_id] != payload:
                    raise StoreError(
                        f"case {self.case!r}: event {event_id!r} is already stored with"
                        " different content; stored events are never changed. Give the"
                        " corrected event a new id."
                    )
                continue
            rows.append(
                {
                    "case_id": self.case,
                    "event_id": event_id,
                    "at": event.at,
                    "type": event.type,
                    "position": len(stored),
                    "payload": payload,
                    "stored_at": self.now,
                }
            )
            stored[event_id] = payload
            added.append(event)
        if rows:
            # One statement for all of them (executemany), not a unit of work per row.
            self.session.execute(insert(table_of(EventRow)), rows)
            self._no_events = False
        return added

    def record_rules(self, rules: CompiledRuleSet) -> None:
        """Keep the rule set's files under its version, once."""
        if rules.version in self.recorded or rules.version in self.recording:
            return
        if self.session.get(RuleSetRow, rules.version) is None:
            files = [
                {"name": name, "text": text}
                for name, text in zip(rules.files, rules.texts, strict=True)
            ]
            values = {"version": rules.version, "files": files, "recorded_at": datetime.now(UTC)}
            # Another process may be recording the same version for another case right
            # now (PostgreSQL locks cases, not the store): whichever commits first wins.
            self.session.execute(insert_unless_present(self.session, RuleSetRow, "version", values))
        self.recording.add(rules.version)

    def merge_alerts(
        self, alerts: Sequence[Alert], rules: CompiledRuleSet, *, supersede: str | None = None
    ) -> tuple[list[int], list[int]]:
        """Add the alerts not yet stored; with `supersede`, retire those no longer raised.

        Records the rule set. Returns the ids of the alerts added and of those superseded.
        """
        self.record_rules(rules)
        session = self.session
        query = select(AlertRow.key, AlertRow.id, AlertRow.status).where(
            AlertRow.case_id == self.case
        )
        stored: dict[str, tuple[int, str]] = {}
        if not self._no_alerts:
            stored = {key: (i, status) for key, i, status in session.execute(query)}
        rows: list[dict[str, Any]] = []
        raised: set[str] = set()
        reopened: list[int] = []
        for alert in alerts:
            key = alert.key  # a digest: worked out once
            if key in raised:
                continue
            raised.add(key)
            if key in stored:
                alert_id, status = stored[key]
                if status == "superseded" and supersede is not None:
                    reopened.append(alert_id)  # the corrected history raises it again
                continue
            try:
                check_values(alert_reason=alert.reason)
            except StoreError as error:
                raise StoreError(f"case {self.case!r}, rule {alert.rule!r}: {error}") from None
            self.raised.append(alert)
            rows.append(
                {
                    "key": key,
                    "case_id": alert.case,
                    "rule_id": alert.rule,
                    "rules_version": rules.version,
                    "action": alert.action,
                    "params": dict(alert.params),
                    "priority": alert.priority,
                    "at": alert.at,
                    "reason": alert.reason,
                    "event_ids": list(alert.events),
                    "raised_at": self.now,
                    "status": "open",
                    "due_by": rules.act_within(alert.rule, alert.action).after(alert.at),
                    "superseded_reason": None,
                }
            )
        added: list[int] = []
        if rows:
            self._no_alerts = False
            # RETURNING in no particular order lets the rows go in one statement; the
            # keys put the ids back in the order the alerts were raised.
            table = table_of(AlertRow)
            returned = session.execute(insert(table).returning(table.c.key, table.c.id), rows)
            ids = {key: alert_id for key, alert_id in returned}
            added = [ids[row["key"]] for row in rows]
        superseded = []
        if supersede is not None:
            superseded = [
                alert_id
                for key, (alert_id, status) in stored.items()
                if key not in raised and status != "superseded"
            ]
        self._set_status(reopened, "open", "raised again by the corrected history", None)
        self._set_status(added, "open", None, None, stored=False)
        self._set_status(superseded, "superseded", supersede, supersede)
        return added, superseded

    def _set_status(
        self,
        alert_ids: Sequence[int],
        status: AlertStatus,
        note: str | None,
        superseded_reason: str | None,
        *,
        stored: bool = True,
    ) -> None:
        """Move alerts to `status` (`stored`: they were stored before this step) and record
        the step in each one's history, in bulk."""
        if not alert_ids:
            return
        if stored:
            self.session.execute(
                update(AlertRow)
                .where(AlertRow.id.in_(alert_ids))
                .values(status=status, superseded_reason=superseded_reason)
            )
        self.session.execute(
            insert(table_of(StatusChangeRow)),
            [
                {"alert_id": i, "status": status, "by": self.actor, "at": self.now, "note": note}
                for i in alert_ids
            ],
        )

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
