"""The store: cases, events, alerts and their lifecycle, rule-set versions, audit log, erasure.

SQLite by default, any SQLAlchemy URL otherwise (PostgreSQL for teams).
Everything written for one case happens in one transaction, and writing the
same case again adds nothing that is already there. Events are append-only
(only an erasure removes them). ORM rows never leave the store package: callers
get Pydantic models. The store only stores: evaluating rules is the pipeline's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from alembic.util import CommandError
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker

from triggers.errors import LifecycleError, NotFoundError, ReasonRequiredError, StoreError
from triggers.models.alerts import (
    TRANSITIONS,
    Alert,
    AlertStatus,
    Move,
    StatusChange,
    StoredAlert,
)
from triggers.models.audit import Activity, AuditEntry, ErasureRecord
from triggers.models.chronology import Chronology
from triggers.models.events import Event
from triggers.rules.compiled import CompiledRuleSet
from triggers.store import audit
from triggers.store.cases import (
    CaseWriter,
    SaveSummary,
    history_of,
    insert_unless_present,
    lock_case,
    stored_event,
)
from triggers.store.connection import connect, failure, in_memory, shown
from triggers.store.erasure import delete_case, erasure_record, reclaim
from triggers.store.lifecycle import move_alerts
from triggers.store.limits import check_values
from triggers.store.queries import (
    AlertFilter,
    AlertRecord,
    Summary,
    alert_records,
    stored_alert,
    stored_alerts,
    summarise,
)
from triggers.store.schema import open_schema
from triggers.store.settings import default_actor, required_reasons, store_url
from triggers.store.tables import (
    ALERT_IDS,
    AlertRow,
    AuditRow,
    CaseRow,
    ErasureRow,
    EventRow,
    RuleSetRow,
    StatusChangeRow,
)

__all__ = ["AlertBasis", "ReplayedCase", "Store"]


class ReplayedCase(Protocol):
    """What the store keeps of a replayed case (an engine's `CaseResult` has it)."""

    @property
    def chronology(self) -> Chronology: ...

    @property
    def alerts(self) -> Sequence[Alert]: ...

    @property
    def rules(self) -> CompiledRuleSet | None: ...

    @property
    def until(self) -> datetime | None: ...


@dataclass(frozen=True)
class AlertBasis:
    """What the store holds about how an alert came to be, for explaining it."""

    alert: StoredAlert
    #: The (name, text) of each file of the rule-set version that raised it.
    rule_files: tuple[tuple[str, str], ...]
    #: The case's whole stored history, and how far its clock has run.
    chronology: Chronology
    clock: datetime | None
    history: tuple[StatusChange, ...]


class Store:
    """Cases, events, alerts, rule-set versions and the audit log in a SQL database.

    `actor` is who is acting (default: $TRIGGERS_ACTOR, else the OS user); every
    operation on case data is logged in the audit log under that name.
    """

    def __init__(self, url: str | None = None, *, actor: str | None = None) -> None:
        #: The URL to connect with, password and all: never shown (`url` is what is shown).
        self._url = store_url(url)
        self.actor = actor or default_actor()
        check_values(actor=self.actor)
        self._required = required_reasons()
        #: Rule-set versions this store has seen recorded: rule sets are never removed.
        self._recorded: set[str] = set()
        #: The session of the `batch` under way, if any.
        self._batch: Session | None = None
        #: Whether a case was erased in the `batch` under way: its space is reclaimed after.
        self._erased_in_batch = False
        self._engine: Engine = connect(self._url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        audit.chain_on_commit(self._sessions)
        try:
            open_schema(self._engine, self._url)
        except (SQLAlchemyError, CommandError) as error:
            self._engine.dispose()
            raise StoreError(
                f"cannot open the store {self.url!r}: {failure(error, self._url)}"
            ) from None
        except StoreError:
            self._engine.dispose()
            raise

    @property
    def url(self) -> str:
        """The store's URL as it may be shown: its password hidden. Every message and
        summary naming the store uses this."""
        return shown(self._url)

    @property
    def kept(self) -> bool:
        """Whether what is written outlives this process: not for an in-memory SQLite store."""
        return not in_memory(self._url)

    @property
    def dialect(self) -> str:
        """The database's kind: "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A transaction of its own, or within a `batch`, a savepoint of the batch's."""
        try:
            if self._batch is not None:
                with audit.savepoint(self._batch):
                    yield self._batch
                return
            with self._sessions() as session, session.begin():
                yield session
        except SQLAlchemyError as error:
            raise StoreError(f"store {self.url!r}: {failure(error, self._url)}") from error

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Everything written in the block in one transaction, each write in a savepoint.

        A write that fails leaves nothing of itself and the batch goes on; the others
        commit together when the block ends (one commit instead of one per case), or
        none of them if the block raises.
        """
        if self._batch is not None:
            yield
            return
        recorded = set(self._recorded)
        self._erased_in_batch = False
        try:
            with self._sessions() as session, session.begin():
                self._batch = session
                try:
                    yield
                finally:
                    self._batch = None
        except SQLAlchemyError as error:
            self._recorded = recorded
            raise StoreError(f"store {self.url!r}: {failure(error, self._url)}") from error
        except BaseException:
            self._recorded = recorded
            raise
        finally:
            erased, self._erased_in_batch = self._erased_in_batch, False
        if erased:
            reclaim(self._engine, self.url, self._url)

    def check_reason(self, activity: Activity, operation: str, reason: str | None) -> None:
        """Raise `ReasonRequiredError` if this deployment requires a justification for
        `activity` and `reason` gives none; `StoreError` for a reason over the limits."""
        check_values(reason=reason)
        audit.check_reason(self._required, activity, operation, reason)

    # --- writing cases -------------------------------------------------------------

    @contextmanager
    def writing(self, chronology: Chronology) -> Iterator[CaseWriter]:
        """One transaction for the chronology's case, created if new and locked meanwhile.

        Everything written through the `CaseWriter` commits together when the block
        ends, or not at all if it raises.
        """
        with self._transaction() as session:
            now = datetime.now(UTC)
            values = {
                "id": chronology.case,
                "title": chronology.title,
                "subject": chronology.subject,
                "created_at": now,
                "updated_at": now,
            }
            statement = insert_unless_present(session, CaseRow, "id", values)
            new = session.execute(statement.returning(CaseRow.id)).first() is not None
            if new:
                # Inserted just now, so locked by this transaction and holding nothing yet.
                row = CaseRow(**values, clock=None)
                make_transient_to_detached(row)
                session.add(row)
            else:
                found = lock_case(session, chronology.case)
                assert found is not None  # it conflicted, so it is there
                row = found
                row.title = chronology.title or row.title
                row.subject = chronology.subject or row.subject
                row.updated_at = now
                session.flush()
            writer = CaseWriter(session, self.actor, row, self._recorded, new=new)
            yield writer
        self._recorded |= writer.recording

    @contextmanager
    def rewriting(self, case: str) -> Iterator[CaseWriter | None]:
        """One transaction for a stored case, locked meanwhile; None if there is no such case."""
        with self._transaction() as session:
            row = lock_case(session, case)
            writer = None if row is None else CaseWriter(session, self.actor, row, self._recorded)
            yield writer
        if writer is not None:
            self._recorded |= writer.recording

    def save(self, result: ReplayedCase, *, reason: str | None = None) -> SaveSummary:
        """Store a replayed case's events and alerts, in one transaction, adding only what is new.

        Alerts already stored keep their lifecycle. Raises `StoreError` (and stores
        nothing of the case) if an event id is already stored for the case with
        different content: events are append-only.
        """
        rules = result.rules
        if rules is None:
            raise StoreError("a replay result without its rule set cannot be stored")
        self.check_reason("collection", "replay", reason)
        chronology = result.chronology
        with self.writing(chronology) as case:
            if result.until is not None:
                case.run_clock_to(result.until)
            new_events = case.add_events(chronology.events)
            added, _ = case.merge_alerts(result.alerts, rules)
            case.log(
                "collection",
                "replay",
                alerts=added,
                reason=reason,
                details={"new_events": len(new_events), "rules_version": rules.version},
            )
        return SaveSummary(chronology.case, len(new_events), len(added))

    def log(
        self,
        activity: Activity,
        operation: str,
        *,
        reason: str | None,
        details: Mapping[str, Any],
    ) -> None:
        """Add an audit entry about no case in particular (such as a whole tick)."""
        with self._transaction() as session:
            audit.log(session, self.actor, activity, operation, reason=reason, details=details)

    # --- consultation ------------------------------------------------------------------

    def alerts(
        self,
        case: str | None = None,
        *,
        status: AlertStatus | None = None,
        rule: str | None = None,
        overdue_at: datetime | None = None,
        selection: AlertFilter | None = None,
        export: str | None = None,
        reason: str | None = None,
    ) -> list[StoredAlert]:
        """Stored alerts in case and time order, filtered; the consultation is logged.

        `rule` is a rule id or a leading part of one (`D1`); `overdue_at` keeps only open
        or acknowledged alerts due before that time; `selection` says all of it and more
        (priority, time range, paging) instead. `export` names the format the alerts
        leave in (such as "csv"), for the log.
        """
        selection = selection or AlertFilter(
            case=case, status=status, rule=rule, overdue_at=overdue_at
        )
        with self._consulting(selection, export, reason) as session:
            return stored_alerts(session, selection)

    def alert_records(
        self,
        selection: AlertFilter,
        *,
        export: str | None = None,
        reason: str | None = None,
        peek: bool = False,
    ) -> list[AlertRecord]:
        """As `alerts`, as flat records: what listing and exporting many alerts needs. With
        `peek`, one alert past the page too (logged as the page asked for)."""
        with self._consulting(selection, export, reason) as session:
            return alert_records(session, selection, peek=peek)

    def summary(self, selection: AlertFilter, *, reason: str | None = None) -> Summary:
        """Counts of the stored cases, events and alerts `selection` asks for, and the alerts
        by rule, action, priority and status; the consultation is logged."""
        with self._consulting(selection, None, reason, operation="summary") as session:
            return summarise(session, selection)

    @contextmanager
    def _consulting(
        self,
        selection: AlertFilter,
        export: str | None,
        reason: str | None,
        *,
        operation: str | None = None,
    ) -> Iterator[Session]:
        """A transaction for reading what `selection` asks for, logged as a consultation of
        that: the filter, never the ids of what was found."""
        check_values(case_id=selection.case, rule_id=selection.rule)
        if operation is None:
            operation = "alerts list" if export is None else f"alerts export ({export})"
        self.check_reason("consultation", operation, reason)
        with self._transaction() as session:
            yield session
            audit.log(
                session,
                self.actor,
                "consultation",
                operation,
                case=selection.case,
                reason=reason,
                details=selection.described(),
            )

    def alert(self, alert_id: int, *, reason: str | None = None) -> StoredAlert:
        """One stored alert; the consultation is logged."""
        self.check_reason("consultation", "alert show", reason)
        with self._transaction() as session:
            row = self._alert_row(session, alert_id)
            audit.log(
                session,
                self.actor,
                "consultation",
                "alert show",
                case=row.case_id,
                alerts=[alert_id],
                reason=reason,
            )
            return stored_alert(row)

    def alert_basis(self, alert_id: int, *, reason: str | None = None) -> AlertBasis:
        """The alert with the rule files, history and clock of its case, to explain it;
        the consultation is logged as "explain"."""
        self.check_reason("consultation", "explain", reason)
        with self._transaction() as session:
            row = self._alert_row(session, alert_id)
            rule_set = session.get(RuleSetRow, row.rules_version)
            case = session.get(CaseRow, row.case_id)
            assert rule_set is not None and case is not None  # foreign keys
            basis = AlertBasis(
                alert=stored_alert(row),
                rule_files=tuple((item["name"], item["text"]) for item in rule_set.files),
                chronology=history_of(session, case),
                clock=case.clock,
                history=tuple(self._history(session, alert_id)),
            )
            audit.log(
                session,
                self.actor,
                "consultation",
                "explain",
                case=row.case_id,
                alerts=[alert_id],
                reason=reason,
            )
        return basis

    def history(self, alert_id: int) -> list[StatusChange]:
        """The alert's lifecycle, oldest first."""
        with self._transaction() as session:
            self._alert_row(session, alert_id)
            return self._history(session, alert_id)

    @staticmethod
    def _history(session: Session, alert_id: int) -> list[StatusChange]:
        rows = session.scalars(
            select(StatusChangeRow)
            .where(StatusChangeRow.alert_id == alert_id)
            .order_by(StatusChangeRow.id)
        )
        return [
            StatusChange(
                alert_id=row.alert_id, status=row.status, by=row.by, at=row.at, note=row.note
            )
            for row in rows
        ]

    def _alert_row(self, session: Session, alert_id: int) -> AlertRow:
        row = session.get(AlertRow, alert_id) if alert_id in ALERT_IDS else None
        if row is None:
            raise NotFoundError("alert", alert_id, f"no alert with id {alert_id} in this store")
        return row

    def rule_set(self, version: str) -> list[tuple[str, str]]:
        """The (name, text) of each file of a recorded rule-set version."""
        with self._transaction() as session:
            row = session.get(RuleSetRow, version)
            if row is None:
                raise NotFoundError(
                    "rule set",
                    version,
                    f"no rule-set version {version!r} is recorded in this store",
                )
            return [(item["name"], item["text"]) for item in row.files]

    def audit(
        self,
        *,
        case: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """Audit log entries, oldest first, optionally of one case, one actor, or since a time."""
        check_values(case_id=case, actor=actor)
        with self._transaction() as session:
            return audit.entries(session, case=case, actor=actor, since=since)

    # --- alteration: the alert lifecycle -------------------------------------------------

    def acknowledge(
        self, alert_id: int, *, note: str | None = None, reason: str | None = None
    ) -> StoredAlert:
        """Someone has seen the alert and owns it."""
        return self.move("acknowledge", [alert_id], note=note, reason=reason)[0]

    def resolve(self, alert_id: int, *, note: str, reason: str | None = None) -> StoredAlert:
        """The action was taken; `note` says what was done."""
        return self.move("resolve", [alert_id], note=note, reason=reason)[0]

    def dismiss(self, alert_id: int, *, note: str, reason: str | None = None) -> StoredAlert:
        """No action is needed; `note` says why."""
        return self.move("dismiss", [alert_id], note=note, reason=reason)[0]

    def move(
        self,
        move: Move,
        alert_ids: Sequence[int],
        *,
        note: str | None = None,
        reason: str | None = None,
    ) -> list[StoredAlert]:
        """Make the same move on every alert of `alert_ids`, all or none: in one
        transaction, so that an unknown id (`NotFoundError`) or an alert that cannot make
        the move (`LifecycleError`) leaves every alert as it was. Each move is logged."""
        target = TRANSITIONS[move][0]
        check_values(note=note)
        ids = list(dict.fromkeys(alert_ids))
        if move != "acknowledge" and not (note and note.strip()):
            raise LifecycleError(
                ids[0], None, target, f"alert {ids[0]}: say what was done or why, with a note"
            )
        self.check_reason("alteration", move, reason)
        with self._transaction() as session:
            return move_alerts(session, self.actor, move, ids, note=note, reason=reason)

    # --- erasure -----------------------------------------------------------------------

    def erase_case(self, case: str, *, reason: str) -> ErasureRecord:
        """Remove a case's events and alerts; only an erasure record and the audit log remain.

        Once the erasure is committed, the space the case held is reclaimed so that
        nothing of it stays readable: SQLite (which overwrites deleted content with
        zeros) checkpoints and empties its write-ahead log; PostgreSQL vacuums the
        tables the case was in (see `triggers.store.erasure`). Within a `batch`, that
        happens when the batch commits.
        """
        check_values(case_id=case, reason=reason)
        if not reason.strip():
            raise ReasonRequiredError("case erase", "erasure", "erasing a case needs a reason")
        with self._transaction() as session:
            record = delete_case(session, self.actor, case, reason)
        if self._batch is None:
            reclaim(self._engine, self.url, self._url)
        else:
            self._erased_in_batch = True
        return record

    def erasures(self) -> list[ErasureRecord]:
        """Every erasure record, oldest first."""
        with self._transaction() as session:
            rows = session.scalars(select(ErasureRow).order_by(ErasureRow.id))
            return [erasure_record(row) for row in rows]

    # --- plain reads ---------------------------------------------------------------------

    def cases(self) -> list[str]:
        """Ids of the stored cases, sorted."""
        with self._transaction() as session:
            return list(session.scalars(select(CaseRow.id).order_by(CaseRow.id)))

    def events(self, case: str) -> list[Event]:
        """A case's stored events, in event order."""
        check_values(case_id=case)
        with self._transaction() as session:
            rows = session.scalars(
                select(EventRow)
                .where(EventRow.case_id == case)
                .order_by(EventRow.at, EventRow.position)
            )
            return [stored_event(row.payload) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many cases, events, alerts and audit entries are stored."""
        with self._transaction() as session:
            return {
                name: session.scalar(select(func.count()).select_from(table)) or 0
                for name, table in (
                    ("cases", CaseRow),
                    ("events", EventRow),
                    ("alerts", AlertRow),
                    ("audit", AuditRow),
                )
            }
