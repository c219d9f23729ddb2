"""`triggers alerts ...`, `explain` and `case erase`: acting on stored alerts and cases."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime

import click
from rich.markup import escape

from triggers.cli.app import cli
from triggers.cli.options import ALERT_ID, by_option, date, reason_option, store_option
from triggers.cli.render import (
    ALERT_COLUMNS,
    ALERTS_WIDTH,
    alerts_table,
    export_row,
    safe,
    stderr,
    stdout,
)
from triggers.cli.replay import open_store
from triggers.models.alerts import ALERT_STATUSES, PRIORITIES, AlertStatus, Move, Priority

__all__ = ["alerts", "case", "explain_command"]


@cli.group()
def alerts() -> None:
    """List stored alerts and move them through their lifecycle."""


_MOST_ALERTS = 2**62


@alerts.command("list")
@click.option("--case", "case", metavar="CASE", help="Only this case's alerts.")
@click.option("--status", type=click.Choice(ALERT_STATUSES), help="Only alerts in this status.")
@click.option(
    "--rule",
    "rule",
    metavar="RULE",
    help="Only alerts raised by this rule: an id, or its leading part up to a hyphen (D1 for"
    " D1-pregnancy-or-new-child, not D10-…), as in rule tests.",
)
@click.option("--priority", type=click.Choice(PRIORITIES), help="Only alerts of this priority.")
@click.option(
    "--since",
    "since",
    metavar="DATE",
    callback=date,
    help="Only alerts at DATE or later (event time, not when they were stored).",
)
@click.option(
    "--until",
    "until",
    metavar="DATE",
    callback=date,
    help="Only alerts before DATE (event time; a date alone is the start of that day).",
)
@click.option(
    "--overdue", is_flag=True, help="Only open or acknowledged alerts past their due date."
)
@click.option(
    "--limit",
    "limit",
    type=click.IntRange(min=0),
    metavar="N",
    help="At most N alerts (a page; default: all).",
)
@click.option(
    "--offset",
    "offset",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Skip the first N alerts (the pages before; with --limit).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for reading; json or csv to export.",
)
@store_option
@by_option
@reason_option
def alerts_list(
    *,
    case: str | None,
    status: AlertStatus | None,
    rule: str | None,
    priority: Priority | None,
    since: datetime | None,
    until: datetime | None,
    overdue: bool,
    limit: int | None,
    offset: int,
    output: str,
    store: str | None,
    by: str | None,
    reason: str | None,
) -> None:
    """List stored alerts in case and time order with their priority, status and due date.

    Filters, paging and ordering are done by the database, so a large store lists
    quickly. The consultation is audited: what was asked (the filters), not every
    alert found.
    """
    from triggers.store import AlertFilter  # noqa: PLC0415 -- see open_store

    now = datetime.now(UTC)
    selection = AlertFilter(
        case=case,
        status=status,
        rule=rule,
        priority=priority,
        since=since,
        until=until,
        overdue_at=now if overdue else None,
        # The database's integers are 64-bit; no store holds this many alerts, so a
        # larger limit or offset means the same and is asked as this.
        limit=None if limit is None else min(limit, _MOST_ALERTS),
        offset=min(offset, _MOST_ALERTS),
    )
    with open_store(store, by) as database:
        found = database.alert_records(
            selection,
            export=None if output == "table" else output,
            reason=reason,
            peek=output == "table",
        )
    more = limit is not None and len(found) > limit
    if more:
        del found[limit:]
    if output == "json":
        rows = [
            dict(zip(ALERT_COLUMNS, export_row(r, now, as_json=True), strict=True)) for r in found
        ]
        click.echo(json.dumps(rows, indent=2))
    elif output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(ALERT_COLUMNS)
        writer.writerows(export_row(record, now, as_json=False) for record in found)
    else:
        caption = f"{len(found)} alert(s)"
        if found and (offset or limit is not None):
            caption += f": {offset + 1} to {offset + len(found)}"
            if more:
                caption += f"; --offset {offset + len(found)} for the next page"
        elif offset:
            caption += f" after the first {offset}"
        stdout(piped_width=ALERTS_WIDTH).print(alerts_table(found, now, caption))


def _lifecycle_command(name: str, move: Move, note_required: bool, help_text: str) -> None:
    @alerts.command(name, help=help_text)
    @click.argument("alert_ids", metavar="ALERT_ID...", nargs=-1, required=True, type=ALERT_ID)
    @click.option(
        "--note",
        "note",
        metavar="TEXT",
        required=note_required,
        help="What was done, or why" + ("" if note_required else " (optional)") + ".",
    )
    @store_option
    @by_option
    @reason_option
    def command(
        alert_ids: tuple[int, ...],
        note: str | None,
        store: str | None,
        by: str | None,
        reason: str | None,
    ) -> None:
        with open_store(store, by) as database:
            moved = database.move(move, alert_ids, note=note, reason=reason)
        err = stderr()
        for item in moved:
            err.print(f"alert {item.id} is now {item.status} (by {safe(database.actor)})")


_lifecycle_command(
    "ack",
    "acknowledge",
    False,
    "Acknowledge each ALERT_ID: someone has seen it and owns it. All or none: if one"
    " cannot be acknowledged (or does not exist), none is.",
)
_lifecycle_command(
    "resolve",
    "resolve",
    True,
    "Resolve each ALERT_ID: the action was taken (--note says what). All or none.",
)
_lifecycle_command(
    "dismiss",
    "dismiss",
    True,
    "Dismiss each ALERT_ID: no action is needed (--note says why). All or none.",
)


@cli.command("explain")
@click.argument("alert_id", type=ALERT_ID)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text to read; json for other systems.",
)
@store_option
@by_option
@reason_option
def explain_command(
    alert_id: int, output: str, store: str | None, by: str | None, reason: str | None
) -> None:
    """Explain why alert ALERT_ID was raised: rule, version, events, state, timing, reason."""
    # Imported here: only this command needs the explain machinery.
    from triggers.pipeline import explain_alert  # noqa: PLC0415

    with open_store(store, by) as database:
        explanation = explain_alert(database, alert_id, reason=reason)
    if output == "json":
        click.echo(json.dumps(explanation.model_dump(mode="json"), indent=2))
    else:
        out = stdout()
        for line in explanation.lines():
            out.print(escape(line))


@cli.group()
def case() -> None:
    """Manage stored cases."""


@case.command("erase")
@click.argument("case_id", metavar="CASE")
@click.option("--reason", "reason", required=True, metavar="TEXT", help="Why the case is erased.")
@store_option
@by_option
def case_erase(case_id: str, reason: str, store: str | None, by: str | None) -> None:
    """Erase CASE: remove its events and alerts, leaving only an erasure record and the log."""
    with open_store(store, by) as database:
        record = database.erase_case(case_id, reason=reason)
    stderr().print(
        f"erased case {safe(record.case)}: {record.events} event(s), {record.alerts} alert(s);"
        f" recorded as erased by {safe(record.by)}"
    )
