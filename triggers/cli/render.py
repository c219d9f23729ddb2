"""What the `triggers` command shows: consoles, errors with a caret, timelines and tables.

Results go to standard output; progress, summaries and errors to standard error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from triggers.engine import CaseResult
from triggers.errors import InputError, Problem, ReasonRequiredError, TriggersError
from triggers.models import Alert, Event
from triggers.models.alerts import StoredAlert
from triggers.rules import CompiledAction, Template

__all__ = [
    "ALERT_COLUMNS",
    "action_text",
    "alert_record",
    "alert_text",
    "print_problem",
    "progress",
    "report_error",
    "stderr",
    "stdout",
    "timeline",
]

_PRIORITY_STYLE = {"urgent": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


def stderr() -> Console:
    """Where progress, summaries and errors go."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout() -> Console:
    """Where results go."""
    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped or captured output gets a fixed, readable width rather than 80 columns.
        console = Console(highlight=False, width=120)
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
    caret = " " * ((problem.column or 1) - 1) + "^"
    return f"    {text}\n    {caret}"


def print_problem(
    problem: Problem, label: str, console: Console, cache: dict[str, list[str]]
) -> None:
    """One problem with its place, and the source line with a caret under it."""
    console.print(f"{label} {escape(str(problem))}")
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
        console.print(f"{len(error.problems)} {noun} in {', '.join(error.files)}")
    elif isinstance(error, ReasonRequiredError) and error.setting is not None:
        console.print(f"[red]error:[/red] {escape(str(error))}; give one with --reason")
    else:
        console.print(f"[red]error:[/red] {escape(str(error))}")


@contextmanager
def progress(total: int, console: Console) -> Iterator[Progress | None]:
    """A progress bar for long work on a terminal; None for one item or when piped."""
    if total < 2 or not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        yield bar


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
    table = Table(title=escape(title), title_justify="left", expand=True, show_lines=False)
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
        table.add_row(at.strftime("%Y-%m-%d"), escape(text), "", "", style=style)
        for alert in raised:
            colour = _PRIORITY_STYLE.get(alert.priority, "")
            table.add_row(
                "",
                f"[{colour}]⚑ {escape(alert_text(alert))}[/]",
                f"[{colour}]{alert.priority}[/]",
                escape(alert.reason),
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


def alert_record(item: StoredAlert, now: datetime) -> dict[str, Any]:
    """A stored alert as one flat record: the contract's alert plus its lifecycle."""
    record: dict[str, Any] = {"id": item.id, **item.alert.to_json()}
    record.update(
        status=item.status,
        due_by=item.model_dump(mode="json")["due_by"],
        overdue=item.overdue(now),
        rules_version=item.rules_version,
        superseded_reason=item.superseded_reason,
    )
    return {name: record[name] for name in ALERT_COLUMNS}
