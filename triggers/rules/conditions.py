"""Checking a rule's condition blocks (`where`, `case`, `not`, `any`, `all`) into a condition tree.

Every name, operator and value is checked against the event catalogue or the case
state, with a problem at its position for each mistake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from triggers._yaml import KeyPath, ProblemCollector
from triggers.errors import suggest
from triggers.models.events import ORDERED_VALUES
from triggers.rules.catalogue import FieldSpec, event_fields
from triggers.rules.compiled import AllOf, AnyOf, Condition, Scope, Test, flatten, negate
from triggers.rules.limits import number_problem, shown
from triggers.rules.model import COMBINATORS, OPERATORS

__all__ = ["UNTESTABLE", "ConditionChecker", "common_fields"]

_COMPARISON = ("lt", "le", "gt", "ge")


class ConditionChecker(ProblemCollector):
    """Turns condition blocks into condition trees, reporting every problem on the way."""

    def block(
        self, block: Any, path: KeyPath, scope: Scope, specs: Mapping[str, FieldSpec]
    ) -> Condition:
        if not isinstance(block, Mapping) or not block:
            self.add(path, "conditions must be a mapping of names to tests")
            return AllOf(())
        parts: list[Condition] = []
        for name, test in block.items():
            where = (*path, name)
            if name in ("any", "all"):
                if not isinstance(test, list) or not test:
                    self.add(where, f"'{name}' takes a list of condition blocks")
                    continue
                inner = tuple(
                    self.block(item, (*where, i), scope, specs) for i, item in enumerate(test)
                )
                parts.append(AnyOf(inner) if name == "any" else AllOf(inner))
            elif name == "not":
                parts.append(negate(self.block(test, where, scope, specs)))
            elif name not in specs:
                self._unknown_name(name, where, scope, specs)
            else:
                parts.extend(self._tests(specs[name], test, where, scope))
        return flatten(AllOf(tuple(parts)))

    def _unknown_name(
        self, name: str, path: KeyPath, scope: Scope, specs: Mapping[str, FieldSpec]
    ) -> None:
        choices = [*specs, *COMBINATORS]
        if scope == "event" and name in UNTESTABLE:
            self.add(
                path,
                f"{name!r} cannot be tested by a rule: it is free text or an identity",
                key=True,
            )
        elif scope == "state":
            self.add(
                path,
                f"unknown case-state name {name!r}",
                key=True,
                suggestion=suggest(name, choices),
            )
        else:
            self.add(
                path,
                f"unknown field {name!r} for this rule's event type",
                key=True,
                suggestion=suggest(name, choices),
            )

    def _tests(self, spec: FieldSpec, test: Any, path: KeyPath, scope: Scope) -> list[Condition]:
        if isinstance(test, Mapping):
            pairs = list(test.items())
        elif isinstance(test, list):
            pairs = [("in", test)]
        else:
            pairs = [("eq", test)]
        result: list[Condition] = []
        for op, value in pairs:
            where = (*path, op) if isinstance(test, Mapping) else path
            if op not in OPERATORS:
                self.add(
                    where,
                    f"unknown operator {op!r}: expected one of {', '.join(OPERATORS)}",
                    key=True,
                    suggestion=suggest(str(op), OPERATORS),
                )
                continue
            condition = self._test(spec, op, value, where, scope)
            if condition is not None:
                result.append(condition)
        return result

    def _test(
        self, spec: FieldSpec, op: str, value: Any, path: KeyPath, scope: Scope
    ) -> Condition | None:
        name = spec.name
        if op == "present":
            if spec.kind == "set" and scope == "state":
                self.add(
                    path,
                    f"{name!r} is a set and always present: test it with"
                    " 'includes', 'includes_any' or 'excludes'",
                )
                return None
            if not isinstance(value, bool):
                self.add(path, "'present' takes true or false")
                return None
            return Test(scope, name, op, value)
        if op in ("includes", "excludes", "includes_any") or spec.kind == "set":
            return self._set_test(spec, op, value, path, scope)
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                self.add(path, f"'{op}' takes a non-empty list of values")
                return None
            if not all(self._value_ok(spec, v, path) for v in value):
                return None
            return Test(scope, name, op, tuple(dict.fromkeys(value)))
        if not self._value_ok(spec, value, path):
            return None
        if op in _COMPARISON:
            if not spec.ordered:
                self.add(
                    path,
                    f"{name!r} cannot be compared with {op!r}: it is"
                    f" {spec.describe()}, not a number or an ordered level",
                )
                return None
            if spec.kind == "enum":
                order = ORDERED_VALUES[name]
                rank = order.index(value)
                keep = {
                    "lt": order[:rank],
                    "le": order[: rank + 1],
                    "gt": order[rank + 1 :],
                    "ge": order[rank:],
                }[op]
                return Test(scope, name, "in", keep) if keep else AnyOf(())
        return Test(scope, name, op, value)

    def _set_test(
        self, spec: FieldSpec, op: str, value: Any, path: KeyPath, scope: Scope
    ) -> Condition | None:
        if spec.kind != "set":
            self.add(path, f"'{op}' tests a set, but {spec.name!r} is {spec.describe()}")
            return None
        if op not in ("includes", "excludes", "includes_any"):
            tests = "'includes', 'includes_any', 'excludes' or 'present'"
            if scope == "state":  # a case-state set is always recorded
                tests = "'includes', 'includes_any' or 'excludes'"
            self.add(path, f"{spec.name!r} is a set: test it with {tests}")
            return None
        values = value if op == "includes_any" else [value]
        if op == "includes_any" and (not isinstance(value, list) or not value):
            self.add(path, "'includes_any' takes a non-empty list of values")
            return None
        for item in values:
            if item not in spec.values:
                self.add(
                    path,
                    f"{shown(item)} can never be in {spec.name!r}: expected one of "
                    + ", ".join(repr(v) for v in spec.values),
                    suggestion=suggest(str(item), [str(v) for v in spec.values]),
                )
                return None
        if op == "includes_any":
            return Test(scope, spec.name, op, tuple(dict.fromkeys(values)))
        return Test(scope, spec.name, op, value)

    def _value_ok(self, spec: FieldSpec, value: Any, path: KeyPath) -> bool:
        kind = spec.kind
        if kind == "bool":
            ok = isinstance(value, bool)
        elif kind in ("int", "float") and number_problem(value) is not None:
            self.add(path, str(number_problem(value)))
            return False
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
            if ok and spec.values and value not in spec.values:
                self.add(
                    path,
                    f"{value!r} is not a possible {spec.name!r}: expected one of "
                    + ", ".join(str(v) for v in spec.values),
                )
                return False
        elif kind == "float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif kind == "str":
            ok = isinstance(value, str)
        elif kind == "enum":
            if isinstance(value, str) and value not in spec.values:
                self.add(
                    path,
                    f"{value!r} is not a possible {spec.name!r}: expected one of "
                    + ", ".join(repr(v) for v in spec.values),
                    suggestion=suggest(value, [str(v) for v in spec.values]),
                )
                return False
            ok = isinstance(value, str)
        else:
            self.add(path, f"{spec.name!r} is {spec.describe()} and cannot be tested here")
            return False
        if not ok:
            self.add(
                path,
                f"{shown(value)} is the wrong kind of value for {spec.name!r}:"
                f" expected {spec.describe()}",
            )
        return ok


#: Event fields that rules cannot test: free text and identity, and times (tested by
#: the temporal forms instead).
UNTESTABLE = ("note", "id")


def common_fields(types: Sequence[str]) -> dict[str, FieldSpec]:
    """Fields that every one of `types` has with the same kind; enumerations are merged."""
    result: dict[str, FieldSpec] = {}
    for name, spec in event_fields(types[0]).items():
        if spec.kind == "time" or name in UNTESTABLE:
            continue
        others = [event_fields(t).get(name) for t in types[1:]]
        if any(other is None or other.kind != spec.kind for other in others):
            continue
        values = tuple(dict.fromkeys(v for s in (spec, *others) if s for v in s.values))
        result[name] = FieldSpec(name, spec.kind, values, spec.required)
    return result
