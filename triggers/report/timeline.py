"""What a timeline report shows, shared by the HTML page and the picture.

A report is a list of case timelines: a case's events in event order, one lane
per event type, and the alerts the rules raised with the explanation of each
(the events that caused it, the conditions and the timing, as `triggers
explain` gives them). A timeline comes from a chronology replayed in memory
(`replayed`: nothing is stored) or from what a store holds (`stored`: the
stored events and alerts, each alert explained by the rule-set version that
raised it, as `triggers explain` does, and the consultation audited).
"""

from __future__ import annotations

import glob
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from triggers.engine import Engine
from triggers.engine.explain import Explanation, explain
from triggers.errors import NotFoundError, shown
from triggers.models.alerts import PRIORITIES, Alert, AlertStatus, Priority
from triggers.models.chronology import Chronology
from triggers.models.events import Event

if TYPE_CHECKING:
    from triggers.store import Store

__all__ = [
    "COLOURS",
    "AlertMark",
    "CaseTimeline",
    "Report",
    "RuleCount",
    "Summary",
    "day",
    "event_text",
    "is_chronology_path",
    "moment",
    "replayed",
    "stack",
    "stored",
]


#: The colour of each priority, on the page and in the picture: light to dark, so that
#: they are told apart without seeing hue.
COLOURS: dict[Priority, str] = {
    "low": "#8fb3d9",
    "medium": "#f2b134",
    "high": "#d9482b",
    "urgent": "#6b0f2a",
}


@dataclass(frozen=True)
class AlertMark:
    """One alert on a timeline, with why it was raised."""

    alert: Alert
    explanation: Explanation
    #: For a stored alert: its id and where it stands in its lifecycle.
    alert_id: int | None = None
    status: AlertStatus | None = None

    @property
    def action(self) -> str:
        """The action and its parameters, on one line."""
        params = ", ".join(f"{name} {value}" for name, value in self.alert.params.items())
        return f"{self.alert.action} ({params})" if params else self.alert.action

    @property
    def active(self) -> bool:
        """Whether the alert still asks for action (a replayed alert always does)."""
        return self.status in (None, "open", "acknowledged")


@dataclass(frozen=True)
class CaseTimeline:
    """One case: its events in event order and its alerts in time order."""

    case: str
    title: str | None
    #: Where the case came from: its chronology file, or the store.
    origin: str
    events: tuple[Event, ...]
    alerts: tuple[AlertMark, ...]

    @property
    def lanes(self) -> tuple[str, ...]:
        """The event types, one lane each, in order of their first event."""
        return tuple(dict.fromkeys(event.type for event in self.events))

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        """The first and last moment shown (events and alerts), at least a day apart;
        None for a chronology without events."""
        moments = [e.at for e in self.events] + [m.alert.at for m in self.alerts]
        if not moments:
            return None
        start, end = min(moments), max(moments)
        if end - start < timedelta(days=1):
            start, end = start - timedelta(hours=12), end + timedelta(hours=12)
        return start, end


@dataclass(frozen=True)
class RuleCount:
    """How many alerts one rule raised in the report."""

    rule: str
    title: str
    alerts: int


@dataclass(frozen=True)
class Summary:
    """The figures at the top of a report."""

    cases: int
    events: int
    alerts: int
    #: Every priority, lowest first, with how many alerts have it (zero included).
    by_priority: tuple[tuple[Priority, int], ...]
    #: Most alerts first, then by rule id.
    by_rule: tuple[RuleCount, ...]
    #: Stored alerts by lifecycle status (empty when no alert is a stored one).
    by_status: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Report:
    """The timelines of a report, in the order their arguments were given."""

    timelines: tuple[CaseTimeline, ...]

    @property
    def marks(self) -> list[AlertMark]:
        """Every alert of the report, timeline after timeline."""
        return [mark for timeline in self.timelines for mark in timeline.alerts]

    def summary(self) -> Summary:
        """Cases, events, and alerts by priority, by rule and (when stored) by status."""
        marks = self.marks
        priorities = Counter(mark.alert.priority for mark in marks)
        rules = Counter(mark.alert.rule for mark in marks)
        titles = {mark.alert.rule: mark.explanation.rule.title for mark in marks}
        statuses = Counter(mark.status for mark in marks if mark.status is not None)
        return Summary(
            cases=len(self.timelines),
            events=sum(len(t.events) for t in self.timelines),
            alerts=len(marks),
            by_priority=tuple((p, priorities[p]) for p in PRIORITIES),
            by_rule=tuple(
                RuleCount(rule, titles[rule], count)
                for rule, count in sorted(rules.items(), key=lambda item: (-item[1], item[0]))
            ),
            by_status=tuple(sorted(statuses.items())),
        )


def moment(at: datetime) -> str:
    """A moment in UTC: the date alone at midnight, else date and time."""
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%d}" if (at.hour, at.minute) == (0, 0) else f"{at:%Y-%m-%d %H:%M}"


def day(at: datetime) -> str:
    """The UTC date of a moment."""
    return f"{at.astimezone(UTC):%Y-%m-%d}"


def event_text(event: Event) -> str:
    """An event on one line: its type and the fields it sets."""
    fields = ", ".join(f"{name} {value}" for name, value in event.fields().items())
    return f"{event.type}: {fields}" if fields else event.type


def stack(positions: Sequence[float], gap: float) -> list[int]:
    """A row for each marker at `positions` (in order along the axis) such that markers
    closer than `gap` on one row never meet: each takes the lowest row it fits on."""
    last: list[float] = []
    rows = []
    for position in positions:
        row = next((i for i, seen in enumerate(last) if position - seen >= gap), len(last))
        if row == len(last):
            last.append(position)
        last[row] = position
        rows.append(row)
    return rows


def is_chronology_path(argument: str) -> bool:
    """Whether a report argument names chronology files (a file, a directory, or a glob
    that matches) rather than a stored case."""
    if Path(argument).exists():
        return True
    return glob.has_magic(argument) and bool(glob.glob(argument, recursive=True))


def replayed(chronology: Chronology, origin: str, engine: Engine) -> CaseTimeline:
    """A chronology's timeline, replayed in memory with `engine`'s rules (nothing stored)."""
    result = engine.replay(chronology)
    return CaseTimeline(
        case=chronology.case,
        title=chronology.title,
        origin=origin,
        events=tuple(chronology.in_event_order()),
        alerts=tuple(
            AlertMark(alert, explain(engine.rules, chronology, alert)) for alert in result.alerts
        ),
    )


def stored(store: Store, cases: Sequence[str], *, reason: str | None = None) -> list[CaseTimeline]:
    """The timelines of stored cases: their stored events and alerts (superseded ones too),
    each alert explained as `triggers explain` does (each explanation is audited).

    Raises `NotFoundError` naming every case the store does not hold, before reading any.
    """
    known = set(store.cases())
    missing = [case for case in cases if case not in known]
    if missing:
        named = ", ".join(shown(case) for case in missing)
        raise NotFoundError(
            "case",
            missing[0],
            f"{named}: neither a chronology file, directory or pattern, nor a case stored in"
            f" {store.url}",
        )
    return [_stored_case(store, case, reason) for case in cases]


def _stored_case(store: Store, case: str, reason: str | None) -> CaseTimeline:
    # Imported here: a report of files alone starts without the store's libraries.
    from triggers.pipeline import explain_alert  # noqa: PLC0415

    marks = [
        AlertMark(
            item.alert,
            explain_alert(store, item.id, reason=reason),
            alert_id=item.id,
            status=item.status,
        )
        for item in store.alerts(case, reason=reason)
    ]
    return CaseTimeline(
        case=case,
        title=None,
        origin=f"stored in {store.url}",
        events=tuple(store.events(case)),
        alerts=tuple(marks),
    )
