"""Case state: what earlier events say about the case now, for rules to test.

State is derived, in event order, by folding each event into the previous
state. A rule sees the state as it stood just before the event that triggers
it: the circumstances in which that event happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from triggers.models.events import (
    EVENT_TYPES,
    ORDERED_VALUES,
    ArrestEvent,
    Category,
    ChildJoinedHouseholdEvent,
    ConvictionEvent,
    Event,
    MappaEndedEvent,
    MappaLevelSetEvent,
    MappaReviewEvent,
    NewRelationshipEvent,
    OffenderMovedAreaEvent,
    PlanEndedEvent,
    PlanKind,
    PlanStartedEvent,
    RegistrationEndedEvent,
    RegistrationStartedEvent,
    RiskAssessedEvent,
    RiskLevel,
    group_moments,
)

__all__ = ["STATE_FIELDS", "CaseState", "StateField"]

#: Risk towards children at or above this level makes the subject a risk to children.
_CHILD_RISK_THRESHOLD: RiskLevel = "medium"


@dataclass(frozen=True)
class StateField:
    """A case-state value that rules may test: its name, kind and meaning."""

    name: str
    kind: Literal["bool", "int", "str", "set"]
    description: str
    values: tuple[str | int, ...] = ()


STATE_FIELDS: dict[str, StateField] = {
    f.name: f
    for f in (
        StateField(
            "risk_to_children",
            "bool",
            "any sexual conviction, or registered, or the latest risk assessment"
            " towards children at medium or above",
        ),
        StateField("registered", "bool", "notification requirements started and not ended"),
        StateField("mappa_managed", "bool", "a MAPPA level is set and MAPPA has not ended"),
        StateField(
            "mappa_level", "int", "current MAPPA level (absent when not managed)", (1, 2, 3)
        ),
        StateField("mappa_area", "str", "area of the current MAPPA management (absent when none)"),
        StateField("area", "str", "the area the subject last moved to (absent when no move)"),
        StateField("children_in_household", "int", "children who joined the household"),
        StateField("partner_has_children", "bool", "the subject's latest partner has children"),
        StateField("active_plans", "set", "plans started and not yet ended", get_args(PlanKind)),
        StateField("plans_recorded", "set", "every kind of plan ever started", get_args(PlanKind)),
        StateField(
            "conviction_categories",
            "set",
            "categories of the subject's convictions",
            get_args(Category),
        ),
        StateField(
            "arrest_categories", "set", "categories of the subject's arrests", get_args(Category)
        ),
    )
}


@dataclass(frozen=True)
class CaseState:
    """The case as it stands after some prefix of its events."""

    conviction_categories: frozenset[str] = frozenset()
    arrest_categories: frozenset[str] = frozenset()
    registered: bool = False
    risk_towards_children: str | None = None
    mappa_level: int | None = None
    mappa_area: str | None = None
    area: str | None = None
    children: frozenset[str] = frozenset()
    partner_has_children: bool = False
    active_plan_keys: frozenset[tuple[str, str | None]] = frozenset()
    plans_recorded: frozenset[str] = frozenset()

    @property
    def risk_to_children(self) -> bool:
        """Any sexual conviction, registered, or assessed at medium or above towards children."""
        order = ORDERED_VALUES["level"]
        assessed = self.risk_towards_children is not None and order.index(
            self.risk_towards_children
        ) >= order.index(_CHILD_RISK_THRESHOLD)
        return "sexual" in self.conviction_categories or self.registered or assessed

    @property
    def mappa_managed(self) -> bool:
        """A MAPPA level is set and MAPPA has not ended."""
        return self.mappa_level is not None

    @property
    def children_in_household(self) -> int:
        """How many distinct children have joined the household."""
        return len(self.children)

    @property
    def active_plans(self) -> frozenset[str]:
        """Kinds of plan started and not yet ended."""
        return frozenset(plan for plan, _ in self.active_plan_keys)

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> CaseState:
        """The state after `events`; those at the same moment are applied as `apply_moment` does."""
        state = cls()
        for moment in group_moments(events):
            state = state.apply_moment(moment)
        return state

    def apply_moment(self, events: Iterable[Event]) -> CaseState:
        """The state after events that happened at the same moment.

        Simultaneous events are applied in catalogue order (an end after its start),
        then by id, so that their order in a file never changes the state.
        """
        state = self
        for event in sorted(events, key=lambda e: (EVENT_TYPES.index(e.type), e.id or "")):
            state = state.apply(event)
        return state

    def apply(self, event: Event) -> CaseState:
        """The state after `event`."""
        changes: dict[str, Any] = {}
        match event:
            case ConvictionEvent(category=category):
                changes["conviction_categories"] = self.conviction_categories | {category}
            case ArrestEvent(category=category):
                changes["arrest_categories"] = self.arrest_categories | {category}
            case RegistrationStartedEvent():
                changes["registered"] = True
            case RegistrationEndedEvent():
                changes["registered"] = False
            case RiskAssessedEvent(towards="children", level=level):
                changes["risk_towards_children"] = level
            case MappaLevelSetEvent(level=level, area=area):
                changes["mappa_level"] = level
                changes["mappa_area"] = area if area is not None else self.mappa_area
            case MappaReviewEvent(level=level, area=area) if self.mappa_level is not None:
                changes["mappa_level"] = level if level is not None else self.mappa_level
                changes["mappa_area"] = area if area is not None else self.mappa_area
            case MappaEndedEvent():
                changes["mappa_level"] = None
                changes["mappa_area"] = None
            case OffenderMovedAreaEvent(to_area=to_area):
                changes["area"] = to_area
            case ChildJoinedHouseholdEvent(child=child):
                changes["children"] = self.children | {child}
            case NewRelationshipEvent(partner_has_children=has_children):
                changes["partner_has_children"] = has_children
            case PlanStartedEvent(plan=plan, child=child):
                changes["active_plan_keys"] = self.active_plan_keys | {(plan, child)}
                changes["plans_recorded"] = self.plans_recorded | {plan}
            case PlanEndedEvent(plan=plan, child=child):
                changes["active_plan_keys"] = frozenset(
                    key
                    for key in self.active_plan_keys
                    if key[0] != plan or (child is not None and key[1] != child)
                )
        if all(getattr(self, name) == value for name, value in changes.items()):
            return self  # most events change nothing: the same state, not a copy
        return replace(self, **changes)

    def values(self) -> dict[str, bool | int | str | tuple[str, ...]]:
        """The values rules can test, by name; absent values are left out."""
        result: dict[str, bool | int | str | tuple[str, ...]] = {}
        for name, spec in STATE_FIELDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            result[name] = tuple(sorted(value)) if spec.kind == "set" else value
        return result
