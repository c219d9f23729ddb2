"""Where the store is and who acts on it: environment settings, read without opening it.

Kept apart from the database code so that commands can name their options
without loading SQLAlchemy.
"""

from __future__ import annotations

import getpass
import os

from triggers.errors import StoreError
from triggers.models.audit import ACTIVITIES, Activity

__all__ = [
    "ACTOR_ENV",
    "DEFAULT_STORE_URL",
    "REQUIRE_REASON_ENV",
    "STORE_ENV",
    "default_actor",
    "required_reasons",
    "store_url",
]

STORE_ENV = "TRIGGERS_STORE"
ACTOR_ENV = "TRIGGERS_ACTOR"
REQUIRE_REASON_ENV = "TRIGGERS_REQUIRE_REASON"
DEFAULT_STORE_URL = "sqlite:///triggers.sqlite"


def store_url(url: str | None = None) -> str:
    """The store to use: `url`, else `$TRIGGERS_STORE`, else `triggers.sqlite` here.

    An empty `url` (such as `--store ""`) is an error, not the default: whoever typed it
    meant some store, and the data would go elsewhere unnoticed.
    """
    if url is not None and not url.strip():
        raise StoreError(
            "the store URL is empty: give one, such as sqlite:///triggers.sqlite or"
            " postgresql+psycopg://user@host/db, or leave --store out for"
            f" ${STORE_ENV} or {DEFAULT_STORE_URL}"
        )
    return url or os.environ.get(STORE_ENV) or DEFAULT_STORE_URL


def default_actor() -> str:
    """Who is acting when nobody says: `$TRIGGERS_ACTOR`, else the OS user."""
    return os.environ.get(ACTOR_ENV) or getpass.getuser()


def required_reasons() -> frozenset[Activity]:
    """Activities for which this deployment requires a justification ($TRIGGERS_REQUIRE_REASON)."""
    setting = os.environ.get(REQUIRE_REASON_ENV, "")
    names = {name.strip() for name in setting.split(",") if name.strip()}
    if "all" in names:
        return frozenset(ACTIVITIES)
    unknown = names - set(ACTIVITIES)
    if unknown:
        raise StoreError(
            f"{REQUIRE_REASON_ENV} names {', '.join(sorted(unknown))}: expected a comma-separated"
            f" list of {', '.join(ACTIVITIES)}, or all"
        )
    return frozenset(a for a in ACTIVITIES if a in names)
