"""`triggers ingest` killed midway, and two ingests at once into one store.

Both end where one clean run of the same events ends: the same events, the same
alerts in the same statuses, each alert opened once, one audit entry per case.
Ingestion commits one case at a time, so a killed run leaves whole cases behind
and a second run adds only what is missing; two runs that meet on a case take
turns (SQLite's write lock, PostgreSQL's lock on the case row).

Each ingest here is a real `triggers ingest` process on a feed of CASES cases of
EVENTS events each, big enough that a run takes a couple of seconds. The races
between them that PostgreSQL once lost are also run in threads started together,
where they happen every time.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import ROOT, RULES, backend, chronology
from triggers import Engine, Store, load_chronologies
from triggers.pipeline import ingest

CASES = 150
EVENTS = 20
#: A process that has not finished by then is taken to be stuck (a deadlock).
TIMEOUT = 90
START = datetime(2010, 1, 1, tzinfo=UTC)
#: Event types from the catalogue, with the fields that make the default rules fire.
KINDS: list[tuple[str, dict[str, Sequence[Any]]]] = [
    ("conviction", {"offence": ["x"], "category": ["sexual", "violent", "other"]}),
    ("arrest", {"offence": ["x"], "category": ["sexual", "other"]}),
    ("registration_started", {}),
    ("risk_assessed", {"tool": ["RM2000", "OASys"], "level": ["low", "medium", "high"],
                       "towards": ["children"]}),
    ("mappa_level_set", {"level": [1, 2, 3], "area": ["north", "south"]}),
    ("mappa_review", {"area": ["north", "south"]}),
    ("offender_moved_area", {"from_area": ["north"], "to_area": ["south"]}),
    ("monitoring_software_failure", {}),
    ("community_concern", {"reporter": ["n1", "n2", "n3"]}),
    ("new_relationship", {"partner_has_children": [True, False]}),
    ("new_pregnancy", {}),
    ("child_joined_household", {"child": ["a", "b"]}),
    ("plan_started", {"plan": ["child_in_need", "written_agreement"]}),
    ("plan_ended", {"plan": ["child_in_need"], "contingency": [True, False]}),
    ("child_missing", {"child": ["a", "b"]}),
    ("return_interview", {"child": ["a", "b"]}),
]  # fmt: skip


def case_name(number: int) -> str:
    return f"case-{number:03d}"


def case_events(number: int) -> list[dict[str, Any]]:
    """The events of one case: the same wherever the case is fed."""
    chooser = random.Random(number)
    events = []
    for index in range(EVENTS):
        kind, fields = chooser.choice(KINDS)
        at = START + timedelta(hours=6 * chooser.randrange(3 * 365 * 4))
        events.append(
            {
                "id": f"e{index}",
                "at": at.isoformat(),
                "type": kind,
                **{name: chooser.choice(values) for name, values in fields.items()},
            }
        )
    return events


def feed_text(cases: Sequence[int]) -> str:
    """A JSONL feed of these cases' events, case after case in this order."""
    return "".join(
        json.dumps({"case": case_name(number), **event}) + "\n"
        for number in cases
        for event in case_events(number)
    )


def write_feed(path: Path, cases: Sequence[int]) -> Path:
    path.write_text(feed_text(cases))
    return path


def start_ingest(feed: Path, url: str) -> subprocess.Popen[str]:
    """`triggers ingest FEED --store URL` as a process of its own, on this checkout's code."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from triggers.cli import main; main()",
            "ingest",
            str(feed),
            "--store",
            url,
            "--rules",
            str(RULES),
            "--by",
            "feed",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def open_when_read(fifo: Path, process: subprocess.Popen[str]) -> TextIO | None:
    """The FIFO open for writing once `process` reads it; None if the process ended first."""
    deadline = time.monotonic() + TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:  # ENXIO: nobody is reading it yet
                raise
            time.sleep(0.005)
            continue
        os.set_blocking(descriptor, True)
        return open(descriptor, "w")
    return None


@dataclass(frozen=True)
class Finished:
    returncode: int
    stderr: str

    @property
    def new_events(self) -> int:
        found = re.search(r"ingested (\d+) new event", self.stderr)
        assert found is not None, self.stderr
        return int(found.group(1))


def finish(process: subprocess.Popen[str]) -> Finished:
    try:
        _, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"ingest still running after {TIMEOUT} s (deadlocked?):\n{stderr}")
    return Finished(process.returncode, stderr)


@dataclass(frozen=True)
class Snapshot:
    """What a store holds, read straight from its tables (a read adds no audit entry)."""

    counts: dict[str, int]
    #: (case, event id) of every stored event, sorted, duplicates kept.
    events: list[tuple[str, str]]
    #: (key, case, rule, status) of every alert, sorted, duplicates kept.
    alerts: list[tuple[str, str, str, str]]
    #: (alert key, status) of every lifecycle entry, sorted.
    history: list[tuple[str, str]]
    #: The case of every 'ingest' audit entry, sorted.
    ingested: list[str]


def snapshot(url: str) -> Snapshot:
    with Store(url) as store:
        counts = store.counts()
    sql = create_engine(url)
    try:
        with sql.connect() as connection:

            def rows(query: str) -> list[Any]:
                return sorted(tuple(row) for row in connection.execute(text(query)))

            return Snapshot(
                counts=counts,
                events=rows("SELECT case_id, event_id FROM events"),
                alerts=rows("SELECT key, case_id, rule_id, status FROM alerts"),
                history=rows(
                    "SELECT a.key, h.status FROM alert_history h JOIN alerts a ON a.id = h.alert_id"
                ),
                ingested=[
                    case
                    for (case,) in rows("SELECT case_id FROM audit_log WHERE operation = 'ingest'")
                ],
            )
    finally:
        sql.dispose()


@pytest.fixture(scope="module")
def clean_run(
    engine: Engine, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Snapshot]:
    """The store after one uninterrupted ingest of every case into a fresh store."""
    folder = tmp_path_factory.mktemp("clean")
    feed = write_feed(folder / "feed.jsonl", range(CASES))
    if backend() == "sqlite":
        url = make_url("sqlite://").set(database=str(folder / "clean.sqlite")).render_as_string()
        database = None
    else:
        server = request.getfixturevalue("postgres")
        database = server.create_database()
        url = server.url(database)
    with Store(url, actor="feed") as store:
        ingest(store, load_chronologies(feed), engine)
    clean = snapshot(url)
    assert clean.counts == {
        "cases": CASES,
        "events": CASES * EVENTS,
        "alerts": len(clean.alerts),
        "audit": CASES,
    }
    # The feed makes the default rules fire, in most cases.
    assert len(clean.alerts) > CASES
    assert len({case for _, case, _, _ in clean.alerts}) > CASES * 3 // 4
    yield clean
    if database is not None:
        server.drop_database(database)


def assert_no_duplicates(found: Snapshot) -> None:
    assert len(found.events) == len(set(found.events)) == found.counts["events"]
    keys = [key for key, *_ in found.alerts]
    assert len(keys) == len(set(keys)) == found.counts["alerts"]
    assert len(found.ingested) == len(set(found.ingested)) == found.counts["cases"]


def test_an_ingest_killed_midway_then_run_again_ends_as_one_clean_run(
    store_url: str, tmp_path: Path, clean_run: Snapshot
) -> None:
    feed = write_feed(tmp_path / "feed.jsonl", range(CASES))
    Store(store_url).close()
    # Polled with a plain read: on SQLite, Store.counts() would queue for the write
    # lock (every store transaction takes it) behind the ingest it is watching.
    sql = create_engine(store_url)
    process = start_ingest(feed, store_url)
    try:
        deadline = time.monotonic() + TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            with sql.connect() as connection:
                so_far = connection.scalar(text("SELECT count(*) FROM cases"))
            if so_far is not None and so_far >= CASES // 4:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        sql.dispose()
    killed = finish(process)
    assert killed.returncode == -signal.SIGKILL, (
        f"ingest ended with {killed.returncode} before it could be killed: make the feed"
        f" bigger than {CASES} cases of {EVENTS} events\n{killed.stderr}"
    )
    halfway = snapshot(store_url)
    stored = halfway.counts["cases"]
    assert CASES // 4 <= stored < CASES
    # Whole cases only: every stored case has all its events, alerts and audit entry.
    cases = sorted({case for case, _ in halfway.events})
    assert halfway.events == [e for e in clean_run.events if e[0] in cases]
    assert halfway.alerts == [a for a in clean_run.alerts if a[1] in cases]
    assert halfway.ingested == cases

    again = finish(start_ingest(feed, store_url))
    assert again.returncode == 0, again.stderr
    assert again.new_events == (CASES - stored) * EVENTS
    found = snapshot(store_url)
    assert_no_duplicates(found)
    assert found == clean_run


#: Which cases each of two ingests holds, in its order. Overlapping feeds start on
#: different cases, so both processes write their first case (and the rule set it
#: was evaluated by) at once; the same feed twice meets on every case.
PAIRS = {
    "overlapping feeds": (list(range(CASES * 2 // 3)), list(range(CASES // 3, CASES))),
    "the same feed twice": (list(range(CASES)), list(range(CASES))),
}


@pytest.mark.parametrize(("first", "second"), PAIRS.values(), ids=PAIRS.keys())
def test_two_ingests_at_once_end_as_one_clean_run(
    store_url: str, tmp_path: Path, clean_run: Snapshot, first: list[int], second: list[int]
) -> None:
    assert set(first) | set(second) == set(range(CASES))
    # Each feed is a FIFO: both processes open the store (a new one: they race to make
    # its tables), then wait for their feed, which is given to both at the same moment.
    feeds = [tmp_path / f"feed-{n}.jsonl" for n in range(2)]
    for feed in feeds:
        os.mkfifo(feed)
    processes = [start_ingest(feed, store_url) for feed in feeds]
    pipes = [open_when_read(feed, process) for feed, process in zip(feeds, processes, strict=True)]
    for pipe, cases in zip(pipes, (first, second), strict=True):
        if pipe is not None:
            with pipe:
                pipe.write(feed_text(cases))
    done = [finish(process) for process in processes]
    assert [d.returncode for d in done] == [0, 0], "\n".join(d.stderr for d in done)
    # Between them they stored each event once.
    assert sum(d.new_events for d in done) == CASES * EVENTS
    found = snapshot(store_url)
    assert_no_duplicates(found)
    assert found == clean_run


# --- the same races, in one process, where threads can be made to start together ---


def at_once(calls: Sequence[Callable[[], object]]) -> None:
    """Run the calls in threads released together; re-raise the first exception."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    if errors:
        raise errors[0]


def test_stores_opened_at_once_on_a_new_database_all_open(store_url: str) -> None:
    # Opening a store makes its tables; on PostgreSQL the openers of a new database
    # used to all make them, and all but one failed ("duplicate key value violates
    # unique constraint pg_type_typname_nsp_index").
    at_once([lambda: Store(store_url).close()] * 4)
    with Store(store_url) as store:
        assert store.counts() == {"cases": 0, "events": 0, "alerts": 0, "audit": 0}


def test_cases_stored_at_once_record_their_rule_set_once(store_url: str, engine: Engine) -> None:
    # Each case's transaction records the rule set that evaluated it. PostgreSQL locks
    # cases, not the store, so two cases stored at once used to both insert it, and
    # the second failed ("duplicate key value violates unique constraint rule_sets_pkey").
    results = [
        engine.replay(chronology(case_events(number), case_name(number))) for number in range(4)
    ]
    with Store(store_url) as store:
        at_once([partial(store.save, result) for result in results])
        assert store.counts()["cases"] == 4
        assert store.rule_set(engine.rules.version) == list(
            zip(engine.rules.files, engine.rules.texts, strict=True)
        )
