"""`triggers db ...`: the store's database schema (its migrations)."""

from __future__ import annotations

import click

from triggers.cli.app import cli
from triggers.cli.options import store_option
from triggers.cli.render import stderr

__all__ = ["db"]


@cli.group()
def db() -> None:
    """Manage the store's database schema (its migrations)."""


@db.command("upgrade")
@store_option
def db_upgrade(store: str | None) -> None:
    """Migrate the store's schema to this version of risk-triggers.

    Run it, after a backup, when a command says the store's schema is older than
    this version. The migration is one transaction: it completes or changes
    nothing. An empty database gets the whole schema; a store from before schema
    migrations is checked and adopted. Prints the revisions from and to.
    """
    # Imported here: other commands start without Alembic.
    from triggers.store.schema import upgrade_schema  # noqa: PLC0415

    before, after = upgrade_schema(store)
    if before == after:
        stderr().print(f"schema revision {after}: already up to date, nothing to do")
    else:
        stderr().print(f"schema revision {before or 'none'} → {after}")


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
