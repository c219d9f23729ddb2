"""Erasure leaves nothing of the case readable: not in a table, nor the audit log (which
records that a note was given, not the note), nor (SQLite) anywhere in the raw bytes of
the database file, its free pages, its write-ahead log or its index; on PostgreSQL the
tables the case was in are vacuumed, and no tuple left on their pages or their indexes'
pages holds any of it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, make_url, select, text

from tests.conftest import MR_A, backend
from tests.test_lifecycle import LATER, MOVE, REVIEW
from triggers import Store, load_chronologies
from triggers.cli import cli
from triggers.store.erasure import ERASED_TABLES
from triggers.store.tables import Base

CASE = "case-Qz7Vx"
#: Words only the case holds (in its title, subject, event ids and fields, notes given
#: on its alerts): none may be found anywhere once the case is erased.
TITLE, SUBJECT, OFFENCE = "Title Zebrafinch Quokka", "subject-Wombat88", "offence-Dugong"
EVENT_IDS, EVENT_NOTES = "ev-Narwhal", "note-Pangolin"
LATE_ID = "ev-Okapi-late"
ALERT_NOTES = ("ack-Axolotl", "resolve-Capybara", "dismiss-Tapir")
PERSONAL = (
    "Zebrafinch",
    "Quokka",
    "Wombat88",
    "Dugong",
    "Narwhal",
    "Pangolin",
    "Okapi",
    "Axolotl",
    "Capybara",
    "Tapir",
)


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, [*args, "--by", "analyst-1"] if args[0] != "audit" else args)
    assert result.exit_code == 0, result.output
    return result


def _write_case(folder: Path) -> tuple[Path, Path]:
    """The worked example and a move, as one case full of distinctive words; and a late
    event for it, as a feed, that supersedes one of its alerts."""
    (example,) = load_chronologies(MR_A)
    events = [e.model_dump(mode="json", exclude_none=True) for e in example.events]
    events += [dict(e) for e in [*MOVE, LATER]]
    for number, event in enumerate(events):
        event.update(id=f"{EVENT_IDS}-{number:02d}", note=f"{EVENT_NOTES}-{number:02d}")
    events[0]["offence"] = OFFENCE
    case = {"case": CASE, "title": TITLE, "subject": SUBJECT, "events": events}
    chronology = folder / "case.json"
    chronology.write_text(json.dumps(case))
    feed = folder / "late.jsonl"
    feed.write_text(json.dumps({**REVIEW, "case": CASE, "id": LATE_ID, "note": "late"}) + "\n")
    return chronology, feed


def _fill(url: str, folder: Path) -> None:
    """Store the case, move its alerts with notes, consult it: every kind of write."""
    chronology, feed = _write_case(folder)
    run("replay", str(chronology), "--store", url)
    run("ingest", str(feed), "--store", url)
    with Store(url) as store:
        ids = [a.id for a in store.alerts(CASE) if a.status == "open"]
        assert any(a.status == "superseded" for a in store.alerts(CASE))
    run("alerts", "ack", str(ids[0]), "--note", ALERT_NOTES[0], "--store", url)
    run("alerts", "resolve", str(ids[0]), "--note", ALERT_NOTES[1], "--store", url)
    run("alerts", "dismiss", str(ids[1]), "--note", ALERT_NOTES[2], "--store", url)
    run("explain", str(ids[2]), "--store", url, "--reason", "supervision")
    run("alerts", "list", "--case", CASE, "--store", url)
    run("tick", "--now", "2030-01-01", "--store", url)


def _rows(url: str) -> dict[str, list[str]]:
    """Every row of every table, as text, by table."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                name: [repr(tuple(row)) for row in connection.execute(select(table))]
                for name, table in Base.metadata.tables.items()
            }
    finally:
        engine.dispose()


def _found(words: tuple[str, ...], where: str) -> list[str]:
    return [word for word in words if word in where]


def test_the_audit_log_keeps_no_notes_or_event_ids(store_url: str, tmp_path: Path) -> None:
    _fill(store_url, tmp_path)
    exported = run("audit", "--store", store_url, "--format", "json").stdout
    assert _found(PERSONAL, exported) == []
    entries = json.loads(exported)
    details = {e["operation"]: e["details"] for e in entries if e["case"] == CASE}
    # That a note was given, not what it says.
    assert details["acknowledge"] == {"status": "acknowledged", "note_given": True}
    assert details["resolve"] == {"status": "resolved", "note_given": True}
    assert details["ingest"]["new_events"] == details["ingest"]["late_events"] == 1
    assert details["supersede"]["late_events"] == 1
    # The notes are kept where they belong: in the alerts' own history.
    with Store(store_url) as store:
        notes = [h.note for a in store.alerts(CASE) for h in store.history(a.id)]
    assert set(ALERT_NOTES) <= set(notes)


@contextmanager
def _reader(url: str) -> Iterator[sqlite3.Connection | None]:
    """On SQLite, another connection to the store, open throughout (as a service's would
    be): the write-ahead log is not removed when the commands' connections close."""
    if backend() != "sqlite":
        yield None
        return
    path = make_url(url).database
    assert path is not None
    Store(url).close()  # makes the schema
    connection = sqlite3.connect(path)
    try:
        connection.execute("SELECT count(*) FROM cases").fetchall()
        yield connection
    finally:
        connection.close()


def _raw_bytes(url: str) -> dict[str, bytes]:
    """The SQLite database file, its write-ahead log and its shared-memory index."""
    path = Path(str(make_url(url).database))
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return {file.name: file.read_bytes() for file in files if file.exists()}


def _free_pages(path: Path) -> list[bytes]:
    """The SQLite file's free pages (its freelist's trunk and leaf pages), as bytes."""
    data = path.read_bytes()
    size = int.from_bytes(data[16:18]) or 65536
    pages, trunk = [], int.from_bytes(data[32:36])
    while trunk:
        page = data[(trunk - 1) * size : trunk * size]
        leaves = int.from_bytes(page[4:8])
        numbers = [int.from_bytes(page[8 + 4 * n : 12 + 4 * n]) for n in range(leaves)]
        pages += [page] + [data[(n - 1) * size : n * size] for n in numbers]
        trunk = int.from_bytes(page[:4])
    assert len(pages) == int.from_bytes(data[36:40])  # the header's count of free pages
    return pages


def _reachable(url: str) -> str:
    """PostgreSQL: every tuple still on a page of the erased tables and their indexes, live
    or dead (pageinspect), as text: what a reader of the data files could reassemble
    without digging in the pages' free space."""
    engine = create_engine(url)
    found: list[str] = []
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            connection.execute(text("CHECKPOINT"))
            for table in ERASED_TABLES:
                found += connection.scalars(
                    text(
                        "SELECT encode(t_data, 'escape') FROM generate_series(0,"
                        " pg_relation_size(CAST(:t AS regclass)) / current_setting('block_size')::int - 1)"
                        " AS b, heap_page_items(get_raw_page(CAST(:t AS text), b::int))"
                        " WHERE t_data IS NOT NULL"
                    ),
                    {"t": table},
                )
                indexes = connection.scalars(
                    text(
                        "SELECT indexrelid::regclass::text FROM pg_index"
                        " WHERE indrelid = CAST(:t AS regclass)"
                    ),
                    {"t": table},
                )
                for index in list(indexes):
                    found += connection.scalars(
                        text(
                            "SELECT data FROM generate_series(1,"
                            " pg_relation_size(CAST(:i AS regclass))"
                            " / current_setting('block_size')::int - 1)"
                            " AS b, bt_page_items(CAST(:i AS text), b::int)"
                        ),
                        {"i": index},
                    )
    finally:
        engine.dispose()
    # Index keys come as hex: decode them too.
    return "\n".join(
        found
        + [
            bytes.fromhex(item.replace(" ", "")).decode("latin-1")
            for item in found
            if all(c in "0123456789abcdef " for c in item)
        ]
    )


def _vacuumed(url: str) -> dict[str, tuple[int, bool]]:
    """PostgreSQL's dead rows in each erased table, counted in its pages (pgstattuple: the
    statistics views lag), and whether the table was vacuumed."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
            rows = connection.execute(
                text(
                    "SELECT relname, (pgstattuple(relid)).dead_tuple_count,"
                    " last_vacuum IS NOT NULL"
                    " FROM pg_stat_user_tables WHERE relname = ANY(:tables)"
                ),
                {"tables": list(ERASED_TABLES)},
            )
            return {name: (dead, vacuumed) for name, dead, vacuumed in rows}
    finally:
        engine.dispose()


def test_erasure_leaves_nothing_of_the_case_readable(store_url: str, tmp_path: Path) -> None:
    with _reader(store_url) as reader:
        _fill(store_url, tmp_path)
        before = json.dumps(_rows(store_url))
        assert _found(PERSONAL, before) == list(PERSONAL)  # the search does find them
        if reader is not None:
            stored = b"".join(_raw_bytes(store_url).values()).decode("latin-1")
            assert _found(PERSONAL, stored) == list(PERSONAL)
        else:
            assert _found(PERSONAL, _reachable(store_url)) == list(PERSONAL)
        run("case", "erase", CASE, "--reason", "retention period ended", "--store", store_url)
        rows = _rows(store_url)
        if reader is not None:
            raw = _raw_bytes(store_url)
            assert raw.get("store.sqlite-wal", b"") == b""  # checkpointed and emptied
            for name, content in raw.items():
                assert _found(PERSONAL, content.decode("latin-1")) == [], name
            # The pages the case held are free now, and hold none of it (secure_delete).
            free = _free_pages(Path(str(make_url(store_url).database)))
            assert len(free) >= 2
            assert _found(PERSONAL, b"".join(free).decode("latin-1")) == []
            # The case id is the one identifier kept: in the erasure record and the log.
            assert CASE.encode() in raw["store.sqlite"]
    assert _found(PERSONAL, json.dumps(rows)) == []
    assert {name for name, table in rows.items() if CASE in json.dumps(table)} == {
        "audit_log",
        "erasures",
    }
    assert all(rows[table] == [] for table in ERASED_TABLES)
    if backend() == "postgresql":
        assert _vacuumed(store_url) == dict.fromkeys(ERASED_TABLES, (0, True))
        assert _found(PERSONAL, _reachable(store_url)) == []


def test_a_case_erased_within_a_batch_is_reclaimed_when_the_batch_commits(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chronology, _ = _write_case(tmp_path)
    run("replay", str(chronology), "--store", store_url)
    reclaimed: list[Any] = []
    monkeypatch.setattr("triggers.store.store.reclaim", lambda *args: reclaimed.append(args))
    with Store(store_url) as store:
        with store.batch():
            store.erase_case(CASE, reason="retention period ended")
            assert reclaimed == []  # not committed yet: nothing to reclaim
        assert len(reclaimed) == 1
        assert store.cases() == []
