"""`triggers replay`, `ingest` and `tick`: evaluate chronologies and store what they raise."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click
from rich.console import Console

from triggers.cli.app import cli
from triggers.cli.options import by_option, date, reason_option, rules_option, store_option
from triggers.cli.render import progress, report_error, stderr, stdout, timeline
from triggers.engine import CaseResult, Engine, load_rules
from triggers.errors import TriggersError
from triggers.reading import load_chronologies

if TYPE_CHECKING:
    from triggers.store import SaveSummary, Store

__all__ = ["ingest", "open_store", "replay", "tick"]


@contextmanager
def open_store(url: str | None, by: str | None) -> Iterator[Store]:
    """The store at `url` (default: $TRIGGERS_STORE, else triggers.sqlite), closed afterwards."""
    # Imported here: commands that never open a store start without SQLAlchemy.
    from triggers.store import Store  # noqa: PLC0415

    with Store(url, actor=by) as opened:
        yield opened


def _each_file(
    files: Sequence[str], label: str, console: Console, work: Callable[[str], None]
) -> int:
    """Run `work` on each file with a progress bar; a file that fails is reported and the
    others still run. Returns how many failed."""
    failed = 0
    with progress(len(files), console) as bar:
        task = bar.add_task(label, total=len(files)) if bar else None
        for file in files:
            try:
                work(file)
            except TriggersError as error:
                failed += 1
                report_error(error, console)
            if bar is not None and task is not None:
                bar.advance(task)
    return failed


def _exit_if_failed(failed: int, files: Sequence[str], console: Console) -> None:
    if failed:
        console.print(f"[red]{failed} of {len(files)} file(s) failed[/red]")
        raise SystemExit(1)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@rules_option
@store_option
@by_option
@reason_option
@click.option(
    "--until",
    "until",
    metavar="DATE",
    callback=date,
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
    err = stderr()
    engine = Engine(load_rules(rules_path))
    results: list[CaseResult] = []
    saved: list[SaveSummary] = []

    def replay_file(file: str) -> None:
        for chronology in load_chronologies(file):
            result = engine.replay(chronology, until)
            saved.append(database.save(result, reason=reason))
            results.append(result)

    with open_store(store, by) as database:
        failed = _each_file(files, "replaying", err, replay_file)
    alerts = [alert for result in results for alert in result.alerts]
    if output == "json":
        click.echo(json.dumps([alert.to_json() for alert in alerts], indent=2))
    else:
        out = stdout()
        for result in results:
            out.print(timeline(result))
    err.print(
        f"{len(results)} case(s), {len(alerts)} alert(s); stored"
        f" {sum(s.new_events for s in saved)} new event(s) and"
        f" {sum(s.new_alerts for s in saved)} new alert(s) in {database.url}"
    )
    _exit_if_failed(failed, files, err)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@rules_option
@store_option
@by_option
@reason_option
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
    from triggers.pipeline import ingest as ingest_cases  # noqa: PLC0415 -- see open_store

    err = stderr()
    engine = Engine(load_rules(rules_path))
    saved: list[SaveSummary] = []

    def ingest_file(file: str) -> None:
        saved.extend(ingest_cases(database, load_chronologies(file), engine, reason=reason))

    with open_store(store, by) as database:
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
    callback=date,
    help="Run the clocks on to DATE instead of the current time (a date alone is its start).",
)
@rules_option
@store_option
@by_option
@reason_option
def tick(
    now: datetime | None,
    rules_path: str | None,
    store: str | None,
    by: str | None,
    reason: str | None,
) -> None:
    """Run every stored case's clock on to now, raising alerts whose deadline has passed."""
    from triggers.pipeline import tick as tick_cases  # noqa: PLC0415 -- see open_store

    err = stderr()
    engine = Engine(load_rules(rules_path))
    moment = now or datetime.now(UTC)
    with open_store(store, by) as database:
        summaries = tick_cases(database, engine, moment, reason=reason)
    raised = sum(s.new_alerts for s in summaries)
    err.print(
        f"clock at {moment:%Y-%m-%d %H:%M} UTC: {raised} new alert(s) in {len(summaries)} case(s)"
    )
