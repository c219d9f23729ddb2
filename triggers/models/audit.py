"""The audit log's entries and the record an erasure leaves behind.

The log answers, years later, who collected, consulted, altered or erased
which case's data, when, and why (DPA 2018 s62 logging for law-enforcement
processing). Entries are only ever added.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from triggers.models.events import EventTime

__all__ = ["ACTIVITIES", "Activity", "AuditEntry", "ErasureRecord"]

Activity: TypeAlias = Literal["collection", "consultation", "alteration", "erasure"]
ACTIVITIES: tuple[Activity, ...] = ("collection", "consultation", "alteration", "erasure")


class AuditEntry(BaseModel):
    """One logged operation on case data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    at: EventTime
    actor: str
    activity: Activity
    operation: str
    case: str | None = None
    alerts: tuple[int, ...] = ()
    justification: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ErasureRecord(BaseModel):
    """What remains of an erased case: that it was erased, by whom, when, why, and how much."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case: str
    erased_at: EventTime
    by: str
    reason: str
    events: int
    alerts: int
