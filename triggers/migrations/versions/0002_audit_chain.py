"""The audit log's hash chain, and triggers that also refuse replacing an entry.

Revision 0002. Each entry gets the hash of the one before it (`prev_hash`) and its
own (`hash`), computed here for the entries already there, oldest first, as
`triggers.store.audit.entry_hash` defines them; no two entries may chain from the
same one. The triggers are made again (`triggers.store.guards`): SQLite's now also
refuse `REPLACE`, `INSERT OR REPLACE` and inserts over an existing entry, and
PostgreSQL's fires always and names the refused operation.
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: TID251 - migrations belong to the store
from alembic import op

from triggers.store.audit import GENESIS, entry_hash
from triggers.store.guards import install, remove

__all__: list[str] = []

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The log as revision 0001 has it, for reading its entries with their types.
_LOG = sa.table(
    "audit_log",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime()),
    sa.column("actor", sa.String()),
    sa.column("activity", sa.String()),
    sa.column("operation", sa.String()),
    sa.column("case_id", sa.String()),
    sa.column("alert_ids", sa.JSON()),
    sa.column("justification", sa.Text()),
    sa.column("details", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    connection = op.get_bind()
    remove(connection)  # the entries are given their hashes: an UPDATE each
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(64), nullable=True))
    previous = GENESIS
    chained = []
    fields = [column for column in _LOG.columns if column.name not in ("prev_hash", "hash")]
    for row in connection.execute(sa.select(*fields).order_by(_LOG.c.id)):
        digest = entry_hash(previous, row._asdict())
        chained.append({"entry": row.id, "prev_hash": previous, "hash": digest})
        previous = digest
    if chained:
        connection.execute(
            _LOG.update()
            .where(_LOG.c.id == sa.bindparam("entry"))
            .values(prev_hash=sa.bindparam("prev_hash"), hash=sa.bindparam("hash")),
            chained,
        )
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_audit_log_prev_hash", ["prev_hash"])
    install(connection)


def downgrade() -> None:
    raise NotImplementedError("the audit log's hash chain is not undone: there is no downgrade")
