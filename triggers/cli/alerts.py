"""`triggers alerts ...`, `explain` and `case erase`: acting on stored alerts and cases."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime

import click
from rich.markup import escape
from rich.table import Table

from triggers.cli.app import cli
from triggers.cli.options import ALERT_ID, by_option, reason_option, store_option
from triggers.cli.render import ALERT_COLUMNS, alert_record, alert_text, safe, stderr, stdout
from triggers.cli.replay import open_store
from triggers.models.alerts import ALERT_STATUSES, AlertStatus, Move

__all__ = ["alerts", "case", "explain_command"]


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
@store_option
@by_option
@reason_option
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
    now = datetime.now(UTC)
    with open_store(store, by) as database:
        found = database.alerts(
            case,
            status=status,
            rule=rule,
            overdue_at=now if overdue else None,
            export=None if output == "table" else output,
            reason=reason,
        )
    rows = [alert_record(item, now) for item in found]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(ALERT_COLUMNS), lineterminator="\n")
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
                escape(alert_text(item.alert)),
                item.status,
                due,
            )
        stdout().print(table)


def _lifecycle_command(name: str, move: Move, note_required: bool, help_text: str) -> None:
    @alerts.command(name, help=help_text)
    @click.argument("alert_id", type=ALERT_ID)
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
        alert_id: int, note: str | None, store: str | None, by: str | None, reason: str | None
    ) -> None:
        with open_store(store, by) as database:
            if move == "acknowledge":
                moved = database.acknowledge(alert_id, note=note, reason=reason)
            elif move == "resolve":
                moved = database.resolve(alert_id, note=note or "", reason=reason)
            else:
                moved = database.dismiss(alert_id, note=note or "", reason=reason)
        stderr().print(f"alert {moved.id} is now {moved.status} (by {safe(database.actor)})")


_lifecycle_command(
    "ack", "acknowledge", False, "Acknowledge alert ALERT_ID: someone has seen it and owns it."
)
_lifecycle_command(
    "resolve", "resolve", True, "Resolve alert ALERT_ID: the action was taken (--note says what)."
)
_lifecycle_command(
    "dismiss", "dismiss", True, "Dismiss alert ALERT_ID: no action is needed (--note says why)."
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
