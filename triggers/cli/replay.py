"""`triggers replay`, `ingest` and `tick`: evaluate chronologies and store what they raise."""

from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import click
from rich.console import Console

from triggers.cli.app import cli
from triggers.cli.options import (
    by_option,
    date,
    mapping_option,
    reason_option,
    rules_option,
    store_option,
)
from triggers.cli.render import progress, report_error, stderr, stdout, timeline
from triggers.cluster import replay_on_cluster
from triggers.engine import Engine, load_rules
from triggers.errors import TriggersError
from triggers.mapping import load_mapping
from triggers.models import Alert
from triggers.parallel import FileReplay, replay_files
from triggers.reading import chronology_files, load_cases

if TYPE_CHECKING:
    from triggers.store import SaveSummary, Store

__all__ = ["ingest", "open_store", "replay", "tick"]

T = TypeVar("T")


@contextmanager
def open_store(url: str | None, by: str | None) -> Iterator[Store]:
    """The store at `url` (default: $TRIGGERS_STORE, else triggers.sqlite), closed afterwards."""
    # Imported here: commands that never open a store start without SQLAlchemy.
    from triggers.store import Store  # noqa: PLC0415

    with Store(url, actor=by) as opened:
        yield opened


def _each_file(
    items: Iterable[T], files: int, label: str, console: Console, work: Callable[[T], None]
) -> int:
    """Run `work` on each of `files` files' items with a progress bar; a file that fails is
    reported and the others still run. Returns how many failed."""
    failed = 0
    with progress(files, console) as bar:
        task = bar.add_task(label, total=files) if bar else None
        for item in items:
            try:
                work(item)
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
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: a timeline per case; json: the alerts as a JSON array.",
)
@click.option(
    "--workers",
    "workers",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Replay in N worker processes (default: one per CPU); 1 replays in this process.",
)
@click.option(
    "--cluster",
    "cluster",
    envvar="TRIGGERS_CLUSTER",
    show_envvar=True,
    metavar="ADDRESS",
    help="Replay on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786) instead"
    " of in worker processes; this process still stores the alerts. Not with --workers"
    " (which overrides the env var). Needs the cluster extra: pip install"
    " 'risk-triggers[cluster]'.",
)
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
    if cluster and workers is not None:
        if ctx.get_parameter_source("cluster") is not click.core.ParameterSource.ENVIRONMENT:
            raise click.UsageError("give --cluster or --workers, not both")
        cluster = None  # --workers given here wins over $TRIGGERS_CLUSTER
    err = stderr()
    rules = load_rules(rules_path)
    mapping = load_mapping(mapping_path) if mapping_path else None
    files = chronology_files(paths)
    count: Counter[str] = Counter()
    out = stdout()
    array = _JsonArray() if output == "json" else None

    def store_file(numbered: tuple[int, FileReplay]) -> None:
        number, outcome = numbered
        if number % _BATCH == 0:
            # Many cases a transaction (each in a savepoint): one commit per batch.
            batch.close()
            batch.enter_context(database.batch())
        for result in outcome.results:
            saved = database.save(result, reason=reason)
            count.update(
                cases=1,
                alerts=len(result.alerts),
                new_events=saved.new_events,
                new_alerts=saved.new_alerts,
            )
            if array is not None:
                array.add(result.alerts)
            else:
                out.print(timeline(result))
        if outcome.error is not None:  # after what was read: a CSV file's good rows
            raise outcome.error

    with open_store(store, by) as database, ExitStack() as batch:
        outcomes = (
            replay_on_cluster(files, rules, until=until, address=cluster, mapping=mapping)
            if cluster
            else replay_files(
                files, rules, until=until, workers=workers or os.cpu_count() or 1, mapping=mapping
            )
        )
        failed = _each_file(enumerate(outcomes), len(files), "replaying", err, store_file)
    if array is not None:
        array.close()
    err.print(
        f"{count['cases']} case(s), {count['alerts']} alert(s); stored"
        f" {count['new_events']} new event(s) and {count['new_alerts']} new alert(s)"
        f" in {database.url}"
    )
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
    saved: list[SaveSummary] = []

    def ingest_file(file: str) -> None:
        loaded = load_cases(file, mapping)
        saved.extend(ingest_cases(database, loaded.chronologies, engine, reason=reason))
        if loaded.skipped is not None:
            raise loaded.skipped

    with open_store(store, by) as database:
        failed = _each_file(files, len(files), "ingesting", err, ingest_file)
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
