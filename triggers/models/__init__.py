"""Events, chronologies, case state and alerts: the data risk-triggers reasons about."""

from triggers.models.alerts import ACTIONS, PRIORITIES, ActionName, Alert, ParamValue, Priority
from triggers.models.chronology import (
    CHRONOLOGY_SUFFIXES,
    Chronology,
    Outcome,
    chronology_schema,
    derive_event_id,
    load_chronologies,
    parse_chronology,
    read_chronology,
)
from triggers.models.events import (
    EVENT_MODELS,
    EVENT_TYPES,
    ORDERED_VALUES,
    BaseEvent,
    Event,
    event_adapter,
    parse_time,
)
from triggers.models.state import STATE_FIELDS, CaseState, StateField

__all__ = [
    "ACTIONS",
    "CHRONOLOGY_SUFFIXES",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "ORDERED_VALUES",
    "PRIORITIES",
    "STATE_FIELDS",
    "ActionName",
    "Alert",
    "BaseEvent",
    "CaseState",
    "Chronology",
    "Event",
    "Outcome",
    "ParamValue",
    "Priority",
    "StateField",
    "chronology_schema",
    "derive_event_id",
    "event_adapter",
    "load_chronologies",
    "parse_chronology",
    "parse_time",
    "read_chronology",
]
