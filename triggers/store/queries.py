"""Reading many alerts at once: filtering, paging and counting done in SQL.

An `AlertFilter` says which alerts a reader asks for; `alert_records` lists them as
flat records (no model per alert: 50,000 alerts list in well under a second),
`stored_alerts` as models, and `summarise` counts cases, events and alerts by
rule, action, priority and status with GROUP BY. What was asked, not every id
found, is what the audit log keeps of a consultation (`AlertFilter.described`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Text, cast, func, or_, select, union
from sqlalchemy.orm import Session

from triggers.models.alerts import ACTIVE_STATUSES, Alert, AlertStatus, Priority, StoredAlert
from triggers.rules.ids import rule_id_prefix
from triggers.store.tables import AlertRow, EventRow

__all__ = [
    "AlertFilter",
    "AlertRecord",
    "Summary",
    "alert_records",
    "stored_alert",
    "stored_alerts",
    "summarise",
]


@dataclass(frozen=True)
class AlertFilter:
    """Which stored alerts: every condition given must hold; in case, time and id order.

    `rule` is a rule id or a leading part of one up to a hyphen (`D1` for
    `D1-pregnancy-or-new-child`, as in rule tests); `since` keeps alerts raised at or
    after that event time, `until` those before it; `overdue_at` open or acknowledged
    alerts due before that time. `offset` alerts are skipped, then at most `limit` kept.
    """

    case: str | None = None
    status: AlertStatus | None = None
    rule: str | None = None
    priority: Priority | None = None
    since: datetime | None = None
    until: datetime | None = None
    overdue_at: datetime | None = None
    limit: int | None = None
    offset: int = 0

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions on the alerts table (paging aside)."""
        found: list[ColumnElement[bool]] = []
        if self.case is not None:
            found.append(AlertRow.case_id == self.case)
        if self.status is not None:
            found.append(AlertRow.status == self.status)
        if self.rule is not None:
            prefix = rule_id_prefix(self.rule)
            # Not LIKE: SQLite's ignores case, PostgreSQL's does not; rule ids are exact.
            leading = func.substr(AlertRow.rule_id, 1, len(prefix))
            found.append(or_(AlertRow.rule_id == self.rule, leading == prefix))
        if self.priority is not None:
            found.append(AlertRow.priority == self.priority)
        if self.since is not None:
            found.append(AlertRow.at >= self.since)
        if self.until is not None:
            found.append(AlertRow.at < self.until)
        if self.overdue_at is not None:
            found.append(AlertRow.status.in_(ACTIVE_STATUSES))
            found.append(AlertRow.due_by < self.overdue_at)
        return found

    def described(self) -> dict[str, Any]:
        """What was asked, for the audit log: each condition given (times in ISO 8601)."""
        asked = {
            "status": self.status,
            "rule": self.rule,
            "priority": self.priority,
            "since": self.since,
            "until": self.until,
            "overdue_at": self.overdue_at,
            "limit": self.limit,
            "offset": self.offset or None,
        }
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in asked.items()
            if value is not None
        }


class AlertRecord(NamedTuple):
    """A stored alert as one flat record, as it is listed and exported. `params_json` and
    `events_json` are the JSON text the store keeps (an object, and an array of event ids)."""

    id: int
    case: str
    rule: str
    action: str
    at: datetime
    params_json: str
    priority: str
    reason: str
    events_json: str
    status: str
    due_by: datetime
    rules_version: str
    superseded_reason: str | None


_RECORD_COLUMNS = (
    AlertRow.id,
    AlertRow.case_id,
    AlertRow.rule_id,
    AlertRow.action,
    AlertRow.at,
    # As text: decoding JSON only to encode it again costs more than the rest of a listing.
    cast(AlertRow.params, Text),
    AlertRow.priority,
    AlertRow.reason,
    cast(AlertRow.event_ids, Text),
    AlertRow.status,
    AlertRow.due_by,
    AlertRow.rules_version,
    AlertRow.superseded_reason,
)


def alert_records(
    session: Session, selection: AlertFilter, *, peek: bool = False
) -> list[AlertRecord]:
    """The alerts `selection` asks for, one page of them, as flat records; with `peek`, and
    a `limit`, also the first alert after the page (if any), so that a reader can tell
    whether another page follows."""
    limit = selection.limit
    if peek and limit is not None:
        limit += 1
    query = (
        select(*_RECORD_COLUMNS)
        .where(*selection.conditions())
        .order_by(AlertRow.case_id, AlertRow.at, AlertRow.id)
        .limit(limit)
        .offset(selection.offset or None)
    )
    return [AlertRecord._make(row) for row in session.execute(query)]


def stored_alert(row: AlertRow) -> StoredAlert:
    """One alert row as a model."""
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


def stored_alerts(session: Session, selection: AlertFilter) -> list[StoredAlert]:
    """The alerts `selection` asks for, one page of them, as models."""
    query = (
        select(AlertRow)
        .where(*selection.conditions())
        .order_by(AlertRow.case_id, AlertRow.at, AlertRow.id)
        .limit(selection.limit)
        .offset(selection.offset or None)
    )
    return [stored_alert(row) for row in session.scalars(query)]


@dataclass
class Summary:
    """How many cases, events and alerts, and the alerts by rule, action, priority and
    status: of what is stored, or of what a run committed. A run also counts what was
    new to the store (`new_events`, `new_alerts`, `superseded`) and its `failed` files."""

    cases: int = 0
    events: int = 0
    alerts: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    by_action: Counter[str] = field(default_factory=Counter)
    by_priority: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    new_events: int | None = None
    new_alerts: int | None = None
    superseded: int | None = None
    failed: list[str] = field(default_factory=list)

    def count_alerts(self, alerts: Iterable[Alert]) -> None:
        """Add alerts to the counts (by rule, action and priority)."""
        for alert in alerts:
            self.alerts += 1
            self.by_rule[alert.rule] += 1
            self.by_action[alert.action] += 1
            self.by_priority[alert.priority] += 1

    def merge(self, other: Summary) -> None:
        """Add `other`'s counts to these."""
        self.cases += other.cases
        self.events += other.events
        self.alerts += other.alerts
        for mine, theirs in (
            (self.by_rule, other.by_rule),
            (self.by_action, other.by_action),
            (self.by_priority, other.by_priority),
            (self.by_status, other.by_status),
        ):
            mine.update(theirs)
        for name in ("new_events", "new_alerts", "superseded"):
            if getattr(other, name) is not None:
                setattr(self, name, (getattr(self, name) or 0) + getattr(other, name))
        self.failed += other.failed

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON object of one shape: counts, and each breakdown most frequent
        first (empty when there is nothing); the counts of a run only for a run."""
        data: dict[str, Any] = {"cases": self.cases, "events": self.events, "alerts": self.alerts}
        for name in ("new_events", "new_alerts", "superseded"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        for name in ("by_rule", "by_action", "by_priority", "by_status"):
            counts: Counter[str] = getattr(self, name)  # always there: {} when none
            data[name] = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        if self.failed:
            data["failed"] = list(self.failed)
        return data


def summarise(session: Session, selection: AlertFilter) -> Summary:
    """Counts of the stored alerts `selection` asks for (paging aside), of the events of the
    same cases in the same time range, and of the cases that have either.

    With a `rule`, only cases with an alert of that rule count, with their events.
    """
    conditions = selection.conditions()
    summary = Summary()
    grouped = (
        select(AlertRow.rule_id, AlertRow.action, AlertRow.priority, AlertRow.status, func.count())
        .where(*conditions)
        .group_by(AlertRow.rule_id, AlertRow.action, AlertRow.priority, AlertRow.status)
    )
    for rule, action, priority, status, count in session.execute(grouped):
        summary.alerts += count
        summary.by_rule[rule] += count
        summary.by_action[action] += count
        summary.by_priority[priority] += count
        summary.by_status[status] += count
    events = select(EventRow.case_id)
    if selection.case is not None:
        events = events.where(EventRow.case_id == selection.case)
    if selection.since is not None:
        events = events.where(EventRow.at >= selection.since)
    if selection.until is not None:
        events = events.where(EventRow.at < selection.until)
    alerted = select(AlertRow.case_id).where(*conditions)
    if any(
        value is not None
        for value in (selection.rule, selection.status, selection.priority, selection.overdue_at)
    ):
        # Events are raised by no rule and have no status: those of the alerts' cases.
        events = events.where(EventRow.case_id.in_(alerted))
    summary.events = session.scalar(select(func.count()).select_from(events.subquery())) or 0
    cases = union(events, alerted).subquery()
    summary.cases = session.scalar(select(func.count()).select_from(cases)) or 0
    return summary
