"""Case state: what earlier events say about the case now, for rules to test.

State is derived, in event order, by folding each event into the previous
state. A rule sees the state as it stood just before the event that triggers
it: the circumstances in which that event happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, get_args

from triggers.models.events import (
    EVENT_TYPES,
    ORDERED_VALUES,
    AdultJoinedHouseholdEvent,
    ArrestEvent,
    Category,
    ChildJoinedHouseholdEvent,
    ChildLeftHouseholdEvent,
    CommunityConcernEvent,
    ContactLostEvent,
    ConvictionEvent,
    DomesticIncidentEvent,
    Event,
    HomeVisitEvent,
    InjuryObservedEvent,
    IntelligenceReceivedEvent,
    MappaEndedEvent,
    MappaLevelSetEvent,
    MappaReviewEvent,
    NewRelationshipEvent,
    OffenderMovedAreaEvent,
    PlanEndedEvent,
    PlanKind,
    PlanStartedEvent,
    ProtectiveOrderEvent,
    RecallIssuedEvent,
    ReferralClosedEvent,
    RegistrationEndedEvent,
    RegistrationStartedEvent,
    ReleasedEvent,
    ReturnedToCustodyEvent,
    RiskAssessedEvent,
    RiskLevel,
    Towards,
    group_moments,
)

__all__ = ["PARTNER_OFFENCE_WORDS", "STATE_FIELDS", "CaseState", "StateField"]

#: Risk towards children at or above this level makes the subject a risk to children.
_CHILD_RISK_THRESHOLD: RiskLevel = "medium"
#: Words in a violent offence that make it an offence against a partner (lower case).
PARTNER_OFFENCE_WORDS = ("domestic", "partner")
#: Protective orders that are domestic abuse orders (a sexual harm prevention order is not).
_DOMESTIC_ORDERS = frozenset({"restraining", "non_molestation", "other"})
#: Events that bring a concern to an agency: each opens a referral at its `source`.
_REFERRING = (
    CommunityConcernEvent,
    IntelligenceReceivedEvent,
    DomesticIncidentEvent,
    InjuryObservedEvent,
)
_LEVELS = get_args(RiskLevel)


@dataclass(frozen=True)
class StateField:
    """A case-state value that rules may test: its name, kind and meaning."""

    name: str
    kind: Literal["bool", "int", "str", "enum", "set"]
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
        StateField(
            "children_in_household", "int", "children who joined the household and have not left"
        ),
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
        # Version 2.
        *(
            StateField(
                f"risk_towards_{towards}",
                "enum",
                "level of the latest risk assessment (any tool) towards"
                f" {towards.replace('_', ' ')} (absent when none)",
                _LEVELS,
            )
            for towards in get_args(Towards)
        ),
        StateField(
            "highest_risk_level",
            "enum",
            "the highest of the latest levels per tool and audience (absent when none)",
            _LEVELS,
        ),
        StateField(
            "on_licence",
            "bool",
            "released on licence, and neither licence_end, a recall nor a return to custody since",
        ),
        StateField("in_custody", "bool", "returned to custody and not released since"),
        StateField("seen_at_home", "bool", "a home visit has seen the subject, at any time"),
        StateField(
            "whereabouts_unknown",
            "bool",
            "contact lost, and neither a home visit that saw the subject nor custody since",
        ),
        StateField(
            "domestic_abuse_history",
            "bool",
            "a domestic incident as perpetrator, a domestic abuse protective order, or a violent"
            " offence against a partner",
        ),
        StateField("adults_in_household", "int", "adults who joined the household"),
        StateField(
            "unchecked_adults",
            "int",
            "adults who joined the household without being checked (`checked: true`)",
        ),
        StateField("open_referrals", "int", "agencies with a referral open"),
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
    # Version 2.
    risk_towards_public: str | None = None
    risk_towards_known_adult: str | None = None
    risk_towards_staff: str | None = None
    #: The latest level per tool and audience: (tool, towards or None, level).
    risk_levels: frozenset[tuple[str, str | None, str]] = frozenset()
    on_licence: bool = False
    licence_end: datetime | None = None
    in_custody: bool = False
    whereabouts_unknown: bool = False
    domestic_abuse_history: bool = False
    adults: frozenset[str] = frozenset()
    unchecked: frozenset[str] = frozenset()
    #: When a home visit last saw the subject (not a value rules test: a date).
    last_contact: datetime | None = None
    #: Agencies with a referral open.
    referrals: frozenset[str] = frozenset()

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

    @property
    def highest_risk_level(self) -> str | None:
        """The highest of the latest levels per tool and audience."""
        levels = [level for _, _, level in self.risk_levels]
        return max(levels, key=_LEVELS.index) if levels else None

    @property
    def seen_at_home(self) -> bool:
        """Whether a home visit has ever seen the subject (`last_contact` is recorded)."""
        return self.last_contact is not None

    @property
    def adults_in_household(self) -> int:
        """How many distinct adults have joined the household."""
        return len(self.adults)

    @property
    def unchecked_adults(self) -> int:
        """How many of them joined without a check."""
        return len(self.unchecked)

    @property
    def open_referrals(self) -> int:
        """How many agencies have a referral open."""
        return len(self.referrals)

    def risk_level(self, tool: str, towards: str | None = None) -> str | None:
        """The latest level `tool` gave towards `towards` (None: an assessment without one)."""
        for known, audience, level in self.risk_levels:
            if known == tool and audience == towards:
                return level
        return None

    def as_of(self, moment: datetime) -> CaseState:
        """The state as time reaches `moment`: a licence whose `licence_end` has come ends."""
        if self.licence_end is not None and self.licence_end <= moment:
            return replace(self, on_licence=False, licence_end=None)
        return self

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
        """The state after `event` (and after time has reached it: `as_of`)."""
        return self.as_of(event.at)._apply(event)

    def _apply(self, event: Event) -> CaseState:
        changes: dict[str, Any] = {}
        withdrawn = isinstance(event, CommunityConcernEvent) and event.withdrawn
        if isinstance(event, _REFERRING) and event.source is not None and not withdrawn:
            changes["referrals"] = self.referrals | {event.source}
        match event:
            case ConvictionEvent(category=category, offence=offence):
                changes["conviction_categories"] = self.conviction_categories | {category}
                if _against_partner(category, offence):
                    changes["domestic_abuse_history"] = True
            case ArrestEvent(category=category, offence=offence):
                changes["arrest_categories"] = self.arrest_categories | {category}
                if _against_partner(category, offence):
                    changes["domestic_abuse_history"] = True
            case RegistrationStartedEvent():
                changes["registered"] = True
            case RegistrationEndedEvent():
                changes["registered"] = False
            case RiskAssessedEvent(tool=tool, towards=towards, level=level):
                if towards is not None:
                    changes[f"risk_towards_{towards}"] = level
                changes["risk_levels"] = frozenset(
                    key for key in self.risk_levels if key[:2] != (tool, towards)
                ) | {(tool, towards, level)}
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
            case ChildLeftHouseholdEvent(child=child):
                changes["children"] = self.children - {child}
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
            case ReleasedEvent(on=on, licence_end=licence_end):
                changes["in_custody"] = False
                ended = licence_end is not None and licence_end <= event.at
                changes["on_licence"] = on == "licence" and not ended
                changes["licence_end"] = licence_end if changes["on_licence"] else None
            case RecallIssuedEvent():
                changes["on_licence"] = False
                changes["licence_end"] = None
            case ReturnedToCustodyEvent():
                changes["in_custody"] = True
                changes["on_licence"] = False
                changes["licence_end"] = None
                changes["whereabouts_unknown"] = False
            case ContactLostEvent():
                changes["whereabouts_unknown"] = True
            case HomeVisitEvent(outcome="seen"):
                changes["whereabouts_unknown"] = False
                changes["last_contact"] = event.at
            case DomesticIncidentEvent(role="perpetrator"):
                changes["domestic_abuse_history"] = True
            case ProtectiveOrderEvent(kind=kind) if kind in _DOMESTIC_ORDERS:
                changes["domestic_abuse_history"] = True
            case AdultJoinedHouseholdEvent(person=person, checked=checked):
                changes["adults"] = self.adults | {person}
                changes["unchecked"] = (
                    self.unchecked - {person} if checked else self.unchecked | {person}
                )
            case ReferralClosedEvent(agency=agency):
                changes["referrals"] = self.referrals - {agency}
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


def _against_partner(category: str, offence: str) -> bool:
    """A violent offence whose description names a partner or domestic abuse."""
    text = offence.lower()
    return category == "violent" and any(word in text for word in PARTNER_OFFENCE_WORDS)
