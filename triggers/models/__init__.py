"""Events, chronologies, case state and alerts: the data risk-triggers reasons about."""

from triggers.models.alerts import (
    ACTIONS,
    ALERT_STATUSES,
    DEFAULT_ACT_WITHIN,
    PRIORITIES,
    ActionName,
    Alert,
    AlertStatus,
    ParamValue,
    Priority,
    StatusChange,
    StoredAlert,
)
from triggers.models.audit import ACTIVITIES, Activity, AuditEntry, ErasureRecord
from triggers.models.chronology import Chronology, Outcome, chronology_schema, derive_event_id
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
    "ACTIVITIES",
    "ALERT_STATUSES",
    "DEFAULT_ACT_WITHIN",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "ORDERED_VALUES",
    "PRIORITIES",
    "STATE_FIELDS",
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
