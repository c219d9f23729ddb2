"""Alerts people act on: lifecycle, due dates, live ingestion, late events, audit, erasure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import MR_A, chronology
from triggers import Engine, Store, load_chronologies
from triggers.errors import LifecycleError, NotFoundError, ReasonRequiredError
from triggers.pipeline import explain_alert, ingest, tick

MOVE: list[dict[str, Any]] = [
    {"at": "2010-02-01", "type": "mappa_level_set", "level": 1, "area": "north", "id": "e1"},
    {"at": "2011-01-03", "type": "offender_moved_area", "from_area": "north",
     "to_area": "south", "id": "e2"},
]  # fmt: skip
#: Arrives late: the new area reviewed the case in time, so D3b's deadline alert goes.
REVIEW: dict[str, Any] = {"at": "2011-01-20", "type": "mappa_review", "area": "south", "id": "e3"}
LATER: dict[str, Any] = {"at": "2011-06-01", "type": "assessment_completed", "id": "e4"}


def stored_summary(store: Store, case: str = "case-1") -> list[tuple[str, str, str]]:
    """(date, rule, status) of the case's alerts other than D3's notification of the move."""
    return [
        (f"{s.alert.at:%Y-%m-%d}", s.alert.rule, s.status)
        for s in store.alerts(case)
        if s.alert.rule != "D3-moved-area"
    ]


def test_a_replayed_alert_is_open_with_a_due_date_from_its_action(
    engine: Engine, store: Store
) -> None:
    (case,) = load_chronologies(MR_A)
    store.save(engine.replay(case))
    first = store.alerts(case.case)[0]
    assert (first.alert.action, first.status) == ("reopen_assessment", "open")
    assert first.due_by == first.alert.at + timedelta(days=5)
    assert first.overdue(datetime(2026, 1, 1, tzinfo=UTC))
    assert not first.overdue(first.alert.at)


def test_the_lifecycle_records_who_when_and_why(engine: Engine, store: Store) -> None:
    (case,) = load_chronologies(MR_A)
    store.save(engine.replay(case))
    alert_id = store.alerts(case.case)[0].id
    assert store.acknowledge(alert_id).status == "acknowledged"
    resolved = store.resolve(alert_id, note="assessment re-opened by CSC")
    assert resolved.status == "resolved"
    history = store.history(alert_id)
    assert [(h.status, h.note) for h in history] == [
        ("open", None),
        ("acknowledged", None),
        ("resolved", "assessment re-opened by CSC"),
    ]
    assert {h.by for h in history} == {store.actor}
    with pytest.raises(LifecycleError, match=f"alert {alert_id} is resolved; only open or"):
        store.dismiss(alert_id, note="not needed")
    with pytest.raises(LifecycleError, match="say what was done or why"):
        store.dismiss(store.alerts(case.case)[1].id, note=" ")
    with pytest.raises(NotFoundError, match="no alert with id 999999"):
        store.acknowledge(999999)


def test_replaying_again_keeps_the_lifecycle(engine: Engine, store: Store) -> None:
    (case,) = load_chronologies(MR_A)
    store.save(engine.replay(case))
    alert_id = store.alerts(case.case)[0].id
    store.dismiss(alert_id, note="handled elsewhere")
    assert store.save(engine.replay(case)).new_alerts == 0
    assert ingest(store, [case], engine)[0].new_alerts == 0
    statuses = {s.id: s.status for s in store.alerts(case.case)}
    assert statuses[alert_id] == "dismissed"
    assert len(statuses) == 29


def test_overdue_filter(engine: Engine, store: Store) -> None:
    (case,) = load_chronologies(MR_A)
    store.save(engine.replay(case))
    everything = store.alerts(case.case)
    store.resolve(everything[0].id, note="done")
    overdue = store.alerts(case.case, overdue_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert len(overdue) == 28
    assert store.alerts(case.case, overdue_at=everything[0].alert.at) == []
    assert {s.alert.rule for s in store.alerts(rule="D6-risk-lowered-after-a-change")} == {
        "D6-risk-lowered-after-a-change"
    }
    assert [s.id for s in store.alerts(status="resolved")] == [everything[0].id]


def test_ingesting_event_by_event_equals_replaying_the_whole_case(
    engine: Engine, store: Store
) -> None:
    (case,) = load_chronologies(MR_A)
    for event in case.events:
        ingest(store, [case.model_copy(update={"events": [event]})], engine)
    assert [s.alert for s in store.alerts(case.case)] == list(engine.replay(case).alerts)
    before = store.counts()
    assert ingest(store, [case], engine)[0] == (ingest(store, [case], engine)[0])
    assert store.counts()["events"] == before["events"]
    assert store.counts()["alerts"] == before["alerts"]


def test_tick_fires_deadlines_and_later_ingestion_keeps_them(engine: Engine, store: Store) -> None:
    ingest(store, [chronology(MOVE)], engine)
    assert stored_summary(store) == []
    tick(store, engine, datetime(2011, 3, 1, tzinfo=UTC))
    assert stored_summary(store) == [("2011-01-31", "D3b-mappa-ownership-unconfirmed", "open")]
    # An ordinary (not late) event re-evaluates the case with its clock: nothing is lost.
    summary = ingest(store, [chronology([LATER])], engine)[0]
    assert (summary.new_events, summary.superseded) == (1, 0)
    assert stored_summary(store) == [("2011-01-31", "D3b-mappa-ownership-unconfirmed", "open")]


def test_a_late_event_supersedes_the_alert_it_removes_the_basis_of(
    engine: Engine, store: Store
) -> None:
    ingest(store, [chronology([*MOVE, LATER])], engine)
    assert stored_summary(store) == [("2011-01-31", "D3b-mappa-ownership-unconfirmed", "open")]
    (alert,) = store.alerts("case-1", rule="D3b-mappa-ownership-unconfirmed")
    store.acknowledge(alert.id)
    summary = ingest(store, [chronology([REVIEW])], engine)[0]
    assert (summary.new_events, summary.new_alerts, summary.superseded) == (1, 0, 1)
    (after,) = store.alerts("case-1", rule="D3b-mappa-ownership-unconfirmed")
    assert after.status == "superseded"
    assert after.superseded_reason is not None
    assert "late event(s) e3 (mappa_review at 2011-01-20)" in after.superseded_reason
    assert [h.status for h in store.history(alert.id)] == ["open", "acknowledged", "superseded"]
    # The same late event again changes nothing.
    assert ingest(store, [chronology([REVIEW])], engine)[0].new_events == 0


def test_every_operation_on_case_data_is_in_the_audit_log(engine: Engine, store: Store) -> None:
    (case,) = load_chronologies(MR_A)
    store.save(engine.replay(case), reason="case review")
    listed = store.alerts(case.case, reason="supervision")
    store.acknowledge(listed[0].id)
    ingest(store, [chronology(MOVE, case="case-2")], engine)
    log = store.audit()
    assert [(e.activity, e.operation, e.case) for e in log] == [
        ("collection", "replay", "hh-ii-jj"),
        ("consultation", "alerts list", "hh-ii-jj"),
        ("alteration", "acknowledge", "hh-ii-jj"),
        ("collection", "ingest", "case-2"),
    ]
    assert log[0].justification == "case review"
    assert log[1].alerts == ()  # the consultation is logged by what was asked
    assert {e.actor for e in log} == {store.actor}
    assert [e.operation for e in store.audit(case="case-2")] == ["ingest"]
    assert store.audit(actor="somebody else") == []
    assert store.audit(since=datetime.now(UTC) + timedelta(minutes=1)) == []


def test_the_actor_comes_from_the_argument_then_the_environment(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIGGERS_ACTOR", "analyst-7")
    with Store(store_url) as store:
        assert store.actor == "analyst-7"
    with Store(store_url, actor="lead-2") as store:
        assert store.actor == "lead-2"


def test_a_deployment_can_require_a_justification(
    engine: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIGGERS_REQUIRE_REASON", "consultation,alteration")
    with Store(store_url) as store:
        ingest(store, [chronology(MOVE)], engine)
        with pytest.raises(ReasonRequiredError, match="requires a justification for consultation"):
            store.alerts()
        assert len(store.alerts(reason="MAPPA meeting")) == 1
        assert [e.operation for e in store.audit()] == ["ingest", "alerts list"]


def test_the_audit_log_cannot_be_changed_even_by_sql(
    engine: Engine, store: Store, store_url: str
) -> None:
    ingest(store, [chronology(MOVE)], engine)
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DatabaseError

    raw = create_engine(store_url)  # not store.url: that one is for showing
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), raw.begin() as connection:
            connection.execute(text(statement))
    raw.dispose()
    assert len(store.audit()) == 1


def test_erasing_a_case_leaves_only_the_erasure_record(engine: Engine, store: Store) -> None:
    (case,) = load_chronologies(MR_A)
    store.save(engine.replay(case))
    ingest(store, [chronology(MOVE, case="other")], engine)
    record = store.erase_case(case.case, reason="retention period ended")
    assert (record.case, record.events, record.alerts) == ("hh-ii-jj", 26, 29)
    assert store.cases() == ["other"]
    assert store.events(case.case) == []
    assert store.alerts(case.case) == []
    assert store.erasures() == [record]
    assert store.audit(case=case.case)[-2].operation == "case erase"
    with pytest.raises(NotFoundError, match="no case 'hh-ii-jj'"):
        store.erase_case(case.case, reason="again")
    with pytest.raises(ReasonRequiredError):
        store.erase_case("other", reason="  ")


def test_explain_on_a_superseded_alert_says_why(engine: Engine, store: Store) -> None:
    ingest(store, [chronology([*MOVE, LATER])], engine)
    (alert,) = store.alerts("case-1", rule="D3b-mappa-ownership-unconfirmed")
    ingest(store, [chronology([REVIEW])], engine)
    explanation = explain_alert(store, alert.id)
    assert explanation.reproduced is False
    text = "\n".join(explanation.lines())
    assert "superseded: the case was re-evaluated" in text
    assert "late event(s) e3 (mappa_review at 2011-01-20)" in text
    assert store.audit()[-1].operation == "explain"


def test_no_library_code_updates_or_deletes_audit_rows() -> None:
    import ast
    import importlib
    import inspect
    import pkgutil

    import triggers.store

    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(triggers.store.__path__, prefix="triggers.store.")
    ]
    assert len(modules) >= 5  # every module of the store package is read
    for module in [triggers.store, *modules]:
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("update", "delete"):
                assert "AuditRow" not in ast.unparse(node), ast.unparse(node)
            if isinstance(node, ast.Attribute) and node.attr == "delete":
                # session.delete(row) is only ever used for a case row.
                assert "AuditRow" not in ast.unparse(node)
