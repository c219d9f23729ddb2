"""The event catalogue (version 2, docs/format.md) as immutable Pydantic models.

`Event` is a discriminated union on `type`; every model rejects unknown fields.
Times are normalised to timezone-aware UTC datetimes: a date alone means the
start of that day, a date-time without an offset is UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
)

from triggers.errors import shown
from triggers.limits import (
    EARLIEST,
    LATEST,
    MAX_ID_LENGTH,
    MAX_LIST_ITEMS,
    MAX_NOTE_LENGTH,
    MAX_TEXT_LENGTH,
    MIN_DECIMAL,
    check_text,
)
from triggers.models.times import parse_time

__all__ = [
    "ADDED_DEFAULTS",
    "CATALOGUE_VERSION",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "MAX_WHOLE",
    "ORDERED_VALUES",
    "AdultJoinedHouseholdEvent",
    "AllocationChangedEvent",
    "AppointmentMissedEvent",
    "ArrestEvent",
    "AssessmentCompletedEvent",
    "AssessmentOutcome",
    "AssociationWithFamilyEvent",
    "BailGrantedEvent",
    "BailLapsedEvent",
    "BailLapsedReason",
    "BaseEvent",
    "BreachKind",
    "Category",
    "ChildJoinedHouseholdEvent",
    "ChildLeftHouseholdEvent",
    "ChildMissingEvent",
    "ChronologyTime",
    "CommunityConcernEvent",
    "ConditionChange",
    "ConferenceRefusedEvent",
    "ContactLostEvent",
    "ConvictionEvent",
    "DomesticIncidentEvent",
    "EnforcementDecisionEvent",
    "EnforcementKind",
    "Event",
    "HomeVisitEvent",
    "Id",
    "IncidentRole",
    "InjuryObservedEvent",
    "IntelligenceAbout",
    "IntelligenceReceivedEvent",
    "JoinReason",
    "LeftReason",
    "LicenceConditionChangedEvent",
    "MappaCategory",
    "MappaEndedEvent",
    "MappaLevel",
    "MappaLevelSetEvent",
    "MappaReviewEvent",
    "MonitoringInstalledEvent",
    "MonitoringSoftwareFailureEvent",
    "NewPregnancyEvent",
    "NewRelationshipEvent",
    "Note",
    "NotificationBreachEvent",
    "OffenderMovedAreaEvent",
    "OrderKind",
    "PlanEndedEvent",
    "PlanKind",
    "PlanStartedEvent",
    "ProtectiveOrderEvent",
    "RecallIssuedEvent",
    "ReferralClosedEvent",
    "ReferralClosedReason",
    "RegistrationEndedEvent",
    "RegistrationStartedEvent",
    "ReleasedEvent",
    "ReleasedOn",
    "ReporterType",
    "ReturnInterviewEvent",
    "ReturnedToCustodyEvent",
    "RiskAssessedEvent",
    "RiskLevel",
    "Scale",
    "StrategyMeetingEvent",
    "SubjectJoinedHouseholdEvent",
    "Text",
    "Title",
    "Towards",
    "VisitOutcome",
    "WantedCirculatedEvent",
    "WantedScope",
    "check_text",
    "event_adapter",
    "group_moments",
]

Category: TypeAlias = Literal["sexual", "violent", "other"]
RiskLevel: TypeAlias = Literal["low", "medium", "high", "very_high"]
Towards: TypeAlias = Literal["children", "public", "known_adult", "staff"]
PlanKind: TypeAlias = Literal[
    "child_protection", "child_in_need", "written_agreement", "risk_management"
]
ReporterType: TypeAlias = Literal[
    "neighbour", "family", "parent", "professional", "anonymous", "other"
]
BailLapsedReason: TypeAlias = Literal["acquitted", "charges_dropped", "expired", "other"]
JoinReason: TypeAlias = Literal["birth", "moved_in", "other"]
# Version 2.
Scale: TypeAlias = Literal["sexual", "violence", "combined"]
AssessmentOutcome: TypeAlias = Literal[
    "no_further_action", "child_in_need", "child_protection", "other"
]
VisitOutcome: TypeAlias = Literal["seen", "not_in", "not_at_address", "refused_entry"]
BreachKind: TypeAlias = Literal["address", "travel", "name", "household_child", "other"]
WantedScope: TypeAlias = Literal["local", "national"]
ReleasedOn: TypeAlias = Literal["licence", "sentence_end", "remand_end"]
ConditionChange: TypeAlias = Literal["added", "relaxed", "removed"]
EnforcementKind: TypeAlias = Literal["verbal_warning", "formal_warning", "recall_requested"]
LeftReason: TypeAlias = Literal["moved_out", "placed", "other"]
IntelligenceAbout: TypeAlias = Literal[
    "sexual_risk_children", "domestic_abuse", "violence", "other"
]
IncidentRole: TypeAlias = Literal["perpetrator", "victim"]
OrderKind: TypeAlias = Literal["restraining", "non_molestation", "sexual_harm_prevention", "other"]
ReferralClosedReason: TypeAlias = Literal[
    "no_further_action", "malicious", "other_agency_involved", "other"
]

#: Enumerations whose values have an order, lowest first; rules may compare them: the
#: risk `level` of an event, and the case-state values that hold one (models/state.py).
ORDERED_VALUES: dict[str, tuple[str, ...]] = {
    "level": get_args(RiskLevel),
    **{f"risk_towards_{towards}": get_args(RiskLevel) for towards in get_args(Towards)},
    "highest_risk_level": get_args(RiskLevel),
}


def _chronology_time(value: Any) -> datetime:
    moment = parse_time(value)
    if not EARLIEST <= moment <= LATEST:
        given = shown(value) if isinstance(value, str) else value.isoformat()
        raise ValueError(
            f"date {given} is outside the dates a chronology may hold:"
            f" {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"
        )
    return moment


def _text(limit: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, str):
            check_text(value, limit)
        return value

    return check


def _strict_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


EventTime = Annotated[datetime, BeforeValidator(parse_time)]
#: A moment in a chronology: an `EventTime` from `EARLIEST` to `LATEST`.
ChronologyTime = Annotated[
    datetime,
    BeforeValidator(_chronology_time),
    Field(description="an ISO 8601 date or date-time from 1900-01-01 to 2200-12-31 (UTC)"),
]
#: Whole numbers stay exact in every evaluator (the rule engine keeps 64-bit numbers,
#: JSON readers doubles): at most 2**53 - 1.
MAX_WHOLE = 2**53 - 1
Count = Annotated[int, BeforeValidator(_strict_int), Field(ge=0, le=MAX_WHOLE)]


def _decimal(value: float) -> float:
    if 0 < abs(value) < MIN_DECIMAL:
        raise ValueError(
            f"must be 0 or at least {MIN_DECIMAL} (smaller numbers cannot be compared)"
        )
    return value


#: A length of time in hours: 0, or from `MIN_DECIMAL` to `MAX_WHOLE`.
Hours = Annotated[float, Field(ge=0, le=MAX_WHOLE, allow_inf_nan=False), AfterValidator(_decimal)]
MappaLevel = Annotated[Literal[1, 2, 3], BeforeValidator(_strict_int)]
MappaCategory = Annotated[Literal[1, 2, 3, 4], BeforeValidator(_strict_int)]
#: Ids and names (case, subject, event id, source): the store keeps 200 characters.
Id = Annotated[
    str, BeforeValidator(_text(MAX_ID_LENGTH)), Field(min_length=1, max_length=MAX_ID_LENGTH)
]
Text = Annotated[
    str, BeforeValidator(_text(MAX_TEXT_LENGTH)), Field(min_length=1, max_length=MAX_TEXT_LENGTH)
]
Title = Annotated[str, BeforeValidator(_text(MAX_TEXT_LENGTH)), Field(max_length=MAX_TEXT_LENGTH)]
Note = Annotated[str, BeforeValidator(_text(MAX_NOTE_LENGTH)), Field(max_length=MAX_NOTE_LENGTH)]


def _type_required(schema: dict[str, Any]) -> None:
    """Files must name an event's type: required in the JSON Schema, with no default."""
    if "type" not in schema["properties"]:
        return  # BaseEvent itself
    schema["properties"]["type"].pop("default", None)
    required = set(schema.get("required", ())) | {"type"}
    schema["required"] = [name for name in schema["properties"] if name in required]


class BaseEvent(BaseModel):
    """Fields every event carries. Each type's model knows its own `type`: built in
    Python, `ConvictionEvent(at=..., offence=..., category=...)` needs no `type=`."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_type_required)

    at: ChronologyTime
    source: Id | None = None
    id: Id | None = None
    recorded_at: ChronologyTime | None = None
    note: Note | None = None

    def fields(self) -> dict[str, Any]:
        """The type-specific fields that are set, as JSON-compatible values."""
        return self.model_dump(
            mode="json", exclude=_COMMON_FIELDS, exclude_none=True, by_alias=True
        )


#: Fields every event has, which `fields` leaves out.
_COMMON_FIELDS = {*BaseEvent.model_fields, "type"}


class ConvictionEvent(BaseEvent):
    """The subject was convicted."""

    type: Literal["conviction"] = "conviction"
    offence: Text
    category: Category
    victim_age: Count | None = None


class ArrestEvent(BaseEvent):
    """The subject was arrested or charged."""

    type: Literal["arrest"] = "arrest"
    offence: Text
    category: Category
    on_licence: StrictBool | None = None


class RegistrationStartedEvent(BaseEvent):
    """Sex offender notification requirements begin."""

    type: Literal["registration_started"] = "registration_started"
    years: Count | None = None


class RegistrationEndedEvent(BaseEvent):
    """Notification requirements end."""

    type: Literal["registration_ended"] = "registration_ended"


class RiskAssessedEvent(BaseEvent):
    """A risk assessment result (RM2000, OASys, ARMS, KIRAT, ...)."""

    type: Literal["risk_assessed"] = "risk_assessed"
    tool: Text
    level: RiskLevel
    towards: Towards | None = None
    scales: Annotated[tuple[Scale, ...], Field(max_length=MAX_LIST_ITEMS)] | None = None
    subject_seen: StrictBool | None = None


class MappaLevelSetEvent(BaseEvent):
    """MAPPA management level set or changed."""

    type: Literal["mappa_level_set"] = "mappa_level_set"
    level: MappaLevel
    category: MappaCategory | None = None
    area: Text | None = None


class MappaReviewEvent(BaseEvent):
    """The subject was formally reviewed at a MAPPA meeting."""

    type: Literal["mappa_review"] = "mappa_review"
    level: MappaLevel | None = None
    area: Text | None = None


class MappaEndedEvent(BaseEvent):
    """The subject leaves MAPPA."""

    type: Literal["mappa_ended"] = "mappa_ended"


class OffenderMovedAreaEvent(BaseEvent):
    """The subject moves to another area."""

    type: Literal["offender_moved_area"] = "offender_moved_area"
    from_area: Text
    to_area: Text


class BailGrantedEvent(BaseEvent):
    """Bail with conditions."""

    type: Literal["bail_granted"] = "bail_granted"
    conditions: Annotated[tuple[Text, ...], Field(max_length=MAX_LIST_ITEMS)] | None = None


class BailLapsedEvent(BaseEvent):
    """Bail conditions cease."""

    type: Literal["bail_lapsed"] = "bail_lapsed"
    reason: BailLapsedReason


class MonitoringInstalledEvent(BaseEvent):
    """Monitoring software installed."""

    type: Literal["monitoring_installed"] = "monitoring_installed"
    device: Text | None = None


class MonitoringSoftwareFailureEvent(BaseEvent):
    """Monitoring found not working."""

    type: Literal["monitoring_software_failure"] = "monitoring_software_failure"
    device: Text | None = None
    cause: Text | None = None


class CommunityConcernEvent(BaseEvent):
    """A concern raised about the subject; `reporter` identifies who raised it."""

    type: Literal["community_concern"] = "community_concern"
    reporter: Text
    reporter_type: ReporterType | None = None
    concern: Text | None = None
    category: Category | None = None
    withdrawn: StrictBool = False


class NewRelationshipEvent(BaseEvent):
    """The subject starts a relationship."""

    type: Literal["new_relationship"] = "new_relationship"
    partner_has_children: StrictBool
    partner: Text | None = None


class NewPregnancyEvent(BaseEvent):
    """A pregnancy in the subject's household."""

    type: Literal["new_pregnancy"] = "new_pregnancy"
    household_member: Text | None = None


class ChildJoinedHouseholdEvent(BaseEvent):
    """A child born into or moving into the household."""

    type: Literal["child_joined_household"] = "child_joined_household"
    child: Text
    age: Count | None = None
    reason: JoinReason | None = None


class PlanStartedEvent(BaseEvent):
    """A plan or written agreement starts."""

    type: Literal["plan_started"] = "plan_started"
    plan: PlanKind
    child: Text | None = None


class PlanEndedEvent(BaseEvent):
    """A plan ends; `contingency` says whether a revisit was planned."""

    type: Literal["plan_ended"] = "plan_ended"
    plan: PlanKind
    child: Text | None = None
    contingency: StrictBool = False


class AssessmentCompletedEvent(BaseEvent):
    """A fresh assessment was completed."""

    type: Literal["assessment_completed"] = "assessment_completed"
    agency: Text | None = None
    kind: Text | None = None
    outcome: AssessmentOutcome | None = None


class StrategyMeetingEvent(BaseEvent):
    """A multi-agency strategy meeting was held."""

    type: Literal["strategy_meeting"] = "strategy_meeting"


class ConferenceRefusedEvent(BaseEvent):
    """A request for a child protection conference was refused."""

    type: Literal["conference_refused"] = "conference_refused"
    requested_by: Text | None = None


class ChildMissingEvent(BaseEvent):
    """A child went missing."""

    type: Literal["child_missing"] = "child_missing"
    child: Text
    hours: Hours | None = None


class ReturnInterviewEvent(BaseEvent):
    """A return interview after a missing episode took place."""

    type: Literal["return_interview"] = "return_interview"
    child: Text


# Version 2 (docs/format.md section 4.2).


class HomeVisitEvent(BaseEvent):
    """A visit to the subject's home."""

    type: Literal["home_visit"] = "home_visit"
    outcome: VisitOutcome
    agency: Text | None = None
    announced: StrictBool | None = None


class AppointmentMissedEvent(BaseEvent):
    """The subject missed a supervision appointment."""

    type: Literal["appointment_missed"] = "appointment_missed"
    agency: Text | None = None


class ContactLostEvent(BaseEvent):
    """The agencies no longer know where the subject is."""

    type: Literal["contact_lost"] = "contact_lost"
    agency: Text | None = None


class NotificationBreachEvent(BaseEvent):
    """The subject failed to notify as required."""

    type: Literal["notification_breach"] = "notification_breach"
    kind: BreachKind


class WantedCirculatedEvent(BaseEvent):
    """The subject is circulated as wanted or missing."""

    type: Literal["wanted_circulated"] = "wanted_circulated"
    scope: WantedScope


class ReleasedEvent(BaseEvent):
    """Released from custody."""

    type: Literal["released"] = "released"
    on: ReleasedOn
    licence_end: ChronologyTime | None = None


class LicenceConditionChangedEvent(BaseEvent):
    """A licence or order condition set, relaxed or lifted."""

    type: Literal["licence_condition_changed"] = "licence_condition_changed"
    condition: Text
    change: ConditionChange


class EnforcementDecisionEvent(BaseEvent):
    """The supervising agency's response to a breach."""

    type: Literal["enforcement_decision"] = "enforcement_decision"
    kind: EnforcementKind


class RecallIssuedEvent(BaseEvent):
    """A recall to custody is issued."""

    type: Literal["recall_issued"] = "recall_issued"


class ReturnedToCustodyEvent(BaseEvent):
    """The subject is back in custody (recall, remand or sentence)."""

    type: Literal["returned_to_custody"] = "returned_to_custody"


class AllocationChangedEvent(BaseEvent):
    """The case's lead worker or officer changed."""

    type: Literal["allocation_changed"] = "allocation_changed"
    agency: Text | None = None


class AdultJoinedHouseholdEvent(BaseEvent):
    """An adult joins the household where the children live."""

    type: Literal["adult_joined_household"] = "adult_joined_household"
    person: Text
    relationship: Text | None = None
    checked: StrictBool | None = None


class SubjectJoinedHouseholdEvent(BaseEvent):
    """The subject moves into another household."""

    type: Literal["subject_joined_household"] = "subject_joined_household"
    children: Count
    with_person: Text | None = None


class ChildLeftHouseholdEvent(BaseEvent):
    """A child leaves the household."""

    type: Literal["child_left_household"] = "child_left_household"
    child: Text
    reason: LeftReason | None = None


class AssociationWithFamilyEvent(BaseEvent):
    """The subject befriends or associates with a family."""

    type: Literal["association_with_family"] = "association_with_family"
    family: Text
    children: StrictBool | None = None


class IntelligenceReceivedEvent(BaseEvent):
    """Intelligence about the subject reaches an agency.

    Its origin is `from` in files and rules, `from_` as a Python attribute; to build one
    in Python, pass `**{"from": ...}` (a file's `from_:` is an unknown field).
    """

    type: Literal["intelligence_received"] = "intelligence_received"
    about: IntelligenceAbout
    from_: Text | None = Field(default=None, alias="from")


class DomesticIncidentEvent(BaseEvent):
    """A domestic abuse incident involving the subject."""

    type: Literal["domestic_incident"] = "domestic_incident"
    role: IncidentRole
    children_present: StrictBool | None = None


class ProtectiveOrderEvent(BaseEvent):
    """An order made against the subject."""

    type: Literal["protective_order"] = "protective_order"
    kind: OrderKind
    protects: Text | None = None


class ReferralClosedEvent(BaseEvent):
    """An agency closes a referral or case."""

    type: Literal["referral_closed"] = "referral_closed"
    agency: Text
    reason: ReferralClosedReason


class InjuryObservedEvent(BaseEvent):
    """An injury to a child is seen or reported."""

    type: Literal["injury_observed"] = "injury_observed"
    child: Text
    site: Text | None = None
    seen_by: Text | None = None


Event = Annotated[
    ConvictionEvent
    | ArrestEvent
    | RegistrationStartedEvent
    | RegistrationEndedEvent
    | RiskAssessedEvent
    | MappaLevelSetEvent
    | MappaReviewEvent
    | MappaEndedEvent
    | OffenderMovedAreaEvent
    | BailGrantedEvent
    | BailLapsedEvent
    | MonitoringInstalledEvent
    | MonitoringSoftwareFailureEvent
    | CommunityConcernEvent
    | NewRelationshipEvent
    | NewPregnancyEvent
    | ChildJoinedHouseholdEvent
    | PlanStartedEvent
    | PlanEndedEvent
    | AssessmentCompletedEvent
    | StrategyMeetingEvent
    | ConferenceRefusedEvent
    | ChildMissingEvent
    | ReturnInterviewEvent
    | HomeVisitEvent
    | AppointmentMissedEvent
    | ContactLostEvent
    | NotificationBreachEvent
    | WantedCirculatedEvent
    | ReleasedEvent
    | LicenceConditionChangedEvent
    | EnforcementDecisionEvent
    | RecallIssuedEvent
    | ReturnedToCustodyEvent
    | AllocationChangedEvent
    | AdultJoinedHouseholdEvent
    | SubjectJoinedHouseholdEvent
    | ChildLeftHouseholdEvent
    | AssociationWithFamilyEvent
    | IntelligenceReceivedEvent
    | DomesticIncidentEvent
    | ProtectiveOrderEvent
    | ReferralClosedEvent
    | InjuryObservedEvent,
    Field(discriminator="type"),
]

#: The version of the event catalogue and action vocabulary (docs/format.md).
CATALOGUE_VERSION = 2
#: Each event type's model, in catalogue order.
EVENT_MODELS: dict[str, type[BaseEvent]] = {
    get_args(model.model_fields["type"].annotation)[0]: model
    for model in get_args(get_args(Event)[0])
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)
#: Fields added to a version-1 type with a default, by type: a derived event id leaves
#: them out while they hold that default, so that version-1 files keep their ids.
ADDED_DEFAULTS: dict[str, dict[str, Any]] = {"community_concern": {"withdrawn": False}}


def group_moments(events: Iterable[Event]) -> list[list[Event]]:
    """Events grouped by the moment they happened, in time order (each group in given order)."""
    groups: list[list[Event]] = []
    for event in sorted(events, key=lambda e: e.at):
        if groups and groups[-1][0].at == event.at:
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


event_adapter: TypeAdapter[Event] = TypeAdapter(Event)
