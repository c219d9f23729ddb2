"""Differential tests: `Engine` (durable_rules) and `ReferenceEngine` (brute force) agree.

Hypothesis writes random rule sets within the rule language — conditions on
event fields and case state, every time form, changes, throttles, templates —
and random chronologies on a coarse time grid, so that simultaneous events,
exact window ends and calendar month ends are common. Both evaluators replay
each chronology (sometimes with `until`) and must raise identical alerts.

The strategies here are also driven by `benchmarks/differential.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from tests.test_properties import CHRONOLOGIES
from triggers import (
    ACTIONS,
    EVENT_TYPES,
    PARAM_VALUES,
    Chronology,
    CompiledRuleSet,
    Engine,
    ReferenceEngine,
    RuleFileError,
    load_rules,
)
from triggers.models.alerts import PRIORITIES
from triggers.models.events import ORDERED_VALUES
from triggers.rules.catalogue import FieldSpec, event_fields, state_fields

#: The grid starts at the end of January in a leap year: 29 February and 31 March are on it.
START = datetime(2012, 1, 28, tzinfo=UTC)
DAYS = 75
TEXT = ("a", "b")
WINDOWS = ("6h", "12h", "1d", "2d", "72h", "1w", "10d", "30d", "1 month", "2 months")
#: Event fields that rules cannot test or that are generated apart.
_NOT_TESTED = ("at", "id", "note", "recorded_at")
#: How many chronologies each generated rule set replays in the test suite.
CHRONOLOGIES_PER_RULE_SET = 6
RULE_SETS = 150


@dataclass(frozen=True)
class Scenario:
    """A generated rule file and chronologies (each with an optional `until`) to replay."""

    rules: list[dict[str, Any]]
    cases: list[tuple[list[dict[str, Any]], datetime | None]]

    @property
    def text(self) -> str:
        """The rule file as YAML."""
        return yaml.safe_dump({"rules": self.rules}, sort_keys=False)


# --- chronologies ----------------------------------------------------------------


def _at(day: int, quarter: int) -> datetime:
    return START + timedelta(days=day, hours=6 * quarter)


def times(days: int = DAYS) -> st.SearchStrategy[datetime]:
    """Times in the first `days` of the grid, and now and then at the end of a month.

    Mostly at midnight, so that days and weeks end exactly on other events; month ends
    are where a calendar month back is longer than a month forward.
    """
    grid = st.builds(_at, st.integers(0, days), st.sampled_from([0, 0, 0, 0, 1, 2, 3]))
    return st.one_of(grid, grid, grid, MONTH_ENDS)


MONTH_ENDS = st.sampled_from(
    [
        datetime(2012, month, day, tzinfo=UTC)
        for month, day in [(1, 31), (2, 28), (2, 29), (3, 1), (3, 28), (3, 30), (3, 31), (4, 1)]
    ]
)
TIMES = times()


def _domain(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Values an event field takes in generated chronologies: few, so that they repeat."""
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "int":
        return st.sampled_from(spec.values or (0, 1, 2))
    if spec.kind == "float":
        return st.sampled_from([0.0, 1.5, 2.0, 3.0])
    if spec.kind == "enum":
        return st.sampled_from(spec.values[:3])
    if spec.kind == "set":  # a list of values from an enumeration, such as scales
        return st.lists(st.sampled_from(spec.values), max_size=3)
    if spec.kind == "list":
        return st.lists(st.sampled_from(TEXT), max_size=2)
    if spec.kind == "time":  # licence_end
        return TIMES.map(datetime.isoformat)
    return st.sampled_from(TEXT)


def _fields(event_type: str) -> dict[str, FieldSpec]:
    return {
        name: spec
        for name, spec in event_fields(event_type).items()
        if name not in _NOT_TESTED and name != "type"
    }


@st.composite
def _event(
    draw: st.DrawFn, event_type: str, when: st.SearchStrategy[datetime] = TIMES
) -> dict[str, Any]:
    record: dict[str, Any] = {"at": draw(when).isoformat(), "type": event_type}
    for name, spec in _fields(event_type).items():
        if spec.required or draw(st.booleans()):
            record[name] = draw(_domain(spec))
    if draw(st.integers(0, 9)) == 0:
        record["note"] = "n"
    if draw(st.integers(0, 9)) == 0:
        record["recorded_at"] = draw(TIMES).isoformat()
    return record


@st.composite
def chronologies(
    draw: st.DrawFn, pool: Sequence[str]
) -> tuple[list[dict[str, Any]], datetime | None]:
    """Events mostly of the `pool` types (any type now and then), and an optional `until`."""
    types = st.one_of(st.sampled_from(pool), st.sampled_from(pool), st.sampled_from(EVENT_TYPES))
    # Sometimes crowded into a few days, so that events often share a moment.
    when = times(draw(st.sampled_from([2, 10, 40, DAYS])))
    events = [draw(_event(t, when)) for t in draw(st.lists(types, max_size=18))]
    until = draw(st.one_of(st.none(), st.none(), TIMES, st.just(_at(DAYS + 60, 0))))
    return events, until


# --- rules -----------------------------------------------------------------------


def common_fields(types: Sequence[str]) -> dict[str, FieldSpec]:
    """Fields that every one of `types` has with the same kind (a rule may test these)."""
    first, *rest = (_fields(t) for t in types)
    common = {}
    for name, spec in first.items():
        others = [fields.get(name) for fields in rest]
        if spec.kind in ("list", "time") or any(o is None or o.kind != spec.kind for o in others):
            continue
        values = tuple(dict.fromkeys(v for s in (spec, *others) if s for v in s.values))
        common[name] = FieldSpec(name, spec.kind, values)
    common["type"] = FieldSpec("type", "enum", tuple(types))
    return common


def _rule_value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """A value a rule compares with: from the chronologies' domain, or one never recorded."""
    if spec.kind == "str":
        return st.sampled_from((*TEXT, "c"))
    if spec.kind == "float":
        return st.sampled_from([0, 1.5, 2, 3, 2.5])
    if spec.kind == "int" and not spec.values:
        return st.integers(0, 3)
    if spec.kind == "enum":
        return st.sampled_from(spec.values)
    return _domain(spec)


def _values(spec: FieldSpec) -> st.SearchStrategy[list[Any]]:
    return st.lists(_rule_value(spec), min_size=1, max_size=3)


@st.composite
def _test(draw: st.DrawFn, spec: FieldSpec, plain: bool) -> Any:
    """One field's test; `plain` keeps to what an absent event's conditions allow."""
    ordered = spec.kind in ("int", "float") or (spec.kind == "enum" and spec.name in ORDERED_VALUES)
    if spec.kind == "set":
        members = st.sampled_from(spec.values)
        # An absent event's conditions are all-of tests: of a set's, only `includes`.
        op = draw(
            st.sampled_from(["includes"] if plain else ["includes", "excludes", "includes_any"])
        )
        value = draw(st.lists(members, min_size=1, max_size=2) if op == "includes_any" else members)
        return {op: value}
    if plain:
        choices = ["value", "eq", "one", "present"]
        if spec.kind in ("int", "float"):
            choices += ["lt", "le", "gt", "ge"]
    else:
        choices = ["value", "list", "eq", "ne", "in", "not_in", "present", "two"]
        if ordered:
            choices += ["lt", "le", "gt", "ge"]
    op = draw(st.sampled_from(choices))
    if op == "value":
        return draw(_rule_value(spec))
    if op == "list":
        return draw(_values(spec))
    if op == "one":
        return [draw(_rule_value(spec))]
    if op == "present":
        return {"present": draw(st.booleans())}
    if op in ("in", "not_in"):
        return {op: draw(_values(spec))}
    if op == "two":
        first, second = ["ge", "le"] if ordered else ["ne", "ne"]
        return {first: draw(_rule_value(spec)), second: draw(_rule_value(spec))}
    return {op: draw(_rule_value(spec))}


@st.composite
def conditions(
    draw: st.DrawFn, specs: Mapping[str, FieldSpec], plain: bool = False, depth: int = 0
) -> dict[str, Any]:
    """A condition block over `specs`, with `any`, `all` and `not` (`plain`: all-of tests only)."""
    names = draw(st.lists(st.sampled_from(sorted(specs)), min_size=1, max_size=2, unique=True))
    if plain:
        names = [n for n in names if specs[n].kind != "set"] or [names[0]]
    block: dict[str, Any] = {name: draw(_test(specs[name], plain)) for name in names}
    if depth < 2 and draw(st.integers(0, 3)) == 0:
        if plain:
            name = draw(st.sampled_from(sorted(specs)))
            if specs[name].kind != "set":
                block["not"] = {name: {"present": draw(st.booleans())}}
            block["all"] = [draw(conditions(specs, plain, depth + 1))]
        else:
            combinator = draw(st.sampled_from(["any", "all", "not"]))
            inner = conditions(specs, plain, depth + 1)
            block[combinator] = (
                draw(inner)
                if combinator == "not"
                else draw(st.lists(inner, min_size=1, max_size=3))
            )
    return block


def _pairs(
    draw: st.DrawFn, theirs: Mapping[str, FieldSpec], ours: Mapping[str, FieldSpec]
) -> list[tuple[str, str]]:
    """Pairs of fields of the same kind, (the other event's, the trigger's)."""
    candidates = [
        (a, b)
        for a, x in _comparable(theirs).items()
        for b, y in _comparable(ours).items()
        if x.kind == y.kind
    ]
    if not candidates:
        return []
    return draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=2, unique=True))


@st.composite
def relations(
    draw: st.DrawFn, pool: Sequence[str], trigger: Mapping[str, FieldSpec], absent: bool
) -> dict[str, Any]:
    """An `after` or `absent` block: other types, a window, conditions and shared fields."""
    types = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
    specs = common_fields(types)
    relation: dict[str, Any] = {
        "event": types[0] if len(types) == 1 else types,
        "within": draw(st.sampled_from(WINDOWS)),
    }
    if draw(st.booleans()):
        relation["where"] = draw(conditions(specs, plain=absent))
    if draw(st.booleans()):
        pairs = _pairs(draw, specs, trigger)
        if pairs and all(a == b for a, b in pairs) and draw(st.booleans()):
            relation["same"] = [a for a, _ in pairs]
        elif pairs:
            relation["same"] = dict(pairs)
    if not absent and draw(st.integers(0, 2)) == 0:
        same = relation.get("same", [])
        taken = set(zip(same, same, strict=True)) if isinstance(same, list) else set(same.items())
        differ = [pair for pair in _pairs(draw, specs, trigger) if pair not in taken]
        if differ and all(a == b for a, b in differ) and draw(st.booleans()):
            relation["differ"] = [a for a, _ in differ]
        elif differ:
            relation["differ"] = dict(differ)
    return relation


def _ordered(specs: Mapping[str, FieldSpec]) -> list[str]:
    return sorted(
        name
        for name, spec in specs.items()
        if spec.kind in ("int", "float") or (spec.kind == "enum" and name in ORDERED_VALUES)
    )


def _comparable(specs: Mapping[str, FieldSpec]) -> dict[str, FieldSpec]:
    """The fields with one value each, which `same`, `differ`, `distinct` and `per` compare."""
    return {name: spec for name, spec in specs.items() if spec.kind not in ("set", "list")}


def _names(draw: st.DrawFn, specs: Mapping[str, FieldSpec], size: int = 2) -> list[str]:
    """One or more fields to compare (none when every field holds a list)."""
    names = sorted(_comparable(specs))
    if not names:
        return []
    return draw(st.lists(st.sampled_from(names), min_size=1, max_size=size, unique=True))


@st.composite
def templates(draw: st.DrawFn, specs: Mapping[str, FieldSpec]) -> str:
    """Reason or parameter text naming event fields, case state and the rule."""
    names = [
        *(f"{{event.{n}}}" for n in [*specs, "type", "at", "id", "source", "note", "recorded_at"]),
        *(f"{{case.{n}}}" for n in [*state_fields(), "id"]),
        "{rule.id}",
        "{rule.title}",
    ]
    words = st.one_of(st.sampled_from(names), st.sampled_from(["x", " y  ", "{{z}}", "\n"]))
    return "r " + "".join(draw(st.lists(words, max_size=4)))


@st.composite
def actions(draw: st.DrawFn, specs: Mapping[str, FieldSpec]) -> dict[str, Any]:
    """An action of the vocabulary with its required (and some optional) parameters."""
    name = draw(st.sampled_from(sorted(ACTIONS)))
    params: dict[str, Any] = {}
    for param, required in ACTIONS[name].items():
        if required or draw(st.booleans()):
            valid = PARAM_VALUES.get((name, param))
            params[param] = draw(st.sampled_from(valid)) if valid else draw(templates(specs))
    action: dict[str, Any] = {"action": name, "reason": draw(templates(specs))}
    if params:
        action["params"] = params
    if draw(st.booleans()):
        action["priority"] = draw(st.sampled_from(PRIORITIES))
    return action


@st.composite
def rules(draw: st.DrawFn, pool: Sequence[str], index: int) -> dict[str, Any]:
    """One rule over the `pool` types, in any of the rule language's forms."""
    types = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
    specs = common_fields(types)
    when: dict[str, Any] = {"event": types[0] if len(types) == 1 else types}
    if draw(st.booleans()):
        when["where"] = draw(conditions(specs))
    if draw(st.booleans()):
        when["case"] = draw(conditions(state_fields()))
    form = draw(st.sampled_from([None, "after", "absent", "before", "count", "due"]))
    if form in ("after", "absent"):
        when[form] = draw(relations(pool, specs, absent=form == "absent"))
    elif form == "before":  # an absence before the trigger: an `after` turned round
        when["absent"] = {**draw(relations(pool, specs, absent=False)), "before": True}
    elif form == "count":
        count: dict[str, Any] = {
            "at_least": draw(st.integers(2, 4)),
            "within": draw(st.sampled_from(WINDOWS)),
        }
        if draw(st.booleans()) and _comparable(specs):
            count["distinct"] = draw(st.sampled_from(sorted(_comparable(specs))))
        if draw(st.booleans()):
            same = [n for n in _names(draw, specs) if n != count.get("distinct")]
            if same:
                count["same"] = same
        others = [t for t in pool if t not in types]
        if others and draw(st.integers(0, 2)) == 0:  # an event that cancels the count
            unless = draw(relations(others, specs, absent=False))
            unless.pop("within")
            unless.pop("differ", None)
            count["unless"] = unless
        when["count"] = count
    elif form == "due":  # an event due within a period set by case state
        due_types = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
        states = {n: s for n, s in state_fields().items() if s.kind in ("enum", "int") and s.values}
        state = draw(st.sampled_from(sorted(states)))
        values = draw(
            st.lists(st.sampled_from(states[state].values), min_size=1, max_size=4, unique=True)
        )
        periods = [p for p in WINDOWS if not p.endswith("h")]
        due: dict[str, Any] = {
            "event": due_types[0] if len(due_types) == 1 else due_types,
            "state": state,
            "every": {v: draw(st.sampled_from(periods)) for v in values},
        }
        if draw(st.booleans()):
            due["where"] = draw(conditions(common_fields(due_types)))
        when["due"] = due
    if form != "count" and _ordered(specs) and draw(st.integers(0, 2)) == 0:
        changed: dict[str, Any] = {
            "field": draw(st.sampled_from(_ordered(specs))),
            "direction": draw(st.sampled_from(["down", "up"])),
        }
        if draw(st.booleans()):
            changed["same"] = _names(draw, specs) or None
            if changed["same"] is None:
                del changed["same"]
        when["changed"] = changed
    rule: dict[str, Any] = {
        "id": f"r{index}",
        "title": f"rule {index}",
        "learning": "l",
        "when": when,
        "then": draw(st.lists(actions(specs), min_size=1, max_size=2)),
    }
    if draw(st.integers(0, 3)) == 0:
        window = draw(st.sampled_from(WINDOWS))
        names = _names(draw, specs)
        per = st.just({"within": window, "per": names} if names else {"within": window})
        rule["throttle"] = draw(st.one_of(st.just(window), st.just({"within": window}), per))
        if isinstance(rule["throttle"], dict) and draw(st.booleans()):
            reset = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
            rule["throttle"]["reset_by"] = reset[0] if len(reset) == 1 else reset
    return rule


@st.composite
def scenarios(draw: st.DrawFn, cases: int = CHRONOLOGIES_PER_RULE_SET) -> Scenario:
    """A rule set of one to three rules over a few event types, and `cases` chronologies."""
    pool = draw(st.lists(st.sampled_from(EVENT_TYPES), min_size=2, max_size=4, unique=True))
    if "risk_assessed" not in pool and draw(st.booleans()):
        pool.append("risk_assessed")  # the case-state levels that `due` periods depend on
    if "mappa_level_set" not in pool and draw(st.integers(0, 3)) == 0:
        pool.append("mappa_level_set")  # the MAPPA level, which `due` periods may depend on
    count = draw(st.integers(1, 3))
    generated = [draw(rules(pool, index)) for index in range(count)]
    return Scenario(generated, [draw(chronologies(pool)) for _ in range(cases)])


# --- comparison ------------------------------------------------------------------


def disagreements(
    rules: CompiledRuleSet, cases: Sequence[tuple[Chronology, datetime | None]]
) -> list[str]:
    """Each case whose alerts differ between the two evaluators, described."""
    engine, reference = Engine(rules), ReferenceEngine(rules)
    found = []
    for chronology, until in cases:
        got = engine.replay(chronology, until).alerts
        expected = reference.replay(chronology, until).alerts
        if got != expected:
            found.append(
                f"case {chronology.case} (until {until}):\n"
                + "".join(f"  engine:    {a!r}\n" for a in got if a not in expected)
                + "".join(f"  reference: {a!r}\n" for a in expected if a not in got)
                + (
                    "  (the same alerts in another order)\n"
                    if sorted(map(repr, got)) == sorted(map(repr, expected))
                    else ""
                )
            )
    return found


def check(folder: Path, scenario: Scenario) -> list[str]:
    """Load the scenario's rules from a file, replay its cases through both evaluators."""
    path = folder / "rules.yaml"
    path.write_text(scenario.text)
    try:
        compiled = load_rules(path)
    except RuleFileError as error:
        if all("too intricate for durable_rules" in p.message for p in error.problems):
            reject()  # the compiler rightly refuses these (about 1 rule set in 100)
        raise
    cases = [
        (Chronology.model_validate({"case": f"case-{i}", "events": events}), until)
        for i, (events, until) in enumerate(scenario.cases)
    ]
    found = disagreements(compiled, cases)
    return [f"{scenario.text}\n{problem}" for problem in found]


SETTINGS = settings(
    max_examples=RULE_SETS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_engine_agrees_with_the_reference_on_generated_rules(tmp_path: Path) -> None:
    checked = 0

    @SETTINGS
    @given(scenario=scenarios())
    def agree(scenario: Scenario) -> None:
        nonlocal checked
        assert check(tmp_path, scenario) == []
        checked += len(scenario.cases)

    agree()
    assert checked >= 500


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=CHRONOLOGIES, until=st.none() | st.just(datetime(2014, 1, 1, tzinfo=UTC)))
def test_engine_agrees_with_the_reference_on_the_default_rules(
    default_rules: CompiledRuleSet, events: list[dict[str, Any]], until: datetime | None
) -> None:
    case = Chronology.model_validate({"case": "c", "events": events})
    assert disagreements(default_rules, [(case, until)]) == []
