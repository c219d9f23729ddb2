"""Limits on every input of a rule file and a rule-test file, checked before the rule
language (or the test format) is.

A rule file that `triggers rules check` passes must never make the engine refuse,
crash or hang, nor make checking it slow: every text, list, number, nesting and
duration a rule file gives is bounded here, with a problem at the file, line and
column of the offending key that says the limit. The walk counts shared (YAML
alias) parts once, so it is linear in the file, and a rule over a limit is not
compiled at all: nothing later does exponential or quadratic work on it.

A rule-test file (`*.test.yaml`) is bounded the same way, test by test
(`RuleTestLimits`); the events in a test are the chronology reader's to bound.

The engine's own limits (how many rules one event may take part in, the places one
pattern keeps, ...) are the backend's (`triggers/engine/durable/limits.py`); the
figures here are chosen to keep well inside them and are listed in the README
("Limits on rule files").
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from typing import Any, ClassVar

from triggers._yaml import KeyPath, Located, format_key_path
from triggers.errors import Problem
from triggers.limits import MIN_DECIMAL, check_text
from triggers.rules.duration import MAX_TEXT_LENGTH as MAX_DURATION_LENGTH

__all__ = [
    "MAX_ACTIONS",
    "MAX_CONDITION_DEPTH",
    "MAX_DECIMAL",
    "MAX_ID_LENGTH",
    "MAX_LEARNING_LENGTH",
    "MAX_LIST_VALUES",
    "MAX_NAME_LENGTH",
    "MAX_NESTING",
    "MAX_PARTS",
    "MAX_RULES",
    "MAX_RULE_SUGGESTIONS",
    "MAX_TEMPLATE_LENGTH",
    "MAX_TESTS",
    "MAX_TEST_ALERTS",
    "MAX_TEST_NAME_LENGTH",
    "MAX_TITLE_LENGTH",
    "MAX_VALUE_LENGTH",
    "MAX_WHOLE_DIGITS",
    "MIN_DECIMAL",
    "RuleLimits",
    "RuleTestLimits",
    "number_problem",
    "shown",
    "too_many_rules",
    "too_many_tests",
]

#: Rules in one file, and in one rule set: durable_rules' limit (engine/durable/limits.py).
MAX_RULES = 500
#: Characters in a rule id, a title, the learning, and a template (a reason, a param).
MAX_ID_LENGTH = 100
MAX_TITLE_LENGTH = 200
MAX_LEARNING_LENGTH = 4000
MAX_TEMPLATE_LENGTH = 1000
#: Characters in a name (event type, field, operator, any other key) and in other values.
MAX_NAME_LENGTH = 64
MAX_VALUE_LENGTH = 200
#: Values in one list (`in`, `not_in`, `includes_any`, event types, `same`, `per`).
#: durable_rules keeps the tests that follow one test in a table of 512 places and
#: loops for ever when it is full (NEXT_BUCKET_LENGTH in its rules.h): an `in` list
#: of 512 values hangs every replay while the rules load (measured: 511 load at once,
#: 512 never). Half of that leaves room for the other tests that share the table.
MAX_LIST_VALUES = 256
#: Actions in one rule's `then`.
MAX_ACTIONS = 20
#: How deep `any`, `all` and `not` may nest inside one another.
MAX_CONDITION_DEPTH = 8
#: How deep mappings and lists may nest in one rule (conditions included).
MAX_NESTING = 24
#: Parts (mappings, lists, keys and values) of one rule with YAML aliases written out:
#: an alias repeated inside aliases grows exponentially when compiled.
MAX_PARTS = 5000
#: Numbers in rules: whole numbers of at most 15 digits; decimals finite, at most 1e9
#: and, unless zero, at least 0.0001 (durable_rules reads numbers written as JSON, and
#: refuses the exponent form Python gives smaller ones, such as 1e-05: error 204).
MAX_WHOLE_DIGITS = 15
MAX_DECIMAL = 1e9
#: The shortest period of a `due:` clock, in seconds (1 day): a clock re-arms at each
#: missed deadline and the clock may run to `--until`, so an hourly period over the
#: 100 years a duration allows would raise 876,600 alerts for one case.
MIN_DUE_PERIOD = 86400

#: Tests in one rule-test file, characters in a test's name, and alerts one test lists
#: in `expect` and in `forbid` (each). A test's `rule` is a rule id (MAX_ID_LENGTH), its
#: `action` and param names are names (MAX_NAME_LENGTH), its param values templates'
#: (MAX_TEMPLATE_LENGTH); nesting and parts are a rule's (MAX_NESTING, MAX_PARTS).
MAX_TESTS = 1000
MAX_TEST_NAME_LENGTH = 200
MAX_TEST_ALERTS = 100
#: Unknown rules in one rule-test file that get a "did you mean": each is compared with
#: every rule id and leading part of one, up to 1,000 names (0.1 s for a long name
#: against 500 long ids; 10,000 such names took half an hour).
MAX_RULE_SUGGESTIONS = 10

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6


def too_many_tests() -> str:
    """The problem with the test after the last one a rule-test file may hold."""
    return (
        f"a rule-test file holds at most {MAX_TESTS} tests and this is test {MAX_TESTS + 1}:"
        " split the tests into several files beside the rules (core.<topic>.test.yaml)"
    )


def too_many_rules() -> str:
    """The problem with the rule after the last one a file or a rule set may hold."""
    return (
        f"a rule set may hold at most {MAX_RULES} rules and this is rule {MAX_RULES + 1}:"
        " combine rules that share an event and actions, or remove some"
    )


def shown(value: Any) -> str:
    """`repr(value)`, shortened: for messages that quote what a file gave."""
    return _REPR.repr(value)


def number_problem(value: Any, where: str = "rules") -> str | None:
    """Why a number is out of range for a rule, or None if it is fine (or not a number).

    `where` names what the number is in, for the message ("rules", "rule tests").
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) >= 10**MAX_WHOLE_DIGITS:
            return (
                f"{shown(value)} is too large: whole numbers in {where} have at most"
                f" {MAX_WHOLE_DIGITS} digits"
            )
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{value!r} is not a number a rule can test: numbers in {where} are finite"
        if abs(value) > MAX_DECIMAL:
            return f"{value!r} is too large: decimals in {where} are at most {MAX_DECIMAL:,.0f}"
        if value and abs(value) < MIN_DECIMAL:
            return (
                f"{value!r} is too small: decimals in {where} are 0 or at least {MIN_DECIMAL:g}"
                " in size"
            )
    return None


# What a text is, and how long it may be, by where it is in a rule or a test ("#": any
# index, "*": any key); texts not listed are values (MAX_VALUE_LENGTH), keys are names.
_Texts = Mapping[tuple[str, ...], tuple[str, int]]
_RULE_TEXTS: _Texts = {
    ("id",): ("a rule id", MAX_ID_LENGTH),
    ("title",): ("a title", MAX_TITLE_LENGTH),
    ("learning",): ("the learning", MAX_LEARNING_LENGTH),
    ("then", "#", "reason"): ("a reason", MAX_TEMPLATE_LENGTH),
    ("then", "#", "params", "*"): ("a param", MAX_TEMPLATE_LENGTH),
    ("then", "#", "act_within"): ("a duration", MAX_DURATION_LENGTH),
    ("throttle",): ("a duration", MAX_DURATION_LENGTH),
    ("throttle", "within"): ("a duration", MAX_DURATION_LENGTH),
    ("throttle", "reset_by"): ("an event type", MAX_NAME_LENGTH),
    ("throttle", "reset_by", "#"): ("an event type", MAX_NAME_LENGTH),
    ("when", "after", "within"): ("a duration", MAX_DURATION_LENGTH),
    ("when", "absent", "within"): ("a duration", MAX_DURATION_LENGTH),
    ("when", "count", "within"): ("a duration", MAX_DURATION_LENGTH),
    ("when", "count", "unless", "event"): ("an event type", MAX_NAME_LENGTH),
    ("when", "due", "event"): ("an event type", MAX_NAME_LENGTH),
    ("when", "due", "event", "#"): ("an event type", MAX_NAME_LENGTH),
    ("when", "due", "state"): ("a case-state name", MAX_NAME_LENGTH),
    ("when", "due", "every", "*"): ("a duration", MAX_DURATION_LENGTH),
    ("when", "count", "unless", "event", "#"): ("an event type", MAX_NAME_LENGTH),
    ("when", "event"): ("an event type", MAX_NAME_LENGTH),
    ("when", "event", "#"): ("an event type", MAX_NAME_LENGTH),
    ("when", "after", "event"): ("an event type", MAX_NAME_LENGTH),
    ("when", "after", "event", "#"): ("an event type", MAX_NAME_LENGTH),
    ("when", "absent", "event"): ("an event type", MAX_NAME_LENGTH),
    ("when", "absent", "event", "#"): ("an event type", MAX_NAME_LENGTH),
}
_TEST_TEXTS: _Texts = {
    ("name",): ("a test name", MAX_TEST_NAME_LENGTH),
    **{
        (alerts, "#", *key): text
        for alerts in ("expect", "forbid")
        for key, text in {
            ("rule",): ("a rule id", MAX_ID_LENGTH),
            ("action",): ("an action", MAX_NAME_LENGTH),
            ("params", "*"): ("a param", MAX_TEMPLATE_LENGTH),
        }.items()
    },
}
_COMBINATORS = ("any", "all", "not")


def _text(texts: _Texts, inner: KeyPath) -> tuple[str, int]:
    """What the text at `inner` is, and how long it may be."""
    shape = tuple("#" if isinstance(part, int) else str(part) for part in inner)
    found = texts.get(shape) or (texts.get((*shape[:-1], "*")) if shape else None)
    return found or ("a value", MAX_VALUE_LENGTH)


class _Limits:
    """Checks the raw data of one file's parts (its rules, or its tests) against the limits,
    problem by problem: size and nesting first, then every text, list, key and number."""

    #: What one part is called in messages.
    part = "part"
    #: What numbers are in, in messages.
    numbers_in = "rules"
    texts: ClassVar[_Texts] = {}
    #: Lists with limits of their own, by where they are in a part: the limit and the
    #: problem ("{n}": the list's length). Others hold at most MAX_LIST_VALUES values.
    lists: ClassVar[Mapping[KeyPath, tuple[int, str]]] = {}
    #: What to do about another list that is too long.
    split = ""

    def __init__(self, file: str, located: Located) -> None:
        self.file = file
        self.located = located
        self.problems: list[Problem] = []
        self._sizes: dict[int, tuple[int, int]] = {}
        self._seen: set[int] = set()

    def add(self, path: KeyPath, message: str, *, key: bool = False) -> None:
        """A problem at `path`, its location written with every part shortened."""
        position = self.located.position(path, key=key)
        shortened = tuple(
            part if isinstance(part, int) or len(part) <= MAX_NAME_LENGTH else shown(part)
            for part in path
        )
        self.problems.append(
            Problem(
                self.file,
                format_key_path(shortened),
                message,
                position.line if position else None,
                position.column if position else None,
            )
        )

    def check(self, path: KeyPath, raw: Any) -> bool:
        """Check one part's raw data at `path`; True when it is within every limit."""
        before = len(self.problems)
        size, height = self._measure(raw)
        if size > MAX_PARTS:
            self.add(
                path,
                f"this {self.part} is too large: with its YAML aliases written out it has more"
                f" than {MAX_PARTS} parts (keys, values and lists); write it out without"
                f" repeating aliases, or split it",
            )
        elif height > MAX_NESTING:
            self.add(path, f"a {self.part} nests mappings and lists at most {MAX_NESTING} deep")
        else:
            self._seen.clear()
            self._walk(raw, path, (), 0)
        return len(self.problems) == before

    def _measure(self, node: Any) -> tuple[int, int]:
        """The parts of `node` with aliases written out (counted up to MAX_PARTS + 1), and
        how deep it nests (up to MAX_NESTING + 1); each shared part is measured once."""
        if not isinstance(node, Mapping | list):
            return 1, 0
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        self._sizes[id(node)] = (MAX_PARTS + 1, MAX_NESTING + 1)  # a cycle is too large
        size, height = 1, 0
        children = (v for pair in node.items() for v in pair) if isinstance(node, Mapping) else node
        for child in children:
            child_size, child_height = self._measure(child)
            size += child_size
            height = max(height, child_height + 1)
            if size > MAX_PARTS or height > MAX_NESTING:
                break
        measured = min(size, MAX_PARTS + 1), min(height, MAX_NESTING + 1)
        self._sizes[id(node)] = measured
        return measured

    def _walk(self, node: Any, path: KeyPath, inner: KeyPath, depth: int) -> None:
        """Check every text, list, number and nesting in `node` at `path`.

        `inner` is the path inside the part; `depth` what `_deeper` counts (for a rule, how
        many any/all/not enclose it).
        """
        if isinstance(node, Mapping | list):
            if id(node) in self._seen:
                return  # a YAML alias: checked where it was first written
            self._seen.add(id(node))
        if isinstance(node, Mapping):
            for key, value in node.items():
                child = (*path, key)
                if isinstance(key, str) and len(key) > MAX_NAME_LENGTH:
                    self.add(
                        child,
                        f"a name is at most {MAX_NAME_LENGTH} characters and this one has"
                        f" {len(key)}",
                        key=True,
                    )
                    continue
                deeper = self._deeper(child, key, inner, depth)
                if deeper is not None:
                    self._walk(value, child, (*inner, key), deeper)
        elif isinstance(node, list):
            if self._list(node, path, inner):
                for i, item in enumerate(node):
                    self._walk(item, (*path, i), (*inner, i), depth)
        elif isinstance(node, str):
            what, limit = _text(self.texts, inner)
            if len(node) > limit:
                self.add(path, f"{what} is at most {limit} characters and this one has {len(node)}")
            else:
                try:  # what a rule file says reaches alerts, the store and terminals
                    check_text(node, limit)
                except ValueError as error:
                    self.add(path, f"{what} {error}")
        else:
            problem = number_problem(node, self.numbers_in)
            if problem is not None:
                self.add(path, problem)

    def _deeper(self, path: KeyPath, key: Any, inner: KeyPath, depth: int) -> int | None:
        """The depth below `key` of the mapping at `inner`; None (with a problem) when it is
        too deep to check further."""
        return depth

    def _list(self, node: list[Any], path: KeyPath, inner: KeyPath) -> bool:
        """Check the length of the list at `path`; True when it is within its limit."""
        limit, problem = self.lists.get(inner) or (
            MAX_LIST_VALUES,
            f"a list in a {self.part} holds at most {MAX_LIST_VALUES} values and this one"
            f" has {{n}}{self.split}",
        )
        if len(node) > limit:
            self.add(path, problem.format(n=len(node)))
            return False
        return True

    def at_most(self, parts: list[Any], limit: int, at: KeyPath, problem: str) -> int:
        """Check the number of parts in a file (a problem `at` the first one too many);
        returns how many are to be read."""
        if len(parts) > limit:
            self.add(at, problem, key=True)
            return limit
        return len(parts)


class RuleLimits(_Limits):
    """Checks one rule file's raw data against the limits, problem by problem."""

    part = "rule"
    texts = _RULE_TEXTS
    lists: ClassVar[Mapping[KeyPath, tuple[int, str]]] = {
        ("then",): (MAX_ACTIONS, f"a rule has at most {MAX_ACTIONS} actions and this one has {{n}}")
    }
    split = ": split the rule, or test a broader value"

    def rules(self, rules: list[Any]) -> int:
        """Check the number of rules; returns how many are to be read."""
        return self.at_most(rules, MAX_RULES, ("rules", MAX_RULES, "id"), too_many_rules())

    def rule(self, index: int, raw: Any) -> bool:
        """Check one rule's raw data; True when it is within every limit."""
        return self.check(("rules", index), raw)

    def _deeper(self, path: KeyPath, key: Any, inner: KeyPath, depth: int) -> int | None:
        conditions = any(part in ("where", "case") for part in inner)
        depth += 1 if conditions and key in _COMBINATORS else 0
        if depth > MAX_CONDITION_DEPTH:
            self.add(
                path,
                f"'any', 'all' and 'not' nest at most {MAX_CONDITION_DEPTH} deep:"
                " write the conditions flatter, or split the rule",
                key=True,
            )
            return None
        return depth


#: The keys of a test that hold its chronology, bounded when the chronology is read.
_CHRONOLOGY_KEYS = ("case", "events")


class RuleTestLimits(_Limits):
    """Checks one rule-test file's raw data against the limits, problem by problem.

    A test's `case` and `events` are left to the chronology reader, which bounds them
    as it bounds a chronology file's.
    """

    part = "test"
    numbers_in = "rule tests"
    texts = _TEST_TEXTS
    lists: ClassVar[Mapping[KeyPath, tuple[int, str]]] = {
        (key,): (
            MAX_TEST_ALERTS,
            f"a test lists at most {MAX_TEST_ALERTS} {what} alerts and this one has {{n}}:"
            " split it into several tests",
        )
        for key, what in (("expect", "expected"), ("forbid", "forbidden"))
    }

    def tests(self, tests: list[Any]) -> int:
        """Check the number of tests; returns how many are to be read."""
        return self.at_most(tests, MAX_TESTS, ("tests", MAX_TESTS, "name"), too_many_tests())

    def test(self, index: int, raw: Any) -> bool:
        """Check one test's raw data, but for its chronology; True when it is within every
        limit."""
        if not isinstance(raw, Mapping):
            return self.check(("tests", index), raw)
        rest = {key: value for key, value in raw.items() if key not in _CHRONOLOGY_KEYS}
        try:
            return self.check(("tests", index), rest)
        finally:
            del self._sizes[id(rest)]  # a new mapping: its id may be reused
