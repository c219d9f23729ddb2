"""Replay a case's events, in event time, through the compiled rules; collect alerts.

Each event is asserted as a fact (so that every rule it matches fires, not only
the first), together with the case state as it stood just before the event's
moment: events at the same moment are simultaneous, and none of them sees the
others, so their order in a file never changes an alert.
Cases are evaluated one at a time and each case's engine state is deleted when
it is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from triggers.engine.durable import DurableHost, Firing, get_host
from triggers.errors import EngineError
from triggers.models.alerts import Alert
from triggers.models.chronology import Chronology
from triggers.models.events import Event
from triggers.models.state import STATE_FIELDS, CaseState
from triggers.rules.compiled import CompiledRule, CompiledRuleSet
from triggers.rules.template import Template

__all__ = ["CaseResult", "Engine", "event_values", "state_values"]


@dataclass(frozen=True)
class CaseResult:
    """A replayed case: its chronology, the rule-set version, and the alerts in time order."""

    chronology: Chronology
    rules_version: str
    alerts: tuple[Alert, ...]

    @property
    def case(self) -> str:
        """The case id."""
        return self.chronology.case


def event_values(event: Event) -> dict[str, Any]:
    """An event's values as rules see them: its fields plus type, id, source and time."""
    values: dict[str, Any] = {"type": event.type, "id": event.id, **event.fields()}
    if event.source is not None:
        values["source"] = event.source
    return values


def state_values(state: CaseState) -> dict[str, Any]:
    """Case-state values as rules see them; absent values are left out."""
    return dict(state.values())


def _state_message(state: CaseState) -> dict[str, Any]:
    message: dict[str, Any] = {}
    for name, value in state.values().items():
        if STATE_FIELDS[name].kind == "set":
            assert isinstance(value, tuple)
            if value:
                message[name] = dict.fromkeys(value, True)
        else:
            message[name] = value
    return message


def _template_values(
    case: str, event: Event, state: CaseState, rule: CompiledRule
) -> dict[str, dict[str, object]]:
    values: dict[str, object] = dict(event_values(event))
    values["at"] = event.at.astimezone(UTC).strftime("%Y-%m-%d")
    values["note"] = event.note
    values["recorded_at"] = (
        event.recorded_at.astimezone(UTC).strftime("%Y-%m-%d") if event.recorded_at else None
    )
    return {
        "event": values,
        "case": {"id": case, **state_values(state)},
        "rule": {"id": rule.id, "title": rule.title},
    }


class Engine:
    """Evaluates chronologies against one compiled rule set."""

    def __init__(self, rules: CompiledRuleSet, host: DurableHost | None = None) -> None:
        self.rules = rules
        self._host = host or get_host()
        self._name = self._host.register(rules)
        self._by_id = {rule.id: rule for rule in rules.rules}
        self._order = {rule.id: index for index, rule in enumerate(rules.rules)}

    def replay(self, chronology: Chronology) -> CaseResult:
        """Evaluate one case's events in event order and return the alerts raised."""
        case = chronology.case
        alerts: list[tuple[tuple[Any, ...], Alert]] = []
        with self._host.lock:
            try:
                state = CaseState()
                for moment in chronology.moments():
                    # Simultaneous events all see the case as it stood before them.
                    for event in moment:
                        for firing in self._evaluate(case, event, state):
                            rule = self._rule(firing)
                            for index, alert in enumerate(self._alerts(case, event, state, rule)):
                                order = (event.at, self._order[rule.id], index, event.id)
                                alerts.append((order, alert))
                    state = state.apply_moment(moment)
            finally:
                self._host.delete_state(self._name, case)
        alerts.sort(key=lambda item: item[0])
        return CaseResult(chronology, self.rules.version, tuple(alert for _, alert in alerts))

    def replay_all(self, chronologies: Iterable[Chronology]) -> list[CaseResult]:
        """Replay several cases, one after another."""
        return [self.replay(chronology) for chronology in chronologies]

    def _evaluate(self, case: str, event: Event, state: CaseState) -> Sequence[Firing]:
        fact = {
            "sid": case,
            "id": self._host.next_id(),
            "kind": "event",
            "event": {**event_values(event), "at": int(event.at.timestamp())},
            "state": _state_message(state),
        }
        handled, firings = self._host.assert_fact(self._name, fact)
        if handled:
            self._host.retract_fact(self._name, fact)
        return firings

    def _rule(self, firing: Firing) -> CompiledRule:
        try:
            return self._by_id[firing.rule_id]
        except KeyError:
            raise EngineError(f"durable_rules fired an unknown rule {firing.rule_id!r}") from None

    def _alerts(self, case: str, event: Event, state: CaseState, rule: CompiledRule) -> list[Alert]:
        values = _template_values(case, event, state, rule)
        result = []
        for action in rule.actions:
            params = {
                name: value.render(values) if isinstance(value, Template) else value
                for name, value in action.params.items()
            }
            result.append(
                Alert(
                    case=case,
                    rule=rule.id,
                    action=action.action,
                    at=event.at,
                    params=params,
                    priority=action.priority,
                    reason=" ".join(action.reason.render(values).split()),
                    events=(event.id or "",),
                )
            )
        return result
