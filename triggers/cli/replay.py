"""`triggers replay`, `ingest` and `tick`: evaluate chronologies and store what they raise."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import click
from rich.console import Console

from triggers.cli.app import cli
from triggers.cli.options import (
    by_option,
    cluster_option,
    date,
    format_option,
    mapping_option,
    reason_option,
    rules_option,
    store_option,
    workers_option,
    workers_or_cluster,
)
from triggers.cli.render import (
    progress,
    report_error,
    safe,
    stderr,
    stdout,
    summary_tables,
    timeline,
)
from triggers.cluster import replay_on_cluster
from triggers.engine import Engine, load_rules
from triggers.errors import TriggersError
from triggers.mapping import load_mapping
from triggers.models import Alert
from triggers.parallel import FileReplay, replay_files
from triggers.reading import chronology_files, load_cases

if TYPE_CHECKING:
    from triggers.store import SaveSummary, Store, Summary

__all__ = ["ingest", "open_store", "replay", "report_summary", "tick"]

T = TypeVar("T")


@contextmanager
def open_store(url: str | None, by: str | None) -> Iterator[Store]:
    """The store at `url` (default: $TRIGGERS_STORE, else triggers.sqlite), closed afterwards."""
    # Imported here: commands that never open a store start without SQLAlchemy.
    from triggers.store import Store  # noqa: PLC0415

    with Store(url, actor=by) as opened:
        yield opened


def _each_file(
    items: Iterable[tuple[str, T]],
    files: int,
    label: str,
    console: Console,
    work: Callable[[T], None],
) -> list[str]:
    """Run `work` on each of `files` files' items with a progress bar (elapsed time, rate,
    time left); a file that fails is reported and the others still run. Returns the
    files that failed."""
    failed = []
    with progress(files, console) as bar:
        task = bar.add_task(label, total=files) if bar else None
        for file, item in items:
            try:
                work(item)
            except TriggersError as error:
                failed.append(file)
                report_error(error, console)
            if bar is not None and task is not None:
                bar.advance(task)
    return failed


def report_summary(
    console: Console, summary: Summary, title: str, line: str, database: Store, *, new: bool
) -> None:
    """The summary tables of a run, then `line` (what was committed, in which store): said
    plainly when the store is in memory and keeps nothing."""
    for table in summary_tables(summary, title, new=new):
        console.print(table)
    kept = "" if database.kept else " (in-memory store: nothing is kept)"
    console.print(f"{line} in {safe(database.url)}{kept}")


def _exit_if_failed(failed: Sequence[str], files: Sequence[str], console: Console) -> None:
    if failed:
        console.print(f"[red]{len(failed)} of {len(files)} file(s) failed[/red]")
        raise SystemExit(1)


#: How many files' cases are stored in one transaction.
_BATCH = 256


class _JsonArray:
    """Alerts written to standard output as one JSON array, element by element."""

    def __init__(self) -> None:
        self.written = 0

    def add(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            text = textwrap.indent(json.dumps(alert.to_json(), indent=2), "  ")
            click.echo(("[\n" if not self.written else ",\n") + text, nl=False)
            self.written += 1

    def close(self) -> None:
        click.echo("\n]" if self.written else "[]")


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@rules_option
@mapping_option
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
@format_option("table: a timeline per case; json: the alerts as a JSON array.")
@workers_option
@cluster_option("; this process still stores the alerts")
@click.pass_context
def replay(
    ctx: click.Context,
    *,
    paths: Sequence[str],
    rules_path: str | None,
    mapping_path: str | None,
    store: str | None,
    by: str | None,
    reason: str | None,
    until: datetime | None,
    output: str,
    workers: int | None,
    cluster: str | None,
) -> None:
    """Replay case chronologies and show the alerts the rules raise.

    Each PATH is a chronology file (.yaml, .yml, .json, .jsonl with one event a
    line, or .csv with one event a row), a directory (its chronology files, below
    it, in name order) or a quoted glob pattern ('cases/**/*.yaml'). Events are
    evaluated in order of their time.
    Files are replayed in worker processes (or on a Dask cluster, --cluster) and
    stored by this one, in the order given; a worker that crashes is replaced and
    its file tried once more. Events and
    alerts are stored; replaying a file again adds nothing already stored. A file
    with errors is reported and skipped; the others are still processed. Exits 1 if
    any file failed. A CSV file's bad rows are reported by row number (the header is
    row 1) and its good rows still replayed; the file counts as failed.
    """
    processes, cluster = workers_or_cluster(ctx, workers, cluster)
    from triggers.store import Summary  # noqa: PLC0415 -- see open_store

    err = stderr()
    rules = load_rules(rules_path)
    mapping = load_mapping(mapping_path) if mapping_path else None
    files = chronology_files(paths)
    out = stdout()
    array = _JsonArray() if output == "json" else None
    # Cases count once their batch has committed; a batch that fails to commit fails
    # every file in it, since none of their cases was stored (though their alerts
    # were already printed).
    done = Summary(new_events=0, new_alerts=0)
    pending = Summary(new_events=0, new_alerts=0)
    batch_files: list[str] = []
    failed: list[str] = []
    started = False  # whether any file came back: a replay that never started has no summary

    def commit(batch: ExitStack) -> None:
        nonlocal pending
        try:
            batch.close()
        except TriggersError as error:
            report_error(error, err)
            failed.extend(batch_files)
        else:
            done.merge(pending)
        pending = Summary(new_events=0, new_alerts=0)
        batch_files.clear()

    def store_file(numbered: tuple[int, FileReplay]) -> None:
        nonlocal started
        started = True
        number, outcome = numbered
        if number % _BATCH == 0:
            # Many cases a transaction (each in a savepoint): one commit per batch.
            commit(batch)
            batch.enter_context(database.batch())
        batch_files.append(files[number])
        for result in outcome.results:
            saved = database.save(result, reason=reason)
            pending.merge(
                Summary(
                    cases=1,
                    events=len(result.chronology.events),
                    new_events=saved.new_events,
                    new_alerts=saved.new_alerts,
                )
            )
            pending.count_alerts(result.alerts)
            if array is not None:
                array.add(result.alerts)
            else:
                out.print(timeline(result))
        if outcome.error is not None:  # after what was read: a CSV file's good rows
            raise outcome.error

    opened: list[Store] = []  # the store, once open: the summary names it
    try:
        with open_store(store, by) as database, ExitStack() as batch:
            opened.append(database)
            outcomes = (
                replay_on_cluster(files, rules, until=until, address=cluster, mapping=mapping)
                if cluster
                else replay_files(
                    files,
                    rules,
                    until=until,
                    workers=processes,
                    mapping=mapping,
                )
            )
            numbered = ((files[n], (n, outcome)) for n, outcome in enumerate(outcomes))
            failed += _each_file(numbered, len(files), "replaying", err, store_file)
            commit(batch)
    finally:
        if array is not None:
            array.close()
        if opened and (started or sys.exc_info()[0] is None):
            done.failed = failed = list(dict.fromkeys(failed))
            line = (
                f"{done.cases} case(s), {done.alerts} alert(s);"
                f" {'stored ' if opened[0].kept else ''}{done.new_events} new event(s) and"
                f" {done.new_alerts} new alert(s)"
            )
            report_summary(err, done, "replay: what was stored", line, opened[0], new=False)
    _exit_if_failed(failed, files, err)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@rules_option
@mapping_option
@store_option
@by_option
@reason_option
def ingest(
    *,
    files: Sequence[str],
    rules_path: str | None,
    mapping_path: str | None,
    store: str | None,
    by: str | None,
    reason: str | None,
) -> None:
    """Append events to the store and evaluate each case's whole stored history.

    Each FILE is usually JSONL (one event a line, each with its case); any chronology
    format works. Events already stored change nothing; a late event re-evaluates its
    case and supersedes alerts the corrected history no longer raises. Exits 1 if any
    file failed (the others are still ingested); a CSV file's good rows are ingested
    and its bad rows reported by row number.
    """
    from triggers.pipeline import ingest as ingest_cases  # noqa: PLC0415 -- see open_store

    err = stderr()
    engine = Engine(load_rules(rules_path))
    mapping = load_mapping(mapping_path) if mapping_path else None
    # Counted as each case commits: a file that fails half-way keeps what it committed.
    done = _NewCounts()

    def ingest_file(file: str) -> None:
        loaded = load_cases(file, mapping)
        ingest_cases(database, loaded.chronologies, engine, reason=reason, on_saved=done.add)
        if loaded.skipped is not None:  # after the good rows of a CSV file
            raise loaded.skipped

    opened: list[Store] = []  # the store, once open: the summary names it
    failed: list[str] = []
    try:
        with open_store(store, by) as database:
            opened.append(database)
            failed = _each_file(((f, f) for f in files), len(files), "ingesting", err, ingest_file)
    finally:
        if opened:
            done.summary.failed = failed
            line = (
                f"ingested {done.summary.events} new event(s); {done.summary.alerts} new"
                f" alert(s), {done.summary.superseded} superseded"
            )
            report_summary(err, done.summary, "ingest: what was stored", line, opened[0], new=True)
    _exit_if_failed(failed, files, err)


class _NewCounts:
    """What ingest and tick stored, case by case as each commits."""

    def __init__(self) -> None:
        from triggers.store import Summary  # noqa: PLC0415 -- see open_store

        self.summary = Summary(superseded=0)

    def add(self, saved: SaveSummary) -> None:
        self.summary.cases += 1
        self.summary.events += saved.new_events
        self.summary.superseded = (self.summary.superseded or 0) + saved.superseded
        self.summary.count_alerts(saved.alerts)


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
    done = _NewCounts()
    opened: list[Store] = []  # the store, once open: the summary names it
    try:
        with open_store(store, by) as database:
            opened.append(database)
            cases = database.cases()
            with progress(len(cases), err) as bar:
                task = bar.add_task("ticking", total=len(cases)) if bar else None

                def ticked(_case: str, saved: SaveSummary | None) -> None:
                    if saved is not None:
                        done.add(saved)
                    if bar is not None and task is not None:
                        bar.advance(task)

                tick_cases(database, engine, moment, reason=reason, cases=cases, on_case=ticked)
    finally:
        if opened:
            line = (
                f"clock at {moment:%Y-%m-%d %H:%M} UTC: {done.summary.alerts} new alert(s) in"
                f" {done.summary.cases} case(s)"
            )
            report_summary(err, done.summary, "tick: what was stored", line, opened[0], new=True)
