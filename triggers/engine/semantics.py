"""What the rules' words mean in event time, shared by replay and explain.

The canonical order of a case's events, the values an event and the case state
show to rules, the direction a compared value went, and whether a moment lies in
a window. The reference evaluator keeps its own copy on purpose: it is the
independent check of these meanings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from triggers.models.events import EVENT_TYPES, ORDERED_VALUES, Event
from triggers.models.state import CaseState
from triggers.rules.duration import Duration

__all__ = [
    "Direction",
    "direction",
    "event_order",
    "event_values",
    "looks_back",
    "order_key",
    "state_values",
    "within_after",
]

Direction = Literal["down", "up", "same"]


def order_key(event: Event) -> tuple[datetime, int, str]:
    """An event's place in event order: time, then catalogue order, then id.

    Simultaneous events are ordered the same way whatever their order in a file.
    """
    return event.at, EVENT_TYPES.index(event.type), event.id or ""


def event_order(events: Iterable[Event]) -> list[Event]:
    """Events in event order (`order_key`)."""
    return sorted(events, key=order_key)


def event_values(event: Event) -> dict[str, Any]:
    """An event's values as rules see them: its fields plus type, id, source and time."""
    values: dict[str, Any] = {"type": event.type, "id": event.id, **event.fields()}
    if event.source is not None:
        values["source"] = event.source
    return values


def state_values(state: CaseState) -> dict[str, Any]:
    """Case-state values as rules see them; absent values are left out."""
    return dict(state.values())


def direction(field: str, now: Any, before: Any) -> Direction:
    """Which way a compared value went from `before` to `now`.

    Words such as a risk level are ranked in their catalogue order; numbers (a MAPPA
    level) compare as they are.
    """
    order = ORDERED_VALUES.get(field) if isinstance(now, str) else None
    if order is not None:
        now, before = order.index(now), order.index(before)
    return "down" if now < before else "up" if now > before else "same"


def looks_back(window: Duration, moment: datetime, to: datetime) -> bool:
    """Whether `moment` lies within `window` before `to`, both ends included."""
    return window.before(to) <= moment <= to


def within_after(window: Duration, start: datetime, moment: datetime) -> bool:
    """Whether `moment` lies within `window` after `start`, both ends included."""
    return start <= moment <= window.after(start)
