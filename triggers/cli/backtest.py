"""`triggers backtest`: what a rule change would do to a corpus's alerts and to catching harm."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from triggers.backtest import Backtest, OutcomeCheck, OutcomeSummary, backtest
from triggers.cli.app import cli
from triggers.cli.backtest_html import backtest_html
from triggers.cli.options import (
    cluster_option,
    date,
    format_option,
    mapping_option,
    workers_option,
    workers_or_cluster,
)
from triggers.cli.render import progress, report_error, safe, stderr, stdout
from triggers.engine import load_rules
from triggers.mapping import load_mapping
from triggers.parallel import FileReplay
from triggers.reading import chronology_files

__all__ = ["backtest_command"]

_RULES = click.Path(exists=True)


def _days(days: float | None) -> str:
    return "" if days is None else f"{days:+g}"


def _changes_table(result: Backtest) -> Table:
    table = Table(title="Alerts that change, per case", title_justify="left")
    for column in ("File", "Case", "Change", "Rule", "Action", "Base", "Candidate", "Days"):
        # Fold, never cut, a long rule id or file name: it is what the reader looks up.
        table.add_column(column, overflow="fold")
    for case in result.changed:
        for change in case.changes:
            table.add_row(
                safe(case.file),
                safe(case.case),
                change.kind,
                safe(change.rule),
                safe(change.action),
                f"{change.base_at:%Y-%m-%d}" if change.base_at else "",
                f"{change.candidate_at:%Y-%m-%d}" if change.candidate_at else "",
                _days(change.days),
            )
    return table


def _rules_table(result: Backtest) -> Table:
    table = Table(title="Per rule", title_justify="left")
    for column in ("Rule", "Base", "Candidate", "Same", "Added", "Removed", "Moved"):
        table.add_column(column, justify="left" if column == "Rule" else "right", overflow="fold")
    for rule in result.rules:
        if rule.added or rule.removed or rule.moved:
            table.add_row(
                safe(rule.rule),
                *map(str, (rule.base_alerts, rule.candidate_alerts, rule.same)),
                *map(str, (rule.added, rule.removed, rule.moved)),
            )
    totals = result.totals()
    table.add_row(
        "[bold]all rules[/bold]",
        *(str(totals[k]) for k in ("base_alerts", "candidate_alerts", "same")),
        *(str(totals[k]) for k in ("added", "removed", "moved")),
    )
    return table


def _lead_text(check: OutcomeCheck, which: str) -> str:
    lead = check.base if which == "base" else check.candidate
    return "missed" if lead is None else f"{lead.days:g} days ({safe(lead.rule)})"


def _summary_text(summary: OutcomeSummary) -> str:
    median = "" if summary.median_days is None else f", median {summary.median_days:g} days"
    return f"{summary.caught} of {summary.outcomes} caught{median}; {summary.alerts} alert(s)"


def _outcomes_table(result: Backtest) -> Table:
    table = Table(
        title=f"Outcomes: first alert in the {result.horizon_days} days before",
        title_justify="left",
    )
    for column in ("File", "Case", "Outcome", "Base", "Candidate"):
        table.add_column(column, overflow="fold")
    for check in result.outcome_checks:
        table.add_row(
            safe(check.file),
            safe(check.case),
            f"{check.at:%Y-%m-%d}",
            _lead_text(check, "base"),
            _lead_text(check, "candidate"),
        )
    table.add_row(
        "[bold]all[/bold]",
        "",
        "",
        _summary_text(result.base_outcomes),
        _summary_text(result.candidate_outcomes),
    )
    return table


def _show(result: Backtest, out: Console) -> None:
    if result.changed:
        out.print(_changes_table(result))
    out.print(_rules_table(result))
    if result.outcome_checks:
        out.print(_outcomes_table(result))


@cli.command("backtest")
@click.argument("paths", nargs=-1, required=True, metavar="CORPUS...")
@click.option(
    "--base",
    "base_path",
    required=True,
    metavar="RULES",
    type=_RULES,
    help="The rules in use: a rule file or a directory of rule files.",
)
@click.option(
    "--candidate",
    "candidate_path",
    required=True,
    metavar="RULES",
    type=_RULES,
    help="The changed rules to compare with the base: a rule file or directory.",
)
@mapping_option
@click.option(
    "--horizon",
    "horizon",
    type=click.IntRange(min=1, max=36525),
    default=365,
    show_default=True,
    metavar="DAYS",
    help="An outcome counts as caught if an alert came in the DAYS before it (at most a century).",
)
@click.option(
    "--until",
    "until",
    metavar="DATE",
    callback=date,
    help="Run the clock on to DATE so that deadlines after the last event pass (as replay).",
)
@format_option("table: tables of the changes, per rule and outcomes; json: one JSON object.")
@click.option(
    "--html",
    "html",
    metavar="OUT.html",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write a self-contained HTML page of the two runs side by side.",
)
@workers_option
@cluster_option()
@click.pass_context
def backtest_command(
    ctx: click.Context,
    *,
    paths: Sequence[str],
    base_path: str,
    candidate_path: str,
    mapping_path: str | None,
    horizon: int,
    until: datetime | None,
    output: str,
    html: str | None,
    workers: int | None,
    cluster: str | None,
) -> None:
    """Compare the alerts two rule sets raise over a corpus, and how well each catches harm.

    Each CORPUS path is a chronology file, a directory or a quoted glob, as for
    replay. Both rule sets replay every case in event time, in memory: nothing is
    read from or written to a store. Reported per rule and per case: alerts added,
    removed and moved in time (with the days moved). Alerts are the same if they
    have the same rule, action, parameters and time; moved if they differ only in
    time and were raised by the same events; otherwise added or removed. Where a
    chronology lists outcomes (harm later found), each rule set's first alert in the
    --horizon days before each outcome, and how many alerts it raised. Exits 1 if
    any file failed (the others, and a CSV file's good rows, are still compared).
    """
    processes, cluster = workers_or_cluster(ctx, workers, cluster)
    err = stderr()
    base = load_rules(base_path)
    candidate = load_rules(candidate_path)
    mapping = load_mapping(mapping_path) if mapping_path else None
    files = chronology_files(paths)
    with progress(2 * len(files), err) as bar:
        task = bar.add_task("backtesting", total=2 * len(files)) if bar else None

        def advance(_: FileReplay) -> None:
            if bar is not None and task is not None:
                bar.advance(task)

        result = backtest(
            files,
            base,
            candidate,
            horizon_days=horizon,
            until=until,
            workers=processes,
            cluster=cluster,
            mapping=mapping,
            progress=advance,
        )
    if output == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _show(result, stdout())
    if html:
        # Imported here, as the report command does: --help starts without triggers.report.
        from triggers.report.writing import write_atomically  # noqa: PLC0415

        # Whole or not at all, and readable only by the user: the page holds case data.
        page = backtest_html(result).encode()
        write_atomically(html, lambda file: file.write(page))
    totals = result.totals()
    err.print(
        f"{totals['cases']} case(s): {totals['base_alerts']} alert(s) under the base rules,"
        f" {totals['candidate_alerts']} under the candidate; {totals['added']} added,"
        f" {totals['removed']} removed, {totals['moved']} moved"
        + (f"; wrote {safe(html)}" if html else "")
    )
    for _, error in result.failed:
        report_error(error, err)
    if result.failed:
        err.print(f"[red]{len(result.failed)} of {len(files)} file(s) failed[/red]")
        raise SystemExit(1)
