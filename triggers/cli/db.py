"""`triggers db ...`: the store's database schema (its migrations)."""

from __future__ import annotations

import click
from rich.markup import escape

from triggers.cli.app import cli
from triggers.cli.options import store_option
from triggers.cli.render import stderr

__all__ = ["db"]


@cli.group()
def db() -> None:
    """Manage the store's database schema (its migrations)."""


@db.command("upgrade")
@store_option
@click.option(
    "--app-role",
    "app_role",
    metavar="ROLE",
    help="PostgreSQL: leave ROLE, the application's, only SELECT and INSERT on the audit log.",
)
def db_upgrade(store: str | None, app_role: str | None) -> None:
    """Migrate the store's schema to this version of risk-triggers.

    Run it, after a backup, when a command says the store's schema is older than
    this version. The migration is one transaction: it completes or changes
    nothing. An empty database gets the whole schema; a store from before schema
    migrations is checked and adopted; triggers that keep the audit log append-only
    are restored if missing or altered. Prints the revisions from and to.

    On PostgreSQL, connect as the role that is to own the tables and give the
    application's own role with --app-role: it may then read and add to the audit
    log but not change, remove, truncate or unprotect it (see README, "A separate
    owner role").
    """
    # Imported here: other commands start without Alembic.
    from triggers.store.schema import upgrade  # noqa: PLC0415

    done = upgrade(store, app_role=app_role)
    err = stderr()
    if done.before == done.after and not done.restored:
        err.print(f"schema revision {done.after}: already up to date, nothing to do")
    elif done.before != done.after:
        err.print(f"schema revision {done.before or 'none'} → {done.after}")
    for problem in done.restored:
        err.print(f"restored the audit log's protection, as {escape(problem)}")
    if done.app_role is not None:
        err.print(
            f"role {escape(done.app_role)} may read the store and add to it; on the audit log"
            " it may only SELECT and INSERT"
        )


@db.command("status")
@store_option
def db_status(store: str | None) -> None:
    """Show the store's schema revision and whether this version of risk-triggers can use it.

    Exits 0 when the schema is up to date or the database is empty (the first
    command that uses it creates the schema), 1 when it is older or newer than
    this version, saying what to run.
    """
    from triggers.store.schema import HEAD_REVISION, schema_revision  # noqa: PLC0415 -- as above

    revision = schema_revision(store)
    if revision is None:
        click.echo(
            f"no schema yet: the first command that uses the store creates revision {HEAD_REVISION}"
        )
    else:
        click.echo(f"schema revision {revision}: up to date")
