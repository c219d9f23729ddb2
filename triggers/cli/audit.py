"""`triggers audit` (read the audit log) and `triggers audit verify` (check its hash chain)."""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.markup import escape
from rich.table import Table

from triggers.cli.app import cli
from triggers.cli.options import date, format_option, store_option
from triggers.cli.render import stderr, stdout
from triggers.cli.replay import open_store

__all__ = ["audit", "audit_verify"]


@cli.group(invoke_without_command=True)
@click.option("--case", "case", metavar="CASE", help="Only entries about this case.")
@click.option("--actor", "actor", metavar="NAME", help="Only entries by this actor.")
@click.option("--since", "since", metavar="DATE", callback=date, help="Only entries from DATE on.")
@format_option("table for reading; json to export.")
@store_option
@click.pass_context
def audit(
    ctx: click.Context,
    *,
    case: str | None,
    actor: str | None,
    since: datetime | None,
    output: str,
    store: str | None,
) -> None:
    """Read the audit log: who collected, consulted, altered or erased case data, and why.

    `triggers audit verify` checks that no entry was changed, removed or moved.
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_store(store, None) as database:
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
    stdout().print(table)


@audit.command("verify")
@store_option
def audit_verify(store: str | None) -> None:
    """Check the audit log's hash chain, and that its triggers are in place.

    Each entry carries the hash of the one before it: a changed, removed, inserted or
    reordered entry breaks the chain there. Exits 0 with "audit log intact: N
    entries", or 1 naming the first broken entry and what differs (or the missing
    trigger). The last entry's hash is shown: keep it elsewhere, as only it shows
    entries removed from the end.
    """
    # Imported here: other commands start without SQLAlchemy.
    from triggers.store.audit import verify_audit  # noqa: PLC0415
    from triggers.store.schema import schema_revision  # noqa: PLC0415

    checked = verify_audit(store)
    click.echo(f"audit log intact: {checked.entries} entr{'y' if checked.entries == 1 else 'ies'}")
    if checked.last is not None:
        entry, digest = checked.last
        stderr().print(f"last entry {entry}, hash {digest}")
    schema_revision(store)  # the triggers that keep it so
