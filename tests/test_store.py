"""The store: idempotent saves, one transaction per case, append-only events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from tests.conftest import MR_A, chronology
from triggers import Engine, Store, StoreError, load_chronologies
from triggers.store import DEFAULT_STORE_URL, CaseWriter, store_url


def test_saving_twice_adds_nothing(engine: Engine, store: Store) -> None:
    (case,) = load_chronologies(MR_A)
    first = store.save(engine.replay(case))
    second = store.save(engine.replay(case))
    assert (first.new_events, first.new_alerts) == (26, 29)
    assert (second.new_events, second.new_alerts) == (0, 0)
    assert store.counts() == {"cases": 1, "events": 26, "alerts": 29, "audit": 2}


def test_alerts_and_events_round_trip(engine: Engine, store: Store) -> None:
    (case,) = load_chronologies(MR_A)
    result = engine.replay(case)
    store.save(result)
    stored = store.alerts(case.case)
    assert [s.alert for s in stored] == list(result.alerts)
    assert {s.status for s in stored} == {"open"}
    assert {s.rules_version for s in stored} == {result.rules_version}
    assert store.events(case.case) == case.in_event_order()
    assert stored[0].alert.at == datetime(2009, 4, 14, tzinfo=UTC)
    assert store.cases() == ["hh-ii-jj"]


def test_a_failure_midway_leaves_nothing_of_the_case(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    (case,) = load_chronologies(MR_A)
    result = engine.replay(case)

    def fail(*_: Any, **__: Any) -> int:
        raise StoreError("disk full")

    monkeypatch.setattr(CaseWriter, "merge_alerts", fail)
    with pytest.raises(StoreError, match="disk full"):
        store.save(result)
    assert store.counts() == {"cases": 0, "events": 0, "alerts": 0, "audit": 0}
    monkeypatch.undo()
    assert store.save(result).new_alerts == 29


def test_stored_events_are_never_changed(engine: Engine, store: Store) -> None:
    event = {"at": "2010-01-01", "type": "monitoring_software_failure", "id": "e1"}
    store.save(engine.replay(chronology([event])))
    changed = {**event, "cause": "reset"}
    with pytest.raises(StoreError, match="event 'e1' is already stored with different content"):
        store.save(engine.replay(chronology([changed, {**event, "id": "e2"}])))
    assert store.counts() == {"cases": 1, "events": 1, "alerts": 1, "audit": 1}


def test_the_store_url_comes_from_the_option_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRIGGERS_STORE", raising=False)
    assert store_url() == DEFAULT_STORE_URL == "sqlite:///triggers.sqlite"
    monkeypatch.setenv("TRIGGERS_STORE", "sqlite:///from-env.sqlite")
    assert store_url() == "sqlite:///from-env.sqlite"
    assert store_url("sqlite:///given.sqlite") == "sqlite:///given.sqlite"


def test_a_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot use the store 'nonsense'"):
        Store("nonsense")


def test_an_unopenable_database_is_a_store_error(store_url: str, tmp_path: Path) -> None:
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        missing = url.set(database=str(tmp_path / "missing-dir" / "store.sqlite"))
    else:
        missing = url.set(database="no_such_database")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(missing.render_as_string(hide_password=False))


@pytest.mark.sqlite_only
def test_sqlite_uses_wal(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "wal.sqlite"
    with Store(f"sqlite:///{path}") as opened:
        opened.save(engine.replay(chronology([])))
    import sqlite3

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_batch_commits_its_cases_together_and_a_failed_case_leaves_nothing(
    engine: Engine, store: Store
) -> None:
    event = {"at": "2010-01-01", "type": "monitoring_software_failure", "id": "e1"}
    store.save(engine.replay(chronology([event])))
    changed = {**event, "cause": "reset"}
    (mr_a,) = load_chronologies(MR_A)
    with store.batch():
        store.save(engine.replay(mr_a))
        with pytest.raises(StoreError, match="already stored with different content"):
            store.save(engine.replay(chronology([changed, {**event, "id": "e2"}])))
        store.save(engine.replay(chronology([{**event, "id": "e3"}], case="case-2")))
    # mr-a and case-2 are stored; of the failed case, nothing (not even its new event e2).
    assert store.cases() == ["case-1", "case-2", "hh-ii-jj"]
    assert [e.id for e in store.events("case-1")] == ["e1"]
    assert store.counts()["events"] == 1 + 26 + 1


def test_a_batch_that_fails_commits_nothing(engine: Engine, store: Store) -> None:
    (mr_a,) = load_chronologies(MR_A)
    with pytest.raises(RuntimeError), store.batch():
        store.save(engine.replay(mr_a))
        raise RuntimeError("the writer stopped")
    assert store.counts() == {"cases": 0, "events": 0, "alerts": 0, "audit": 0}
    assert store.save(engine.replay(mr_a)).new_alerts == 29  # the rule set is recorded again
