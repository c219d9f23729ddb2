"""The `triggers` command: a thin layer of click and rich over the library.

Results go to standard output; progress, summaries and errors to standard
error. Exit status: 0 success, 1 bad rules or data (or a store failure),
2 bad usage.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from triggers import __version__
from triggers.engine import CaseResult, Engine, load_rules
from triggers.errors import InputError, Problem, TriggersError
from triggers.models import Alert, Event, chronology_schema, parse_time
from triggers.models.alerts import ALERT_STATUSES, AlertStatus, StoredAlert
from triggers.reading import load_chronologies
from triggers.rules import CompiledAction, CompiledRuleSet, Template, rule_file_schema
from triggers.ruletests import RuleTestResult, load_rule_tests, rule_test_files, run_rule_tests
from triggers.store import (
    ACTOR_ENV,
    HEAD_REVISION,
    STORE_ENV,
    SaveSummary,
    Store,
    schema_revision,
    store_url,
    upgrade_schema,
)

__all__ = ["main"]

_PRIORITY_STYLE = {"urgent": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _stdout() -> Console:
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


def _print_problem(
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
            _print_problem(problem, "[red]error:[/red]", console, cache)
        noun = "problem" if len(error.problems) == 1 else "problems"
        console.print(f"{len(error.problems)} {noun} in {', '.join(error.files)}")
    else:
        console.print(f"[red]error:[/red] {escape(str(error))}")


@contextmanager
def _progress(total: int, console: Console) -> Iterator[Progress | None]:
    if total < 2 or not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        yield progress


def _each_file(
    files: Sequence[str], label: str, console: Console, work: Callable[[str], None]
) -> int:
    """Run `work` on each file with a progress bar; a file that fails is reported and the
    others still run. Returns how many failed."""
    failed = 0
    with _progress(len(files), console) as progress:
        task = progress.add_task(label, total=len(files)) if progress else None
        for file in files:
            try:
                work(file)
            except TriggersError as error:
                failed += 1
                report_error(error, console)
            if progress is not None and task is not None:
                progress.advance(task)
    return failed


def _exit_if_failed(failed: int, files: Sequence[str], console: Console) -> None:
    if failed:
        console.print(f"[red]{failed} of {len(files)} file(s) failed[/red]")
        raise SystemExit(1)


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """A date option's value: a date alone is the start of that day (UTC)."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        # click names the option this callback belongs to.
        raise click.BadParameter(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="triggers")
def cli() -> None:
    """Raise safeguarding alerts when a case's circumstances change.

    Case chronologies (YAML, JSON or JSONL events) are evaluated in event time
    against YAML rules; the alerts raised are stored with their reasons.
    """


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


def _alert_text(alert: Alert) -> str:
    params = ", ".join(f"{value}" for value in alert.params.values())
    return f"{alert.action} → {params}" if params else alert.action


def _timeline(result: CaseResult) -> Table:
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
                f"[{colour}]⚑ {escape(_alert_text(alert))}[/]",
                f"[{colour}]{alert.priority}[/]",
                escape(alert.reason),
            )
    if not result.alerts:
        table.caption = "no alerts"
    else:
        noun = "alert" if len(result.alerts) == 1 else "alerts"
        table.caption = f"{len(result.alerts)} {noun}"
    return table


def _load_rules_or_exit(path: str | None, console: Console) -> CompiledRuleSet:
    try:
        return load_rules(path)
    except TriggersError as error:
        report_error(error, console)
        raise SystemExit(1) from None


_store_option = click.option(
    "--store",
    "store",
    metavar="URL",
    envvar=STORE_ENV,
    show_envvar=True,
    help="SQLAlchemy URL of the store (default: sqlite:///triggers.sqlite).",
)
_by_option = click.option(
    "--by",
    "by",
    metavar="NAME",
    envvar=ACTOR_ENV,
    show_envvar=True,
    help="Who is acting, for the audit log (default: the OS user).",
)
_reason_option = click.option(
    "--reason",
    "reason",
    metavar="TEXT",
    help="Why, for the audit log (required where TRIGGERS_REQUIRE_REASON says so).",
)
_rules_option = click.option(
    "--rules",
    "rules_path",
    metavar="PATH",
    type=click.Path(exists=True),
    help="Rule file or directory of rule files (default: the shipped rules).",
)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_rules_option
@_store_option
@_by_option
@_reason_option
@click.option(
    "--until",
    "until",
    metavar="DATE",
    callback=_date,
    help="Run the clock on to DATE (a date alone is the start of that day) so that deadlines"
    " after the last event pass; by default the clock stops at the last event.",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: a timeline per case; json: the alerts as a JSON array.",
)
def replay(
    *,
    files: Sequence[str],
    rules_path: str | None,
    store: str | None,
    by: str | None,
    reason: str | None,
    until: datetime | None,
    output: str,
) -> None:
    """Replay case chronologies and show the alerts the rules raise.

    Each FILE is a chronology (.yaml, .yml, .json, or .jsonl with one event a line).
    Events are evaluated in order of their time. Events and alerts are stored;
    replaying a file again adds nothing already stored. A file with errors is
    reported and skipped; the others are still processed. Exits 1 if any file failed.
    """
    err = _stderr()
    engine = Engine(_load_rules_or_exit(rules_path, err))
    results: list[CaseResult] = []
    saved: list[SaveSummary] = []

    def replay_file(file: str) -> None:
        for chronology in load_chronologies(file):
            result = engine.replay(chronology, until)
            saved.append(database.save(result, reason=reason))
            results.append(result)

    with _open_store(store, by, err) as database:
        failed = _each_file(files, "replaying", err, replay_file)
    alerts = [alert for result in results for alert in result.alerts]
    if output == "json":
        click.echo(json.dumps([alert.to_json() for alert in alerts], indent=2))
    else:
        out = _stdout()
        for result in results:
            out.print(_timeline(result))
    err.print(
        f"{len(results)} case(s), {len(alerts)} alert(s); stored"
        f" {sum(s.new_events for s in saved)} new event(s) and"
        f" {sum(s.new_alerts for s in saved)} new alert(s) in {database.url}"
    )
    _exit_if_failed(failed, files, err)


@cli.group()
def rules() -> None:
    """Check, list and test rule sets."""


@rules.command("check")
@click.argument("path", required=False, type=click.Path())
@click.option("--strict", is_flag=True, help="Exit 1 on warnings as well as on errors.")
def rules_check(path: str | None, strict: bool) -> None:
    """Check the rule files at PATH (default: the shipped rules) against the event catalogue.

    Every problem in every file is reported with file, line and column. Rules that can
    never fire, or that another rule shadows, are warnings. Exits 0 when the rules
    have no errors, 1 when they have (or, with --strict, when there are warnings).
    """
    err = _stderr()
    compiled = _load_rules_or_exit(path, err)
    cache: dict[str, list[str]] = {}
    for warning in compiled.warnings:
        _print_problem(warning, "[yellow]warning:[/yellow]", err, cache)
    files = ", ".join(compiled.files)
    found = len(compiled.warnings)
    noun = "warning" if found == 1 else "warnings"
    err.print(
        f"{len(compiled.rules)} rule(s) in {files}: no errors, {found} {noun}"
        f" (version {compiled.version})"
    )
    if strict and found:
        raise SystemExit(1)


def _action_text(action: CompiledAction) -> str:
    params = ", ".join(
        f"{name}: {value.source if isinstance(value, Template) else value}"
        for name, value in action.params.items()
    )
    return f"{action.action} ({params})" if params else action.action


@rules.command("list")
@click.argument("path", required=False, type=click.Path())
def rules_list(path: str | None) -> None:
    """List the rules at PATH (default: the shipped rules): id, title, learning and actions."""
    compiled = _load_rules_or_exit(path, _stderr())
    table = Table(
        title=f"rule set {compiled.version}", title_justify="left", expand=True, show_lines=True
    )
    table.add_column("Id", no_wrap=True)
    table.add_column("Title / learning", ratio=3)
    table.add_column("Actions", ratio=2, overflow="fold")
    for rule in compiled.rules:
        actions = "\n".join(_action_text(action) for action in rule.actions)
        table.add_row(
            escape(rule.id),
            f"[bold]{escape(rule.title)}[/]\n{escape(rule.learning)}",
            escape(actions),
        )
    _stdout().print(table)


@rules.command("schema")
def rules_schema() -> None:
    """Print a JSON Schema of the rule file format, for editors to validate and complete."""
    click.echo(json.dumps(rule_file_schema(), indent=2))


def _run_rule_tests_or_exit(
    path: str | None, rules: CompiledRuleSet, console: Console
) -> list[RuleTestResult]:
    try:
        return run_rule_tests(load_rule_tests(rule_test_files(path), rules), rules)
    except TriggersError as error:
        report_error(error, console)
        raise SystemExit(1) from None


@rules.command("test")
@click.argument("path", required=False, type=click.Path())
def rules_test(path: str | None) -> None:
    """Run the rule tests beside the rules at PATH (default: the shipped rules).

    PATH is a rule file or a directory; its tests are the *.test.yaml files beside it
    (for a rule file core.yaml: core.test.yaml and core.*.test.yaml). Each test
    replays a short chronology and checks that the alerts it expects are raised and
    those it forbids are not. Each failure is shown with its file and line, what was
    expected and what was got. Exits 0 when every test passes, 1 when any fails or a
    rule or test file has problems.
    """
    err = _stderr()
    compiled = _load_rules_or_exit(path, err)
    results = _run_rule_tests_or_exit(path, compiled, err)
    out = Console(highlight=False, soft_wrap=True)
    failed = [result for result in results if not result.passed]
    for result in failed:
        where = result.file if result.line is None else f"{result.file}:{result.line}"
        out.print(f"[red]{escape(where)}: test '{escape(result.name)}'[/red]")
        for failure in result.failures:
            for line in failure.explain():
                out.print(f"    {escape(line)}")
    colour = "red" if failed else "green"
    noun = "test" if len(results) == 1 else "tests"
    err.print(f"[{colour}]{len(results)} {noun}, {len(failed)} failed[/{colour}]")
    if failed:
        raise SystemExit(1)


@cli.group()
def events() -> None:
    """Describe the chronology format."""


@events.command("schema")
def events_schema() -> None:
    """Print a JSON Schema of chronology files, for editors to validate and complete."""
    click.echo(json.dumps(chronology_schema(), indent=2))


# --- the store: alerts, explanation, ingestion, audit, erasure ---------------------


@contextmanager
def _open_store(url: str | None, by: str | None, console: Console) -> Iterator[Store]:
    """The store, closed afterwards; any error is reported and exits 1."""
    try:
        with Store(store_url(url), actor=by) as opened:
            yield opened
    except TriggersError as error:
        report_error(error, console)
        raise SystemExit(1) from None


@cli.group()
def alerts() -> None:
    """List stored alerts and move them through their lifecycle."""


@alerts.command("list")
@click.option("--case", "case", metavar="CASE", help="Only this case's alerts.")
@click.option("--status", type=click.Choice(ALERT_STATUSES), help="Only alerts in this status.")
@click.option("--rule", "rule", metavar="RULE", help="Only alerts raised by this rule id.")
@click.option(
    "--overdue", is_flag=True, help="Only open or acknowledged alerts past their due date."
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for reading; json or csv to export.",
)
@_store_option
@_by_option
@_reason_option
def alerts_list(
    *,
    case: str | None,
    status: AlertStatus | None,
    rule: str | None,
    overdue: bool,
    output: str,
    store: str | None,
    by: str | None,
    reason: str | None,
) -> None:
    """List stored alerts with their status and due date (the consultation is audited)."""
    err = _stderr()
    now = datetime.now(UTC)
    operation = "alerts list" if output == "table" else f"alerts export ({output})"
    with _open_store(store, by, err) as database:
        found = database.alerts(
            case,
            status=status,
            rule=rule,
            overdue_at=now if overdue else None,
            operation=operation,
            reason=reason,
        )
    rows = [_alert_record(item, now) for item in found]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(_ALERT_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {**row, "params": json.dumps(row["params"]), "events": " ".join(row["events"])}
            )
    else:
        table = Table(title="alerts", caption=f"{len(found)} alert(s)")
        for column in ("id", "case", "at", "rule", "action", "status", "due by"):
            table.add_column(column)
        for item in found:
            due = f"{item.due_by:%Y-%m-%d}"
            if item.overdue(now):
                due = f"[red]{due} overdue[/red]"
            table.add_row(
                str(item.id),
                escape(item.alert.case),
                f"{item.alert.at:%Y-%m-%d}",
                escape(item.alert.rule),
                escape(_alert_text(item.alert)),
                item.status,
                due,
            )
        _stdout().print(table)


_ALERT_COLUMNS = (
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


def _alert_record(item: StoredAlert, now: datetime) -> dict[str, Any]:
    """A stored alert as one flat record: the contract's alert plus its lifecycle."""
    record: dict[str, Any] = {"id": item.id, **item.alert.to_json()}
    record.update(
        status=item.status,
        due_by=item.model_dump(mode="json")["due_by"],
        overdue=item.overdue(now),
        rules_version=item.rules_version,
        superseded_reason=item.superseded_reason,
    )
    return {name: record[name] for name in _ALERT_COLUMNS}


def _lifecycle_command(name: str, note_required: bool, help_text: str) -> None:
    @alerts.command(name, help=help_text)
    @click.argument("alert_id", type=int)
    @click.option(
        "--note",
        "note",
        metavar="TEXT",
        required=note_required,
        help="What was done, or why" + ("" if note_required else " (optional)") + ".",
    )
    @_store_option
    @_by_option
    @_reason_option
    def command(
        alert_id: int, note: str | None, store: str | None, by: str | None, reason: str | None
    ) -> None:
        err = _stderr()
        with _open_store(store, by, err) as database:
            try:
                if name == "ack":
                    moved = database.acknowledge(alert_id, note=note, reason=reason)
                elif name == "resolve":
                    moved = database.resolve(alert_id, note=note or "", reason=reason)
                else:
                    moved = database.dismiss(alert_id, note=note or "", reason=reason)
            except TriggersError as error:
                report_error(error, err)
                raise SystemExit(1) from None
        err.print(f"alert {moved.id} is now {moved.status} (by {database.actor})")


_lifecycle_command("ack", False, "Acknowledge alert ALERT_ID: someone has seen it and owns it.")
_lifecycle_command(
    "resolve", True, "Resolve alert ALERT_ID: the action was taken (--note says what)."
)
_lifecycle_command(
    "dismiss", True, "Dismiss alert ALERT_ID: no action is needed (--note says why)."
)


@cli.command("explain")
@click.argument("alert_id", type=int)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text to read; json for other systems.",
)
@_store_option
@_by_option
@_reason_option
def explain_command(
    alert_id: int, output: str, store: str | None, by: str | None, reason: str | None
) -> None:
    """Explain why alert ALERT_ID was raised: rule, version, events, state, timing, reason."""
    err = _stderr()
    with _open_store(store, by, err) as database:
        try:
            explanation = database.explain(alert_id, reason=reason)
        except TriggersError as error:
            report_error(error, err)
            raise SystemExit(1) from None
    if output == "json":
        click.echo(json.dumps(explanation.model_dump(mode="json"), indent=2))
    else:
        out = _stdout()
        for line in explanation.lines():
            out.print(escape(line))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_rules_option
@_store_option
@_by_option
@_reason_option
def ingest(
    files: Sequence[str],
    rules_path: str | None,
    store: str | None,
    by: str | None,
    reason: str | None,
) -> None:
    """Append events to the store and evaluate each case's whole stored history.

    Each FILE is usually JSONL (one event a line, each with its case); any chronology
    format works. Events already stored change nothing; a late event re-evaluates its
    case and supersedes alerts the corrected history no longer raises. Exits 1 if any
    file failed (the others are still ingested).
    """
    err = _stderr()
    engine = Engine(_load_rules_or_exit(rules_path, err))
    saved: list[SaveSummary] = []

    def ingest_file(file: str) -> None:
        saved.extend(database.ingest(load_chronologies(file), engine, reason=reason))

    with _open_store(store, by, err) as database:
        failed = _each_file(files, "ingesting", err, ingest_file)
    err.print(
        f"ingested {sum(s.new_events for s in saved)} new event(s);"
        f" {sum(s.new_alerts for s in saved)} new alert(s),"
        f" {sum(s.superseded for s in saved)} superseded in {database.url}"
    )
    _exit_if_failed(failed, files, err)


@cli.command()
@click.option(
    "--now",
    "now",
    metavar="DATE",
    callback=_date,
    help="Run the clocks on to DATE instead of the current time (a date alone is its start).",
)
@_rules_option
@_store_option
@_by_option
@_reason_option
def tick(
    now: datetime | None,
    rules_path: str | None,
    store: str | None,
    by: str | None,
    reason: str | None,
) -> None:
    """Run every stored case's clock on to now, raising alerts whose deadline has passed."""
    err = _stderr()
    engine = Engine(_load_rules_or_exit(rules_path, err))
    moment = now or datetime.now(UTC)
    with _open_store(store, by, err) as database:
        summaries = database.tick(engine, moment, reason=reason)
    raised = sum(s.new_alerts for s in summaries)
    err.print(
        f"clock at {moment:%Y-%m-%d %H:%M} UTC: {raised} new alert(s) in {len(summaries)} case(s)"
    )


@cli.command()
@click.option("--case", "case", metavar="CASE", help="Only entries about this case.")
@click.option("--actor", "actor", metavar="NAME", help="Only entries by this actor.")
@click.option("--since", "since", metavar="DATE", callback=_date, help="Only entries from DATE on.")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for reading; json to export.",
)
@_store_option
def audit(
    case: str | None,
    actor: str | None,
    since: datetime | None,
    output: str,
    store: str | None,
) -> None:
    """Read the audit log: who collected, consulted, altered or erased case data, and why."""
    err = _stderr()
    with _open_store(store, None, err) as database:
        entries = database.audit(case=case, actor=actor, since=since)
    if output == "json":
        click.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    table = Table(
        title="audit log", caption=f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
    )
    for column in ("when (UTC)", "actor", "activity", "operation", "case", "alerts", "reason"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            f"{entry.at:%Y-%m-%d %H:%M:%S}",
            escape(entry.actor),
            entry.activity,
            escape(entry.operation),
            escape(entry.case or ""),
            ", ".join(str(a) for a in entry.alerts),
            escape(entry.justification or ""),
        )
    _stdout().print(table)


@cli.group()
def case() -> None:
    """Manage stored cases."""


@case.command("erase")
@click.argument("case_id", metavar="CASE")
@click.option("--reason", "reason", required=True, metavar="TEXT", help="Why the case is erased.")
@_store_option
@_by_option
def case_erase(case_id: str, reason: str, store: str | None, by: str | None) -> None:
    """Erase CASE: remove its events and alerts, leaving only an erasure record and the log."""
    err = _stderr()
    with _open_store(store, by, err) as database:
        try:
            record = database.erase_case(case_id, reason=reason)
        except TriggersError as error:
            report_error(error, err)
            raise SystemExit(1) from None
    err.print(
        f"erased case {record.case}: {record.events} event(s), {record.alerts} alert(s);"
        f" recorded as erased by {record.by}"
    )


def main() -> None:
    """Entry point of the `triggers` console script."""
    try:
        cli.main(prog_name="triggers")
    except TriggersError as error:  # pragma: no cover - commands report their own errors
        report_error(error, _stderr())
        sys.exit(1)


# --- the store's schema ------------------------------------------------------------


@cli.group()
def db() -> None:
    """Manage the store's database schema (its migrations)."""


@db.command("upgrade")
@_store_option
def db_upgrade(store: str | None) -> None:
    """Migrate the store's schema to this version of risk-triggers.

    Run it, after a backup, when a command says the store's schema is older than
    this version. The migration is one transaction: it completes or changes
    nothing. An empty database gets the whole schema; a store from before schema
    migrations is checked and adopted. Prints the revisions from and to.
    """
    err = _stderr()
    try:
        before, after = upgrade_schema(store_url(store))
    except TriggersError as error:
        report_error(error, err)
        raise SystemExit(1) from None
    if before == after:
        err.print(f"schema revision {after}: already up to date, nothing to do")
    else:
        err.print(f"schema revision {before or 'none'} → {after}")


@db.command("status")
@_store_option
def db_status(store: str | None) -> None:
    """Show the store's schema revision and whether this version of risk-triggers can use it.

    Exits 0 when the schema is up to date or the database is empty (the first
    command that uses it creates the schema), 1 when it is older or newer than
    this version, saying what to run.
    """
    err = _stderr()
    try:
        revision = schema_revision(store_url(store))
    except TriggersError as error:
        report_error(error, err)
        raise SystemExit(1) from None
    if revision is None:
        click.echo(
            f"no schema yet: the first command that uses the store creates revision {HEAD_REVISION}"
        )
    else:
        click.echo(f"schema revision {revision}: up to date")
