"""durable_rules' own limits, checked when a rule set is loaded into the engine.

durable_rules fails late and obscurely when a rule set exceeds its fixed-size
tables (error 303 while asserting a fact, 108 or a hang while registering), so
such a rule set is refused up front, with a problem at the rule that goes over.
The figures are measured with durable_rules 2.0.28 (docs/durable-rules.md).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from triggers.engine.durable.facts import WINDOW_BOUNDS, FactLayout
from triggers.engine.durable.patterns import rule_definitions
from triggers.errors import Problem
from triggers.models.events import EVENT_TYPES
from triggers.rules.catalogue import event_fields
from triggers.rules.compiled import CompiledRule
from triggers.rules.limits import MAX_RULES, too_many_rules

__all__ = [
    "MAX_ABSENCE_TESTS",
    "MAX_CORRELATION_RULES",
    "MAX_FOLLOWING_TESTS",
    "MAX_PATTERN_ENTRIES",
    "MAX_PROPERTIES",
    "MAX_RULES",
    "MAX_RULES_PER_MESSAGE",
    "MAX_WAITING_TESTS",
    "check_limits",
    "message_properties",
    "pattern_entries",
]

#: One fact may take part in at most this many rules (durable_rules' 64-entry match stack).
MAX_RULES_PER_MESSAGE = 64
#: Rules in one rule set (the rule language's limit, checked when rules are read), and
#: rules among them that relate two facts (`after`, `absent`).
MAX_CORRELATION_RULES = 250
#: Properties of one fact, nested ones included (durable_rules stops at 255).
MAX_PROPERTIES = 254
#: Places durable_rules keeps for one pattern's combinators and correlated tests: each
#: `$and` and `$or` takes two, each test that refers to another fact one (error 113 at 32).
MAX_PATTERN_ENTRIES = 31


#: Different tests that may follow one test in durable_rules' network of tests, over the
#: whole rule set: it keeps them in a table of 512 places (NEXT_BUCKET_LENGTH in its
#: rules.h) and loops for ever looking for a place when the table is full (measured: an
#: `in` list of 511 values loads at once, 512 hang; 10 rules with 60 values each hang).
MAX_FOLLOWING_TESTS = 500
#: "Is not recorded" tests (`$nex`) that may follow one test: durable_rules keeps them
#: in a list of 128 (NEXT_LIST_LENGTH), shares none, even identical ones, and refuses
#: more with error 107 (measured: an `any` of 129 identical ones loads, 130 fail). The
#: same list links the end of each alternative of an `$or` to what follows it (a
#: forward node that is itself a `$nex`, rete.c createForwardAlpha): an `any` of 129
#: identical tests fails with 107 too, as does a list of 129 identical values.
MAX_ABSENCE_TESTS = 127
#: Tests of the network that one fact may have waiting at once: durable_rules walks the
#: network with a stack of 64 (MAX_STACK_SIZE in events.c) and fails with error 303 (or
#: crashes) past it. A test pushes every following test that holds for the fact, every
#: "not recorded" test whose value the fact lacks, every test that refers to another
#: fact, and the end of every alternative linked after it (measured: an `any` of 64
#: identical alternatives that hold runs, 65 crash the process).
MAX_WAITING_TESTS = 64


class _Network:
    """durable_rules' network of tests (its alpha nodes), built as it builds it (rete.c,
    createAlpha), to find the first table that would be too full."""

    def __init__(self) -> None:
        self.crowded: str | None = None
        # The rule (its index) being added, and the rule that added each test (by the
        # test's node): the network as it stood after any rule, without building it again.
        self.rule = 0
        self.born: dict[int, int] = {}

    def add(self, node: dict[str, Any], test: Mapping[str, Any]) -> dict[str, Any]:
        """Add a pattern's test after `node`; returns the node the next test follows.

        A node is a dict of the different tests that follow it; under "!" what its list of
        128 holds: `$nex` tests, and links from the end of alternatives (keys from "#").
        """
        ((key, value),) = test.items()
        if key == "$and":
            for part in value:
                node = self.add(node, part)
            return node
        if key == "$or":
            # Every alternative follows `node` and leads to one new node, shared by none,
            # which takes a place in the list after the alternative's last test each time
            # (even when two alternatives end at the same test).
            joined: dict[str, Any] = {}
            self.born[id(joined)] = self.rule
            for i, part in enumerate(value):
                end = self.add(node, part)
                end.setdefault("!", {})[f"#{id(joined)}.{i}"] = joined
                self._check(end)
            return joined
        if key == "$nex":
            # Measured: durable_rules never shares a "not recorded" test, even an identical one.
            absences: dict[str, Any] = node.setdefault("!", {})
            (name,) = value
            child: dict[str, Any] = absences.setdefault(f"{len(absences)} {name}", {})
        else:
            child = node.setdefault(json.dumps(test, sort_keys=True), {})
        self.born.setdefault(id(child), self.rule)
        self._check(node)
        return child

    def _check(self, node: dict[str, Any]) -> None:
        if self.crowded is not None:
            return
        listed = node.get("!", {})
        ends = sum(key.startswith("#") for key in listed)
        following = len(node) - ("!" in node)
        if following > MAX_FOLLOWING_TESTS:
            self.crowded = (
                f"{following} different tests follow one test in durable_rules'"
                f" network of tests, which holds {MAX_FOLLOWING_TESTS}{_FEWER}"
            )
        elif len(listed) > MAX_ABSENCE_TESTS and not ends:
            self.crowded = (
                f"{len(listed)} different 'not recorded' tests follow one test in"
                f" durable_rules' network of tests, which holds {MAX_ABSENCE_TESTS}{_FEWER}"
            )
        elif len(listed) > MAX_ABSENCE_TESTS:
            also = f" and {len(listed) - ends} 'not recorded' tests" if ends < len(listed) else ""
            self.crowded = (
                f"{ends} alternatives (of 'any', or values of a list) end at the same test"
                f"{also}, where durable_rules' network of tests links at most"
                f" {MAX_ABSENCE_TESTS}: write each alternative and each value once, or"
                " combine rules"
            )


#: How to relieve a crowded test of the network.
_FEWER = (
    " (lists of values and 'any' add one for each value, over every rule of an event type):"
    " use fewer different values, or combine rules"
)


#: The properties every event fact has, and those an event of each type always has.
_ALWAYS = frozenset({"kind", "seq", "sid", "id", "event.type", "event.id", "event.at"})
_REQUIRED = {
    event_type: _ALWAYS
    | {f"event.{spec.name}" for spec in event_fields(event_type).values() if spec.required}
    for event_type in EVENT_TYPES
}


@functools.lru_cache(maxsize=1 << 16)
def _test_of(key: str) -> tuple[str, Any]:
    """The name and operand of a test, from its key in a node."""
    ((name, operand),) = json.loads(key).items()
    return name, operand


def _waiting(
    network: _Network,
    upto: int,
    node: dict[str, Any],
    present: frozenset[str],
    known: dict[tuple[int, frozenset[str]], int],
) -> int:
    """The most tests that the walk of a fact through `node`'s followers can have waiting
    on durable_rules' stack at once (handleAlpha in events.c), if every test may hold but
    equality tests of one value with different constants, which exclude each other.

    `present` holds the properties the fact is known to have here (after a test of its
    event type, the type's required fields): a "not recorded" test of one is never pushed.
    Tests with no followers are taken to leave the stack before the others, as measured
    (64 `after` rules on one event type run: each pushes a test that refers to another
    fact, beside the sentinel's test). Only tests that rules up to `upto` added count.
    """
    if (id(node), present) in known:
        return known[(id(node), present)]
    born = network.born
    # Each pushed test (or group of exclusive ones): whether tests follow it.
    pushed: list[bool] = []
    deepest = 0
    exclusive: dict[str, bool] = {}
    for key, child in node.get("!", {}).items():
        if born.get(id(child), 0) > upto:
            continue
        # Ends of alternatives are always pushed, "not recorded" tests if the value is missing.
        if key.startswith("#") or key.split(" ", 1)[1] not in present:
            pushed.append(bool(child))
            deepest = max(deepest, _waiting(network, upto, child, present, known))
    for key, child in node.items():
        if key == "!" or born.get(id(child), 0) > upto:
            continue
        name, operand = _test_of(key)
        if name.startswith("$") or isinstance(operand, Mapping):
            pushed.append(bool(child))  # comparisons may hold together; references always
        else:
            exclusive[name] = exclusive.get(name, False) or bool(child)
        typed = name == "event.type" and isinstance(operand, str)
        after = _REQUIRED.get(operand, present) if typed else present
        deepest = max(deepest, _waiting(network, upto, child, after, known))
    pushed += exclusive.values()
    waiting = max(len(pushed), sum(pushed) - 1 + deepest) if pushed else 0
    known[(id(node), present)] = waiting
    return waiting


def _build(rules: Sequence[CompiledRule]) -> tuple[_Network, dict[str, Any], CompiledRule | None]:
    """durable_rules' network for `rules`, and the first rule that crowds it (if any)."""
    network = _Network()
    # Every ruleset's sentinel rule (host.py) tests that a fact has a kind.
    root: dict[str, Any] = {json.dumps({"$ex": {"kind": 1}}): {}}
    for index, rule in enumerate(rules):
        network.rule = index
        for definition in rule_definitions(rule, rule.id):
            for pattern in definition.patterns:
                for body in pattern.values():
                    network.add(root, body)
        if network.crowded is not None:
            return network, root, rule
    return network, root, None


def _network_problems(rules: Sequence[CompiledRule], others: bool) -> list[Problem]:
    """A problem at the first rule with which durable_rules' network of tests is too
    crowded to load (a hang, or error 107); else, unless there are `others` (the rules per
    event type bound the waiting tests too: a rule set over that is told so, not twice),
    at the first rule with which an event can have more tests waiting in durable_rules'
    walk of the network than it keeps (error 303, or a crash)."""
    network, root, crowding = _build(rules)
    if crowding is not None:
        return [crowding.source.problem(f"with this rule, {network.crowded}")]
    last = len(rules) - 1
    if others or _waiting(network, last, root, _ALWAYS, {}) <= MAX_WAITING_TESTS:
        return []
    # Waiting tests only grow as rules are added: find the first rule that goes over.
    low, high = 0, last
    while low < high:
        middle = (low + high) // 2
        if _waiting(network, middle, root, _ALWAYS, {}) > MAX_WAITING_TESTS:
            high = middle
        else:
            low = middle + 1
    waiting = _waiting(network, low, root, _ALWAYS, {})
    return [
        rules[low].source.problem(
            f"with this rule, one event can have {waiting} tests waiting at once in durable_rules'"
            f" network of tests, which keeps at most {MAX_WAITING_TESTS} (each alternative of"
            " an 'any' that can hold with the others, each 'not recorded' test and each 'after'"
            " or 'absent' rule on the event type takes one): write each alternative once, or"
            " split the rule"
        )
    ]


def message_properties(event_type: str, rules: Sequence[CompiledRule]) -> int:
    """The most properties a fact for an `event_type` event can have under `rules`."""
    return FactLayout(rules).properties(event_type)


def pattern_entries(test: Mapping[str, Any]) -> int:
    """The places a durable_rules pattern (or one of its tests) takes, as `MAX_PATTERN_ENTRIES`."""
    ((key, value),) = test.items()
    if key in ("$and", "$or"):
        return 2 + sum(pattern_entries(part) for part in value)
    operand = next(iter(value.values())) if key.startswith("$") else value
    return 1 if isinstance(operand, Mapping) else 0


def _widest(rules: Sequence[CompiledRule]) -> tuple[str, int]:
    """The event type whose facts carry the most properties, and how many."""
    layout = FactLayout(rules)
    counts = {event_type: layout.properties(event_type) for event_type in EVENT_TYPES}
    widest = max(counts, key=lambda event_type: counts[event_type])
    return widest, counts[widest]


def _involves(rule: CompiledRule, event_type: str) -> bool:
    return any(
        event_type in types
        for types in (
            rule.event_types,
            rule.after.event_types if rule.after else (),
            rule.absent.event_types if rule.absent else (),
            rule.absent_before.event_types if rule.absent_before else (),
        )
    )


def check_limits(rules: Sequence[CompiledRule]) -> list[Problem]:
    """Problems, each at the first rule that goes over one of durable_rules' limits."""
    problems: list[Problem] = []
    if len(rules) > MAX_RULES:
        problems.append(rules[MAX_RULES].source.problem(too_many_rules()))
    correlated = [r for r in rules if r.relations]
    if len(correlated) > MAX_CORRELATION_RULES:
        problems.append(
            correlated[MAX_CORRELATION_RULES].source.problem(
                f"a rule set may hold at most {MAX_CORRELATION_RULES} rules with 'after' or"
                f" 'absent' and this is number {MAX_CORRELATION_RULES + 1}:"
                " combine rules that share an event and actions, or remove some",
            )
        )
    absent = [r for r in rules if r.absent is not None]
    if len(absent) > MAX_RULES_PER_MESSAGE:
        problems.append(
            absent[MAX_RULES_PER_MESSAGE].source.problem(
                f"a rule set may hold at most {MAX_RULES_PER_MESSAGE} rules with 'absent'"
                " (the engine's clock takes part in all of them) and this is number"
                f" {MAX_RULES_PER_MESSAGE + 1}: combine absences that share a window",
            )
        )
    for event_type in EVENT_TYPES:
        involved = [r for r in rules if _involves(r, event_type)]
        if len(involved) > MAX_RULES_PER_MESSAGE:
            problems.append(
                involved[MAX_RULES_PER_MESSAGE].source.problem(
                    f"{len(involved)} rules involve {event_type!r} events, but durable_rules"
                    f" matches one event against at most {MAX_RULES_PER_MESSAGE} rules:"
                    " combine rules that share an event and actions, or remove some",
                )
            )
    for rule in rules:
        patterns = [p for d in rule_definitions(rule, rule.id) for p in d.patterns]
        entries = max(pattern_entries(body) for pattern in patterns for body in pattern.values())
        if entries > MAX_PATTERN_ENTRIES:
            problems.append(
                rule.source.problem(
                    f"this rule's conditions are too intricate for durable_rules: they take"
                    f" {entries} places in its list of one event's tests, which holds"
                    f" {MAX_PATTERN_ENTRIES} ('any', 'not', 'ne' and lists of values take the"
                    " most); simplify them or split the rule",
                )
            )
    problems += _network_problems(rules, bool(problems))
    if _widest(rules)[1] > MAX_PROPERTIES:
        # Properties only grow as rules are added: find the first rule that goes over.
        low, high = 0, len(rules) - 1
        while low < high:
            middle = (low + high) // 2
            if _widest(rules[: middle + 1])[1] > MAX_PROPERTIES:
                high = middle
            else:
                low = middle + 1
        widest, count = _widest(rules[: low + 1])
        problems.append(
            rules[low].source.problem(
                f"with this rule, a {widest!r} event would carry {count} properties into"
                f" durable_rules, which accepts at most {MAX_PROPERTIES}: each different"
                f" 'within' duration adds {len(WINDOW_BOUNDS)}; use fewer different"
                " durations",
            )
        )
    return problems
