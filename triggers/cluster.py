"""Replaying a corpus on a Dask distributed cluster, when one machine is outgrown.

The same contract as `triggers.parallel.replay_files`: one outcome per file, in file
order, for the one writer that stores them. This process (the client) reads each
file and sends its text, with its name, to the cluster: the workers need no shared
filesystem, only the same version of risk-triggers. Files go in batches (one task a
batch, to spread the cost of a task), and only a few batches are in flight at a
time, so memory stays flat however large the corpus. Each worker process keeps one
engine per rule-set version (durable_rules' host is made once a process and reused),
compiled from the rule texts that come with each task (a few kilobytes; a scattered
copy would be lost with the workers that held it).

A worker that dies (killed, out of memory, a crash in the engine) loses nothing: the
scheduler may run its task again (its `allowed-failures`, 3 by default, is the
cluster's to set); once the scheduler gives up, each file of the batch is tried
once more on its own, alone on the cluster (a dying worker fails every task it
holds, the innocent with the guilty), and a file that fails again is reported by
name, as an `EngineError`, while every other file completes. Whatever goes wrong with the
cluster itself (unreachable, lost, Dask missing) is a `ClusterError`.

Dask is an optional extra (`pip install 'risk-triggers[cluster]'`), imported only
when a cluster is used.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triggers.engine import CaseResult, Engine
from triggers.errors import ChronologyError, ClusterError, EngineError, TriggersError
from triggers.mapping import ColumnMapping
from triggers.models.alerts import Alert
from triggers.models.chronology import Chronology
from triggers.parallel import ABORT_ENV, FileReplay, abort_if_asked
from triggers.reading import load_chronologies, parse_cases
from triggers.rules.compiled import CompiledRuleSet
from triggers.rules.loader import rules_from_texts

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["CLUSTER_ENV", "INSTALL_HINT", "replay_on_cluster"]

#: The scheduler's address when `--cluster` is not given.
CLUSTER_ENV = "TRIGGERS_CLUSTER"
INSTALL_HINT = "pip install 'risk-triggers[cluster]'"
#: Seconds to wait for the scheduler to answer, and for a first worker to join it.
CONNECT_TIMEOUT = 10.0
WORKERS_TIMEOUT = 60.0
#: Most files a task; tasks in flight per worker thread.
_MAX_BATCH = 32
_IN_FLIGHT = 2

#: (file index, file name, its text); what a task sends back for each of them.
_Item = tuple[int, str, str]
_Outcome = tuple[int, str, Any]


# --- On the workers ---------------------------------------------------------------

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine(version: str, rule_files: Sequence[tuple[str, str]]) -> Engine:
    """This worker process's engine for a rule-set version, compiled on first use."""
    with _engines_lock:
        engine = _engines.get(version)
        if engine is None:
            rules = rules_from_texts(rule_files)
            if rules.version != version:
                raise EngineError(
                    f"the rules compile to version {rules.version} on the worker and to"
                    f" {version} on the client: install the same version of risk-triggers"
                    " on both"
                )
            engine = _engines[version] = Engine(rules)
        return engine


def _replay_batch(
    version: str,
    rule_files: Sequence[tuple[str, str]],
    items: Sequence[_Item],
    until: datetime | None,
    abort: str | None,
    *,
    mapping: ColumnMapping | None = None,
) -> list[_Outcome]:
    """A task: replay each file's text; ("done", cases) or ("error", TriggersError) each."""
    try:
        engine = _engine(version, rule_files)
    except TriggersError as error:
        return [(index, "error", error) for index, _, _ in items]
    outcomes: list[_Outcome] = []
    for index, file, text in items:
        try:
            cases: list[tuple[Chronology, tuple[Alert, ...]]] = []
            loaded = parse_cases(text, file, mapping=mapping)
            for chronology in loaded.chronologies:
                # The setting travels with the task: a cluster's worker does not
                # inherit the client's environment.
                abort_if_asked(chronology.case, abort)
                cases.append((chronology, engine.replay(chronology, until).alerts))
        except TriggersError as error:
            outcomes.append((index, "error", error))
        else:
            outcomes.append((index, "done", (cases, loaded.skipped)))
    return outcomes


# --- On the client ----------------------------------------------------------------


def _read(file: str) -> str | ChronologyError:
    """A file's text, or the error reading it gives (as `load_chronologies` words it)."""
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        try:
            load_chronologies(file)
        except ChronologyError as error:
            return error
        return Path(file).read_text(encoding="utf-8")  # readable a moment later after all


def _require_dask(address: str) -> None:
    try:
        import distributed  # noqa: F401, PLC0415 -- an optional extra, loaded on use
    except ImportError:
        raise ClusterError(
            f"replaying on a Dask cluster (--cluster) needs Dask: {INSTALL_HINT}", address
        ) from None


def _connect(address: str, timeout: float) -> Client:
    from distributed import Client  # noqa: PLC0415 -- see _require_dask
    from distributed.comm.addressing import parse_address, parse_host_port  # noqa: PLC0415
    from distributed.comm.registry import get_backend  # noqa: PLC0415

    try:  # checked first: a Client that fails on its address hangs when collected
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except (ValueError, TypeError) as error:
        raise ClusterError(
            f"{address!r} is not a Dask scheduler address (tcp://HOST:PORT): {error}", address
        ) from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as error:  # any failure to connect: a bad address, refused, timed out
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address}: {error}", address
        ) from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except Exception:
        client.close()
        raise ClusterError(
            f"no Dask worker joined the scheduler at {address} within {WORKERS_TIMEOUT:.0f} s",
            address,
        ) from None
    return client


@dataclass(frozen=True)
class _Batch:
    """Files sent as one task; `retry` when they are being tried a second time."""

    indexes: tuple[int, ...]
    retry: bool = False


def replay_on_cluster(
    files: Sequence[str],
    rules: CompiledRuleSet,
    *,
    address: str,
    until: datetime | None = None,
    batch: int | None = None,
    timeout: float | None = None,
    mapping: ColumnMapping | None = None,
) -> Iterator[FileReplay]:
    """Replay each file's cases with `rules` on the Dask cluster whose scheduler is at
    `address`; yields one outcome per file, in file order (as `replay_files` does).

    `batch` is how many files a task replays (default: by the corpus and the cluster's
    size, at most 32); `timeout` how long to wait for the scheduler (default 10 s).
    CSV files' headers are read through `mapping`.
    Raises `ClusterError` if Dask is not installed or the cluster cannot be reached or
    is lost.
    """
    if not files:
        return
    _require_dask(address)
    with _quiet():
        client = _connect(address, CONNECT_TIMEOUT if timeout is None else timeout)
        try:
            yield from _Run(
                client=client,
                address=address,
                files=files,
                rules=rules,
                until=until,
                batch=batch,
                mapping=mapping,
            ).run()
        finally:
            with contextlib.suppress(Exception):  # a lost scheduler has been reported already
                client.close()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Dask's own logging silenced on the client while it replays: what goes wrong is
    reported as a `ClusterError` (or a file's `EngineError`), not as Dask's tracebacks."""
    loggers = [logging.getLogger("distributed")] + [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.startswith("distributed.") and logging.getLogger(name).level != logging.NOTSET
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class _Run:
    """One replay on the cluster: batches in flight, outcomes held back for file order."""

    def __init__(
        self,
        *,
        client: Client,
        address: str,
        files: Sequence[str],
        rules: CompiledRuleSet,
        until: datetime | None,
        batch: int | None,
        mapping: ColumnMapping | None,
    ) -> None:
        self.client = client
        self.mapping = mapping
        self.address = address
        self.files = files
        self.rules = rules
        self.until = until
        self.rule_files = tuple(zip(rules.files, rules.texts, strict=True))
        self.abort = os.environ.get(ABORT_ENV) or None
        threads = max(1, sum(client.nthreads().values()))
        self.size = (
            max(1, batch)
            if batch
            else max(1, min(_MAX_BATCH, math.ceil(len(files) / (threads * 8))))
        )
        self.in_flight = threads * _IN_FLIGHT
        self.ahead = self.in_flight * self.size * 2
        self.next = 0  # the first file not yet sent
        self.retries: deque[_Batch] = deque()
        self.texts: dict[int, str] = {}  # the files in flight, kept for a retry
        self.done: dict[int, FileReplay] = {}
        self.token = uuid.uuid4().hex
        self.keys = itertools.count()

    def run(self) -> Iterator[FileReplay]:
        from distributed import CancelledError, as_completed  # noqa: PLC0415 -- see _require_dask

        running: dict[Future[list[_Outcome]], _Batch] = {}
        completed = as_completed(loop=self.client.loop)
        following = 0
        try:
            while following < len(self.files):
                try:
                    for future, batch in self._send(following, len(running)):
                        running[future] = batch
                        completed.add(future)
                    if running:
                        future = next(completed)
                        self._receive(future, running.pop(future))
                        future.release()
                except (OSError, TimeoutError, CancelledError) as error:  # the connection
                    raise ClusterError(
                        f"lost the Dask scheduler at {self.address}: {type(error).__name__}:"
                        f" {error}",
                        self.address,
                    ) from None
                while following in self.done:
                    yield self.done.pop(following)
                    self.texts.pop(following, None)
                    following += 1
        finally:
            for future in running:
                with contextlib.suppress(Exception):
                    future.release()

    def _send(self, following: int, running: int) -> list[tuple[Future[list[_Outcome]], _Batch]]:
        """The next tasks: a retry alone on the cluster once nothing else is in flight (a
        dying worker fails every task it holds, so a file that fails again alone failed
        of itself); otherwise new batches within the window. Files that cannot be read
        are done at once."""
        if self.retries:
            if running:
                return []
            batch = self.retries.popleft()
            return [(self._submit(batch), batch)]
        sent: list[tuple[Future[list[_Outcome]], _Batch]] = []
        while (
            self.next < len(self.files)
            and running + len(sent) < self.in_flight
            and self.next < following + self.ahead
        ):
            indexes = []
            for index in range(self.next, min(self.next + self.size, len(self.files))):
                text = _read(self.files[index])
                if isinstance(text, ChronologyError):
                    self.done[index] = FileReplay(self.files[index], error=text)
                else:
                    self.texts[index] = text
                    indexes.append(index)
            self.next += self.size
            if indexes:
                batch = _Batch(tuple(indexes))
                sent.append((self._submit(batch), batch))
        return sent

    def _submit(self, batch: _Batch) -> Future[list[_Outcome]]:
        items = [(index, self.files[index], self.texts[index]) for index in batch.indexes]
        return self.client.submit(
            _replay_batch,
            self.rules.version,
            self.rule_files,
            items,
            self.until,
            self.abort,
            mapping=self.mapping,
            key=f"triggers-replay-{self.token}-{next(self.keys)}",
            pure=False,
        )

    def _receive(self, future: Future[list[_Outcome]], batch: _Batch) -> None:
        from distributed import CancelledError  # noqa: PLC0415 -- see _require_dask

        try:
            outcomes = future.result()
        except CancelledError:  # the scheduler is gone (or forgot the task)
            raise ClusterError(
                f"lost the Dask scheduler at {self.address} while replaying"
                f" {self.files[batch.indexes[0]]}",
                self.address,
            ) from None
        except Exception as failure:  # the worker died (KilledWorker), or the task failed
            if not batch.retry:
                self.retries.extend(_Batch((index,), retry=True) for index in batch.indexes)
                return
            (index,) = batch.indexes
            self.done[index] = FileReplay(self.files[index], error=self._failed(index, failure))
            return
        for index, kind, payload in outcomes:
            self.done[index] = self._outcome(index, kind, payload)

    def _outcome(self, index: int, kind: str, payload: Any) -> FileReplay:
        file = self.files[index]
        if kind == "error":
            return FileReplay(file, error=payload)
        cases, skipped = payload
        return FileReplay(
            file,
            tuple(
                CaseResult(chronology, self.rules.version, alerts, self.rules, self.until)
                for chronology, alerts in cases
            ),
            skipped,
        )

    def _failed(self, index: int, failure: BaseException | None) -> EngineError:
        """The error for a file whose task failed twice, naming its case if it has one."""
        file = self.files[index]
        try:
            cases = [c.case for c in parse_cases(self.texts[index], file, mapping=self.mapping)[0]]
        except TriggersError:
            cases = []
        where = (
            f"case {cases[0]!r} of {file}"
            if len(cases) == 1
            else f"one of the {len(cases)} cases of {file}"
            if cases
            else file
        )
        from distributed import KilledWorker  # noqa: PLC0415 -- see _require_dask

        if isinstance(failure, KilledWorker):
            return EngineError(
                f"{file}: the worker replaying {where} died (on the Dask cluster at"
                f" {self.address}); it died again when retried"
            )
        return EngineError(
            f"{file}: replaying {where} on the Dask cluster at {self.address} failed"
            f" ({type(failure).__name__}: {failure}); it failed again when retried"
        )
