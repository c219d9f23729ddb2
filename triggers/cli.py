"""The `triggers` command: a thin layer of click and rich over the library.

Results go to standard output; progress, summaries and errors to standard
error. Exit status: 0 success, 1 bad rules or data (or a store failure),
2 bad usage.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from triggers import __version__
from triggers.engine import CaseResult, Engine
from triggers.errors import InputError, Problem, TriggersError
from triggers.models import Alert, Event, chronology_schema, load_chronologies, parse_time
from triggers.rules import CompiledAction, CompiledRuleSet, Template, load_rules, rule_file_schema
from triggers.ruletests import RuleTestResult, load_rule_tests, rule_test_files, run_rule_tests
from triggers.store import STORE_ENV, Store, store_url

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


def _until(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--until'") from None


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


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--rules",
    "rules_path",
    metavar="PATH",
    type=click.Path(exists=True),
    help="Rule file or directory of rule files (default: the shipped rules).",
)
@click.option(
    "--store",
    "store",
    metavar="URL",
    envvar=STORE_ENV,
    show_envvar=True,
    help="SQLAlchemy URL of the store (default: sqlite:///triggers.sqlite).",
)
@click.option(
    "--until",
    "until",
    metavar="DATE",
    callback=lambda _ctx, _param, value: _until(value),
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
    files: Sequence[str],
    rules_path: str | None,
    store: str | None,
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
    rules = _load_rules_or_exit(rules_path, err)
    engine = Engine(rules)
    try:
        database = Store(store_url(store))
    except TriggersError as error:
        report_error(error, err)
        raise SystemExit(1) from None
    results: list[CaseResult] = []
    failed = added_events = added_alerts = 0
    with database, _progress(len(files), err) as progress:
        task = progress.add_task("replaying", total=len(files)) if progress else None
        for file in files:
            try:
                for chronology in load_chronologies(file):
                    result = engine.replay(chronology, until)
                    summary = database.save(result)
                    added_events += summary.new_events
                    added_alerts += summary.new_alerts
                    results.append(result)
            except TriggersError as error:
                failed += 1
                report_error(error, err)
            if progress is not None and task is not None:
                progress.advance(task)
    alerts = [alert for result in results for alert in result.alerts]
    if output == "json":
        click.echo(json.dumps([alert.to_json() for alert in alerts], indent=2))
    else:
        out = _stdout()
        for result in results:
            out.print(_timeline(result))
    err.print(
        f"{len(results)} case(s), {len(alerts)} alert(s); stored {added_events} new event(s)"
        f" and {added_alerts} new alert(s) in {database.url}"
    )
    if failed:
        err.print(f"[red]{failed} of {len(files)} file(s) failed[/red]")
        raise SystemExit(1)


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


def main() -> None:
    """Entry point of the `triggers` console script."""
    try:
        cli.main(prog_name="triggers")
    except TriggersError as error:  # pragma: no cover - commands report their own errors
        report_error(error, _stderr())
        sys.exit(1)
