"""An explanation as plain lines of text, in the order people read it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from triggers.engine.explain.model import AlternativesCheck, Explanation

__all__ = ["render", "show", "when"]


def show(value: Any) -> str:
    """A value as rules are written: strings quoted, true/false, lists in brackets."""
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(show(item) for item in value) + "]"
    return str(value)


def when(moment: datetime) -> str:
    """A date, or a date-time where the time is not midnight (UTC)."""
    moment = moment.astimezone(UTC)
    if moment.time() == datetime.min.time():
        return moment.strftime("%Y-%m-%d")
    return moment.isoformat().replace("+00:00", "Z")


def render(explanation: Explanation) -> list[str]:
    """The explanation as plain text: rule, version, events, state and tests, timing,
    reason, notes."""
    return _Lines(explanation).render()


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids) if ids else "none"


def _values(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {show(value)}" for name, value in values.items())


class _Lines:
    """An explanation as plain lines of text, in the order people read it."""

    def __init__(self, explanation: Explanation) -> None:
        self.x = explanation
        self.out: list[str] = []

    def render(self) -> list[str]:
        x, alert = self.x, self.x.alert
        params = f" ({_values(alert.params)})" if alert.params else ""
        self.out += [
            f"Alert {alert.action}{params}, priority {alert.priority},"
            f" case {alert.case}, at {when(alert.at)}",
            f"Rule {x.rule.id}: {x.rule.title}",
            f"  written at {x.rule.source}",
            f"  learning: {x.rule.learning}",
            f"Rule set version {x.rules_version}",
            ("Reproduced: " if x.reproduced else "NOT REPRODUCED: ") + x.message,
        ]
        self.events()
        self.conditions()
        self.timing()
        self.out.append(f"Reason: {x.reason}")
        if x.instead:
            self.out.append("Raised now instead:")
            for other in x.instead:
                self.out.append(
                    f"  {when(other.at)} {other.rule} {other.action}"
                    f" from {_ids(other.events)}: {other.reason}"
                )
        if x.notes:
            self.out.append("Notes:")
            self.out += [f"  {note}" for note in x.notes]
        return self.out

    def events(self) -> None:
        self.out.append("Events:")
        for event in self.x.events:
            source = f", source {event.source}" if event.source else ""
            self.out.append(f"  {event.role}: {event.id} {event.type} at {when(event.at)}{source}")
            if event.fields:
                self.out.append(f"    {_values(event.fields)}")
            if event.recorded_at is not None:
                self.out.append(f"    recorded at {when(event.recorded_at)}")
            if event.note:
                self.out.append(f"    note: {event.note}")
        if self.x.missing_events:
            self.out.append(f"  not in the chronology: {_ids(self.x.missing_events)}")

    def conditions(self) -> None:
        x = self.x
        if x.state_before is None:
            return
        tested = {s.name: s.value for s in x.state if s.tested}
        rest = {s.name: s.value for s in x.state if not s.tested and s.value is not None}
        self.out.append(f"Case state just before {when(x.state_before)}:")
        if tested:
            self.out.append(f"  tested: {_values(tested)}")
        if rest:
            self.out.append(f"  other: {_values(rest)}")
        if not x.tests:
            return
        self.out.append("Conditions:")
        groups = {g.label: g for g in x.alternatives}
        shown: set[str] = set()
        for test in x.tests:
            # The `any` blocks the test sits in, outermost first, each headed once.
            chain: list[AlternativesCheck] = []
            label = test.group
            while label is not None:
                chain.insert(0, groups[label])
                label = groups[label].group
            for depth, group in enumerate(chain, start=1):
                if group.label not in shown:
                    shown.add(group.label)
                    held = ", ".join(str(i) for i in group.held_by)
                    verdict = f"held by alternative {held}" if held else "no alternative held"
                    where = f"(alternative {group.alternative}) " if group.alternative else ""
                    self.out.append(
                        "  " * depth
                        + f"{where}{group.label} ({group.alternatives} alternatives): {verdict}"
                    )
            verdict = "held" if test.held else "did not hold"
            where = f"(alternative {test.alternative}) " if test.alternative else ""
            self.out.append(
                "  " * (len(chain) + 1)
                + f"{where}{test.text}: {verdict} (actual {show(test.actual)})"
            )

    def timing(self) -> None:
        t = self.x.timing
        if not any((t.after, t.absent, t.count, t.changed, t.throttle, t.due)):
            return
        self.out.append("Timing:")
        if t.after is not None:
            a = t.after
            self.out.append(
                f"  after: {' or '.join(a.event_types)} within {a.within} before the trigger:"
                f" window {when(a.start)} to {when(a.end)}"
            )
            self._relation(a.where, a.same, {})
            self.out.append(
                f"    found {a.other} at {when(a.other_at)} (the latest of {_ids(a.in_window)})"
            )
        if t.absent is not None:
            b = t.absent
            self.out.append(
                f"  absent: no {' or '.join(b.event_types)} within {b.within} after the trigger:"
                f" window {when(b.start)} to the deadline {when(b.deadline)}"
            )
            self._relation(b.where, b.same, b.same_values)
            arrived = (
                f"arrived in time: {_ids(b.in_time)}"
                if b.in_time
                else "none arrived by the deadline"
            )
            late = f"; too late: {_ids(b.late)}" if b.late else ""
            self.out.append(f"    {arrived}{late}")
        if t.count is not None:
            c = t.count
            kind = f"different {c.distinct} values" if c.distinct else "events"
            self.out.append(
                f"  count: at least {c.at_least} {kind} within {c.within}:"
                f" window {when(c.start)} to {when(c.end)}; counted {c.number}"
            )
            if c.same:
                self.out.append(f"    the same {_values(c.same_values)}")
            self.out.append(f"    counted events: {_ids(c.counted)}")
            if c.distinct:
                self.out.append(f"    {c.distinct}: {show(list(c.distinct_values))}")
            if c.unless and c.unless_from is not None:
                self.out.append(
                    f"    no {' or '.join(c.unless)} from {when(c.unless_from)} to {when(c.end)}"
                )
        if t.due is not None:
            u = t.due
            every = ", ".join(f"{name}: {period}" for name, period in u.every.items())
            self.out.append(
                f"  due: {' or '.join(u.event_types)} every {{{every}}} by {u.state};"
                f" the clock restarted with {u.started_by} at {when(u.start)}"
            )
            if u.where:
                self.out.append(f"    where {u.where}")
            if u.missed_before:
                missed = ", ".join(when(m) for m in u.missed_before)
                self.out.append(f"    deadlines missed before: {missed}")
            self.out.append(
                f"    {u.state} {show(u.value)}: {u.period}; none by the deadline"
                f" {when(u.deadline)}"
            )
        if t.changed is not None:
            d = t.changed
            same = f" (same {_values(d.same_values)})" if d.same else ""
            before = (
                f"{show(d.previous)} in {d.previous_event} at {when(d.previous_at)}"
                if d.previous_at is not None
                else "no previous value"
            )
            self.out.append(
                f"  changed: {d.field} went {d.direction or 'nowhere'}{same}:"
                f" {before}, now {show(d.new)}"
            )
        if t.throttle is not None:
            e = t.throttle
            per = f" per {_values(e.per_values)}" if e.per else " per case"
            previous = (
                f"previous alert {when(e.previous_alert_at)}"
                if e.previous_alert_at is not None
                else "the first alert"
            )
            reset = f", or until {' or '.join(e.reset_by)}" if e.reset_by else ""
            self.out.append(
                f"  throttle: one alert within {e.within}{per}: {previous};"
                f" quiet until {when(e.quiet_until)}{reset}"
            )

    def _relation(
        self, where: str | None, same: Mapping[str, str], values: Mapping[str, Any]
    ) -> None:
        if where:
            self.out.append(f"    where {where}")
        for theirs, ours in same.items():
            value = f" = {show(values[theirs])}" if theirs in values else ""
            self.out.append(f"    its {theirs} the same as the trigger's {ours}{value}")
