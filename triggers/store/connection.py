"""Connecting to the database: SQLAlchemy engines, SQLite's settings, URLs as they may be shown.

A store's password never appears in a message: `shown` gives the URL to show, and
`failure` the text of an error with the password hidden, should a driver echo it.
"""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy import create_engine, make_url
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError

from triggers.errors import StoreError

__all__ = ["connect", "failure", "in_memory", "masked", "shown"]


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook open transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted content is overwritten with zeros, not left in free space or freed
    # pages, so that nothing of an erased case stays readable in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    # A REPLACE deletes the row it replaces without firing DELETE triggers unless this is
    # on: with it, the audit log's refuse that route too (see guards).
    cursor.execute("PRAGMA recursive_triggers=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Switching a new file to WAL while another process does the same can answer
    # "database is locked" at once, without waiting on busy_timeout: retry for 30 s.
    for attempt in range(300):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == 299:
                raise
            time.sleep(0.1)
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock at the start: two processes ingesting the same case must
    # not both read its history and then both write (busy_timeout makes one wait).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def connect(url: str) -> Engine:
    """An SQLAlchemy engine for `url`; SQLite gets WAL, foreign keys, secure deletion,
    recursive triggers and write locks."""
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as error:
        raise StoreError(
            f"cannot use the store {shown(url)!r}: {failure(error, url)}. Give an SQLAlchemy"
            " URL such as sqlite:///triggers.sqlite or postgresql+psycopg://user@host/db"
            " (PostgreSQL needs its driver: pip install 'risk-triggers[postgresql]')"
        ) from None
    if engine.dialect.name == "sqlite":
        sqlalchemy_event.listen(engine, "connect", _sqlite_connect)
        sqlalchemy_event.listen(engine, "begin", _sqlite_begin)
    return engine


#: Query parameters of a URL that hold a secret (libpq's, which psycopg passes on).
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
#: What a secret is shown as.
_HIDDEN = "***"
#: In a URL SQLAlchemy cannot parse: what stands between a colon and an @ (user:secret@).
_USERINFO_SECRET = re.compile(r"(?<=:)[^:@/\s]+(?=@)")


def _secrets(url: str) -> list[str]:
    """The secrets in `url`: its password and secret query parameters, longest first."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        found = _USERINFO_SECRET.findall(url)
    else:
        found = [str(parsed.password or "")]
        for name, value in parsed.query.items():
            if name.lower() in _SECRET_PARAMETERS:
                found += [value] if isinstance(value, str) else list(value)
    return sorted({secret for secret in found if secret}, key=len, reverse=True)


def masked(text: str, url: str) -> str:
    """`text` with every secret of `url` in it hidden, as given or URL-quoted."""
    for secret in _secrets(url):
        for form in (secret, quote(secret, safe=""), quote_plus(secret), quote(secret)):
            text = text.replace(form, _HIDDEN)
    return text


def shown(url: str) -> str:
    """The URL as it may be shown: as given, with its password (and any password among its
    query parameters) hidden. Every message and summary that names a store uses this."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return _USERINFO_SECRET.sub(_HIDDEN, url)
    hidden = {name: _HIDDEN for name in parsed.query if name.lower() in _SECRET_PARAMETERS}
    if parsed.password is None and not hidden:
        return url
    rendered = parsed.update_query_dict(hidden).render_as_string(hide_password=True)
    return masked(rendered.replace(quote(_HIDDEN, safe=""), _HIDDEN), url)


def failure(error: BaseException, url: str) -> str:
    """What went wrong, for a message: the database driver's own error if there is one
    (SQLAlchemy's wrapping adds the statement and its parameters), secrets of `url` hidden."""
    return masked(str(error.__cause__ or error), url)


def in_memory(url: str) -> bool:
    """Whether `url` is an SQLite database in memory (`sqlite://`, `sqlite:///:memory:`, a
    `mode=memory` URI): gone when the process ends, so nothing written to it is kept."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return False
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or parsed.query.get("mode") == "memory"
    )
