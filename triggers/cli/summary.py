"""`triggers summary`: what the store holds, counted, with the breakdowns a replay ends with."""

from __future__ import annotations

import json
from datetime import datetime

import click

from triggers.cli.app import cli
from triggers.cli.options import by_option, date, format_option, reason_option, store_option
from triggers.cli.render import safe, stderr, stdout, summary_tables
from triggers.cli.replay import open_store

__all__ = ["summary"]


@cli.command()
@click.option("--case", "case", metavar="CASE", help="Only this case.")
@click.option(
    "--rule",
    "rule",
    metavar="RULE",
    help="Only alerts raised by this rule (an id, or its leading part up to a hyphen, as in"
    " rule tests), and the cases and events they are about.",
)
@click.option(
    "--since",
    "since",
    metavar="DATE",
    callback=date,
    help="Only events and alerts at DATE or later (event time).",
)
@click.option(
    "--until",
    "until",
    metavar="DATE",
    callback=date,
    help="Only events and alerts before DATE (a date alone is the start of that day).",
)
@format_option("table for reading; json for other systems.")
@store_option
@by_option
@reason_option
def summary(
    *,
    case: str | None,
    rule: str | None,
    since: datetime | None,
    until: datetime | None,
    output: str,
    store: str | None,
    by: str | None,
    reason: str | None,
) -> None:
    """Count the stored cases, events and alerts, and the alerts by rule, action, priority
    and status (the consultation is audited, with the filters)."""
    from triggers.store import AlertFilter  # noqa: PLC0415 -- see open_store

    selection = AlertFilter(case=case, rule=rule, since=since, until=until)
    with open_store(store, by) as database:
        counted = database.summary(selection, reason=reason)
    if output == "json":
        click.echo(json.dumps(counted.to_json(), indent=2))
        return
    out = stdout()
    asked = {"case": case, **selection.described()}
    filters = ", ".join(f"{name} {value}" for name, value in asked.items() if value is not None)
    out.print(f"{safe(database.url)}" + (f" ({safe(filters)})" if filters else ""))
    for table in summary_tables(counted, "summary"):
        out.print(table)
    if not database.kept:
        stderr().print("in-memory store: nothing is kept")
