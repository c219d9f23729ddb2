"""Evaluation of case chronologies against compiled rules, in event time."""

from triggers.engine.explain import Explanation, explain
from triggers.engine.reference import ReferenceEngine
from triggers.engine.replay import CaseResult, Engine, event_values, state_values

__all__ = [
    "CaseResult",
    "Engine",
    "Explanation",
    "ReferenceEngine",
    "event_values",
    "explain",
    "state_values",
]
