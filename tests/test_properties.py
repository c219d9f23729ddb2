"""Properties of replay over random chronologies, for the default rules (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import chronology
from triggers import CompiledRuleSet, Engine

START = datetime(2010, 1, 1, tzinfo=UTC)
CHILDREN = st.sampled_from(["a", "b"])
AREAS = st.sampled_from(["north", "south"])


def _event(kind: str, **fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    # Times on a coarse grid make simultaneous events and exact window ends likely.
    at = st.integers(0, 3 * 365 * 4).map(lambda q: (START + timedelta(hours=6 * q)).isoformat())
    return st.fixed_dictionaries({"at": at, "type": st.just(kind), **fields})


EVENTS = st.one_of(
    _event("conviction", offence=st.just("x"), category=st.sampled_from(["sexual", "violent", "other"])),
    _event("arrest", offence=st.just("x"), category=st.sampled_from(["sexual", "other"])),
    _event("registration_started"),
    _event("registration_ended"),
    _event("risk_assessed", tool=st.sampled_from(["RM2000", "OASys"]),
           level=st.sampled_from(["low", "medium", "high"]), towards=st.just("children")),
    _event("mappa_level_set", level=st.sampled_from([1, 2, 3]), area=AREAS),
    _event("mappa_review", area=AREAS),
    _event("offender_moved_area", from_area=AREAS, to_area=AREAS),
    _event("bail_lapsed", reason=st.just("expired")),
    _event("monitoring_software_failure"),
    _event("community_concern", reporter=st.sampled_from(["n1", "n2", "n3"])),
    _event("new_relationship", partner_has_children=st.booleans()),
    _event("new_pregnancy"),
    _event("child_joined_household", child=CHILDREN),
    _event("plan_started", plan=st.sampled_from(["child_in_need", "written_agreement"])),
    _event("plan_ended", plan=st.just("child_in_need"), contingency=st.booleans()),
    _event("assessment_completed"),
    _event("conference_refused"),
    _event("child_missing", child=CHILDREN),
    _event("return_interview", child=CHILDREN),
)  # fmt: skip
CHRONOLOGIES = st.lists(EVENTS, max_size=40)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(events=CHRONOLOGIES, order=st.randoms(use_true_random=False))
def test_replay_is_repeatable_and_order_free(
    engine: Engine, events: list[dict[str, Any]], order: Any
) -> None:
    until = START + timedelta(days=4 * 365)
    first = engine.replay(chronology(events), until).alerts
    assert engine.replay(chronology(events), until).alerts == first
    shuffled = list(events)
    order.shuffle(shuffled)
    assert engine.replay(chronology(shuffled), until).alerts == first


@SETTINGS
@given(events=CHRONOLOGIES)
def test_deadline_alerts_fall_exactly_at_trigger_plus_window(
    engine: Engine, default_rules: CompiledRuleSet, events: list[dict[str, Any]]
) -> None:
    case = chronology(events)
    by_id = {event.id: event for event in case.events}
    until = START + timedelta(days=4 * 365)
    for alert in engine.replay(case, until).alerts:
        rule = default_rules.rule(alert.rule)
        if rule.absent is not None:
            (trigger,) = alert.events
            assert alert.at == rule.absent.window.after(by_id[trigger].at)
            assert alert.at <= until
        elif rule.due is not None:  # a missed deadline, one or more periods on
            (started,) = alert.events
            assert by_id[started].at < alert.at <= until
        else:
            assert alert.at == max(by_id[i].at for i in alert.events)
