"""Counts in event time, linear in the events a window holds.

A count rule keeps a sliding tally: its counted events in event order, split by
the values of its `same:` fields, with a count of each `distinct:` value. Events
that fall out of the window leave from the front, so each event is added once and
removed once however many the window holds. The events one tally counted are a
run of one group's ids (`Counted`), made into a tuple only for an alert that is
kept: most of a busy count's alerts are throttled. A count's `unless:` looks up
the times of the events that would cancel it, by their `same:` values.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from datetime import datetime
from typing import Any

from triggers.engine.semantics import event_values
from triggers.models.events import Event
from triggers.rules.compiled import CompiledCount, CompiledRelation, holds

__all__ = ["Cancellers", "Counted", "Tally"]


class Counted:
    """The events one tally counted, in event order: `ids[start:end]` of one group.

    Groups only grow, so the run stays what it was when counted. It compares as the
    tuple of its ids would (alerts are ordered by them), without making the tuple:
    two runs differ at their first id unless they are the same group's from the same
    start, and then the shorter comes first.
    """

    __slots__ = ("_end", "_ids", "_start")

    def __init__(self, ids: list[str], start: int, end: int) -> None:
        self._ids = ids
        self._start = start
        self._end = end

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def first(self) -> str:
        """The id of the earliest event counted."""
        return self._ids[self._start]

    def ids(self) -> tuple[str, ...]:
        """The ids counted, in event order (the trigger last)."""
        return tuple(self._ids[self._start : self._end])

    def _compare(self, other: Counted) -> int:
        if other._ids is self._ids and other._start == self._start:
            return (len(self) > len(other)) - (len(self) < len(other))
        for index in range(min(len(self), len(other))):
            mine, theirs = self._ids[self._start + index], other._ids[other._start + index]
            if mine != theirs:
                return -1 if mine < theirs else 1
        return (len(self) > len(other)) - (len(self) < len(other))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Counted):
            return self._compare(other) == 0
        return NotImplemented

    def __lt__(self, other: Counted) -> bool:
        return self._compare(other) < 0

    __hash__ = None  # type: ignore[assignment]  # ordered, never a key

    def __repr__(self) -> str:
        return f"Counted({self.ids()!r})"


class _Group:
    """The counted events that share a count's `same:` values, oldest first from `head`."""

    __slots__ = ("distinct", "head", "ids", "values")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.values: list[Hashable] = []
        self.head = 0
        # How many live events hold each `distinct:` value.
        self.distinct: dict[Hashable, int] = {}

    def add(self, event_id: str, value: Hashable) -> None:
        self.ids.append(event_id)
        self.values.append(value)
        self.distinct[value] = self.distinct.get(value, 0) + 1

    def drop(self) -> None:
        """The oldest event leaves the window."""
        value = self.values[self.head]
        self.head += 1
        left = self.distinct[value] - 1
        if left:
            self.distinct[value] = left
        else:
            del self.distinct[value]


class Tally:
    """One count rule's events within its window, as each new one is counted."""

    def __init__(self, count: CompiledCount) -> None:
        self.count = count
        # Every live event's time and group, in event order: the window's front.
        self._order: deque[tuple[datetime, _Group]] = deque()
        self._groups: dict[tuple[Hashable, ...], _Group] = {}

    def add(self, event_id: str, at: datetime, values: Mapping[str, Any]) -> tuple[int, Counted]:
        """Count an event (the latest in event order): how many the rule counts up to it,
        and which events (those of its group still in the window)."""
        count = self.count
        start = count.window.before(at)
        while self._order and self._order[0][0] < start:
            self._order.popleft()[1].drop()
        key = tuple(values.get(name) for name in count.same)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
        distinct = None if count.distinct is None else values.get(count.distinct)
        group.add(event_id, distinct)
        self._order.append((at, group))
        counted = Counted(group.ids, group.head, len(group.ids))
        if count.distinct is None:
            return len(counted), counted
        return len(group.distinct) - (None in group.distinct), counted


class Cancellers:
    """The events that would cancel counts (`unless:`), found by time and `same:` values."""

    def __init__(self, events: Iterable[Event]) -> None:
        self._events = list(events)  # in event order
        # Per count rule: the times of its `unless` events, by their `same:` values.
        self._times: dict[str, dict[tuple[Hashable, ...], list[datetime]]] = {}

    def cancelled(
        self,
        rule: str,
        unless: CompiledRelation,
        start: datetime,
        end: datetime,
        trigger: Mapping[str, Any],
    ) -> bool:
        """Whether an event of `rule`'s `unless` lies from `start` to `end`, both included, with the
        trigger's values in its `same:` fields (judged on the whole case: the trigger's
        moment may hold one later in event order, and it still cancels)."""
        key = tuple(trigger.get(ours) for _, ours in unless.same)
        if None in key:
            return False  # an unrecorded value is equal to nothing
        times = self._index(rule, unless).get(key, [])
        index = bisect.bisect_left(times, start)
        return index < len(times) and times[index] <= end

    def _index(
        self, rule: str, unless: CompiledRelation
    ) -> dict[tuple[Hashable, ...], list[datetime]]:
        found = self._times.get(rule)
        if found is None:
            found = self._times[rule] = {}
            for event in self._events:
                if event.type not in unless.event_types:
                    continue
                values = event_values(event)
                if not holds(unless.condition, {"event": values}):
                    continue
                key = tuple(values.get(theirs) for theirs, _ in unless.same)
                if None not in key:
                    found.setdefault(key, []).append(event.at)
        return found
