"""The audit log's hash chain: each entry carries the hash of the one before it, and
`triggers audit verify` finds the first entry changed, removed, inserted or moved."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine as SQLAlchemyEngine
from sqlalchemy.orm import sessionmaker

from tests.test_migrations import at_once
from triggers import AuditLogError, Store
from triggers.cli import cli
from triggers.store import audit
from triggers.store.audit import GENESIS, verify_audit
from triggers.store.connection import connect
from triggers.store.guards import install, remove

#: The entries each test starts with.
ENTRIES = 5


def verify(url: str) -> Result:
    return CliRunner().invoke(cli, ["audit", "verify", "--store", url])


def rows(url: str) -> list[dict[str, Any]]:
    """The audit log as stored, oldest first."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT * FROM audit_log ORDER BY id")).mappings()
            return [dict(row) for row in found]
    finally:
        engine.dispose()


def expected_hash(previous: str, row: dict[str, Any]) -> str:
    """An entry's hash as the README defines it, computed here from the row as stored."""
    at = row["at"]
    at = at if isinstance(at, str) else at.isoformat(sep=" ")  # SQLite gives text
    content = {
        "activity": row["activity"],
        "actor": row["actor"],
        "alert_ids": _json(row["alert_ids"]),
        "at": at.replace(" ", "T") + ("" if "." in at else ".000000") + "Z",
        "case": row["case_id"],
        "details": _json(row["details"]),
        "justification": row["justification"],
        "operation": row["operation"],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{previous}\n{canonical}".encode()).hexdigest()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def tamper(url: str, *statements: str) -> None:
    """Run `statements` on the log with its triggers out of the way, then put them back,
    as someone covering their tracks would (on PostgreSQL, as the tables' owner)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            remove(connection)
            for statement in statements:
                connection.execute(text(statement))
            install(connection)
    finally:
        engine.dispose()


@pytest.fixture
def logged(store_url: str) -> Iterator[str]:
    """A store whose log has ENTRIES entries, each with other details and a reason."""
    with Store(store_url, actor="analyst-1") as store:
        for number in range(ENTRIES):
            store.log("consultation", "report", reason=f"review {number}", details={"n": number})
    yield store_url


def test_each_entry_carries_the_hash_of_the_one_before(logged: str) -> None:
    found = rows(logged)
    assert [row["id"] for row in found] == list(range(1, ENTRIES + 1))
    previous = GENESIS
    for row in found:
        assert row["prev_hash"] == previous
        assert row["hash"] == expected_hash(previous, row)
        previous = row["hash"]


def test_an_intact_log_is_reported_with_its_last_hash(logged: str) -> None:
    result = verify(logged)
    assert (result.exit_code, result.stdout) == (0, f"audit log intact: {ENTRIES} entries\n")
    assert result.stderr == f"last entry {ENTRIES}, hash {rows(logged)[-1]['hash']}\n"


def test_an_empty_log_is_intact(store_url: str) -> None:
    result = verify(store_url)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "audit log intact: 0 entries\n",
        "",
    )


def broken(url: str) -> tuple[str, int | None]:
    """What `audit verify` says of a broken log (exit 1), and the entry the error names."""
    result = verify(url)
    assert (result.exit_code, result.stdout) == (1, "")
    with pytest.raises(AuditLogError) as error:
        verify_audit(url)
    assert result.stderr == f"error: {error.value}\n"
    return str(error.value), error.value.entry


def test_a_changed_entry_is_found(logged: str) -> None:
    before = rows(logged)
    tamper(logged, "UPDATE audit_log SET actor = 'someone-else' WHERE id = 3")
    changed = {**before[2], "actor": "someone-else"}
    assert broken(logged) == (
        "audit log broken at entry 3: its content does not match its hash, so it was changed"
        f" after it was written (recorded hash {before[2]['hash']}, hash of its content"
        f" {expected_hash(before[1]['hash'], changed)})",
        3,
    )


def test_a_changed_entry_given_a_new_hash_breaks_the_next_link(logged: str) -> None:
    before = rows(logged)
    forged = expected_hash(before[1]["hash"], {**before[2], "justification": "routine"})
    tamper(
        logged, f"UPDATE audit_log SET justification = 'routine', hash = '{forged}' WHERE id = 3"
    )
    assert broken(logged) == (
        f"audit log broken at entry 4: it chains from {before[2]['hash']}, but the entry"
        f" before it (entry 3) has hash {forged}: an entry between them was removed, or one"
        " was inserted or moved",
        4,
    )


def test_a_removed_entry_is_found(logged: str) -> None:
    before = rows(logged)
    tamper(logged, "DELETE FROM audit_log WHERE id = 3")
    assert broken(logged) == (
        f"audit log broken at entry 4: it chains from {before[2]['hash']}, but the entry"
        f" before it (entry 2) has hash {before[1]['hash']}: an entry between them was"
        " removed, or one was inserted or moved",
        4,
    )


def test_removing_the_first_entry_is_found(logged: str) -> None:
    before = rows(logged)
    tamper(logged, "DELETE FROM audit_log WHERE id = 1")
    assert broken(logged) == (
        f"audit log broken at entry 2: it chains from {before[0]['hash']}, but the first entry"
        f" must chain from the genesis value {GENESIS}: entries before it were removed, or it"
        " was moved",
        2,
    )


def test_reordered_entries_are_found(logged: str) -> None:
    before = rows(logged)
    tamper(
        logged,
        "UPDATE audit_log SET id = 100 WHERE id = 2",
        "UPDATE audit_log SET id = 2 WHERE id = 3",
        "UPDATE audit_log SET id = 3 WHERE id = 100",
    )
    assert broken(logged) == (
        f"audit log broken at entry 2: it chains from {before[1]['hash']}, but the entry"
        f" before it (entry 1) has hash {before[0]['hash']}: an entry between them was"
        " removed, or one was inserted or moved",
        2,
    )


def test_entries_removed_from_the_end_show_only_against_a_kept_last_hash(logged: str) -> None:
    kept = verify(logged).stderr
    tamper(logged, f"DELETE FROM audit_log WHERE id = {ENTRIES}")
    result = verify(logged)
    assert result.stdout == f"audit log intact: {ENTRIES - 1} entries\n"
    assert result.stderr != kept  # the last hash is no longer the one kept


def test_entries_logged_in_a_savepoint_that_fails_are_not_written(store_url: str) -> None:
    Store(store_url).close()  # the schema
    engine = connect(store_url)
    sessions = sessionmaker(engine)
    audit.chain_on_commit(sessions)
    try:
        with sessions() as session, session.begin():
            audit.log(session, "a", "consultation", "kept")
            with pytest.raises(RuntimeError), audit.savepoint(session):
                audit.log(session, "a", "consultation", "dropped")
                raise RuntimeError
            with audit.savepoint(session):
                audit.log(session, "a", "consultation", "kept too")
    finally:
        engine.dispose()
    assert [row["operation"] for row in rows(store_url)] == ["kept", "kept too"]
    assert verify_audit(store_url).entries == 2


def test_entries_are_written_last_in_their_transaction(store_url: str) -> None:
    # Last, so that on PostgreSQL the lock they take is held only for the commit, and no
    # transaction holding it waits for a lock another one holds.
    Store(store_url).close()
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(" ".join(args[2].split()[:3]))

    event.listen(SQLAlchemyEngine, "before_cursor_execute", record)
    try:
        with Store(store_url) as store, store.batch():
            store.log("consultation", "first", reason=None, details={})
            store.cases()
            store.log("consultation", "second", reason=None, details={})
            store.cases()
    finally:
        event.remove(SQLAlchemyEngine, "before_cursor_execute", record)
    reads = [n for n, statement in enumerate(seen) if statement.startswith("SELECT cases.id")]
    writes = [
        n for n, statement in enumerate(seen) if statement.startswith("INSERT INTO audit_log")
    ]
    assert len(reads) == len(writes) == 2
    assert max(reads) < min(writes)


#: Each process logs this many entries, all released at once.
PER_PROCESS = 40


def test_processes_logging_at_once_do_not_fork_the_chain(store_url: str) -> None:
    Store(store_url).close()
    code = (
        "import sys; from triggers import Store; store = Store(sys.argv[1]);"
        " print('ready', flush=True); sys.stdin.readline()\n"
        f"for n in range({PER_PROCESS}):\n"
        "    store.log('consultation', 'report', reason=None, details={'n': n})\n"
        "store.close()"
    )
    at_once(code, store_url, 3)
    result = verify(store_url)
    assert (result.exit_code, result.stdout) == (
        0,
        f"audit log intact: {3 * PER_PROCESS} entries\n",
    )
    assert len({row["prev_hash"] for row in rows(store_url)}) == 3 * PER_PROCESS
