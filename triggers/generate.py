"""Synthetic case chronologies for benchmarks and tests (`triggers generate`).

Each case is a subject's timeline over 2 to 10 years, starting between 2005 and
2020, built from storylines with the sequences reviews describe: a conviction
followed by registration and a MAPPA level; a relationship, a pregnancy and a
birth; moves with or without a review in the new area; missing episodes with or
without return interviews; plans ended with or without contingency; concerns,
assessments, bail, monitoring and refused conferences; and, from catalogue version
2, supervision (home visits, missed appointments, contact lost and found again),
licence and recall (breaches, warnings, recall, custody, release), household
changes in both directions, and domestic abuse with the intelligence, orders,
referrals and injuries around it. Routine events (reviews,
assessments, meetings) fill the rest, so that alerts stay a handful a year.

Everything is plain data (`dict`s in the shape of a chronology file) and
deterministic: case `i` of seed `s` is the same whatever the number of cases.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from triggers._corpus_files import FORMATS, case_file_name, write_corpus

__all__ = ["FORMATS", "case_file_name", "generate_case", "generate_corpus", "write_corpus"]

_AREAS = ("north", "south", "east", "west", "central", "coast", "valley", "city")
_OFFENCES = {
    "sexual": ("possession of indecent images", "sexual assault", "grooming", "exposure"),
    "violent": ("assault occasioning actual bodily harm", "wounding", "affray", "robbery"),
    "other": ("burglary", "theft", "criminal damage", "drug supply"),
}
_CHILDREN = ("aa", "bb", "cc", "dd", "ee", "ff", "gg", "hh", "jj", "kk")
_REPORTERS = {
    "neighbour": ("neighbour-1", "neighbour-2"),
    "family": ("grandmother", "aunt"),
    "parent": ("school-parent",),
    "professional": ("health-visitor", "teacher", "gp"),
    "anonymous": ("anonymous",),
}
_CONCERNS = ("seen with children", "visitors late at night", "children left alone", "shouting")
_LEVELS = ("low", "medium", "high", "very_high")
#: Who records each kind of event, where the corpus names a source.
_SOURCES = {
    kind: source
    for source, kinds in (
        ("court", ("conviction",)),
        ("police", ("arrest", "registration_started", "registration_ended", "child_missing")),
        ("mappa", ("mappa_level_set", "mappa_review", "mappa_ended")),
        ("childrens_services", ("plan_started", "plan_ended", "return_interview")),
        (
            "probation",
            (
                "home_visit",
                "appointment_missed",
                "contact_lost",
                "licence_condition_changed",
                "enforcement_decision",
                "recall_issued",
                "allocation_changed",
            ),
        ),
        ("prison", ("released", "returned_to_custody")),
        ("court", ("protective_order",)),
        (
            "police",
            (
                "notification_breach",
                "wanted_circulated",
                "intelligence_received",
                "domestic_incident",
            ),
        ),
        ("childrens_services", ("adult_joined_household", "child_left_household")),
        ("health", ("injury_observed",)),
    )
    for kind in kinds
}


class _Case:
    """One case being written: its events so far, what the story knows, and its budget."""

    def __init__(self, rng: random.Random, budget: int) -> None:
        self.rng = rng
        self.budget = budget
        self.events: list[tuple[datetime, int, dict[str, Any]]] = []
        self.profile = rng.choices(("sexual", "violent", "family"), (45, 25, 30))[0]
        self.area = rng.choice(_AREAS)
        self.mappa_level: int | None = None
        self.registered = False
        self.children: list[str] = []
        self.monitoring = False
        self.tools: dict[str, str] = {}
        self.on_licence = False
        self.adults: list[str] = []
        #: The latest level per tool and audience, as the case state keeps them.
        self.levels: dict[tuple[str, str | None], str] = {}
        self.last_review: datetime | None = None
        self.last_seen: datetime | None = None

    def full(self) -> bool:
        return len(self.events) >= self.budget

    def add(self, at: datetime, kind: str, /, *, timed: bool = False, **fields: Any) -> None:
        """Record an event at `at` (a date unless `timed`), unless the budget is spent."""
        if self.full():
            return
        if not timed:
            at = at.replace(hour=0, minute=0)
        text = at.strftime("%Y-%m-%dT%H:%M:00Z" if timed else "%Y-%m-%d")
        event: dict[str, Any] = {"at": text, "type": kind}
        if kind in _SOURCES and self.rng.random() < 0.8:
            event["source"] = _SOURCES[kind]
        event.update((name, value) for name, value in fields.items() if value is not None)
        self.events.append((at, len(self.events), event))
        if kind in ("mappa_level_set", "mappa_review"):
            self.last_review = max(at, self.last_review or at)
        if kind == "risk_assessed":
            self.levels[fields["tool"], fields.get("towards")] = fields["level"]
        if kind == "home_visit" and fields.get("outcome") == "seen":
            self.last_seen = max(at, self.last_seen or at)

    def keep_appointments(self, t: datetime) -> None:
        """MAPPA reviews and home visits up to `t`, mostly on time, as agencies keep them.

        Levels 2 and 3 are reviewed every 16 and 8 weeks; a subject assessed high is
        seen at home every 3 months once a visit has seen them. About one in ten is late.
        """
        if self.mappa_level in (2, 3) and self.last_review is not None:
            period = timedelta(weeks=16 if self.mappa_level == 2 else 8)
            while self.last_review + period <= t and not self.full():
                late = self.rng.random() < 0.1
                shift = self.days(7, 60) if late else -self.days(0, 14)
                self.add(
                    self.last_review + period + shift,
                    "mappa_review",
                    level=self.mappa_level,
                    area=self.area,
                )
        # Once a visit has seen a managed subject, visits follow the level, as the rule
        # that expects them does (its clock runs on while the level is high).
        high = any(level in ("high", "very_high") for level in self.levels.values())
        if high and self.last_seen is not None:
            period = timedelta(days=91)
            while self.last_seen + period <= t and not self.full():
                late = self.rng.random() < 0.1
                shift = self.days(7, 60) if late else -self.days(0, 14)
                agency = "police" if self.registered else "probation"
                self.add(
                    self.last_seen + period + shift, "home_visit", outcome="seen", agency=agency
                )

    def days(self, low: int, high: int) -> timedelta:
        return timedelta(days=self.rng.randint(low, high))

    def child(self) -> str:
        if not self.children:
            self.children.append(self.rng.choice(_CHILDREN))
        return self.rng.choice(self.children)

    def assess(self, at: datetime, tool: str, level: str, towards: str | None) -> None:
        self.tools[tool] = level
        scales = {"RM2000": ["sexual", "violence", "combined"], "OASys": ["violence"]}.get(tool)
        if tool == "RM2000" and self.rng.random() < 0.2:  # scored on the sexual scale alone
            scales = ["sexual"]
        seen = self.rng.random() < 0.8 if self.rng.random() < 0.5 else None
        self.add(
            at, "risk_assessed", tool=tool, level=level, towards=towards, scales=scales,
            subject_seen=seen,
        )  # fmt: skip

    # Storylines: each starts at `t` and adds its events, follow-ups later in time.

    def opening(self, t: datetime) -> None:
        rng = self.rng
        if self.profile == "family":
            for _ in range(rng.randint(1, 2)):
                name = rng.choice([c for c in _CHILDREN if c not in self.children])
                self.children.append(name)
                reason = rng.choice(("birth", "moved_in"))
                age = 0 if reason == "birth" else rng.randint(1, 15)
                self.add(t, "child_joined_household", child=name, age=age, reason=reason)
            self.add(t + self.days(7, 40), "assessment_completed", agency="childrens_services")
            return
        category = self.profile
        victim = rng.randint(4, 17) if category == "sexual" and rng.random() < 0.5 else None
        offence = rng.choice(_OFFENCES[category])
        self.add(t, "conviction", offence=offence, category=category, victim_age=victim)
        if category == "sexual":
            self.registered = True
            self.add(t, "registration_started", years=rng.choice((5, 7, 10, None)))
        if category == "sexual" or rng.random() < 0.5:
            self.mappa_level = rng.choice((1, 1, 2, 2, 3))
            mappa_category = 1 if category == "sexual" else 2
            self.add(
                t + self.days(7, 40),
                "mappa_level_set",
                level=self.mappa_level,
                category=mappa_category,
                area=self.area,
            )
        tool = "RM2000" if category == "sexual" else "OASys"
        towards = "children" if category == "sexual" else rng.choice(("public", "known_adult"))
        self.assess(t + self.days(20, 90), tool, rng.choice(("medium", "high")), towards)

    def relationship(self, t: datetime) -> None:
        rng = self.rng
        has_children = rng.random() < 0.4
        self.add(t, "new_relationship", partner_has_children=has_children, partner="partner")
        if has_children and rng.random() < 0.5:
            name = rng.choice([c for c in _CHILDREN if c not in self.children])
            self.children.append(name)
            age = rng.randint(2, 14)
            self.add(t + self.days(30, 200), "child_joined_household", child=name, age=age)
        if rng.random() < 0.45:
            t += self.days(60, 400)
            self.add(t, "new_pregnancy", household_member="partner")
            if rng.random() < 0.8:
                name = rng.choice([c for c in _CHILDREN if c not in self.children])
                self.children.append(name)
                t += self.days(180, 250)
                self.add(t, "child_joined_household", child=name, age=0, reason="birth")

    def move(self, t: datetime) -> None:
        to_area = self.rng.choice([a for a in _AREAS if a != self.area])
        self.add(t, "offender_moved_area", from_area=self.area, to_area=to_area)
        self.area = to_area
        if self.mappa_level is not None and self.rng.random() < 0.85:
            late = self.rng.random() < 0.1
            when = t + (self.days(35, 90) if late else self.days(3, 25))
            self.add(when, "mappa_review", level=self.mappa_level, area=to_area)

    def missing(self, t: datetime) -> None:
        rng = self.rng
        name = self.child()
        episodes = rng.choices((1, 2, 3, 4), (70, 15, 10, 5))[0]
        for _ in range(episodes):
            t = t.replace(hour=rng.randint(0, 23), minute=rng.choice((0, 15, 30, 45)))
            hours = rng.choice((3, 6, 12, 24, 48))
            self.add(t, "child_missing", timed=True, child=name, hours=hours)
            if rng.random() < 0.85:
                back = t + timedelta(hours=hours + rng.randint(2, 40))
                self.add(back, "return_interview", timed=True, child=name)
            t += self.days(3, 9)

    def plan(self, t: datetime) -> None:
        rng = self.rng
        kinds = {
            "sexual": ("written_agreement", "child_protection", "risk_management"),
            "violent": ("risk_management", "child_in_need"),
            "family": ("child_in_need", "child_protection", "written_agreement"),
        }[self.profile]
        kind = rng.choice(kinds)
        child = None if kind == "risk_management" else self.child()
        self.add(t, "plan_started", plan=kind, child=child)
        t += self.days(90, 540)
        contingency = rng.random() < 0.55
        self.add(t, "plan_ended", plan=kind, child=child, contingency=contingency)
        if contingency or rng.random() < 0.65:
            agency = "childrens_services" if child else "probation"
            self.add(t + self.days(0, 300), "assessment_completed", agency=agency)

    def concern(self, t: datetime) -> None:
        rng = self.rng
        shape = rng.choices(("one", "several", "same"), (65, 25, 10))[0]
        kinds = rng.sample(list(_REPORTERS), 3)
        for index in range(1 if shape == "one" else rng.randint(2, 3)):
            kind = kinds[0] if shape == "same" else kinds[index]
            reporter = _REPORTERS[kind][0]
            concern = rng.choice(_CONCERNS)
            category = rng.choice(("sexual", "violent", "other", None))
            withdrawn = True if rng.random() < 0.05 else None
            self.add(
                t, "community_concern", reporter=reporter, reporter_type=kind, concern=concern,
                category=category, withdrawn=withdrawn,
            )  # fmt: skip
            t += self.days(10, 120)
        if self.profile == "sexual" and rng.random() < 0.2:  # what the police hear too
            origin: dict[str, Any] = {"from": rng.choice(("partner agency", "anonymous"))}
            self.add(t, "intelligence_received", about="sexual_risk_children", **origin)

    def monitoring_story(self, t: datetime) -> None:
        if not self.monitoring:
            self.monitoring = True
            self.add(t, "monitoring_installed", device=self.rng.choice(("laptop", "phone")))
            return
        cause = self.rng.choice(("software removed", "update failed", "device replaced"))
        self.add(t, "monitoring_software_failure", cause=cause)
        self.monitoring = self.rng.random() < 0.5  # else reinstalled, in a later storyline
        if self.rng.random() < 0.25:
            self.add(t + self.days(40, 330), "monitoring_software_failure", cause="update failed")

    def bail(self, t: datetime) -> None:
        rng = self.rng
        category = rng.choices(("sexual", "violent", "other"), (2, 3, 5))[0]
        offence = rng.choice(_OFFENCES[category])
        self.add(t, "arrest", offence=offence, category=category, on_licence=self.on_licence)
        conditions = rng.sample(["no contact with children", "curfew", "residence"], 2)
        self.add(t + self.days(0, 1), "bail_granted", conditions=conditions)
        t += self.days(40, 240)
        if rng.random() < 0.2:
            self.add(t, "conviction", offence=offence, category=category)
        else:
            reason = rng.choice(("acquitted", "charges_dropped", "expired", "other"))
            self.add(t, "bail_lapsed", reason=reason)

    def reassess(self, t: datetime) -> None:
        tool = next(iter(self.tools), None) or "OASys"
        level = self.tools.get(tool, "medium")
        index = _LEVELS.index(level) + self.rng.choice((-1, -1, 1, 0))
        towards = "children" if self.profile != "violent" else "public"
        self.assess(t, tool, _LEVELS[max(0, min(index, 3))], towards)

    def conference(self, t: datetime) -> None:
        self.add(t, "conference_refused", requested_by=self.rng.choice(("school", "health")))
        if self.rng.random() < 0.35:
            self.add(t + self.days(30, 300), "conference_refused", requested_by="police")

    def ending(self, t: datetime) -> None:
        if self.registered and self.rng.random() < 0.5:
            self.registered = False
            self.add(t, "registration_ended")
        elif self.mappa_level is not None:
            self.mappa_level = None
            self.add(t, "mappa_ended")
        else:
            self.routine(t)

    # Version 2 storylines.

    def supervision(self, t: datetime) -> None:
        """Home visits and appointments; sometimes contact is lost and found again."""
        rng = self.rng
        agency = "police" if self.registered else "probation"
        for _ in range(rng.randint(1, 3)):
            outcome = rng.choices(
                ("seen", "not_in", "not_at_address", "refused_entry"), (75, 15, 5, 5)
            )[0]
            self.add(t, "home_visit", outcome=outcome, agency=agency, announced=rng.random() < 0.5)
            if outcome != "seen" and rng.random() < 0.3:
                self.add(t + self.days(1, 14), "appointment_missed", agency="probation")
            t += self.days(20, 90)
        if rng.random() < 0.2:
            self.add(t, "contact_lost", agency=agency)
            if rng.random() < 0.6:
                scope = rng.choice(("local", "national"))
                self.add(t + self.days(0, 10), "wanted_circulated", scope=scope)
            found = t + self.days(5, 120)
            if rng.random() < 0.7:
                self.add(found, "home_visit", outcome="seen", agency=agency)
            else:
                self.add(found, "returned_to_custody")
        if rng.random() < 0.3:
            self.add(t + self.days(10, 200), "allocation_changed", agency=agency)

    def licence(self, t: datetime) -> None:
        """Release on licence; a breach, a warning or a recall, custody and release again."""
        rng = self.rng
        if not self.on_licence:
            self.on_licence = True
            end = (t + self.days(180, 900)).strftime("%Y-%m-%d")
            self.add(t, "released", on="licence", licence_end=end)
            condition = rng.choice(
                ("no unsupervised contact with children", "curfew", "exclusion zone")
            )
            self.add(t, "licence_condition_changed", condition=condition, change="added")
            if rng.random() < 0.2:  # the first week out is the most fragile
                self.add(t + self.days(1, 7), "appointment_missed", agency="probation")
            return
        t += self.days(0, 30)
        if self.registered and rng.random() < 0.5:
            kind = rng.choice(("address", "travel", "name", "household_child", "other"))
            self.add(t, "notification_breach", kind=kind)
        else:
            self.add(t, "appointment_missed", agency="probation")
            if rng.random() < 0.3:  # and another before anyone decides anything
                t += self.days(7, 40)
                self.add(t, "appointment_missed", agency="probation")
        decisions = ("verbal_warning", "formal_warning", "recall_requested")
        decision = rng.choices(decisions, (4, 3, 3))[0]
        self.add(t + self.days(1, 14), "enforcement_decision", kind=decision)
        if decision == "recall_requested":
            t += self.days(1, 21)
            self.add(t, "recall_issued")
            self.add(t + self.days(0, 30), "returned_to_custody")
            self.on_licence = False
            on = rng.choice(("licence", "sentence_end"))
            until = (t + self.days(300, 700)).strftime("%Y-%m-%d") if on == "licence" else None
            self.add(t + self.days(60, 300), "released", on=on, licence_end=until)
            self.on_licence = on == "licence"
        elif rng.random() < 0.3:
            condition = rng.choice(("curfew", "exclusion zone", "reporting"))
            change = rng.choice(("relaxed", "removed"))
            self.add(
                t + self.days(30, 200),
                "licence_condition_changed",
                condition=condition,
                change=change,
            )

    def household(self, t: datetime) -> None:
        """Adults join, children leave; the subject moves in with, or befriends, a family."""
        rng = self.rng
        shape = rng.choice(("adult", "child_left", "subject", "family"))
        if shape == "adult" or (shape == "child_left" and not self.children):
            person = f"adult-{len(self.adults) + 1}"
            self.adults.append(person)
            relationship = rng.choice(("lodger", "partner", "relative", "friend"))
            self.add(
                t, "adult_joined_household", person=person, relationship=relationship,
                checked=rng.random() < 0.6,
            )  # fmt: skip
        elif shape == "child_left":
            child = self.children.pop(rng.randrange(len(self.children)))
            reason = rng.choice(("moved_out", "placed", "other"))
            self.add(t, "child_left_household", child=child, reason=reason)
        elif shape == "subject":
            self.add(
                t, "subject_joined_household", children=rng.randint(0, 3), with_person="partner"
            )
        else:
            family = rng.choice(("the smiths", "next door", "a family from the gym"))
            self.add(t, "association_with_family", family=family, children=rng.random() < 0.6)

    def domestic(self, t: datetime) -> None:
        """Domestic abuse: intelligence, an incident, an order; referrals opened and closed."""
        rng = self.rng
        if rng.random() < 0.5:
            about = rng.choice(("sexual_risk_children", "domestic_abuse", "violence", "other"))
            origin: dict[str, Any] = {
                "from": rng.choice(("neighbour", "partner agency", "anonymous"))
            }
            self.add(t, "intelligence_received", about=about, **origin)
            t += self.days(1, 30)
        role = rng.choices(("perpetrator", "victim"), (4, 1))[0]
        self.add(t, "domestic_incident", role=role, children_present=rng.random() < 0.4)
        if role == "perpetrator" and rng.random() < 0.4:
            kind = rng.choice(("restraining", "non_molestation", "sexual_harm_prevention", "other"))
            self.add(t + self.days(7, 60), "protective_order", kind=kind, protects="partner")
        if self.children and rng.random() < 0.3:
            site = rng.choice(("arm", "face", "back"))
            seen_by = rng.choice(("teacher", "health visitor", "gp"))
            self.add(
                t + self.days(0, 40),
                "injury_observed",
                child=self.child(),
                site=site,
                seen_by=seen_by,
            )
        if rng.random() < 0.6:
            reason = rng.choice(
                ("no_further_action", "malicious", "other_agency_involved", "other")
            )
            self.add(t + self.days(20, 120), "referral_closed", agency="police", reason=reason)

    def routine(self, t: datetime) -> None:
        rng = self.rng
        choice = rng.random()
        if self.mappa_level is not None and choice < 0.4:
            if rng.random() < 0.15:  # the panel moves the level, more often down
                step = rng.choice((-1, -1, 1))
                self.mappa_level = max(1, min(3, self.mappa_level + step))
            self.add(t, "mappa_review", level=self.mappa_level, area=self.area)
        elif choice < 0.6 and self.tools:
            tool, level = rng.choice(sorted(self.tools.items()))
            self.add(t, "risk_assessed", tool=tool, level=level)
        elif choice < 0.8:
            self.add(t, "strategy_meeting")
        else:
            agency = rng.choice(("probation", "childrens_services", "police"))
            outcome = rng.choice(
                ("no_further_action", "child_in_need", "child_protection", "other")
            )
            self.add(t, "assessment_completed", agency=agency, outcome=outcome)


#: Storylines with their weight, per profile; routine events fill the rest.
_Story = Callable[[_Case, datetime], None]
_STORIES: dict[str, tuple[tuple[_Story, int], ...]] = {
    "sexual": (
        (_Case.relationship, 4),
        (_Case.move, 5),
        (_Case.plan, 4),
        (_Case.concern, 5),
        (_Case.monitoring_story, 4),
        (_Case.bail, 3),
        (_Case.reassess, 6),
        (_Case.missing, 2),
        (_Case.ending, 1),
        (_Case.supervision, 3),
        (_Case.licence, 2),
        (_Case.household, 2),
        (_Case.domestic, 1),
        (_Case.routine, 60),
    ),
    "violent": (
        (_Case.relationship, 6),
        (_Case.move, 5),
        (_Case.plan, 3),
        (_Case.concern, 3),
        (_Case.bail, 6),
        (_Case.reassess, 6),
        (_Case.ending, 1),
        (_Case.supervision, 3),
        (_Case.licence, 3),
        (_Case.household, 1),
        (_Case.domestic, 3),
        (_Case.routine, 60),
    ),
    "family": (
        (_Case.relationship, 4),
        (_Case.missing, 10),
        (_Case.plan, 8),
        (_Case.concern, 5),
        (_Case.conference, 5),
        (_Case.reassess, 4),
        (_Case.household, 3),
        (_Case.domestic, 2),
        (_Case.routine, 50),
    ),
}


def generate_case(index: int, events: int, rng: random.Random) -> dict[str, Any]:
    """Case number `index` (from 1) with `events` events, as a chronology file's data."""
    story = _Case(rng, events)
    start = datetime(rng.randint(2005, 2020), 1, 1, tzinfo=UTC) + story.days(0, 364)
    span = timedelta(days=rng.randint(2 * 365, 10 * 365))
    stories, weights = zip(*_STORIES[story.profile], strict=True)
    story.opening(start)
    while not story.full():
        # Time moves on in step with the events written, so that they fill the span.
        t = start + span * (len(story.events) / events) + story.days(0, 30)
        story.keep_appointments(t)
        rng.choices(stories, weights)[0](story, t)
    ordered = sorted(story.events, key=lambda item: (item[0], item[1]))
    return {
        "case": f"gen-{index:05d}",
        "title": f"Synthetic case {index} ({story.profile})",
        "subject": f"subject-{index:05d}",
        "events": [event for _, _, event in ordered],
    }


def generate_corpus(cases: int, events: int, seed: int) -> Iterator[dict[str, Any]]:
    """`cases` cases of `events` events each; case `i` depends only on `seed` and `i`."""
    for index in range(1, cases + 1):
        yield generate_case(index, events, random.Random(f"{seed}:{index}"))
