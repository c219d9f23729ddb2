"""Events, chronologies, case state and alerts: the data risk-triggers reasons about."""

from triggers.models.alerts import (
    ACTIONS,
    ACTIVE_STATUSES,
    ALERT_STATUSES,
    DEFAULT_ACT_WITHIN,
    PARAM_VALUES,
    PRIORITIES,
    TRANSITIONS,
    ActionName,
    Alert,
    AlertStatus,
    Move,
    ParamValue,
    Priority,
    StatusChange,
    StoredAlert,
)
from triggers.models.audit import ACTIVITIES, Activity, AuditEntry, ErasureRecord
from triggers.models.chronology import Chronology, Outcome, chronology_schema, derive_event_id
from triggers.models.events import (
    CATALOGUE_VERSION,
    EVENT_MODELS,
    EVENT_TYPES,
    ORDERED_VALUES,
    BaseEvent,
    Event,
    event_adapter,
)
from triggers.models.state import STATE_FIELDS, CaseState, StateField
from triggers.models.times import parse_time

__all__ = [
    "ACTIONS",
    "ACTIVE_STATUSES",
    "ACTIVITIES",
    "ALERT_STATUSES",
    "CATALOGUE_VERSION",
    "DEFAULT_ACT_WITHIN",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "ORDERED_VALUES",
    "PARAM_VALUES",
    "PRIORITIES",
    "STATE_FIELDS",
    "TRANSITIONS",
    "ActionName",
    "Activity",
    "Alert",
    "AlertStatus",
    "AuditEntry",
    "BaseEvent",
    "CaseState",
    "Chronology",
    "ErasureRecord",
    "Event",
    "Move",
    "Outcome",
    "ParamValue",
    "Priority",
    "StateField",
    "StatusChange",
    "StoredAlert",
    "chronology_schema",
    "derive_event_id",
    "event_adapter",
    "parse_time",
]
