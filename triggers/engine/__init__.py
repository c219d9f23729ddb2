"""Evaluation of case chronologies against compiled rules, in event time.

Explaining an alert is in `triggers.engine.explain`, loaded only when asked for.
"""

from triggers.engine.backend import (
    Backend,
    CaseSession,
    EventInput,
    LoadedRules,
    Match,
    default_backend,
    load_rules,
)
from triggers.engine.reference import ReferenceEngine
from triggers.engine.replay import CaseResult, Engine
from triggers.engine.semantics import event_values, state_values

__all__ = [
    "Backend",
    "CaseResult",
    "CaseSession",
    "Engine",
    "EventInput",
    "LoadedRules",
    "Match",
    "ReferenceEngine",
    "default_backend",
    "event_values",
    "load_rules",
    "state_values",
]
