"""What an explanation of an alert holds, as data (`model_dump(mode="json")`) and as text.

The derivation is in `derive`, the text in `text`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from triggers.models.alerts import Alert

__all__ = [
    "AbsentTiming",
    "AfterTiming",
    "AlternativesCheck",
    "ChangeTiming",
    "ConditionCheck",
    "CountTiming",
    "ExplainedEvent",
    "ExplainedRule",
    "Explanation",
    "StateValue",
    "ThrottleTiming",
    "Timing",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ExplainedRule(BaseModel):
    """The rule that raised the alert, and where it is written."""

    model_config = _FROZEN

    id: str
    title: str
    learning: str
    file: str
    line: int | None
    #: `file:line`, or the file alone when the line is not known.
    source: str


class ExplainedEvent(BaseModel):
    """One of the alert's events, with every field it carries."""

    model_config = _FROZEN

    id: str
    type: str
    at: datetime
    #: `trigger`: the event the rule fired on; `other`: the earlier event an `after`
    #: rule found; `counted`: another event a `count` rule counted.
    role: Literal["trigger", "other", "counted"]
    fields: dict[str, JsonValue]
    source: str | None = None
    note: str | None = None
    recorded_at: datetime | None = None


class StateValue(BaseModel):
    """A case-state value as it stood just before the trigger's moment."""

    model_config = _FROZEN

    name: str
    #: None when the value is not recorded; sets are sorted lists.
    value: JsonValue
    #: Whether one of the rule's conditions tests this value.
    tested: bool


class ConditionCheck(BaseModel):
    """One test of the rule's condition, the value it saw, and whether it held."""

    model_config = _FROZEN

    #: Readable, as `event.category in ['sexual', 'violent']` or `case.registered eq true`.
    text: str
    scope: Literal["event", "case"]
    field: str
    #: The test's operator (`eq`, `in`, `includes_any`, ...), or `changed` for a `changed:` rule.
    op: str
    expected: JsonValue
    #: The trigger's field or the case-state value (None: not recorded); for `changed`,
    #: the direction the value went.
    actual: JsonValue
    held: bool
    #: The innermost `any` block this test is part of (its label), and which of its
    #: alternatives (numbered from 1); None for a test every alert needs.
    group: str | None = None
    alternative: int | None = None


class AlternativesCheck(BaseModel):
    """An `any` block of the condition: which of its alternatives held."""

    model_config = _FROZEN

    #: `any 1`, `any 2`, ... in the order the blocks appear in the condition.
    label: str
    #: The enclosing `any` block and alternative this block sits in, if any.
    group: str | None = None
    alternative: int | None = None
    #: How many alternatives the block has.
    alternatives: int
    #: The alternatives that held, numbered from 1.
    held_by: tuple[int, ...]
    held: bool


class AfterTiming(BaseModel):
    """`after:` another event at most `within` before the trigger (both ends included)."""

    model_config = _FROZEN

    event_types: tuple[str, ...]
    #: The other event's own conditions, as `other.FIELD op value`.
    where: str | None
    within: str
    start: datetime
    end: datetime
    #: The other event's field -> the trigger's field they must share.
    same: dict[str, str]
    #: The other event the alert names (the latest that qualifies).
    other: str
    other_at: datetime
    #: Every event in the window that qualifies, in event order.
    in_window: tuple[str, ...]


class AbsentTiming(BaseModel):
    """`absent:` no such event from the trigger to the deadline (both included)."""

    model_config = _FROZEN

    event_types: tuple[str, ...]
    where: str | None
    within: str
    start: datetime
    #: When the window closed and the alert was raised (the alert's time).
    deadline: datetime
    same: dict[str, str]
    #: The values a breaking event had to share: its field -> the trigger's value.
    same_values: dict[str, JsonValue]
    #: Breaking events that arrived by the deadline: none, for an alert that was raised.
    in_time: tuple[str, ...]
    #: Breaking events that arrived after the deadline, too late.
    late: tuple[str, ...]


class CountTiming(BaseModel):
    """`count:` at least N events of the rule's kind within the window, the trigger last."""

    model_config = _FROZEN

    at_least: int
    within: str
    start: datetime
    end: datetime
    distinct: str | None
    same: tuple[str, ...]
    same_values: dict[str, JsonValue]
    #: The counted events, in event order (the trigger last).
    counted: tuple[str, ...]
    #: How many were counted: events, or different values of `distinct`.
    number: int
    distinct_values: tuple[JsonValue, ...] = ()
    #: `unless:` the event types that would have cancelled the count, and the span they
    #: were looked for in (the first counted event's moment to the trigger's); none was.
    unless: tuple[str, ...] = ()
    unless_from: datetime | None = None


class ChangeTiming(BaseModel):
    """`changed:` the trigger's value against the previous such event."""

    model_config = _FROZEN

    field: str
    same: tuple[str, ...]
    same_values: dict[str, JsonValue]
    previous: JsonValue
    previous_event: str | None
    previous_at: datetime | None
    new: JsonValue
    #: `down`, `up` or `same`; None when there is no previous value.
    direction: str | None


class ThrottleTiming(BaseModel):
    """`throttle:` at most one alert from the rule within the window, per case or per key."""

    model_config = _FROZEN

    within: str
    per: tuple[str, ...]
    per_values: dict[str, JsonValue]
    #: The rule's previous alert for the same key, outside the window (None: the first).
    previous_alert_at: datetime | None
    #: Until when further alerts for the same key are held back.
    quiet_until: datetime
    #: Event types that end the quiet time early (`reset_by`).
    reset_by: tuple[str, ...] = ()


class DueTiming(BaseModel):
    """`due:` an event due within a period set by case state; the clock missed a deadline."""

    model_config = _FROZEN

    event_types: tuple[str, ...]
    where: str | None
    #: The case-state value that sets the period, and the period for each of its values.
    state: str
    every: dict[str, str]
    #: The event that last restarted the clock, and when.
    started_by: str
    start: datetime
    #: Deadlines missed since the restart before this one, each re-arming the clock.
    missed_before: tuple[datetime, ...]
    #: The state value when the clock was set for this deadline, and its period.
    value: JsonValue
    period: str
    #: The deadline missed (the alert's time).
    deadline: datetime


class Timing(BaseModel):
    """The time forms of the rule, each with what it found; unused forms are None."""

    model_config = _FROZEN

    after: AfterTiming | None = None
    absent: AbsentTiming | None = None
    count: CountTiming | None = None
    changed: ChangeTiming | None = None
    throttle: ThrottleTiming | None = None
    due: DueTiming | None = None


class Explanation(BaseModel):
    """Why an alert was raised, as data (`model_dump(mode="json")`) and as text (`lines`)."""

    model_config = _FROZEN

    rule: ExplainedRule
    rules_version: str
    alert: Alert
    alert_key: str
    #: Whether replaying the chronology with these rules raises this alert again. When it
    #: does not, `state`, `tests`, `alternatives` and `timing` are left empty.
    reproduced: bool
    message: str
    events: tuple[ExplainedEvent, ...]
    #: Ids of the alert's events that the chronology no longer has.
    missing_events: tuple[str, ...] = ()
    #: The moment the case state is shown just before (the trigger's time).
    state_before: datetime | None = None
    state: tuple[StateValue, ...] = ()
    tests: tuple[ConditionCheck, ...] = ()
    alternatives: tuple[AlternativesCheck, ...] = ()
    timing: Timing = Timing()
    reason: str
    #: For an alert not raised again: what the replay raises now for the same rule and
    #: action from any of the same events.
    instead: tuple[Alert, ...] = ()
    #: Added by the store, such as why the alert was superseded.
    notes: tuple[str, ...] = ()

    def with_notes(self, *notes: str) -> Explanation:
        """The same explanation with `notes` added after any it has."""
        return self.model_copy(update={"notes": (*self.notes, *notes)})

    def lines(self) -> list[str]:
        """The explanation as plain text: rule, version, events, state and tests, timing,
        reason, notes."""
        # Imported here: the text module reads these models.
        from triggers.engine.explain.text import render  # noqa: PLC0415

        return render(self)
