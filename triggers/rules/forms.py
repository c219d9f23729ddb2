"""Checks of a rule's time forms and throttle, against the event catalogue.

`after`, `absent` (forward or `before`), `count` (with `unless`), `due`, `changed`
and `throttle` name other events, fields and windows; each is checked here, with
every problem reported at its key path, and compiled to the rule model's terms.
"""

from __future__ import annotations

from collections.abc import Mapping

from triggers._yaml import KeyPath
from triggers.errors import suggest
from triggers.models.events import EVENT_TYPES
from triggers.rules.catalogue import FieldSpec, state_fields
from triggers.rules.compiled import (
    AllOf,
    CompiledChange,
    CompiledCount,
    CompiledDue,
    CompiledRelation,
    CompiledThrottle,
    Condition,
)
from triggers.rules.conditions import ConditionChecker, common_fields
from triggers.rules.duration import Duration, DurationError
from triggers.rules.limits import MIN_DUE_PERIOD, shown
from triggers.rules.model import Changed, Count, Due, Related, Throttle, Unless, When

__all__ = ["FormChecker"]


class FormChecker(ConditionChecker):
    """Checks the time forms of a rule's `when` and its throttle (see the module)."""

    def _needs_field(
        self, name: str, specs: Mapping[str, FieldSpec] | None, path: KeyPath, message: str
    ) -> None:
        """Report `message` at `path` when the known fields `specs` lack `name`, and a
        problem when `name` holds a list of values, which no comparison of fields takes."""
        if specs and name not in specs:
            self.add(path, message, suggestion=suggest(name, specs))
        elif specs and specs[name].kind in ("set", "list"):
            self.add(
                path,
                f"{name!r} is {specs[name].describe()}: fields are compared (same, differ,"
                " distinct, per) by one value each, not by lists; name a field with one value",
            )

    def _throttle(
        self, throttle: str | Throttle | None, path: KeyPath, specs: Mapping[str, FieldSpec]
    ) -> CompiledThrottle | None:
        """Check a throttle's window and key fields."""
        if throttle is None:
            return None
        within = throttle if isinstance(throttle, str) else throttle.within
        where = path if isinstance(throttle, str) else (*path, "within")
        per = () if isinstance(throttle, str) else tuple(throttle.per or ())
        for i, name in enumerate(per):
            self._needs_field(
                name, specs, (*path, "per", i), f"this rule's event has no field {name!r}"
            )
        reset: tuple[str, ...] = ()
        if isinstance(throttle, Throttle) and throttle.reset_by is not None:
            reset = self._types(throttle.reset_by, (*path, "reset_by"))
        try:
            return CompiledThrottle(Duration.parse(within), per, reset)
        except DurationError as error:
            self.add(where, str(error))
            return None

    def _changed(
        self,
        changed: Changed,
        path: KeyPath,
        types: tuple[str, ...],
        specs: Mapping[str, FieldSpec],
    ) -> CompiledChange | None:
        """Check that a change compares an ordered field, keyed by fields the event has."""
        before = len(self.problems)
        spec = specs.get(changed.field)
        if spec is None:
            self.add(
                (*path, "field"),
                f"this rule's event has no field {changed.field!r}",
                suggestion=suggest(changed.field, specs),
            )
        elif not spec.ordered:
            self.add(
                (*path, "field"),
                f"{changed.field!r} cannot go down or up: it is"
                f" {spec.describe()}, not a number or an ordered level",
            )
        for i, name in enumerate(changed.same or []):
            self._needs_field(
                name, specs, (*path, "same", i), f"this rule's event has no field {name!r}"
            )
        if len(self.problems) > before:
            return None
        return CompiledChange(types, changed.field, tuple(changed.same or ()))

    def _count(
        self,
        count: Count,
        path: KeyPath,
        types: tuple[str, ...],
        specs: Mapping[str, FieldSpec],
    ) -> CompiledCount | None:
        """Check a count's window and fields."""
        before = len(self.problems)
        window: Duration | None = None
        try:
            window = Duration.parse(count.within)
        except DurationError as error:
            self.add((*path, "within"), str(error))
        unless = None
        if count.unless is not None:
            unless = self._unless(count.unless, (*path, "unless"), types, specs, window)
        if count.distinct is not None:
            self._needs_field(
                count.distinct,
                specs,
                (*path, "distinct"),
                f"this rule's event has no field {count.distinct!r} to count",
            )
        for i, name in enumerate(count.same or []):
            self._needs_field(
                name,
                specs,
                (*path, "same", i),
                f"this rule's event has no field {name!r} to compare",
            )
        if count.distinct is not None and count.distinct in (count.same or []):
            self.add(
                (*path, "distinct"), f"{count.distinct!r} cannot be both distinct and the same"
            )
        if len(self.problems) > before or window is None:
            return None
        return CompiledCount(
            count.at_least, window, count.distinct, tuple(count.same or ()), unless
        )

    def _unless(
        self,
        unless: Unless,
        path: KeyPath,
        types: tuple[str, ...],
        trigger_specs: Mapping[str, FieldSpec],
        window: Duration | None,
    ) -> CompiledRelation | None:
        """Check the event that cancels a count: its types, conditions and shared fields."""
        before = len(self.problems)
        unless_types = self._event_types(unless, (*path, "event"))
        specs = common_fields(unless_types) if unless_types else {}
        condition: Condition = AllOf(())
        if unless.where is not None and unless_types:
            condition = self.block(unless.where, (*path, "where"), "event", specs)
        for theirs, ours in unless.pairs:
            where = (*path, "same", theirs) if isinstance(unless.same, dict) else (*path, "same")
            self._needs_field(
                theirs, specs, where, f"the unless event has no field {theirs!r} to compare"
            )
            self._needs_field(
                ours,
                trigger_specs,
                where,
                f"the triggering event has no field {ours!r} to compare",
            )
        for i, event_type in enumerate(unless_types):
            if event_type in types:
                where = (*path, "event") if isinstance(unless.event, str) else (*path, "event", i)
                self.add(
                    where,
                    f"{event_type!r} is counted by this rule: an 'unless' event is of other types",
                )
        if len(self.problems) > before or not unless_types or window is None:
            return None
        return CompiledRelation(unless_types, condition, window, unless.pairs)

    def _relation(
        self, related: Related, path: KeyPath, trigger_specs: Mapping[str, FieldSpec] | None
    ) -> CompiledRelation | None:
        """Check another event's types, conditions, window and shared fields."""
        before = len(self.problems)
        types = self._event_types(related, (*path, "event"))
        specs = common_fields(types) if types else {}
        condition: Condition = AllOf(())
        if related.where is not None and types:
            condition = self.block(related.where, (*path, "where"), "event", specs)
        try:
            window = Duration.parse(related.within)
        except DurationError as error:
            self.add((*path, "within"), str(error))
        for key, names, pairs in (
            ("same", related.same, related.pairs),
            ("differ", related.differ, related.differ_pairs),
        ):
            for theirs, ours in pairs:
                where = (*path, key, theirs) if isinstance(names, dict) else (*path, key)
                self._needs_field(
                    theirs, specs, where, f"the other event has no field {theirs!r} to compare"
                )
                self._needs_field(
                    ours,
                    trigger_specs,
                    where,
                    f"the triggering event has no field {ours!r} to compare",
                )
        if related.differ is not None and path[-1] != "after" and not related.before:
            self.add(
                (*path, "differ"),
                "'differ' is only for 'after' and 'absent' with 'before': an 'absent' event"
                " that differs cannot be waited for; write the values it must not have in"
                " its 'where'",
                key=True,
            )
        if related.before and path[-1] != "absent":
            self.add(
                (*path, "before"),
                f"'before' is only for 'absent': {path[-1]!r} always looks before the"
                " triggering event",
                key=True,
            )
        for pair in set(related.pairs) & set(related.differ_pairs):
            self.add(
                (*path, "differ"),
                f"{pair[0]!r} cannot be both the same and different",
            )
        if len(self.problems) > before or not types:
            return None
        return CompiledRelation(types, condition, window, related.pairs, related.differ_pairs)

    def _due(self, due: Due, path: KeyPath) -> CompiledDue | None:
        """Check a due event's types and conditions, and the periods for each state value."""
        before = len(self.problems)
        types = self._event_types(due, (*path, "event"))
        specs = common_fields(types) if types else {}
        condition: Condition = AllOf(())
        if due.where is not None and types:
            condition = self.block(due.where, (*path, "where"), "event", specs)
        states = state_fields()
        spec = states.get(due.state)
        if spec is None:
            self.add(
                (*path, "state"),
                f"unknown case-state name {due.state!r}",
                suggestion=suggest(due.state, states),
            )
        elif not spec.values or spec.kind not in ("enum", "int"):
            self.add(
                (*path, "state"),
                f"{due.state!r} is {spec.describe()}: a period is set by a value from a"
                " list, such as a risk level or the MAPPA level",
            )
            spec = None
        every: list[tuple[str | int, Duration]] = []
        for value, text in due.every.items():
            if spec is not None and value not in spec.values:
                self.add(
                    (*path, "every", value),
                    f"{due.state!r} is never {shown(value)}: it is {spec.describe()}",
                    key=True,
                    suggestion=suggest(str(value), [str(v) for v in spec.values]),
                )
            try:
                period = Duration.parse(text)
            except DurationError as error:
                self.add((*path, "every", value), str(error))
                continue
            if period.months == 0 and period.seconds < MIN_DUE_PERIOD:
                self.add(
                    (*path, "every", value),
                    f"{text!r} is too short: a due period is at least 1 day (the clock"
                    " re-arms at each missed deadline)",
                )
            every.append((value, period))
        if len(self.problems) > before or not types:
            return None
        return CompiledDue(types, condition, due.state, tuple(every))

    def _event_types(self, when: When | Related | Unless | Due, path: KeyPath) -> tuple[str, ...]:
        return self._types(when.event, path)

    def _types(self, named: str | list[str], path: KeyPath) -> tuple[str, ...]:
        """Event types named as one or a list, checked against the catalogue."""
        types = (named,) if isinstance(named, str) else tuple(named)
        if not types:
            self.add(path, "name at least one event type")
        ok = True
        for i, event_type in enumerate(types):
            if event_type not in EVENT_TYPES:
                where = path if isinstance(named, str) else (*path, i)
                self.add(
                    where,
                    f"unknown event type {event_type!r}",
                    suggestion=suggest(event_type, EVENT_TYPES),
                )
                ok = False
        return tuple(dict.fromkeys(types)) if ok else ()
