"""Warnings about rules that are valid but cannot be what their author meant.

A rule whose conditions contradict each other never fires, and a rule that
another rule always accompanies with the same actions only adds duplicates.
Neither is an error (the rule set still runs), but a safeguarding lead who
wrote one almost certainly meant something else.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from triggers.errors import Problem
from triggers.rules.catalogue import FieldSpec, event_fields, state_fields
from triggers.rules.compiled import AllOf, AnyOf, CompiledRule, Condition, Test, holds, negate

__all__ = ["rule_warnings", "satisfiable"]

#: Beyond this many alternatives a condition is assumed satisfiable rather than searched.
_MAX_ALTERNATIVES = 512
#: Beyond this many possible members, set-valued fields are assumed satisfiable.
_MAX_MEMBERS = 8

Specs = Mapping[tuple[str, str], FieldSpec]
Locate = Callable[[CompiledRule, str, tuple[str, ...]], Problem]


def _alternatives(condition: Condition) -> list[list[Test]] | None:
    """The condition as alternatives of conjoined tests, or None when there are too many."""
    if isinstance(condition, Test):
        return [[condition]]
    parts = [_alternatives(part) for part in condition.parts]
    if any(part is None for part in parts):
        return None
    if isinstance(condition, AnyOf):
        merged = [alternative for part in parts if part for alternative in part]
        return merged if len(merged) <= _MAX_ALTERNATIVES else None
    result: list[list[Test]] = [[]]
    for part in parts:
        assert part is not None
        if len(result) * len(part) > _MAX_ALTERNATIVES:
            return None  # known before the product is built: building it took minutes
        result = [left + right for left in result for right in part]
    return result


def _constants(tests: Sequence[Test]) -> list[Any]:
    values: list[Any] = []
    for test in tests:
        if test.op == "present":
            continue
        values.extend(test.value if isinstance(test.value, tuple) else [test.value])
    return values


def _candidates(spec: FieldSpec | None, tests: Sequence[Test]) -> list[Any] | None:
    """Values that include a witness for the tests whenever one exists; None if unknown."""
    constants = _constants(tests)
    kind = spec.kind if spec is not None else None
    if kind == "bool":
        return [None, True, False]
    if kind in ("enum", "int") and spec is not None and spec.values:
        return [None, *spec.values]
    if kind in ("set", "list"):
        members = list(dict.fromkeys(spec.values if spec and spec.values else constants))
        if len(members) > _MAX_MEMBERS:
            return None
        subsets = itertools.chain.from_iterable(
            itertools.combinations(members, size) for size in range(len(members) + 1)
        )
        return [None, *subsets]
    numbers = sorted(
        {c for c in constants if isinstance(c, int | float) and not isinstance(c, bool)}
    )
    if numbers:
        # Each constant, either side of it, and between neighbours.
        around = [n + step for n in numbers for step in (-1, 0, 1)]
        between = [(a + b) / 2 for a, b in itertools.pairwise(numbers)] if kind != "int" else []
        return [None, *around, *between]
    if kind in ("str", "enum", None):
        return [None, *dict.fromkeys(constants), "\0another value"]
    return None


def satisfiable(condition: Condition, specs: Specs) -> bool:
    """Whether some event and case state meet `condition` (True when unsure)."""
    alternatives = _alternatives(condition)
    if alternatives is None:
        return True
    for tests in alternatives:
        by_field: dict[tuple[str, str], list[Test]] = {}
        for test in tests:
            by_field.setdefault((test.scope, test.field), []).append(test)
        if all(_field_satisfiable(specs.get(key), key, group) for key, group in by_field.items()):
            return True
    return False


def _field_satisfiable(spec: FieldSpec | None, key: tuple[str, str], tests: Sequence[Test]) -> bool:
    candidates = _candidates(spec, tests)
    if candidates is None:
        return True
    scope, field = key
    together = AllOf(tuple(tests))
    return any(holds(together, {scope: {field: value}}) for value in candidates)


@functools.cache
def _specs(event_types: tuple[str, ...]) -> Specs:
    """Field kinds for conditions on `event_types` events and the case state.

    Cached: the shadowing check asks again for every pair of rules.
    """
    specs: dict[tuple[str, str], FieldSpec] = {
        ("state", name): spec for name, spec in state_fields().items()
    }
    for event_type in event_types:
        for name, spec in event_fields(event_type).items():
            known = specs.get(("event", name))
            values = (*known.values, *spec.values) if known else spec.values
            specs[("event", name)] = FieldSpec(name, spec.kind, tuple(dict.fromkeys(values)))
    return specs


def _never_fires(rule: CompiledRule) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Why `rule` can never fire, with the part of the rule to point at."""
    # A `due` rule's clock also starts with the due events: it fires without a trigger.
    if rule.due is None and not satisfiable(rule.condition, _specs(rule.event_types)):
        yield (
            f"rule {rule.id!r} can never fire: no event and case state can meet all of its"
            " conditions at once; check for tests that contradict each other",
            ("when",),
        )
    if rule.after is not None and not satisfiable(
        rule.after.condition, _specs(rule.after.event_types)
    ):
        yield (
            f"rule {rule.id!r} can never fire: no earlier event can meet the conditions"
            " under 'after'",
            ("when", "after"),
        )
    count = rule.count
    if count is not None and count.distinct is not None:
        specs = _specs(rule.event_types)
        spec = specs.get(("event", count.distinct))
        if spec is not None and spec.values and len(spec.values) < count.at_least:
            yield (
                f"rule {rule.id!r} can never fire: {count.distinct!r} has only"
                f" {len(spec.values)} possible values, fewer than at_least {count.at_least}",
                ("when", "count"),
            )


def _same_timing(a: CompiledRule, b: CompiledRule) -> bool:
    return (a.after, a.absent, a.absent_before, a.count, a.changed, a.throttle, a.due) == (
        b.after,
        b.absent,
        b.absent_before,
        b.count,
        b.changed,
        b.throttle,
        b.due,
    )


def _actions(rule: CompiledRule) -> set[tuple[str, tuple[tuple[str, Any], ...]]]:
    return {(a.action, tuple(sorted(a.params.items()))) for a in rule.actions}


def _shadows(wider: CompiledRule, narrower: CompiledRule) -> bool:
    """Whether `wider` fires with the same actions whenever `narrower` does."""
    return (
        set(narrower.event_types) <= set(wider.event_types)
        and _same_timing(narrower, wider)
        and _actions(narrower) <= _actions(wider)
        and not satisfiable(
            AllOf((narrower.condition, negate(wider.condition))),
            _specs(narrower.event_types),
        )
    )


def rule_warnings(rules: Sequence[CompiledRule], locate: Locate) -> list[Problem]:
    """Warnings for rules that can never fire and rules that another one shadows."""
    warnings: list[Problem] = []
    firing = []
    for rule in rules:
        reasons = [locate(rule, message, part) for message, part in _never_fires(rule)]
        warnings.extend(reasons)
        if not reasons:
            firing.append(rule)
    for index, narrower in enumerate(firing):
        for other_index, wider in enumerate(firing):
            if index == other_index or not _shadows(wider, narrower):
                continue
            if other_index > index and _shadows(narrower, wider):
                continue  # two equivalent rules: warn once, at the later one
            source = f"{wider.source.file}:{wider.source.line}"
            warnings.append(
                locate(
                    narrower,
                    f"rule {narrower.id!r} is shadowed by rule {wider.id!r} ({source}):"
                    f" whenever {narrower.id!r} fires, {wider.id!r} fires for the same events"
                    " with the same actions, so it only adds duplicate alerts",
                    ("id",),
                )
            )
            break
    return sorted(warnings, key=lambda w: (w.file, w.line or 0, w.column or 0))
