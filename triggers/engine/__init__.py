"""Evaluation of case chronologies against compiled rules, in event time."""

from triggers.engine.backend import (
    Backend,
    CaseSession,
    EventInput,
    LoadedRules,
    Match,
    default_backend,
    load_rules,
)
from triggers.engine.explain import Explanation, explain
from triggers.engine.reference import ReferenceEngine
from triggers.engine.replay import CaseResult, Engine
from triggers.engine.semantics import event_values, state_values

__all__ = [
    "Backend",
    "CaseResult",
    "CaseSession",
    "Engine",
    "EventInput",
    "Explanation",
    "LoadedRules",
    "Match",
    "ReferenceEngine",
    "default_backend",
    "event_values",
    "explain",
    "load_rules",
    "state_values",
]
