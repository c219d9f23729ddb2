"""The audit log's guards: the triggers that keep it append-only, checked at every opening,
and on PostgreSQL the privileges that keep the application's role to reading and adding.

SQLite refuses UPDATE, DELETE and any insert over an existing entry (`REPLACE`,
`INSERT OR REPLACE`, a conflicting id: a replace deletes the old row without
firing DELETE triggers unless `recursive_triggers` is on, which `connection` sets
too). PostgreSQL refuses UPDATE, DELETE and TRUNCATE with a trigger that fires
always, even under `session_replication_role = replica`. A role that owns the table
can still drop or disable them: every opening of the store checks they are there as
made (`check`), `triggers db upgrade` puts back what is missing (`install`), and on
PostgreSQL `check_app_role` and `grant_app_role` give the application a role that
does not own the tables and may only select from and insert into the log.
"""

from __future__ import annotations

import shlex

from sqlalchemy import text
from sqlalchemy.engine import Connection

from triggers.errors import AuditLogError, StoreError
from triggers.store.connection import shown

__all__ = ["check", "check_app_role", "grant_app_role", "install", "problems", "remove"]

_APPEND_ONLY = "the audit log is append-only"
#: SQLite's triggers, by name: what each refuses, and how it is made (SQLite keeps the text).
_SQLITE = {
    "audit_log_no_update": (
        "UPDATE",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN"
        f" SELECT RAISE(ABORT, '{_APPEND_ONLY}: an entry cannot be changed'); END",
    ),
    "audit_log_no_delete": (
        "DELETE",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN"
        f" SELECT RAISE(ABORT, '{_APPEND_ONLY}: an entry cannot be removed'); END",
    ),
    "audit_log_no_overwrite": (
        "REPLACE and inserts over an existing entry",
        "CREATE TRIGGER audit_log_no_overwrite BEFORE INSERT ON audit_log WHEN EXISTS"
        " (SELECT 1 FROM audit_log WHERE id = NEW.id OR prev_hash = NEW.prev_hash) BEGIN"
        f" SELECT RAISE(ABORT, '{_APPEND_ONLY}: an entry cannot be replaced'); END",
    ),
}
_PG_TRIGGER = "audit_log_append_only"
_PG_BODY = f" BEGIN RAISE EXCEPTION '{_APPEND_ONLY}: % is refused', TG_OP; END "
#: pg_trigger.tgtype of a BEFORE UPDATE OR DELETE OR TRUNCATE trigger FOR EACH STATEMENT.
_PG_TYPE = 2 | 8 | 16 | 32
_PG_FIRING = {
    "D": "is disabled",
    "O": "fires only while session_replication_role is origin or local, not always",
    "R": "fires only while session_replication_role is replica, not always",
}
#: What the application's role may do on each table (`grant_app_role`).
_APP_PRIVILEGES = {
    "alembic_version": "SELECT",
    "audit_log": "SELECT, INSERT",
    "erasures": "SELECT, INSERT",
    "rule_sets": "SELECT, INSERT",
    "events": "SELECT, INSERT, DELETE",
    "alert_history": "SELECT, INSERT, DELETE",
    "cases": "SELECT, INSERT, UPDATE, DELETE",
    "alerts": "SELECT, INSERT, UPDATE, DELETE",
}
#: The tables whose ids come from a sequence the application's role draws on.
_SEQUENCED = ("alerts", "alert_history", "audit_log", "erasures")


def remove(connection: Connection) -> None:
    """Drop the triggers (a migration rewriting the log puts them back after)."""
    if connection.dialect.name == "sqlite":
        for name in _SQLITE:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_PG_TRIGGER} ON audit_log")


def install(connection: Connection) -> None:
    """Make the triggers as this version makes them, replacing any of the same name."""
    remove(connection)
    if connection.dialect.name == "sqlite":
        for _, sql in _SQLITE.values():
            connection.exec_driver_sql(sql)
    elif connection.dialect.name == "postgresql":
        connection.execute(  # text(): the driver would take the body's % for a parameter
            text(
                f"CREATE OR REPLACE FUNCTION {_PG_TRIGGER}() RETURNS trigger LANGUAGE plpgsql"
                f" AS $${_PG_BODY}$$"
            )
        )
        connection.exec_driver_sql(
            f"CREATE TRIGGER {_PG_TRIGGER} BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {_PG_TRIGGER}()"
        )
        connection.exec_driver_sql(f"ALTER TABLE audit_log ENABLE ALWAYS TRIGGER {_PG_TRIGGER}")


def problems(connection: Connection) -> list[str]:
    """What is wrong with the triggers: missing, altered or disabled; empty when all is well."""
    if connection.dialect.name == "sqlite":
        made: dict[str, str] = {
            name: sql
            for name, sql in connection.execute(
                text(
                    "SELECT name, sql FROM sqlite_master"
                    " WHERE type = 'trigger' AND tbl_name = 'audit_log'"
                )
            )
        }
        return [
            f"trigger {name} (which refuses {refuses}) is missing"
            if name not in made
            else f"trigger {name} is not as risk-triggers made it"
            for name, (refuses, sql) in _SQLITE.items()
            if made.get(name) != sql
        ]
    if connection.dialect.name != "postgresql":
        return []
    row = connection.execute(
        text(
            "SELECT t.tgtype, t.tgenabled, p.proname, p.prosrc FROM pg_trigger t"
            " JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE t.tgrelid = to_regclass('audit_log') AND t.tgname = :name"
        ),
        {"name": _PG_TRIGGER},
    ).first()
    if row is None:
        return [f"trigger {_PG_TRIGGER} (which refuses UPDATE, DELETE and TRUNCATE) is missing"]
    kind, firing, function, body = row
    if kind != _PG_TYPE or function != _PG_TRIGGER:
        return [f"trigger {_PG_TRIGGER} is not as risk-triggers made it"]
    found: list[str] = []
    if body != _PG_BODY:
        found.append(
            f"function {_PG_TRIGGER}(), which the trigger runs, is not as risk-triggers made it"
        )
    if firing in _PG_FIRING:
        found.append(f"trigger {_PG_TRIGGER} {_PG_FIRING[firing]}")
    return found


def check(connection: Connection, url: str) -> None:
    """Raise `AuditLogError`, saying what to do, if a trigger is missing, altered or disabled."""
    found = problems(connection)
    if found:
        store = shlex.quote(shown(url))
        owner = (
            ", connecting as the tables' owner" if connection.dialect.name == "postgresql" else ""
        )
        raise AuditLogError(
            f"the store {shown(url)!r} has lost the audit log's protection: {'; '.join(found)}."
            " Its entries may have been changed or removed meanwhile: check them with"
            f" triggers audit verify --store {store}, then restore the protection with"
            f" triggers db upgrade --store {store}{owner}"
        )


def check_app_role(connection: Connection, role: str, url: str) -> None:
    """Raise `StoreError`, saying what to change, unless `grant_app_role` can keep `role`
    out of the audit log: a PostgreSQL store, `role` another ordinary role, and every
    table of the store and the trigger's function owned by the connecting role."""
    store = f"the store {shown(url)!r}"
    if connection.dialect.name != "postgresql":
        raise StoreError(
            f"{store}: --app-role is for PostgreSQL stores; an SQLite store is a file, which"
            " only its file permissions protect"
        )
    owner = str(connection.scalar(text("SELECT current_user")))
    found = connection.execute(
        text(
            "SELECT rolsuper, pg_has_role(rolname, current_user, 'MEMBER') FROM pg_roles"
            " WHERE rolname = :role"
        ),
        {"role": role},
    ).first()
    refusal = None
    if found is None:
        refusal = f"there is no role {role!r}: create it first (CREATE ROLE {role} LOGIN)"
    elif role == owner:
        refusal = (
            f"{role!r} is the role this command connects as, which owns the tables: connect"
            " as the owner role and name the application's role"
        )
    elif found[0]:
        refusal = f"{role!r} is a superuser, whom no privilege limits: give it a role of its own"
    elif found[1]:
        refusal = (
            f"{role!r} is a member of {owner!r}, which owns the tables, and so may do all the"
            " owner may: give the application a role that is not"
        )
    if refusal is None:
        refusal = _ownership(connection, owner)
    if refusal is not None:
        raise StoreError(f"{store}: cannot keep role {role!r} to its share of the store: {refusal}")


def grant_app_role(connection: Connection, role: str) -> None:
    """Leave `role` only what the application needs: on the audit log, SELECT and INSERT
    (`check_app_role` first)."""
    quoted = connection.dialect.identifier_preparer.quote(role)
    tables = ", ".join(_APP_PRIVILEGES)
    connection.exec_driver_sql(f"REVOKE ALL ON {tables} FROM {quoted}")
    for table, privileges in _APP_PRIVILEGES.items():
        connection.exec_driver_sql(f"GRANT {privileges} ON {table} TO {quoted}")
    for table in _SEQUENCED:
        sequence = connection.scalar(text(f"SELECT pg_get_serial_sequence('{table}', 'id')"))
        connection.exec_driver_sql(f"GRANT USAGE ON SEQUENCE {sequence} TO {quoted}")


def _ownership(connection: Connection, owner: str) -> str | None:
    """The objects of the store that a role other than `owner` owns, and what to do; None
    if there are none."""
    others = connection.execute(
        text(
            "SELECT relname, pg_get_userbyid(relowner) FROM pg_class"
            " WHERE relname = ANY(:tables) AND relkind = 'r' AND pg_table_is_visible(oid)"
            " AND pg_get_userbyid(relowner) <> :owner"
            " UNION ALL SELECT proname || '()', pg_get_userbyid(proowner) FROM pg_proc"
            " WHERE proname = :function AND pg_get_userbyid(proowner) <> :owner ORDER BY 1"
        ),
        {"tables": list(_APP_PRIVILEGES), "owner": owner, "function": _PG_TRIGGER},
    ).all()
    if not others:
        return None
    holders = sorted({holder for _, holder in others})
    names = ", ".join(name for name, _ in others)
    return (
        f"{names} belong to {', '.join(repr(h) for h in holders)}, not to {owner!r}, the role"
        " this command connects as, which must own them all so that no other role can alter"
        f" or drop them. As a superuser, in this database, run"
        f" REASSIGN OWNED BY {', '.join(holders)} TO {owner}; then run this command again"
    )
