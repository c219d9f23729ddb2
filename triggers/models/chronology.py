"""A case chronology: the case, its outcomes and its events.

Only the data and its rules live here (event ids, one id per event); reading
chronology files (YAML, JSON, JSONL) and reporting their problems is
`triggers.reading`'s job.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from triggers.limits import MAX_EVENTS_PER_CASE, MAX_OUTCOMES_PER_CASE
from triggers.models.alerts import ACTIONS, DEFAULT_ACT_WITHIN, PARAM_VALUES
from triggers.models.events import (
    ADDED_DEFAULTS,
    CATALOGUE_VERSION,
    BaseEvent,
    ChronologyTime,
    Event,
    Id,
    Note,
    Title,
    group_moments,
)
from triggers.models.state import STATE_FIELDS

__all__ = [
    "Chronology",
    "Outcome",
    "chronology_schema",
    "derive_event_id",
    "with_event_ids",
]


class Outcome(BaseModel):
    """Harm later found; kept for backtesting, never evaluated by rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: ChronologyTime
    note: Note | None = None


def derive_event_id(event: BaseEvent, occurrence: int = 1) -> str:
    """A deterministic id from an event's content.

    The n-th event with identical content gets suffix `-n`, so that two identical
    events stay two events and the ids do not depend on their order in the file.
    """
    content = event.model_dump(mode="json", exclude={"id"}, exclude_none=True, by_alias=True)
    for name, default in ADDED_DEFAULTS.get(content["type"], {}).items():
        if content.get(name) == default:
            del content[name]
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return f"ev-{digest}" if occurrence == 1 else f"ev-{digest}-{occurrence}"


def with_event_ids(events: Iterable[Event]) -> tuple[Event, ...]:
    """The events, each without an id given one derived from its content (`derive_event_id`)."""
    seen: Counter[str] = Counter()
    result: list[Event] = []
    for event in events:
        if event.id is None:
            base = derive_event_id(event)
            seen[base] += 1
            event_id = base if seen[base] == 1 else f"{base}-{seen[base]}"  # derive_event_id's
            result.append(event.model_copy(update={"id": event_id}))
        else:
            result.append(event)
    return tuple(result)


class Chronology(BaseModel):
    """One case's chronology. Events keep file order; evaluation sorts them by `at`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case: Id
    title: Title | None = None
    subject: Id | None = None
    outcomes: Annotated[tuple[Outcome, ...], Field(max_length=MAX_OUTCOMES_PER_CASE)] = ()
    events: Annotated[tuple[Event, ...], Field(max_length=MAX_EVENTS_PER_CASE)]

    @field_validator("events", mode="after")
    @classmethod
    def _assign_ids(cls, events: tuple[Event, ...]) -> tuple[Event, ...]:
        """Give every event an id; an event repeated with its id is kept once."""
        by_id: dict[str, Event] = {}
        for event in with_event_ids(events):
            assert event.id is not None  # assigned by with_event_ids
            other = by_id.setdefault(event.id, event)
            if other != event:
                raise ValueError(f"two different events share the id {event.id!r}")
        return tuple(by_id.values())

    def in_event_order(self) -> list[Event]:
        """Events in order of `at`; events at the same moment keep file order."""
        return sorted(self.events, key=lambda event: event.at)

    def moments(self) -> list[list[Event]]:
        """Events grouped by the moment they happened, in time order (each group in file order)."""
        return group_moments(self.events)

    def event_ids(self) -> list[str]:
        """Every event's id, in file order."""
        return [event.id or "" for event in self.events]


def chronology_schema() -> dict[str, Any]:
    """A JSON Schema of a chronology file (YAML or JSON), for editors."""
    schema = Chronology.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "risk-triggers chronology"
    schema["description"] = (
        f"A case chronology (event catalogue version {CATALOGUE_VERSION}). Besides the file"
        " format, x-case-state lists the case-state values rules test (derived from the"
        " events, never written in a file) and x-actions the actions rules may ask for."
    )
    schema["x-catalogue-version"] = CATALOGUE_VERSION
    schema["x-case-state"] = {
        name: {
            "kind": field.kind,
            "description": field.description,
            **({"values": list(field.values)} if field.values else {}),
        }
        for name, field in STATE_FIELDS.items()
    }
    schema["x-actions"] = {
        action: {
            "params": {
                name: {
                    "required": required,
                    **(
                        {"values": list(PARAM_VALUES[action, name])}
                        if (action, name) in PARAM_VALUES
                        else {}
                    ),
                }
                for name, required in params.items()
            },
            "act_within": DEFAULT_ACT_WITHIN[action],
        }
        for action, params in ACTIONS.items()
    }
    return schema
