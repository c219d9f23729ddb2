"""Alembic's environment for the store's migrations.

Migrations run only through `triggers.store` (`triggers db upgrade`, or a `Store`
opening an empty database), on a connection it hands over in
`config.attributes["connection"]`, inside the transaction it has begun: a
migration either completes or leaves the database as it was.
"""

from __future__ import annotations

from alembic import context

__all__: list[str] = []

_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError(
        "risk-triggers migrations run through `triggers db upgrade` (triggers.store.upgrade_schema)"
    )
context.configure(connection=_connection, target_metadata=context.config.attributes.get("metadata"))
with context.begin_transaction():
    context.run_migrations()
