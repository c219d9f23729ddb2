"""Backtesting a rule change: a corpus replayed under two rule sets, the alerts compared.

Nothing is stored: both rule sets replay every file in memory, in event time, in
worker processes or on a Dask cluster (`triggers.parallel`, `triggers.cluster`), the
base first and then the candidate, so only the base's alerts are held at once.

How alerts are matched, case by case (a case is one case of one file):

- **same**: the two runs each raised an alert for the same rule, action and
  parameters at the same time (the triggering events may differ: the people
  working the case see the same alert at the same moment). Repeats pair one to one.
- **moved**: of the rest, a base and a candidate alert for the same rule, action and
  parameters, raised because of the same triggering events, at different times;
  paired in time order. `days` is the candidate's time minus the base's, in days
  (positive: later).
- **removed** / **added**: every other base / candidate alert.

Outcomes (`outcomes:` in a chronology, harm later found) are checked against each
run's alerts in the same case: an outcome at time T is *caught* if an alert was
raised at or after T minus the horizon and strictly before T; its lead time is T
minus the first such alert's time, in days.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from triggers.cluster import replay_on_cluster
from triggers.errors import TriggersError
from triggers.mapping import ColumnMapping
from triggers.models.alerts import Alert
from triggers.models.chronology import Outcome
from triggers.parallel import FileReplay, replay_files
from triggers.rules.compiled import CompiledRuleSet

__all__ = [
    "FORMAT",
    "Backtest",
    "CaseComparison",
    "Change",
    "ChangeKind",
    "Lead",
    "OutcomeCheck",
    "OutcomeSummary",
    "RuleComparison",
    "backtest",
    "compare_alerts",
]

#: The version of the JSON shape (`Backtest.to_json`); raised only if a key changes meaning.
FORMAT = 1

ChangeKind = Literal["added", "removed", "moved"]
_DAY = timedelta(days=1)


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _days(later: datetime, earlier: datetime) -> float:
    return round((later - earlier) / _DAY, 2)


@dataclass(frozen=True)
class Change:
    """One alert that differs between the runs (see the module's matching rules)."""

    kind: ChangeKind
    rule: str
    action: str
    params: tuple[tuple[str, str | int], ...]
    #: The base's alert time (None: added), the candidate's (None: removed).
    base_at: datetime | None
    candidate_at: datetime | None
    #: The triggering events (the candidate's, or the base's for a removed alert).
    events: tuple[str, ...]

    @property
    def days(self) -> float | None:
        """How far a moved alert moved, in days (positive: later); None otherwise."""
        if self.base_at is None or self.candidate_at is None:
            return None
        return _days(self.candidate_at, self.base_at)

    def to_json(self) -> dict[str, Any]:
        """The change as in `Backtest.to_json`."""
        return {
            "change": self.kind,
            "rule": self.rule,
            "action": self.action,
            "params": dict(self.params),
            "base_at": _time(self.base_at),
            "candidate_at": _time(self.candidate_at),
            "days": self.days,
            "events": list(self.events),
        }


def _kind(alert: Alert) -> tuple[str, str, tuple[tuple[str, str | int], ...]]:
    return alert.rule, alert.action, tuple(sorted(alert.params.items()))


def _take_pairs(
    base: list[Alert], candidate: list[Alert], key: Callable[[Alert], object]
) -> list[tuple[Alert, Alert]]:
    """Pair alerts with equal keys in time order, removing them from both lists."""
    waiting: dict[object, list[Alert]] = {}
    for alert in candidate:
        waiting.setdefault(key(alert), []).append(alert)
    pairs, left = [], []
    for alert in base:
        match = waiting.get(key(alert))
        if match:
            pairs.append((alert, match.pop(0)))
        else:
            left.append(alert)
    paired = {id(new) for _, new in pairs}
    base[:] = left
    candidate[:] = [alert for alert in candidate if id(alert) not in paired]
    return pairs


def compare_alerts(
    base: Iterable[Alert], candidate: Iterable[Alert]
) -> tuple[int, tuple[Change, ...]]:
    """How many alerts of one case are the same, and the changes, in time order."""
    old = sorted(base, key=lambda a: a.at)
    new = sorted(candidate, key=lambda a: a.at)
    same = len(_take_pairs(old, new, lambda a: (_kind(a), a.at)))
    moved = _take_pairs(old, new, lambda a: (_kind(a), a.events))
    changes = [Change("moved", *_kind(a), a.at, b.at, b.events) for a, b in moved] + [
        Change("removed", *_kind(a), a.at, None, a.events) for a in old
    ]
    changes += [Change("added", *_kind(b), None, b.at, b.events) for b in new]
    changes.sort(key=lambda c: c.base_at or c.candidate_at or datetime.min.replace(tzinfo=UTC))
    return same, tuple(changes)


@dataclass(frozen=True)
class CaseComparison:
    """One case of one file: its alerts under each rule set and what changed."""

    file: str
    case: str
    base_alerts: int
    candidate_alerts: int
    same: int
    changes: tuple[Change, ...]

    def count(self, kind: ChangeKind) -> int:
        """How many changes of this kind."""
        return sum(1 for change in self.changes if change.kind == kind)

    def to_json(self) -> dict[str, Any]:
        """The case as in `Backtest.to_json`."""
        return {
            "file": self.file,
            "case": self.case,
            "base_alerts": self.base_alerts,
            "candidate_alerts": self.candidate_alerts,
            "same": self.same,
            **{kind: self.count(kind) for kind in ("added", "removed", "moved")},
            "changes": [change.to_json() for change in self.changes],
        }


@dataclass(frozen=True)
class RuleComparison:
    """One rule's alerts over the corpus under each rule set and how they changed."""

    rule: str
    base_alerts: int = 0
    candidate_alerts: int = 0
    same: int = 0
    added: int = 0
    removed: int = 0
    moved: int = 0
    #: The days each moved alert moved.
    moved_days: tuple[float, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The rule as in `Backtest.to_json`."""
        return {
            "rule": self.rule,
            "base_alerts": self.base_alerts,
            "candidate_alerts": self.candidate_alerts,
            "same": self.same,
            "added": self.added,
            "removed": self.removed,
            "moved": self.moved,
            "moved_days": list(self.moved_days),
        }


@dataclass(frozen=True)
class Lead:
    """The first alert in an outcome's horizon: its rule, time and lead in days."""

    rule: str
    at: datetime
    days: float

    def to_json(self) -> dict[str, Any]:
        """The lead as in `Backtest.to_json`."""
        return {"rule": self.rule, "at": _time(self.at), "days": self.days}


@dataclass(frozen=True)
class OutcomeCheck:
    """One outcome and the first alert before it under each rule set (None: missed)."""

    file: str
    case: str
    at: datetime
    note: str | None
    base: Lead | None
    candidate: Lead | None

    def to_json(self) -> dict[str, Any]:
        """The outcome as in `Backtest.to_json`."""
        return {
            "file": self.file,
            "case": self.case,
            "at": _time(self.at),
            "note": self.note,
            "base": self.base.to_json() if self.base else None,
            "candidate": self.candidate.to_json() if self.candidate else None,
        }


@dataclass(frozen=True)
class OutcomeSummary:
    """One rule set's catch of harm against its alert load."""

    outcomes: int
    caught: int
    #: The median lead time of the caught outcomes, in days (None: none caught).
    median_days: float | None
    #: Alerts the rule set raised over the whole corpus, and in the cases with outcomes.
    alerts: int
    alerts_in_outcome_cases: int

    def to_json(self) -> dict[str, Any]:
        """The summary as in `Backtest.to_json`."""
        return {
            "outcomes": self.outcomes,
            "caught": self.caught,
            "median_days": self.median_days,
            "alerts": self.alerts,
            "alerts_in_outcome_cases": self.alerts_in_outcome_cases,
        }


def _lead(alerts: Sequence[Alert], outcome: Outcome, horizon: timedelta) -> Lead | None:
    before = [a for a in alerts if outcome.at - horizon <= a.at < outcome.at]
    if not before:
        return None
    first = min(before, key=lambda a: a.at)
    return Lead(first.rule, first.at, _days(outcome.at, first.at))


@dataclass(frozen=True)
class _Case:
    file: str
    case: str
    outcomes: tuple[Outcome, ...]
    base: tuple[Alert, ...]
    candidate: tuple[Alert, ...]


@dataclass(frozen=True)
class Backtest:
    """The comparison of two rule sets over one corpus."""

    base_files: tuple[str, ...]
    base_version: str
    candidate_files: tuple[str, ...]
    candidate_version: str
    horizon_days: int
    #: Every case compared, in file order (unchanged ones too).
    cases: tuple[CaseComparison, ...]
    rules: tuple[RuleComparison, ...]
    outcome_checks: tuple[OutcomeCheck, ...]
    base_outcomes: OutcomeSummary
    candidate_outcomes: OutcomeSummary
    #: Files that could not be replayed (or not wholly: a CSV file's bad rows) under
    #: either rule set, and why.
    failed: tuple[tuple[str, TriggersError], ...] = field(default=())

    @property
    def changed(self) -> tuple[CaseComparison, ...]:
        """The cases with at least one change."""
        return tuple(case for case in self.cases if case.changes)

    def totals(self) -> dict[str, int]:
        """Counts over the corpus: cases, alerts under each rule set, and each kind of change."""
        return {
            "cases": len(self.cases),
            "cases_changed": len(self.changed),
            "base_alerts": sum(c.base_alerts for c in self.cases),
            "candidate_alerts": sum(c.candidate_alerts for c in self.cases),
            "same": sum(c.same for c in self.cases),
            **{k: sum(c.count(k) for c in self.cases) for k in ("added", "removed", "moved")},
        }

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape (README.md, "Backtesting a rule change"); `cases` lists
        only the cases with a change."""
        return {
            "format": FORMAT,
            "base": {"rules": list(self.base_files), "version": self.base_version},
            "candidate": {"rules": list(self.candidate_files), "version": self.candidate_version},
            "horizon_days": self.horizon_days,
            "totals": self.totals(),
            "rules": [rule.to_json() for rule in self.rules],
            "cases": [case.to_json() for case in self.changed],
            "outcomes": {
                "base": self.base_outcomes.to_json(),
                "candidate": self.candidate_outcomes.to_json(),
                "each": [check.to_json() for check in self.outcome_checks],
            },
            "failed": [{"file": file, "error": str(error)} for file, error in self.failed],
        }


def _by_rule(cases: Sequence[_Case], comparisons: Sequence[CaseComparison]) -> list[RuleComparison]:
    counts: dict[str, Counter[str]] = {}
    moved: dict[str, list[float]] = {}
    for case in cases:
        for which, alerts in (("base_alerts", case.base), ("candidate_alerts", case.candidate)):
            for alert in alerts:
                counts.setdefault(alert.rule, Counter())[which] += 1
    for comparison in comparisons:
        for change in comparison.changes:
            counts[change.rule][change.kind] += 1
            if change.days is not None:
                moved.setdefault(change.rule, []).append(change.days)
    return [
        RuleComparison(
            rule,
            base_alerts=n["base_alerts"],
            candidate_alerts=n["candidate_alerts"],
            same=n["base_alerts"] - n["removed"] - n["moved"],
            added=n["added"],
            removed=n["removed"],
            moved=n["moved"],
            moved_days=tuple(moved.get(rule, ())),
        )
        for rule, n in sorted(counts.items())
    ]


def _summary(cases: Sequence[_Case], leads: Sequence[Lead | None], which: str) -> OutcomeSummary:
    caught = [lead.days for lead in leads if lead is not None]
    return OutcomeSummary(
        outcomes=len(leads),
        caught=len(caught),
        median_days=statistics.median(caught) if caught else None,
        alerts=sum(len(getattr(c, which)) for c in cases),
        alerts_in_outcome_cases=sum(len(getattr(c, which)) for c in cases if c.outcomes),
    )


@dataclass(frozen=True)
class _Where:
    """How the files are replayed: in worker processes or on a cluster, CSV through a mapping."""

    until: datetime | None
    workers: int
    cluster: str | None
    mapping: ColumnMapping | None

    def replay(self, files: Sequence[str], rules: CompiledRuleSet) -> Iterator[FileReplay]:
        if self.cluster:
            return replay_on_cluster(
                files, rules, until=self.until, address=self.cluster, mapping=self.mapping
            )
        return replay_files(
            files, rules, until=self.until, workers=self.workers, mapping=self.mapping
        )


def backtest(
    files: Sequence[str],
    base: CompiledRuleSet,
    candidate: CompiledRuleSet,
    *,
    horizon_days: int = 365,
    until: datetime | None = None,
    workers: int = 1,
    cluster: str | None = None,
    mapping: ColumnMapping | None = None,
    progress: Callable[[FileReplay], None] | None = None,
) -> Backtest:
    """Replay `files` under `base` and then `candidate` and compare what they raise.

    Each file is replayed in `workers` processes, or on the Dask cluster at `cluster`,
    CSV files read through `mapping`; `progress` is called after each file under each
    rule set (twice per file). A file that fails under either rule set is listed in
    `failed`; what both runs replayed of it (a CSV file's good rows) is still compared.
    """
    where = _Where(until, workers, cluster, mapping)
    failed: dict[str, TriggersError] = {}
    held: list[tuple[str, list[tuple[str, tuple[Outcome, ...], tuple[Alert, ...]]]]] = []
    for outcome in where.replay(files, base):
        if outcome.error is not None:
            failed[outcome.file] = outcome.error
        held.append(
            (outcome.file, [(r.case, r.chronology.outcomes, r.alerts) for r in outcome.results])
        )
        if progress:
            progress(outcome)
    cases: list[_Case] = []
    for (file, base_cases), outcome in zip(held, where.replay(files, candidate), strict=True):
        if outcome.error is not None:
            failed.setdefault(file, outcome.error)
        # Both read the same cases unless one run's worker died on the file.
        if len(base_cases) == len(outcome.results):
            cases += [
                _Case(file, case, outcomes, alerts, result.alerts)
                for (case, outcomes, alerts), result in zip(
                    base_cases, outcome.results, strict=True
                )
            ]
        if progress:
            progress(outcome)
    return _compared(base, candidate, cases, horizon_days, failed)


def _compared(
    base: CompiledRuleSet,
    candidate: CompiledRuleSet,
    cases: Sequence[_Case],
    horizon_days: int,
    failed: dict[str, TriggersError],
) -> Backtest:
    comparisons = [
        CaseComparison(case.file, case.case, len(case.base), len(case.candidate), *pair)
        for case in cases
        for pair in [compare_alerts(case.base, case.candidate)]
    ]
    horizon = timedelta(days=horizon_days)
    checks = [
        OutcomeCheck(
            case.file,
            case.case,
            outcome.at,
            outcome.note,
            _lead(case.base, outcome, horizon),
            _lead(case.candidate, outcome, horizon),
        )
        for case in cases
        for outcome in sorted(case.outcomes, key=lambda o: o.at)
    ]
    return Backtest(
        base_files=base.files,
        base_version=base.version,
        candidate_files=candidate.files,
        candidate_version=candidate.version,
        horizon_days=horizon_days,
        cases=tuple(comparisons),
        rules=tuple(_by_rule(cases, comparisons)),
        outcome_checks=tuple(checks),
        base_outcomes=_summary(cases, [c.base for c in checks], "base"),
        candidate_outcomes=_summary(cases, [c.candidate for c in checks], "candidate"),
        failed=tuple(failed.items()),
    )
