"""The engine's backend boundary: another backend plugs in, limits are the backend's own."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MR_A
from tests.test_rules import FLAG, HEADER, more_rules
from triggers import CompiledRuleSet, Engine, RuleFileError, load_chronologies, load_rules
from triggers.engine import EventInput, LoadedRules, Match, default_backend
from triggers.engine.durable import DurableBackend
from triggers.rules import read_rules


class _RecordingCase:
    """Passes every call on to another backend's session and records what it was asked."""

    def __init__(self, inner: Any, calls: list[tuple[str, Any]]) -> None:
        self.inner = inner
        self.calls = calls

    def event(self, event: EventInput) -> Sequence[Match]:
        self.calls.append(("event", event.id))
        result: Sequence[Match] = self.inner.event(event)
        return result

    def tally(
        self, rule: str, count: int, trigger: EventInput, state: Mapping[str, Any]
    ) -> Sequence[Match]:
        self.calls.append(("tally", (rule, count, trigger.id)))
        result: Sequence[Match] = self.inner.tally(rule, count, trigger, state)
        return result

    def clock(self, now: datetime) -> Sequence[Match]:
        self.calls.append(("clock", now))
        result: Sequence[Match] = self.inner.clock(now)
        return result


class _RecordingRules:
    def __init__(self, inner: LoadedRules, calls: list[tuple[str, Any]]) -> None:
        self.inner = inner
        self.calls = calls

    @contextmanager
    def case(self, case: str) -> Iterator[_RecordingCase]:
        with self.inner.case(case) as session:
            yield _RecordingCase(session, self.calls)


class _RecordingBackend:
    """A second backend, written outside the engine: it wraps durable_rules' and records."""

    def __init__(self) -> None:
        self.inner = DurableBackend()
        self.calls: list[tuple[str, Any]] = []
        self.checked: list[str] = []

    def check(self, rules: CompiledRuleSet) -> None:
        self.checked.append(rules.version)
        self.inner.check(rules)

    def load(self, rules: CompiledRuleSet) -> _RecordingRules:
        return _RecordingRules(self.inner.load(rules), self.calls)


def test_another_backend_plugs_in_and_sees_events_in_event_order(
    engine: Engine, default_rules: CompiledRuleSet
) -> None:
    (case,) = load_chronologies(MR_A)
    backend = _RecordingBackend()
    plugged = Engine(default_rules, backend=backend)
    assert plugged.replay(case).alerts == engine.replay(case).alerts
    posted = [value for kind, value in backend.calls if kind == "event"]
    assert sorted(posted) == sorted(e.id or "" for e in case.events)
    times = {e.id: e.at for e in case.events}
    assert [times[i] for i in posted] == sorted(times[i] for i in posted)
    # Deadlines reach the backend as clock moves (the example has absence rules).
    assert any(kind == "clock" for kind, _ in backend.calls)


def test_load_rules_checks_the_backend_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(HEADER + "    when:\n      event: arrest\n" + FLAG)
    backend = _RecordingBackend()
    rules = load_rules(path, backend=backend)
    assert backend.checked == [rules.version]


#: 65 rules on one event type: valid rules, beyond durable_rules' 64-entry match stack.
TOO_MANY = (
    HEADER
    + "    when:\n      event: new_pregnancy\n"
    + FLAG
    + more_rules(65, lambda i: "      event: new_pregnancy\n")
)


def test_the_language_does_not_know_engine_limits_but_the_engine_refuses_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(TOO_MANY)
    rules = read_rules(path)  # the rule language alone accepts them
    assert len(rules.rules) == 65
    message = (
        f"{path}:450:5: rules[64].id: 65 rules involve 'new_pregnancy' events, but"
        " durable_rules matches one event against at most 64 rules"
    )
    with pytest.raises(RuleFileError) as refused:
        Engine(rules)  # ... and the engine refuses them when they are registered
    assert str(refused.value).startswith(message)
    with pytest.raises(RuleFileError) as checked:
        default_backend().check(rules)
    assert str(checked.value) == str(refused.value)


NEVER_COUNTS = """
rules:
  - id: never-where
    title: t
    learning: l
    when:
      event: risk_assessed
      where: {level: {lt: low}}
      count: {at_least: 2, within: 3650d}
    then:
      - {action: flag, reason: r}
  - id: never-case
    title: t
    learning: l
    when:
      event: risk_assessed
      case: {mappa_level: {lt: 1}}
      count: {at_least: 2, within: 3650d}
    then:
      - {action: flag, reason: r}
  - id: half-never
    title: t
    learning: l
    when:
      event: risk_assessed
      where:
        any:
          - {tool: RM2000, level: {lt: low}}
          - {level: {ge: high}}
      count: {at_least: 2, within: 3650d}
    then:
      - {action: flag, reason: r}
"""


def test_count_rules_with_conditions_nothing_meets_agree_with_the_reference(
    tmp_path: Path,
) -> None:
    from triggers import Chronology, ReferenceEngine

    path = tmp_path / "rules.yaml"
    path.write_text(NEVER_COUNTS)
    rules = load_rules(path)
    events = [
        {"at": f"201{i}-01-01", "type": "risk_assessed", "tool": "RM2000", "level": level}
        for i, level in enumerate(["low", "high", "very_high", "medium", "high"])
    ]
    case = Chronology.model_validate({"case": "c", "events": events})
    got = Engine(rules).replay(case).alerts
    assert got == ReferenceEngine(rules).replay(case).alerts
    assert {a.rule for a in got} == {"half-never"}  # the others can never fire
