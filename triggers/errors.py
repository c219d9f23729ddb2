"""The exception hierarchy: everything risk-triggers raises derives from `TriggersError`.

TriggersError
├── InputError            bad input, each problem with file, line, column and key path
│   ├── ChronologyError   a chronology file (YAML, JSON, JSONL) or event data
│   ├── RuleFileError     a rule file or rule set
│   └── RuleTestError     a rule test file (*.test.yaml)
├── EngineError           the rule engine failed
│   └── ActionError       a rule's action raised while being carried out
├── ClusterError          a Dask cluster could not be used: Dask missing, unreachable, lost
├── ReportError           a report could not be made: matplotlib missing, output unwritable
└── StoreError            the store could not be read or written
    ├── SchemaError       the database's schema is older or newer than this code
    ├── AuditLogError     the audit log lost a guard trigger, or its hash chain is broken
    ├── NotFoundError     no such alert, case or rule-set version in the store
    ├── LifecycleError    an alert cannot make that move (e.g. resolving a dismissed one)
    └── ReasonRequiredError  the deployment requires a justification that was not given
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from triggers.limits import MAX_SUGGESTED_LENGTH

__all__ = [
    "ActionError",
    "AuditLogError",
    "ChronologyError",
    "ClusterError",
    "EngineError",
    "InputError",
    "LifecycleError",
    "NotFoundError",
    "Problem",
    "ReasonRequiredError",
    "ReportError",
    "RuleFileError",
    "RuleTestError",
    "SchemaError",
    "StoreError",
    "TriggersError",
    "shown",
    "suggest",
]


class TriggersError(Exception):
    """Root of every error raised by risk-triggers.

    `exit_code` is the status the `triggers` command exits with when the error ends
    it: 1 for bad rules or data and for store failures (2, bad usage, is click's).
    """

    exit_code: int = 1

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its attributes, whatever its constructor takes: errors cross
        # from worker processes to the one that reports them.
        return _rebuild, (type(self), self.args, self.__dict__)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as the input allows."""

    file: str
    location: str
    message: str
    line: int | None = None
    column: int | None = None
    suggestion: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = (
            f"{where}: {self.location}: {self.message}"
            if self.location
            else f"{where}: {self.message}"
        )
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        return text


class InputError(TriggersError):
    """An input file is wrong; carries every problem found in it, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("an InputError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def files(self) -> tuple[str, ...]:
        """The files the problems are in, in first-seen order."""
        return tuple(dict.fromkeys(p.file for p in self.problems))


class ChronologyError(InputError):
    """A chronology file or event could not be read or is not valid."""


class RuleFileError(InputError):
    """A rule file or rule set could not be read or is not valid."""


class RuleTestError(InputError):
    """A rule test file could not be read or is not valid."""


class EngineError(TriggersError):
    """The rule engine failed while evaluating a case."""


class ActionError(EngineError):
    """A rule's action raised an exception; the case's results are incomplete and discarded."""


class ClusterError(TriggersError):
    """A Dask cluster could not be used: Dask is not installed, or the scheduler at
    `address` could not be reached, had no workers, or was lost during the run."""

    def __init__(self, message: str, address: str) -> None:
        super().__init__(message)
        self.address = address


class ReportError(TriggersError):
    """A timeline report could not be made: the optional library a picture needs is not
    installed (`extra` names the extra that brings it), or the output file `path` could
    not be written."""

    def __init__(self, message: str, *, path: str | None = None, extra: str | None = None):
        super().__init__(message)
        self.path = path
        self.extra = extra


class StoreError(TriggersError):
    """The store could not be opened, read or written."""


def _rebuild(
    cls: type[TriggersError], args: tuple[Any, ...], attributes: dict[str, Any]
) -> TriggersError:
    """A pickled error, rebuilt without calling its constructor."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(attributes)
    return error


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to a misspelt `word`, if one is close enough.

    Only words up to `MAX_SUGGESTED_LENGTH` characters are compared: matching takes
    time that grows with the square of the word's length.
    """
    if len(word) > MAX_SUGGESTED_LENGTH:
        return None
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def shown(value: object, limit: int = 60) -> str:
    """`value`'s repr for a message, cut short: input may be megabytes long or, through
    YAML aliases, a structure that would print as far more."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    return _SHORT.repr(value)


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 3
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 60


class SchemaError(StoreError):
    """The database's schema is older or newer than this version of risk-triggers."""


class AuditLogError(StoreError):
    """The audit log is not as risk-triggers keeps it.

    Either a trigger that keeps it append-only is missing, altered or disabled
    (`entry` is None), or its hash chain is broken at entry `entry`, the first whose
    content or link to the entry before it is not what was written.
    """

    def __init__(self, message: str, entry: int | None = None) -> None:
        super().__init__(message)
        self.entry = entry


class NotFoundError(StoreError):
    """No such alert, case or rule-set version in the store.

    `kind` says which ("alert", "case", "rule set") and `key` which one was asked for.
    """

    def __init__(self, kind: str, key: object, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.key = key


class LifecycleError(StoreError):
    """An alert cannot make the requested move in its lifecycle.

    `alert_id` is the alert, `from_status` where it stands (None when the move is
    refused before the alert is read) and `to_status` where it was asked to go.
    """

    def __init__(
        self, alert_id: int, from_status: str | None, to_status: str, message: str
    ) -> None:
        super().__init__(message)
        self.alert_id = alert_id
        self.from_status = from_status
        self.to_status = to_status


class ReasonRequiredError(StoreError):
    """The deployment requires a justification for this operation and none was given.

    `operation` is what was attempted (as the audit log names it), `activity` the kind
    of processing that needs a justification, and `setting` the environment variable
    that requires it (None when the operation always needs one, as an erasure does).
    """

    def __init__(
        self, operation: str, activity: str, message: str, setting: str | None = None
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.activity = activity
        self.setting = setting
