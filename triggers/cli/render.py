"""What the `triggers` command shows: consoles, errors with a caret, timelines and tables.

Results go to standard output; progress, summaries and errors to standard error.

Text from files and from the store is shown as it is, never acted on: `safe` makes
it console markup that prints literally, and the consoles `stdout` and `stderr`
write every control character, escape sequence and bidirectional override as an
escape (`printable`) in whatever they print, tables and messages alike, whether or
not the code that printed it thought of it. Data stored by older versions, rule
text and file names may hold what input checks now refuse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from triggers.engine import CaseResult
from triggers.errors import InputError, Problem, ReasonRequiredError, TriggersError
from triggers.models import Alert, Event
from triggers.models.alerts import ACTIVE_STATUSES
from triggers.rules import CompiledAction, Template

if TYPE_CHECKING:
    from triggers.store import AlertRecord, Summary

__all__ = [
    "ALERTS_WIDTH",
    "ALERT_COLUMNS",
    "action_text",
    "alert_text",
    "alerts_table",
    "export_row",
    "print_problem",
    "printable",
    "progress",
    "report_error",
    "safe",
    "stderr",
    "stdout",
    "summary_tables",
    "timeline",
]

_PRIORITY_STYLE = {"urgent": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


#: What a terminal may act on or show misleadingly: C0 controls but tab and newline
#: (ESC starts every escape sequence), DEL, C1 controls, the bidirectional marks,
#: embeddings, overrides and isolates (U+202E shows text backwards), line and paragraph
#: separators, and lone surrogates (which cannot even be written out).
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every character a terminal could act on written as an escape, as
    Python writes them (ESC as `\\x1b`, U+202E as `\\u202e`); tab and newline stay."""
    return _UNPRINTABLE.sub(_escaped, text)


def safe(text: object) -> str:
    """Text from a file or the store as console markup that prints exactly it: markup
    (`[bold]`) shown, not applied, and control characters escaped (`printable`)."""
    return escape(printable(str(text)))


class _Console(Console):
    """A console that writes every control character in what it prints as an escape:
    whatever text reaches a table cell, a title or a message passes through here
    (`render_str`) before it is measured, so tables keep their shape."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(printable(text), **options)


def stderr() -> Console:
    """Where progress, summaries and errors go."""
    return _Console(stderr=True, highlight=False, soft_wrap=True)


def stdout(*, soft_wrap: bool = False, piped_width: int = 120) -> Console:
    """Where results go (`soft_wrap`: long lines are not folded; `piped_width`: the width
    of piped or captured output)."""
    console = _Console(highlight=False, soft_wrap=soft_wrap)
    if not console.is_terminal:
        # Piped or captured output gets a fixed, readable width rather than 80 columns.
        console = _Console(highlight=False, soft_wrap=soft_wrap, width=piped_width)
    return console


def _snippet(problem: Problem, cache: dict[str, list[str]]) -> str | None:
    """The offending source line with a caret under the column, if the file can be read."""
    if problem.line is None:
        return None
    if problem.file not in cache:
        try:
            cache[problem.file] = Path(problem.file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            cache[problem.file] = []
    lines = cache[problem.file]
    if not 0 < problem.line <= len(lines):
        return None
    text = lines[problem.line - 1].replace("\t", " ")
    # The caret stays under its column when what comes before it is written as escapes.
    caret = " " * len(printable(text[: (problem.column or 1) - 1])) + "^"
    return f"    {printable(text)}\n    {caret}"


def print_problem(
    problem: Problem, label: str, console: Console, cache: dict[str, list[str]]
) -> None:
    """One problem with its place, and the source line with a caret under it."""
    console.print(f"{label} {safe(problem)}")
    snippet = _snippet(problem, cache)
    if snippet:
        console.print(escape(snippet), style="dim")


def report_error(error: TriggersError, console: Console) -> None:
    """Print an error to standard error: each problem with its place and a caret under it."""
    if isinstance(error, InputError):
        cache: dict[str, list[str]] = {}
        for problem in error.problems:
            print_problem(problem, "[red]error:[/red]", console, cache)
        noun = "problem" if len(error.problems) == 1 else "problems"
        console.print(f"{len(error.problems)} {noun} in {safe(', '.join(error.files))}")
    elif isinstance(error, ReasonRequiredError) and error.setting is not None:
        console.print(f"[red]error:[/red] {safe(error)}; give one with --reason")
    else:
        console.print(f"[red]error:[/red] {safe(error)}")


@contextmanager
def progress(total: int, console: Console) -> Iterator[Progress | None]:
    """A progress bar for long work on a terminal, with the time elapsed, the rate and the
    time left; None for one item or when piped."""
    if total < 2 or not console.is_terminal:
        yield None
        return
    with Progress(
        _Description(table_column=Column(overflow="fold")),
        # A short bar leaves room for the description and the times on 80 columns.
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        yield bar


class _Rate(ProgressColumn):
    """How many items a second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.1f}/s", style="progress.data.speed")


class _Description(ProgressColumn):
    """A task's description, shown as it is (it may name a file)."""

    def render(self, task: Task) -> Text:
        return Text(printable(task.description))


def _summary(event: Event) -> str:
    parts = []
    for name, value in event.fields().items():
        if isinstance(value, list):
            parts.append(", ".join(map(str, value)))
        elif isinstance(value, str):
            parts.append(value)
        else:
            parts.append(f"{name.replace('_', ' ')} {value}")
    detail = ", ".join(parts)
    text = event.type.replace("_", " ")
    return f"{text}: {detail}" if detail else text


def alert_text(alert: Alert) -> str:
    """An alert's action and its parameters, on one line."""
    params = ", ".join(f"{value}" for value in alert.params.values())
    return f"{alert.action} → {params}" if params else alert.action


def timeline(result: CaseResult) -> Table:
    """A replayed case as a table: each event in time order with the alerts it raised."""
    chronology = result.chronology
    title = f"{chronology.case}" + (f" — {chronology.title}" if chronology.title else "")
    table = Table(title=safe(title), title_justify="left", expand=True, show_lines=False)
    table.add_column("Date", no_wrap=True)
    table.add_column("Event / alert", ratio=2)
    table.add_column("Priority", no_wrap=True)
    table.add_column("Reason", ratio=3)
    events = {event.id or "": event for event in chronology.events}
    by_event: dict[str, list[Alert]] = {}
    deadlines: list[Alert] = []
    for alert in result.alerts:
        trigger = events.get(alert.events[-1])
        if trigger is not None and trigger.at == alert.at:
            by_event.setdefault(alert.events[-1], []).append(alert)
        else:
            deadlines.append(alert)  # raised when a deadline passed, not by an event
    rows: list[tuple[datetime, int, str, list[Alert]]] = [
        (event.at, 0, _summary(event), by_event.get(event.id or "", []))
        for event in chronology.in_event_order()
    ]
    rows += [(alert.at, 1, "deadline passed", [alert]) for alert in deadlines]
    for at, _, text, raised in sorted(rows, key=lambda row: (row[0], row[1])):
        style = "bold" if raised else None
        table.add_row(at.strftime("%Y-%m-%d"), safe(text), "", "", style=style)
        for alert in raised:
            colour = _PRIORITY_STYLE.get(alert.priority, "")
            table.add_row(
                "",
                f"[{colour}]⚑ {safe(alert_text(alert))}[/]",
                f"[{colour}]{safe(alert.priority)}[/]",
                safe(alert.reason),
            )
    if not result.alerts:
        table.caption = "no alerts"
    else:
        noun = "alert" if len(result.alerts) == 1 else "alerts"
        table.caption = f"{len(result.alerts)} {noun}"
    return table


def action_text(action: CompiledAction) -> str:
    """A rule's action with its parameters as written."""
    params = ", ".join(
        f"{name}: {value.source if isinstance(value, Template) else value}"
        for name, value in action.params.items()
    )
    return f"{action.action} ({params})" if params else action.action


ALERT_COLUMNS = (
    "id",
    "case",
    "rule",
    "action",
    "at",
    "params",
    "priority",
    "reason",
    "events",
    "status",
    "due_by",
    "overdue",
    "rules_version",
    "superseded_reason",
)


def _utc(moment: datetime) -> str:
    """A time as the contract writes it: ISO 8601 in UTC, with Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def export_row(record: AlertRecord, now: datetime, *, as_json: bool) -> list[Any]:
    """A stored alert's values in `ALERT_COLUMNS` order: the contract's alert and its
    lifecycle. `as_json`: params and events as JSON values; otherwise (CSV) params as
    JSON text and the event ids separated by spaces."""
    events = json.loads(record.events_json)
    return [
        record.id,
        record.case,
        record.rule,
        record.action,
        _utc(record.at),
        json.loads(record.params_json) if as_json else record.params_json,
        record.priority,
        record.reason,
        events if as_json else " ".join(events),
        record.status,
        _utc(record.due_by),
        record.status in ACTIVE_STATUSES and record.due_by < now,
        record.rules_version,
        record.superseded_reason,
    ]


#: At most this many failed files are named in a summary (every error was printed above it).
_FAILED_SHOWN = 20


def _counts(title: str, counts: Mapping[str, int], total: int) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(title.removeprefix("alerts by "), no_wrap=True, overflow="fold")
    table.add_column("alerts", justify="right")
    table.add_column("share", justify="right")
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(safe(name), f"{count:,}", f"{count / total:.1%}" if total else "")
    return table


def summary_tables(summary: Summary, title: str, *, new: bool = False) -> list[Table]:
    """A summary as tables: the counts, then alerts by rule, action, priority and status
    (each most frequent first), then the files that failed. `new`: the events and alerts
    counted are those new to the store (ingest, tick)."""
    totals = Table(title=title, title_justify="left", show_header=False)
    totals.add_column("what")
    totals.add_column("how many", justify="right")
    prefix = "new " if new else ""
    rows = [("cases", summary.cases), (f"{prefix}events", summary.events)]
    rows += [("new events", summary.new_events)] if summary.new_events is not None else []
    rows += [(f"{prefix}alerts", summary.alerts)]
    rows += [("new alerts", summary.new_alerts)] if summary.new_alerts is not None else []
    rows += [("superseded", summary.superseded)] if summary.superseded is not None else []
    rows += [("failed files", len(summary.failed))] if summary.failed else []
    for name, count in rows:
        totals.add_row(name, f"{count:,}")
    tables = [totals]
    for name, counts in (
        ("rule", summary.by_rule),
        ("action", summary.by_action),
        ("priority", summary.by_priority),
        ("status", summary.by_status),
    ):
        if counts:
            tables.append(_counts(f"alerts by {name}", counts, summary.alerts))
    if summary.failed:
        failed = Table(title="failed", title_justify="left", show_header=False)
        failed.add_column("file", overflow="fold")
        for file in summary.failed[:_FAILED_SHOWN]:
            failed.add_row(safe(file))
        if len(summary.failed) > _FAILED_SHOWN:
            failed.add_row(f"… and {len(summary.failed) - _FAILED_SHOWN} more")
        tables.append(failed)
    return tables


#: How wide a listing of alerts is when piped: a long rule id and action fit on one line.
ALERTS_WIDTH = 160


def alerts_table(records: Sequence[AlertRecord], now: datetime, caption: str) -> Table:
    """Stored alerts to read: one row each, with the full rule id (folded, never cut short
    on a narrow terminal), priority, action, status and due date."""
    table = Table(title="alerts", caption=caption)
    table.add_column("id", justify="right", no_wrap=True)
    # Only the action wraps; the rest is folded, never cut short, when there is no room.
    table.add_column("case", no_wrap=True, overflow="fold")
    table.add_column("at", no_wrap=True)
    table.add_column("rule", no_wrap=True, overflow="fold")
    table.add_column("priority", no_wrap=True)
    table.add_column("action", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("due by", no_wrap=True)
    for record in records:
        due = f"{record.due_by:%Y-%m-%d}"
        if record.status in ACTIVE_STATUSES and record.due_by < now:
            due = f"[red]{due} overdue[/red]"
        params = json.loads(record.params_json)
        action = record.action + (
            " → " + ", ".join(str(value) for value in params.values()) if params else ""
        )
        colour = _PRIORITY_STYLE.get(record.priority, "")
        table.add_row(
            str(record.id),
            safe(record.case),
            f"{record.at:%Y-%m-%d}",
            safe(record.rule),
            f"[{colour}]{safe(record.priority)}[/]",
            safe(action),
            record.status,
            due,
        )
    return table
