"""Orchestration above the engine and the store: ingest, tick, and explaining a stored alert.

The store only stores and the engine only evaluates; here a case's stored
history is evaluated and the outcome written back, each case in one transaction
with the case locked, so that two processes working on one case end as one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from triggers.engine.explain import Explanation, explain
from triggers.engine.replay import CaseResult, Engine
from triggers.models.chronology import Chronology
from triggers.rules.loader import rules_from_texts
from triggers.store import CaseWriter, SaveSummary, Store

__all__ = ["explain_alert", "ingest", "tick"]


def _clock_beyond(chronology: Chronology, clock: datetime | None) -> datetime | None:
    """The case clock if it has run on past the last event (replay's `until`), else None."""
    last = max((e.at for e in chronology.events), default=None)
    return clock if clock is not None and (last is None or clock > last) else None


def _evaluate(case: CaseWriter, engine: Engine) -> CaseResult:
    """Replay the case's whole stored history, with its clock."""
    chronology = case.history()
    return engine.replay(chronology, _clock_beyond(chronology, case.clock))


def ingest(
    store: Store,
    chronologies: Iterable[Chronology],
    engine: Engine,
    *,
    reason: str | None = None,
    on_saved: Callable[[SaveSummary], None] | None = None,
) -> list[SaveSummary]:
    """Append events to their cases and evaluate each changed case's whole stored history.

    One transaction per case. An event already stored changes nothing; an event
    earlier than the case's latest stored event re-evaluates the case, and alerts
    the corrected history no longer raises become `superseded`. `on_saved` is called
    with each case's summary as soon as its transaction has committed, so that what
    was committed is known even if a later case fails.
    """
    store.check_reason("collection", "ingest", reason)
    summaries = []
    for chronology in chronologies:
        summaries.append(_ingest_case(store, chronology, engine, reason))
        if on_saved is not None:
            on_saved(summaries[-1])
    return summaries


def _ingest_case(
    store: Store, chronology: Chronology, engine: Engine, reason: str | None
) -> SaveSummary:
    rules = engine.rules
    with store.writing(chronology) as case:
        latest = case.latest()
        new = case.add_events(chronology.events)
        if not new:
            return SaveSummary(chronology.case, 0, 0)
        late = [e for e in new if latest is not None and e.at < latest]
        result = _evaluate(case, engine)
        supersede = None
        if late:
            described = ", ".join(f"{e.id} ({e.type} at {e.at:%Y-%m-%d})" for e in late)
            supersede = (
                f"the case was re-evaluated on {case.now:%Y-%m-%d %H:%M} UTC after the late"
                f" event(s) {described} arrived, and the corrected history no longer"
                f" raises this alert (rules version {rules.version})"
            )
        added, superseded = case.merge_alerts(result.alerts, rules, supersede=supersede)
        # Counts, not event ids or what the events say: the audit log outlives an
        # erasure, so it holds no case content (the alerts' history keeps `supersede`).
        case.log(
            "collection",
            "ingest",
            alerts=added,
            reason=reason,
            details={
                "new_events": len(new),
                "late_events": len(late),
                "rules_version": rules.version,
            },
        )
        if superseded:
            case.log(
                "alteration",
                "supersede",
                alerts=superseded,
                reason=reason,
                details={"late_events": len(late), "rules_version": rules.version},
            )
    return SaveSummary(chronology.case, len(new), len(added), len(superseded), tuple(case.raised))


def tick(
    store: Store,
    engine: Engine,
    now: datetime,
    *,
    reason: str | None = None,
    cases: Sequence[str] | None = None,
    on_case: Callable[[str, SaveSummary | None], None] | None = None,
) -> list[SaveSummary]:
    """Run the clock of each of `cases` (default: every stored case) on to `now` (event
    time), raising alerts whose deadline passed; one transaction per case.

    `on_case` is called with each case as it is done: with its summary once its
    transaction has committed, or None if its clock was already there.
    """
    store.check_reason("collection", "tick", reason)
    summaries = []
    for case_id in store.cases() if cases is None else cases:
        summary = _tick_case(store, engine, case_id, now, reason)
        if summary is not None:
            summaries.append(summary)
        if on_case is not None:
            on_case(case_id, summary)
    store.log(
        "collection",
        "tick",
        reason=reason,
        details={
            "clock": now.isoformat(),
            "cases": len(summaries),
            "new_alerts": sum(s.new_alerts for s in summaries),
        },
    )
    return summaries


def _tick_case(
    store: Store, engine: Engine, case_id: str, now: datetime, reason: str | None
) -> SaveSummary | None:
    with store.rewriting(case_id) as case:
        if case is None or (case.clock is not None and case.clock >= now):
            return None
        case.run_clock_to(now)
        result = _evaluate(case, engine)
        added, _ = case.merge_alerts(result.alerts, engine.rules)
        if added:
            case.log(
                "collection",
                "tick",
                alerts=added,
                reason=reason,
                details={"clock": now.isoformat(), "rules_version": engine.rules.version},
            )
    return SaveSummary(case_id, 0, len(added), alerts=tuple(case.raised))


def explain_alert(store: Store, alert_id: int, *, reason: str | None = None) -> Explanation:
    """Why a stored alert was raised, by the rule-set version that raised it; logged.

    The explanation is rebuilt from the stored events and the recorded rule files;
    a superseded alert's explanation says why it was superseded.
    """
    basis = store.alert_basis(alert_id, reason=reason)
    stored, chronology = basis.alert, basis.chronology
    rules = rules_from_texts(basis.rule_files)
    explanation = explain(rules, chronology, stored.alert, _clock_beyond(chronology, basis.clock))
    notes = [f"alert {alert_id} is {stored.status}; due by {stored.due_by:%Y-%m-%d %H:%M} UTC"]
    if stored.superseded_reason:
        notes.append(f"superseded: {stored.superseded_reason}")
    notes.extend(
        f"{change.at:%Y-%m-%d %H:%M} {change.status} by {change.by}"
        + (f": {change.note}" if change.note else "")
        for change in basis.history
    )
    return explanation.with_notes(*notes)
