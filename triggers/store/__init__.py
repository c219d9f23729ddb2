"""The SQL store: cases, events, alerts and their lifecycle, rule-set versions, audit log.

`settings` says where the store is and who acts (read without loading SQLAlchemy);
`tables` defines the tables, `connection` connects (and shows URLs without their
passwords), `schema` runs the migrations, `audit` keeps the audit log and its
hash chain, `guards` the triggers that keep it append-only (and a PostgreSQL
application role's privileges), `cases` writes one case in one transaction,
`queries` reads many alerts at once, `lifecycle` moves alerts, `erasure` reclaims
what an erased case held, and `store` holds the `Store`. The database modules load
on first use, so that naming the store in a command line costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from triggers._lazy import lazy_names as _lazy_names
from triggers.store.settings import (
    ACTOR_ENV,
    DEFAULT_STORE_URL,
    REQUIRE_REASON_ENV,
    STORE_ENV,
    store_url,
)

if TYPE_CHECKING:
    from triggers.store.audit import AuditCheck, verify_audit
    from triggers.store.cases import CaseWriter, SaveSummary
    from triggers.store.queries import AlertFilter, AlertRecord, Summary
    from triggers.store.schema import HEAD_REVISION, schema_revision, upgrade_schema
    from triggers.store.store import AlertBasis, ReplayedCase, Store

__all__ = [
    "ACTOR_ENV",
    "DEFAULT_STORE_URL",
    "HEAD_REVISION",
    "REQUIRE_REASON_ENV",
    "STORE_ENV",
    "AlertBasis",
    "AlertFilter",
    "AlertRecord",
    "AuditCheck",
    "CaseWriter",
    "ReplayedCase",
    "SaveSummary",
    "Store",
    "Summary",
    "schema_revision",
    "store_url",
    "upgrade_schema",
    "verify_audit",
]

#: Names loaded on first use, and the module of the package that defines each.
_LAZY = {
    "AlertBasis": "triggers.store.store",
    "AlertFilter": "triggers.store.queries",
    "AlertRecord": "triggers.store.queries",
    "AuditCheck": "triggers.store.audit",
    "CaseWriter": "triggers.store.cases",
    "HEAD_REVISION": "triggers.store.schema",
    "ReplayedCase": "triggers.store.store",
    "SaveSummary": "triggers.store.cases",
    "Store": "triggers.store.store",
    "Summary": "triggers.store.queries",
    "schema_revision": "triggers.store.schema",
    "upgrade_schema": "triggers.store.schema",
    "verify_audit": "triggers.store.audit",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, __all__)
