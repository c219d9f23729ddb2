"""Alerts: what a rule asks people to do, when, why, and because of which events."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from triggers.models.events import EventTime

__all__ = [
    "ACTIONS",
    "ACTIVE_STATUSES",
    "ALERT_STATUSES",
    "DEFAULT_ACT_WITHIN",
    "PARAM_VALUES",
    "PRIORITIES",
    "TRANSITIONS",
    "ActionName",
    "Alert",
    "AlertStatus",
    "Move",
    "ParamValue",
    "Priority",
    "StatusChange",
    "StoredAlert",
]

ActionName: TypeAlias = Literal[
    "reopen_assessment",
    "escalate_mappa",
    "convene_strategy_meeting",
    "notify_agency",
    "review_risk_management_plan",
    "escalate_case",
    "flag",
    # Version 2.
    "request_recall",
    "circulate_wanted",
    "request_medical",
    "reallocate_case",
    "check_household",
    "enforce_order",
]
Priority: TypeAlias = Literal["low", "medium", "high", "urgent"]
ParamValue: TypeAlias = str | int
AlertStatus: TypeAlias = Literal["open", "acknowledged", "resolved", "dismissed", "superseded"]
ALERT_STATUSES: tuple[AlertStatus, ...] = (
    "open",
    "acknowledged",
    "resolved",
    "dismissed",
    "superseded",
)
#: Statuses from which people may still act on an alert (and in which it can be overdue).
ACTIVE_STATUSES: tuple[AlertStatus, ...] = ("open", "acknowledged")
#: What people may do with an alert. Raising and superseding are the engine's, not moves.
Move: TypeAlias = Literal["acknowledge", "resolve", "dismiss"]
#: Each move: the status it leads to, and the statuses it may start from.
TRANSITIONS: dict[Move, tuple[AlertStatus, tuple[AlertStatus, ...]]] = {
    "acknowledge": ("acknowledged", ("open",)),
    "resolve": ("resolved", ACTIVE_STATUSES),
    "dismiss": ("dismissed", ACTIVE_STATUSES),
}

#: The action vocabulary (version 2): each action's parameters and whether they are required.
ACTIONS: dict[str, dict[str, bool]] = {
    "reopen_assessment": {"agency": False},
    "escalate_mappa": {"level": True},
    "convene_strategy_meeting": {},
    "notify_agency": {"agency": True},
    "review_risk_management_plan": {},
    "escalate_case": {"to": True},
    "flag": {},
    "request_recall": {},
    "circulate_wanted": {"scope": True},
    "request_medical": {},
    "reallocate_case": {"agency": False},
    "check_household": {"agency": False},
    "enforce_order": {},
}
#: Parameters that take one of a few values, by action and parameter.
PARAM_VALUES: dict[tuple[str, str], tuple[ParamValue, ...]] = {
    ("escalate_mappa", "level"): (2, 3),
    ("circulate_wanted", "scope"): ("local", "national"),
}
PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "urgent")

#: How long after an alert's event time someone should have acted on it, per action;
#: a rule may set its own with `act_within` on the action.
DEFAULT_ACT_WITHIN: dict[str, str] = {
    "reopen_assessment": "5d",
    "escalate_mappa": "5d",
    "convene_strategy_meeting": "3d",
    "notify_agency": "1d",
    "review_risk_management_plan": "14d",
    "escalate_case": "2d",
    "flag": "7d",
    "request_recall": "1d",
    "circulate_wanted": "1d",
    "request_medical": "1d",
    "reallocate_case": "2d",
    "check_household": "3d",
    "enforce_order": "3d",
}


class Alert(BaseModel):
    """One alert raised for a case, in the shape of docs/format.md section 5."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case: str
    rule: str
    action: ActionName
    at: EventTime
    params: dict[str, ParamValue] = Field(default_factory=dict)
    priority: Priority
    reason: str
    events: tuple[str, ...]

    @field_serializer("at")
    def _serialise_at(self, at: datetime) -> str:
        return at.astimezone(UTC).isoformat().replace("+00:00", "Z")

    @property
    def key(self) -> str:
        """Identity of the alert: the same case, rule, action, time, params and events."""
        content = {
            "case": self.case,
            "rule": self.rule,
            "action": self.action,
            "at": self._serialise_at(self.at),
            "params": self.params,
            "events": sorted(self.events),
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The alert as a JSON object of the replay output contract."""
        return self.model_dump(mode="json")


class StoredAlert(BaseModel):
    """An alert as the store keeps it: its id, where it stands, and when it is due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    alert: Alert
    status: AlertStatus
    due_by: EventTime
    rules_version: str
    raised_at: EventTime
    superseded_reason: str | None = None

    def overdue(self, now: datetime) -> bool:
        """Whether nobody has finished with the alert although it was due before `now`."""
        return self.status in ACTIVE_STATUSES and self.due_by < now


class StatusChange(BaseModel):
    """One step in an alert's lifecycle: who moved it to which status, when, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: int
    status: AlertStatus
    by: str
    at: EventTime
    note: str | None = None
