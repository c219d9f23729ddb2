"""The rule file format as Pydantic models: what a safeguarding lead writes in YAML.

A rule file holds a list of rules. Each rule says when it applies (an event
type, conditions on the event's fields and on case state) and what follows
(actions from the vocabulary, each with params, a priority and a reason).

Conditions are a mapping of names to tests, all of which must hold:

    where:
      category: sexual                  # equal to
      level: {ge: medium}               # compare (numbers, ordered values such as risk level)
      reporter_type: [parent, family]   # one of
      partner: {present: true}          # the field is recorded
      any:                              # at least one of these blocks holds
        - {registered: true}
        - {mappa_managed: true}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from triggers.models.alerts import ActionName, Priority
from triggers.rules.duration import MAX_TEXT_LENGTH as DURATION_LENGTH
from triggers.rules.limits import (
    MAX_ACTIONS,
    MAX_ID_LENGTH,
    MAX_LEARNING_LENGTH,
    MAX_LIST_VALUES,
    MAX_NAME_LENGTH,
    MAX_RULES,
    MAX_TEMPLATE_LENGTH,
    MAX_TITLE_LENGTH,
)

__all__ = [
    "COMBINATORS",
    "OPERATORS",
    "ActionSpec",
    "Changed",
    "Conditions",
    "Count",
    "Due",
    "Related",
    "Rule",
    "RuleFile",
    "Throttle",
    "Unless",
    "When",
    "rule_file_schema",
]

#: Comparison operators, by name, with the words a lead would read them as.
OPERATORS: dict[str, str] = {
    "eq": "equal to",
    "ne": "not equal to",
    "lt": "less than",
    "le": "at most",
    "gt": "greater than",
    "ge": "at least",
    "in": "one of",
    "not_in": "none of",
    "present": "recorded (true) or not recorded (false)",
    "includes": "a set that includes",
    "includes_any": "a set that includes any of",
    "excludes": "a set that does not include",
}
#: Keys that combine condition blocks instead of naming a field.
COMBINATORS = ("any", "all", "not")

Conditions = dict[str, Any]
RuleId = Annotated[
    StrictStr,
    Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
]
#: Texts with the limits a rule file is checked against (shown in the JSON Schema).
Name = Annotated[StrictStr, Field(max_length=MAX_NAME_LENGTH)]
Names = Annotated[list[Name], Field(max_length=MAX_LIST_VALUES)]
DurationText = Annotated[StrictStr, Field(max_length=DURATION_LENGTH)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _OtherEvent(_Strict):
    """An event of other types than the triggering one, with fields compared to it."""

    event: Name | Names
    same: Names | dict[Name, Name] | None = None

    @property
    def event_types(self) -> tuple[str, ...]:
        """The other event's types as a tuple."""
        return (self.event,) if isinstance(self.event, str) else tuple(self.event)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """`same` as (other event field, triggering event field) pairs."""
        return _pairs(self.same)


def _pairs(names: list[str] | dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    if names is None:
        return ()
    if isinstance(names, list):
        return tuple((name, name) for name in names)
    return tuple(names.items())


class Related(_OtherEvent):
    """Another event that must stand in a time relation to the triggering event."""

    event: Name | Names = Field(description="the other event's type (or types)")
    where: Conditions | None = Field(default=None, description="conditions on the other event")
    within: DurationText = Field(description="the window, such as 28d, 72h, 12 months")
    same: Names | dict[Name, Name] | None = Field(
        default=None,
        description="fields that must be equal: a list of names both events have, or"
        " {other_field: triggering_event_field}",
    )
    differ: Names | dict[Name, Name] | None = Field(
        default=None,
        description="(`after`, and `absent` with `before`) fields that must differ, both"
        " recorded: a list of names both events have, or {other_field: triggering_event_field}",
    )
    before: StrictBool = Field(
        default=False,
        description="(`absent` only) true: no such event within `within` before the triggering"
        " one (or at its moment); the rule fires at once",
    )

    @property
    def differ_pairs(self) -> tuple[tuple[str, str], ...]:
        """`differ` as (other field, triggering event field) pairs."""
        return _pairs(self.differ)


class Unless(_OtherEvent):
    """An event that keeps a count from firing when it lies between the first counted event
    and the triggering one."""

    event: Name | Names = Field(description="the event type (or types) that cancels the count")
    where: Conditions | None = Field(default=None, description="conditions on that event")
    same: Names | dict[Name, Name] | None = Field(
        default=None,
        description="fields that must be equal: a list of names both events have, or"
        " {unless_field: triggering_event_field}",
    )


class Count(_Strict):
    """Several events of the rule's kind (its type and `where`) within a window, this one last."""

    at_least: StrictInt = Field(ge=2, le=1000, description="how many, including this one")
    within: DurationText = Field(description="the window, such as 30d or 365d")
    distinct: StrictStr | None = Field(
        default=None, description="count only different values of this field (e.g. reporter)"
    )
    same: list[StrictStr] | None = Field(
        default=None, description="count only events whose fields equal this event's"
    )
    unless: Unless | None = Field(
        default=None,
        description="no alert when such an event lies from the first counted event's moment"
        " to the triggering event's (both included)",
    )


class Due(_Strict):
    """An event due within a period that depends on case state, the clock restarting at each
    triggering or qualifying event and at each missed deadline."""

    event: Name | Names = Field(description="the event type (or types) that is due")
    where: Conditions | None = Field(
        default=None, description="conditions the due event must meet to count"
    )
    state: Name = Field(
        description="the case-state value (a level, such as risk_towards_children or"
        " mappa_level) that sets the period"
    )
    every: Annotated[
        dict[Name | StrictInt, DurationText], Field(min_length=1, max_length=MAX_LIST_VALUES)
    ] = Field(
        description="the period for each value, such as {high: 3 months, low: 12 months} or"
        " {2: 16 weeks}; no clock runs while the value is another or not recorded"
    )

    @property
    def event_types(self) -> tuple[str, ...]:
        """The due event's types as a tuple."""
        return (self.event,) if isinstance(self.event, str) else tuple(self.event)


class Changed(_Strict):
    """The triggering event's value went down (or up) against the previous such event."""

    field: StrictStr = Field(description="a number or an ordered level, such as level")
    direction: Literal["down", "up"]
    same: list[StrictStr] | None = Field(
        default=None,
        description="the previous event is the latest one of the same type with these fields"
        " equal (such as tool)",
    )


class When(_Strict):
    """What has to happen, and in what circumstances, for the rule to apply."""

    event: Name | Names = Field(
        description="the event type (or a list of types) that triggers the rule"
    )
    where: Conditions | None = Field(
        default=None, description="conditions on the triggering event's fields"
    )
    case: Conditions | None = Field(
        default=None,
        description="conditions on case state just before the event (names: see README)",
    )
    after: Related | None = Field(
        default=None,
        description="another event at most `within` before the triggering one (or at the same"
        " moment)",
    )
    absent: Related | None = Field(
        default=None,
        description="no such event within `within` after the triggering one: the rule fires"
        " when that deadline passes",
    )
    changed: Changed | None = Field(
        default=None, description="a value went down or up against the previous such event"
    )
    count: Count | None = Field(
        default=None,
        description="at least N events of this kind within the window, this one the last",
    )
    due: Due | None = Field(
        default=None,
        description="an event due within a period set by case state: an alert at each"
        " deadline missed, counted from this event, a due event or the missed deadline",
    )

    @property
    def event_types(self) -> tuple[str, ...]:
        """The triggering event types as a tuple."""
        return (self.event,) if isinstance(self.event, str) else tuple(self.event)


class ActionSpec(_Strict):
    """One action the rule asks for, from the action vocabulary."""

    action: ActionName
    params: dict[StrictStr, StrictStr | StrictInt] = Field(
        default_factory=dict,
        description="action parameters; text may name fields as {event.field} or {case.field}",
    )
    priority: Priority = "medium"
    reason: StrictStr = Field(
        min_length=1,
        max_length=MAX_TEMPLATE_LENGTH,
        description="why, for the practitioner; may name {event.field}, {case.field}, {rule.id}",
    )
    act_within: DurationText | None = Field(
        default=None,
        description="how long after the alert someone should act, such as 3d; defaults per action",
    )


class Throttle(_Strict):
    """At most one alert from the rule within the window, per case or per key."""

    within: DurationText = Field(description="the window, such as 30d or 12 months")
    per: Names | None = Field(
        default=None, description="fields of the triggering event that make separate keys"
    )
    reset_by: Name | Names | None = Field(
        default=None,
        description="event types (a decision such as strategy_meeting) that end the window"
        " early, for every key: the next alert after one is raised",
    )

    @property
    def reset_types(self) -> tuple[str, ...]:
        """The types of event that end the window, as a tuple."""
        if self.reset_by is None:
            return ()
        return (self.reset_by,) if isinstance(self.reset_by, str) else tuple(self.reset_by)


class Rule(_Strict):
    """One rule: its identity, the learning it encodes, when it applies and what follows."""

    id: RuleId
    title: StrictStr = Field(min_length=1, max_length=MAX_TITLE_LENGTH)
    learning: StrictStr = Field(
        min_length=1,
        max_length=MAX_LEARNING_LENGTH,
        description="the case-review learning it encodes",
    )
    when: When
    then: list[ActionSpec] = Field(min_length=1, max_length=MAX_ACTIONS)
    throttle: DurationText | Throttle | None = Field(
        default=None,
        description="raise at most once per case (or per key) within this window, e.g. 90d",
    )


class RuleFile(_Strict):
    """A YAML rule file."""

    rules: list[Rule] = Field(max_length=MAX_RULES)


def rule_file_schema() -> dict[str, Any]:
    """A JSON Schema of the rule file format, for editors."""
    schema = RuleFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "risk-triggers rule file"
    return schema
