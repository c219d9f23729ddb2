"""The boundary between the replay loop and the rule engine that matches patterns.

The replay loop (`triggers.engine.replay`) owns event time: the order of events,
the case state, deadlines, counting, alerts. A backend only answers, for one case
at a time, which rules an event, a tally or the clock completes. Any engine that
implements `Backend` can be plugged into `Engine` without touching the rules or
the replay loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from triggers.rules.compiled import CompiledRuleSet
from triggers.rules.loader import read_rules

__all__ = [
    "Backend",
    "CaseSession",
    "EventInput",
    "LoadedRules",
    "Match",
    "default_backend",
    "load_rules",
]


@dataclass(frozen=True)
class EventInput:
    """An event as a backend sees it: where it stands in event order and what rules test."""

    id: str
    type: str
    at: datetime
    #: Its place in the case's event order, from 1 (see `semantics.event_order`).
    seq: int
    #: The event's values as rules see them, with the direction of each compared value.
    values: Mapping[str, Any]
    #: The case state as it stood just before the event's moment (sets as tuples).
    state: Mapping[str, Any]


@dataclass(frozen=True)
class Match:
    """A rule whose conditions something completed.

    `trigger` is the event the rule fired on (for a count, the event whose tally was
    judged); `other` the earlier event an `after` rule found. `counts` means only that
    the event is one a count rule counts: the replay loop tallies it and asks again.
    """

    rule: str
    trigger: str
    other: str | None = None
    counts: bool = False


class CaseSession(Protocol):
    """One case's evaluation in a backend; the replay loop calls it in event time."""

    def event(self, event: EventInput) -> Sequence[Match]:
        """An event happened: the rules it completes, as trigger or as the other event."""
        ...

    def tally(
        self, rule: str, count: int, trigger: EventInput, state: Mapping[str, Any]
    ) -> Sequence[Match]:
        """A count rule's events number `count` up to `trigger`: does the rule fire?"""
        ...

    def clock(self, now: datetime) -> Sequence[Match]:
        """Event time reached `now`: the `absent` rules whose deadline it completes."""
        ...


class LoadedRules(Protocol):
    """A rule set as a backend runs it."""

    def case(self, case: str) -> AbstractContextManager[CaseSession]:
        """A session for one case; everything about the case is forgotten when it closes."""
        ...


class Backend(Protocol):
    """A rule engine that evaluates compiled rule sets."""

    def check(self, rules: CompiledRuleSet) -> None:
        """Raise `RuleFileError`, with each problem at its rule, if this engine cannot run
        `rules` (its own limits)."""
        ...

    def load(self, rules: CompiledRuleSet) -> LoadedRules:
        """Check and prepare `rules` (once per rule-set version)."""
        ...


def default_backend() -> Backend:
    """The engine risk-triggers runs on unless told otherwise."""
    # Imported here: the adapter itself depends on this module's types.
    from triggers.engine.durable import DurableBackend  # noqa: PLC0415

    return DurableBackend()


def load_rules(path: str | Path | None = None, backend: Backend | None = None) -> CompiledRuleSet:
    """Read, check and compile the rules at `path` (default: the shipped rule set), and
    check that the engine (`backend`, default: `default_backend()`) can run them.

    Raises `RuleFileError` listing every problem in every file, each at its line.
    """
    rules = read_rules(path)
    (backend or default_backend()).check(rules)
    return rules
