"""Rule tests: short chronologies beside the rules, with the alerts they must and must not raise.

A safeguarding lead proves that a rule does what they meant by writing, in a
`<name>.test.yaml` file beside the rule files, a few cases and what should come
of them::

    tests:
      - name: a pregnancy after a sexual conviction re-opens the children's assessment
        events:
          - {at: 2010-01-04, type: conviction, offence: indecent images, category: sexual}
          - {at: 2011-01-03, type: new_pregnancy, household_member: partner}
        expect:
          - {rule: D1-pregnancy-or-new-child, action: reopen_assessment, at: 2011-01-03}
        forbid:
          - {rule: D9-new-offence}

`expect` lists alerts that must be raised, `forbid` alerts that must not be; other
alerts are allowed. Each key given must match: `rule` (an id, or its leading part
before a hyphen, such as `D1`), `action`, `at` (a date alone matches any time that
day) and `params` (a subset of the alert's). Test files are checked against the
rule set, and every problem in them is reported at once with file, line and column.
Every input of a test file is bounded before it is read (`RuleTestLimits`; the limits
are in `triggers/rules/limits.py` and the README).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal

from triggers._yaml import KeyPath, Located, ProblemCollector, read_yaml_file
from triggers.engine import Engine
from triggers.errors import ChronologyError, Problem, RuleTestError, suggest
from triggers.models import ACTIONS, Alert, Chronology, ParamValue, parse_time
from triggers.reading import read_chronology
from triggers.rules import RULE_TEST_SUFFIXES, CompiledRuleSet, default_rules_path
from triggers.rules.ids import leading_parts
from triggers.rules.limits import MAX_NAME_LENGTH, MAX_RULE_SUGGESTIONS, RuleTestLimits, shown

__all__ = [
    "DEFAULT_TEST_CASE",
    "AlertPattern",
    "RuleTest",
    "RuleTestFailure",
    "RuleTestResult",
    "describe_alert",
    "load_rule_tests",
    "rule_test_files",
    "run_rule_tests",
    "untested_rules",
]

#: The case id of a test's chronology when the test does not name one.
DEFAULT_TEST_CASE = "rule-test"
_TEST_KEYS = ("name", "case", "events", "until", "expect", "forbid")
_PATTERN_KEYS = ("rule", "action", "at", "params")


# --- what a test file holds ------------------------------------------------------


@dataclass(frozen=True)
class AlertPattern:
    """An alert a test expects or forbids: every key given must match.

    `rule` is as written; `rule_ids` the rules it names. A `whole_day` time matches
    any alert raised that day (UTC); otherwise the time must be exact. `params`
    match as a subset of the alert's parameters.
    """

    rule: str | None = None
    rule_ids: tuple[str, ...] = ()
    action: str | None = None
    at: datetime | None = None
    whole_day: bool = False
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    line: int | None = None

    def related(self, alert: Alert) -> bool:
        """Whether `alert` is of the pattern's rule and action (whatever its time and params)."""
        if self.rule is not None and alert.rule not in self.rule_ids:
            return False
        return self.action is None or alert.action == self.action

    def matches(self, alert: Alert) -> bool:
        """Whether `alert` matches every key of the pattern."""
        if not self.related(alert):
            return False
        if self.at is not None:
            when = alert.at.astimezone(UTC)
            if self.whole_day and when.date() != self.at.date():
                return False
            if not self.whole_day and when != self.at:
                return False
        return all(
            name in alert.params and str(alert.params[name]) == str(value)
            for name, value in self.params.items()
        )

    def describe_time(self) -> str:
        """The time to match: a day, or a moment."""
        if self.at is None:
            return "any day"
        return f"{self.at:%Y-%m-%d}" if self.whole_day else _moment(self.at)

    def describe(self) -> str:
        """The pattern in words: `flag from D12 on 2011-01-03 with agency=police`."""
        text = self.action or "any alert"
        if self.rule is not None:
            text += f" from {self.rule}"
        if self.at is not None:
            text += f" on {self.describe_time()}"
        if self.params:
            text += " with " + ", ".join(f"{name}={value}" for name, value in self.params.items())
        return text


@dataclass(frozen=True)
class RuleTest:
    """One test: a short chronology, where the clock stops, and the alerts to look for."""

    name: str
    file: str
    line: int | None
    chronology: Chronology
    until: datetime | None
    expect: tuple[AlertPattern, ...]
    forbid: tuple[AlertPattern, ...]

    @property
    def clock_stops(self) -> datetime | None:
        """Where the replay's clock stops: `until`, or else the last event."""
        if self.until is not None:
            return self.until
        return max((event.at for event in self.chronology.events), default=None)


@dataclass(frozen=True)
class RuleTestFailure:
    """An expected alert that was not raised, or a forbidden one that was.

    `got` holds, for a missing alert, the alerts raised of its rule and action (at
    other times or with other params); for a forbidden one, the alerts it matched.
    `raised` holds every alert the test's chronology raised.
    """

    kind: Literal["missing", "forbidden"]
    pattern: AlertPattern
    got: tuple[Alert, ...]
    raised: tuple[Alert, ...]
    #: Where the test's clock stopped; an alert expected later could never be raised.
    clock_stops: datetime | None = None

    def explain(self) -> list[str]:
        """What was expected (or forbidden) and what was got, as lines of text."""
        label = "expected" if self.kind == "missing" else "forbidden"
        if self.pattern.line is not None:
            label += f" (line {self.pattern.line})"
        got = [describe_alert(alert) for alert in self.got]
        if not got and not self.raised:
            got = ["no alerts at all"]
        elif not got:
            kind = self.pattern.action or "alert"
            source = f" from {self.pattern.rule}" if self.pattern.rule else ""
            got = [f"no {kind}{source}; the alerts raised were"]
            got += [describe_alert(alert) for alert in self.raised]
        lines = [f"{label}: {self.pattern.describe()}"]
        lines += [
            f"{'got:' if i == 0 else ''}".ljust(len(label) + 2) + g for i, g in enumerate(got)
        ]
        stops, at = self.clock_stops, self.pattern.at
        if self.kind == "missing" and stops is not None and at is not None and at > stops:
            lines.append(
                f"note: the clock stopped at {_moment(stops)}, before the expected alert;"
                " give the test an 'until' date to run it on"
            )
        return lines


@dataclass(frozen=True)
class RuleTestResult:
    """The outcome of one test: the alerts its chronology raised and what was wrong."""

    test: RuleTest
    alerts: tuple[Alert, ...]
    failures: tuple[RuleTestFailure, ...]

    @property
    def passed(self) -> bool:
        """Every expected alert was raised and no forbidden one."""
        return not self.failures

    @property
    def name(self) -> str:
        """The test's name."""
        return self.test.name

    @property
    def file(self) -> str:
        """The test file."""
        return self.test.file

    @property
    def line(self) -> int | None:
        """The line where the test starts."""
        return self.test.line


def untested_rules(tests: Sequence[RuleTest], rules: CompiledRuleSet) -> list[tuple[str, str]]:
    """Rules whose tests leave a side unproved, as (rule id, what is missing), in rule order.

    A rule is tested when one test expects an alert from it (it fires) and another
    test forbids its alerts (a near miss that must not fire).
    """
    expected = {rule for test in tests for pattern in test.expect for rule in pattern.rule_ids}
    forbidden = {rule for test in tests for pattern in test.forbid for rule in pattern.rule_ids}
    missing: list[tuple[str, str]] = []
    for rule in rules.rules:
        if rule.id not in expected and rule.id not in forbidden:
            missing.append((rule.id, "no test"))
        elif rule.id not in expected:
            missing.append((rule.id, "no test that expects it to fire"))
        elif rule.id not in forbidden:
            missing.append((rule.id, "no test of a near miss that forbids it"))
    return missing


def describe_alert(alert: Alert) -> str:
    """An alert in words: `reopen_assessment from D1-… on 2011-01-03 with agency=…`."""
    text = f"{alert.action} from {alert.rule} on {_moment(alert.at)}"
    if alert.params:
        text += " with " + ", ".join(f"{name}={value}" for name, value in alert.params.items())
    return text


def _moment(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%d}" if at.time() == time.min else f"{at:%Y-%m-%d %H:%M} UTC"


# --- finding and reading test files ------------------------------------------------


def rule_test_files(path: str | Path | None = None) -> list[Path]:
    """The rule test files for the rules at `path` (default: the shipped rules).

    For a directory, its `*.test.yaml` files; for a rule file `core.yaml`, the
    `core.test.yaml` and `core.*.test.yaml` beside it. Raises `RuleTestError` when
    there are none.
    """
    where = default_rules_path() if path is None else Path(path)
    if where.is_dir():
        folder, stem = where, None
    else:
        folder, stem = where.parent, where.name.rsplit(".", 1)[0]
    files = sorted(
        p
        for p in (folder.iterdir() if folder.is_dir() else [])
        if p.is_file()
        and p.name.endswith(RULE_TEST_SUFFIXES)
        and (stem is None or p.name.startswith(f"{stem}."))
    )
    if not files:
        pattern = "*.test.yaml" if stem is None else f"{stem}.test.yaml or {stem}.*.test.yaml"
        raise RuleTestError(
            [Problem(str(where), "", f"no rule tests ({pattern}) beside the rules")]
        )
    return files


def load_rule_tests(files: Sequence[str | Path], rules: CompiledRuleSet) -> list[RuleTest]:
    """Read and check rule test files against `rules`.

    Raises `RuleTestError` listing every problem in every file.
    """
    tests: list[RuleTest] = []
    problems: list[Problem] = []
    for file in files:
        _, located, yaml_problems = read_yaml_file(file, "rule test file")
        if yaml_problems:
            problems.extend(yaml_problems)
            continue
        reader = _TestReader(str(file), located, rules)
        tests.extend(reader.read())
        reader.extend(reader.limits.problems)
        problems.extend(reader.in_file_order())
    if problems:
        raise RuleTestError(problems)
    return tests


class _TestReader(ProblemCollector):
    """Checks one test file, collecting every problem in it."""

    located: Located  # a test file is always YAML, so every problem has a position

    def __init__(self, file: str, located: Located, rules: CompiledRuleSet) -> None:
        super().__init__(file, located)
        self.limits = RuleTestLimits(file, located)
        self.rule_ids = dict.fromkeys(rule.id for rule in rules.rules)  # in order, found fast
        self.actions = {rule.id: {a.action for a in rule.actions} for rule in rules.rules}
        # The ids each leading part names (`D1` and `D1-pregnancy` for D1-pregnancy-or-…).
        self.named: dict[str, list[str]] = {}
        for rule_id in self.rule_ids:
            for part in leading_parts(rule_id):
                self.named.setdefault(part, []).append(rule_id)
        self.known_rules = list(
            dict.fromkeys([*self.rule_ids, *(i.split("-", 1)[0] for i in self.rule_ids)])
        )
        self.rule_suggestions: dict[str, str | None] = {}

    def unknown_keys(self, raw: Mapping[Any, Any], path: KeyPath, allowed: Sequence[str]) -> None:
        for key in raw:
            if key not in allowed:
                message = f"unknown key {shown(key)}: expected {', '.join(allowed)}"
                if isinstance(key, str) and len(key) > MAX_NAME_LENGTH:
                    # No "did you mean"; the limits shorten the key in the problem's path.
                    self.limits.add((*path, key), message, key=True)
                    continue
                self.add((*path, key), message, key=True, suggestion=suggest(str(key), allowed))

    def suggest_rule(self, given: str) -> str | None:
        """The rule id or leading part closest to `given`, for the first few unknown rules."""
        if given not in self.rule_suggestions:
            if len(self.rule_suggestions) >= MAX_RULE_SUGGESTIONS:
                return None
            self.rule_suggestions[given] = suggest(given, self.known_rules)
        return self.rule_suggestions[given]

    def read(self) -> list[RuleTest]:
        data = self.located.data
        if not isinstance(data, Mapping):
            found = "nothing" if data is None else type(data).__name__
            self.add((), f"a rule test file is a mapping with a 'tests' list, got {found}")
            return []
        self.unknown_keys(data, (), ["tests"])
        raw_tests = data.get("tests")
        if "tests" not in data:
            self.add((), "missing required key 'tests'")
            return []
        if not isinstance(raw_tests, list):
            self.add(("tests",), "'tests' must be a list of tests")
            return []
        tests: list[RuleTest] = []
        first_line: dict[str, int | None] = {}
        for index, raw in enumerate(raw_tests[: self.limits.tests(raw_tests)]):
            if not self.limits.test(index, raw):
                continue
            path: KeyPath = ("tests", index)
            test = self.test(raw, path)
            raw_name = raw.get("name") if isinstance(raw, Mapping) else None
            if not isinstance(raw_name, str) or not raw_name.strip():
                continue
            name = raw_name.strip()
            if name in first_line:
                self.add(
                    (*path, "name"),
                    f"duplicate test name {name!r} (first at line {first_line[name]})",
                )
                continue
            position = self.located.position(path)
            first_line[name] = position.line if position else None
            if test is not None:
                tests.append(test)
        return tests

    def test(self, raw: Any, path: KeyPath) -> RuleTest | None:
        if not isinstance(raw, Mapping):
            self.add(path, "a test is a mapping with 'name', 'events' and 'expect' or 'forbid'")
            return None
        before = len(self.problems)
        self.unknown_keys(raw, path, _TEST_KEYS)
        name = raw.get("name")
        if "name" not in raw:
            self.add(path, "missing required key 'name' (what the test shows)")
        elif not isinstance(name, str) or not name.strip():
            self.add((*path, "name"), "'name' must be text")
        chronology = self.chronology(raw, path)
        until = self.until(raw, chronology, path)
        expect = self.patterns(raw, path, "expect")
        forbid = self.patterns(raw, path, "forbid")
        if "expect" not in raw and "forbid" not in raw:
            self.add(path, "a test needs 'expect' (alerts that must be raised) or 'forbid'")
        if len(self.problems) > before or chronology is None:
            return None
        position = self.located.position(path)
        return RuleTest(
            name=str(name).strip(),
            file=self.file,
            line=position.line if position else None,
            chronology=chronology,
            until=until,
            expect=tuple(expect),
            forbid=tuple(forbid),
        )

    def chronology(self, raw: Mapping[str, Any], path: KeyPath) -> Chronology | None:
        """The test's events as a chronology, checked as a chronology file's are."""
        content = {"case": raw.get("case", DEFAULT_TEST_CASE)}
        if "events" in raw:
            content["events"] = raw["events"]
        try:
            return read_chronology(content, self.file, self.located, path)
        except ChronologyError as error:
            self.extend(error.problems)
            return None

    def until(
        self, raw: Mapping[str, Any], chronology: Chronology | None, path: KeyPath
    ) -> datetime | None:
        """Where the test's clock stops, if it runs on past the last event."""
        if "until" not in raw:
            return None
        until = self.time(raw["until"], (*path, "until"))[0]
        last = max((event.at for event in chronology.events), default=None) if chronology else None
        if until is not None and last is not None and until < last:
            self.add(
                (*path, "until"),
                f"'until' ({_moment(until)}) is before the last event ({_moment(last)}):"
                " it would not run the clock on",
            )
        return until

    def patterns(self, raw: Mapping[str, Any], path: KeyPath, key: str) -> list[AlertPattern]:
        """The test's expected (or forbidden) alerts."""
        items = raw.get(key)
        if key not in raw:
            return []
        if not isinstance(items, list):
            self.add((*path, key), f"'{key}' must be a list of alerts")
            return []
        result = []
        for index, item in enumerate(items):
            pattern = self.pattern(item, (*path, key, index), required=key == "expect")
            if pattern is not None:
                result.append(pattern)
        return result

    def pattern(self, raw: Any, path: KeyPath, *, required: bool) -> AlertPattern | None:
        what = "an expected alert" if required else "a forbidden alert"
        if not isinstance(raw, Mapping):
            self.add(path, f"{what} is a mapping of {', '.join(_PATTERN_KEYS)}")
            return None
        before = len(self.problems)
        self.unknown_keys(raw, path, _PATTERN_KEYS)
        for name in ("action", "at") if required else ():
            if name not in raw:
                self.add(path, f"missing required key {name!r} for {what}")
        if not required and not any(name in raw for name in _PATTERN_KEYS):
            self.add(path, f"{what} needs at least one of {', '.join(_PATTERN_KEYS)}")
        rule, rule_ids = self.rule(raw, path)
        action = self.action(raw, path, rule, rule_ids)
        at, whole_day = self.time(raw["at"], (*path, "at")) if "at" in raw else (None, False)
        params = self.params(raw, path, action)
        if len(self.problems) > before:
            return None
        position = self.located.position(path)
        return AlertPattern(
            rule=rule,
            rule_ids=rule_ids,
            action=action,
            at=at,
            whole_day=whole_day,
            params=params,
            line=position.line if position else None,
        )

    def rule(self, raw: Mapping[str, Any], path: KeyPath) -> tuple[str | None, tuple[str, ...]]:
        """The rule as written and the ids it names: an id, or an id's leading part."""
        if "rule" not in raw:
            return None, ()
        given = raw["rule"]
        if not isinstance(given, str) or not given:
            self.add((*path, "rule"), "'rule' must be a rule id, such as D1-pregnancy-or-new-child")
            return None, ()
        if given in self.rule_ids:
            return given, (given,)
        named = tuple(self.named.get(given, ()))
        if not named:
            self.add(
                (*path, "rule"),
                f"unknown rule {given!r}: no rule in the rule set has this id",
                suggestion=self.suggest_rule(given),
            )
        return given, named

    def action(
        self, raw: Mapping[str, Any], path: KeyPath, rule: str | None, rule_ids: Sequence[str]
    ) -> str | None:
        if "action" not in raw:
            return None
        given = raw["action"]
        if not isinstance(given, str) or given not in ACTIONS:
            self.add(
                (*path, "action"),
                f"unknown action {shown(given)}: expected one of {', '.join(ACTIONS)}",
                suggestion=suggest(given, ACTIONS) if isinstance(given, str) else None,
            )
            return None
        raised = {action for rule_id in rule_ids for action in self.actions[rule_id]}
        if rule is not None and rule_ids and given not in raised:
            self.add(
                (*path, "action"),
                f"rule {rule!r} never raises {given!r}: it raises {', '.join(sorted(raised))}",
            )
        return given

    def time(self, value: Any, path: KeyPath) -> tuple[datetime | None, bool]:
        """A date (the whole day) or a date-time (that moment), written at `path`."""
        try:
            moment = parse_time(value)
        except ValueError as error:
            self.add(path, str(error))
            return None, False
        whole_day = (isinstance(value, date) and not isinstance(value, datetime)) or (
            isinstance(value, str) and _plain_date(value)
        )
        return moment, whole_day

    def params(
        self, raw: Mapping[str, Any], path: KeyPath, action: str | None
    ) -> dict[str, ParamValue]:
        if "params" not in raw:
            return {}
        given = raw["params"]
        where = (*path, "params")
        if not isinstance(given, Mapping):
            self.add(where, "'params' must be a mapping, such as {agency: childrens_services}")
            return {}
        known = (
            list(ACTIONS[action])
            if action is not None
            else list(dict.fromkeys(name for params in ACTIONS.values() for name in params))
        )
        result: dict[str, ParamValue] = {}
        for name, value in given.items():
            if name not in known:
                owner = f"action {action!r}" if action else "any action"
                self.add(
                    (*where, name),
                    f"unknown parameter {name!r} for {owner}"
                    + (f": expected {', '.join(known)}" if known else ": it has none"),
                    key=True,
                    suggestion=suggest(str(name), known),
                )
            elif isinstance(value, bool) or not isinstance(value, str | int):
                self.add((*where, name), f"parameter {name!r} must be text or a whole number")
            else:
                result[str(name)] = value
        return result


def _plain_date(text: str) -> bool:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


# --- running -------------------------------------------------------------------------


def run_rule_tests(tests: Sequence[RuleTest], rules: CompiledRuleSet) -> list[RuleTestResult]:
    """Replay each test's chronology through `rules` and compare the alerts with the test's."""
    engine = Engine(rules)
    results = []
    for test in tests:
        alerts = engine.replay(test.chronology, test.until).alerts
        failures = [
            RuleTestFailure(
                "missing",
                pattern,
                tuple(a for a in alerts if pattern.related(a)),
                alerts,
                test.clock_stops,
            )
            for pattern in test.expect
            if not any(pattern.matches(alert) for alert in alerts)
        ]
        for pattern in test.forbid:
            hits = tuple(alert for alert in alerts if pattern.matches(alert))
            if hits:
                failures.append(RuleTestFailure("forbidden", pattern, hits, alerts))
        results.append(RuleTestResult(test, alerts, tuple(failures)))
    return results
