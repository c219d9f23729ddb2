"""Connecting to the database: SQLAlchemy engines, SQLite's settings, URLs as they may be shown."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import create_engine, make_url
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError

from triggers.errors import StoreError

__all__ = ["connect", "shown"]


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook open transactions (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
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
    """An SQLAlchemy engine for `url`; SQLite gets WAL, foreign keys and write locks."""
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as error:
        raise StoreError(
            f"cannot use the store {url!r}: {error}. Give an SQLAlchemy URL such as"
            " sqlite:///triggers.sqlite or postgresql+psycopg://user@host/db"
        ) from None
    if engine.dialect.name == "sqlite":
        sqlalchemy_event.listen(engine, "connect", _sqlite_connect)
        sqlalchemy_event.listen(engine, "begin", _sqlite_begin)
    return engine


def shown(url: str) -> str:
    """The URL as it may be shown: as given, unless it has a password to hide."""
    parsed = make_url(url)
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)
