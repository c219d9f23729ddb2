"""${message}

Revision ${up_revision}, after ${down_revision | comma,n}. Bump HEAD_REVISION in
triggers/store/schema.py to this revision.
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: TID251 - migrations belong to the store
from alembic import op
${imports if imports else ""}
__all__: list[str] = []

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
