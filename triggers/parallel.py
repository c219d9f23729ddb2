"""Replaying many chronology files in worker processes, with crash isolation.

Each worker is a process of its own with one long-lived engine (durable_rules'
host never stops its threads and cannot unregister a rule set, so it is reused for
every file the worker replays). A worker reads, validates and replays one file at a
time and sends the cases back; the caller gets the outcomes in file order, so the
one writer that stores them writes in a deterministic order whatever the workers'
speed. A worker that dies (a segmentation fault, out of memory) loses nothing: the
file it was replaying is tried once more in a fresh process, then reported as
failed, naming the case it died on; every other file completes.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from triggers.engine import CaseResult, Engine
from triggers.errors import EngineError, TriggersError
from triggers.mapping import ColumnMapping
from triggers.models.alerts import Alert
from triggers.models.chronology import Chronology
from triggers.reading import load_cases
from triggers.rules.compiled import CompiledRuleSet
from triggers.rules.loader import rules_from_texts

__all__ = ["ABORT_ENV", "FileReplay", "abort_if_asked", "replay_files"]

#: Test-only fault hook: a worker about to replay the case named here aborts
#: (`os.abort()`), as a crash inside the rule engine would. `CASE@PATH` aborts only
#: while PATH does not exist, and creates it: the first attempt dies, the retry lives.
ABORT_ENV = "TRIGGERS_TEST_ABORT_CASE"
#: How many files may be handed out beyond the next one to be returned, per worker:
#: bounds the outcomes held back to keep file order.
_AHEAD = 4
#: Files queued in each worker's pipe: the next one is there when it finishes the
#: current one, while this process is busy storing.
_QUEUED = 2


@dataclass(frozen=True)
class FileReplay:
    """One file replayed: its cases' results, and why it failed (`error`): then the
    results are empty, unless only some of a CSV file's rows were left out."""

    file: str
    results: tuple[CaseResult, ...] = ()
    error: TriggersError | None = None


def abort_if_asked(case: str, setting: str | None) -> None:
    """The fault hook: abort if `setting` (`ABORT_ENV`'s value) names `case`."""
    if not setting:
        return
    name, _, marker = setting.partition("@")
    if name != case:
        return
    if marker:
        if Path(marker).exists():
            return
        Path(marker).touch()
    os.abort()


def _replay_file(
    engine: Engine, file: str, until: datetime | None, mapping: ColumnMapping | None, announce: Any
) -> tuple[list[tuple[Chronology, tuple[Alert, ...]]], TriggersError | None]:
    cases = []
    loaded = load_cases(file, mapping)
    for chronology in loaded.chronologies:
        announce(chronology.case)
        abort_if_asked(chronology.case, os.environ.get(ABORT_ENV))
        cases.append((chronology, engine.replay(chronology, until).alerts))
    return cases, loaded.skipped


def _work(
    connection: Connection, rule_files: Sequence[tuple[str, str]], mapping: ColumnMapping | None
) -> None:
    """A worker: one engine, then files (CSV read through `mapping`) until told to stop."""
    engine = Engine(rules_from_texts(rule_files))
    gc.freeze()  # as the command's own process does (`triggers.cli.app.main`)
    while True:
        task = connection.recv()
        if task is None:
            return
        index, file, until = task
        try:
            cases = _replay_file(
                engine,
                file,
                until,
                mapping,
                lambda case, at=index: connection.send(("case", at, case)),
            )
        except TriggersError as error:
            connection.send(("error", index, error))
        else:
            connection.send(("done", index, cases))


class _Worker:
    """A worker process, the connection to it, and the files it has been given (the
    first is the one it is replaying, the others wait in its pipe)."""

    def __init__(
        self, rule_files: Sequence[tuple[str, str]], mapping: ColumnMapping | None
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_work, args=(theirs, rule_files, mapping), daemon=True
        )
        self.process.start()
        theirs.close()
        self.tasks: deque[int] = deque()
        #: The case of the first task it has begun, if it has said so.
        self.case: str | None = None

    @property
    def busy(self) -> bool:
        """Whether it has files to replay."""
        return bool(self.tasks)

    def give(self, index: int, file: str, until: datetime | None) -> bool:
        """Hand the worker a file; False if it has died (the file is not taken)."""
        try:
            self.connection.send((index, file, until))
        except OSError:
            return False
        self.tasks.append(index)
        return True

    def stop(self) -> None:
        """Let an idle worker finish; a busy one (we are stopping early) is killed."""
        if not self.tasks and self.process.is_alive():
            with contextlib.suppress(OSError):  # it may die between the check and the send
                self.connection.send(None)
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


def _outcome(
    file: str, message: tuple[str, int, Any], rules: CompiledRuleSet, until: datetime | None
) -> FileReplay:
    kind, _, payload = message
    if kind == "error":
        return FileReplay(file, error=payload)
    cases, skipped = payload
    results = tuple(
        CaseResult(chronology, rules.version, alerts, rules, until) for chronology, alerts in cases
    )
    return FileReplay(file, results, skipped)


def replay_files(
    files: Sequence[str],
    rules: CompiledRuleSet,
    *,
    until: datetime | None = None,
    workers: int = 1,
    mapping: ColumnMapping | None = None,
) -> Iterator[FileReplay]:
    """Replay each file's cases with `rules`; yields one outcome per file, in file order.

    With one worker, or one file, the files are replayed here, in this process. With
    more, each worker process compiles the same rule files (the same version) and
    replays one file at a time. CSV files' headers are read through `mapping`; their
    bad rows are left out, and reported as the file's `error`.
    """
    if min(workers, len(files)) <= 1:
        engine = Engine(rules)
        for file in files:
            try:
                loaded = load_cases(file, mapping)
                results = tuple(engine.replay(case, until) for case in loaded.chronologies)
                yield FileReplay(file, results, loaded.skipped)
            except TriggersError as error:
                yield FileReplay(file, error=error)
        return
    yield from _Pool(files, rules, until, workers, mapping).run()


class _Pool:
    """Worker processes handing back outcomes in file order, each crash retried once."""

    def __init__(
        self,
        files: Sequence[str],
        rules: CompiledRuleSet,
        until: datetime | None,
        workers: int,
        mapping: ColumnMapping | None,
    ) -> None:
        self.files = files
        self.rules = rules
        self.until = until
        self.mapping = mapping
        self.rule_files = tuple(zip(rules.files, rules.texts, strict=True))
        self.size = min(workers, len(files)) or 1
        self.pending: deque[int] = deque(range(len(files)))
        self.retried: set[int] = set()
        self.done: dict[int, FileReplay] = {}

    def run(self) -> Iterator[FileReplay]:
        workers = [_Worker(self.rule_files, self.mapping) for _ in range(self.size)]
        following = 0
        try:
            while following < len(self.files):
                workers = [self._hand_out(worker, following) for worker in workers]
                workers = self._collect(workers)
                while following in self.done:
                    yield self.done.pop(following)
                    following += 1
        finally:
            for worker in workers:
                worker.stop()

    def _hand_out(self, worker: _Worker, following: int) -> _Worker:
        """Give a worker with room in its queue the next file within the window; a worker
        that died idle (out of memory, say) is replaced, and loses nothing."""
        if len(worker.tasks) >= _QUEUED or not self.pending:
            return worker
        if self.pending[0] >= following + _AHEAD * self.size:
            return worker
        index = self.pending.popleft()
        if worker.process.is_alive() and worker.give(index, self.files[index], self.until):
            return self._hand_out(worker, following)
        self.pending.appendleft(index)
        if worker.tasks:
            return worker  # it died busy: its sentinel says so, and `_collect` sees to it
        worker.stop()
        return _Worker(self.rule_files, self.mapping)

    def _collect(self, workers: list[_Worker]) -> list[_Worker]:
        """Wait for a message or a death; returns the workers, dead ones replaced."""
        busy = [w for w in workers if w.busy]
        if not busy:
            return workers
        ready = wait([w.connection for w in busy] + [w.process.sentinel for w in busy])
        replaced = []
        for worker in workers:
            if worker.busy and worker.connection in ready:
                self._receive(worker)
            if worker.busy and worker.process.sentinel in ready:
                # What it sent before it died still counts; then the pipe is closed.
                while worker.busy and worker.connection.poll():
                    if not self._receive(worker):
                        break
                if worker.busy:
                    self._died(worker)
                worker.stop()
                replaced.append(_Worker(self.rule_files, self.mapping))
            else:
                replaced.append(worker)
        return replaced

    def _receive(self, worker: _Worker) -> bool:
        """Take one message from the worker; False when there is none (it has died)."""
        try:
            message = worker.connection.recv()
        except (EOFError, OSError):
            return False  # it died; its sentinel says so
        index = worker.tasks[0]
        if message[0] == "case":
            worker.case = message[2]
            return True
        self.done[index] = _outcome(self.files[index], message, self.rules, self.until)
        worker.tasks.popleft()
        worker.case = None
        return True

    def _died(self, worker: _Worker) -> None:
        """The first of its files is the one it died on; the others, never begun, go back
        to the front of the queue as they were."""
        index = worker.tasks.popleft()
        self.pending.extendleft(reversed(worker.tasks))
        worker.tasks.clear()
        file, code = self.files[index], worker.process.exitcode
        if index not in self.retried:
            self.retried.add(index)
            self.pending.appendleft(index)
        else:
            where = f"case {worker.case!r} of {file}" if worker.case else file
            self.done[index] = FileReplay(
                file,
                error=EngineError(
                    f"{file}: the worker replaying {where} died (exit status {code});"
                    " it died again when retried in a fresh process"
                ),
            )
        worker.case = None
