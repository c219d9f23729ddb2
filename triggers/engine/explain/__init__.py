"""Explain an alert: why the rules raised it, from the events, the case state and the windows.

`model` holds what an explanation says, `derive` works it out by replaying the
case, `text` renders it for people.
"""

from triggers.engine.explain.derive import explain
from triggers.engine.explain.model import (
    AbsentTiming,
    AfterTiming,
    AlternativesCheck,
    ChangeTiming,
    ConditionCheck,
    CountTiming,
    ExplainedEvent,
    ExplainedRule,
    Explanation,
    StateValue,
    ThrottleTiming,
    Timing,
)

__all__ = [
    "AbsentTiming",
    "AfterTiming",
    "AlternativesCheck",
    "ChangeTiming",
    "ConditionCheck",
    "CountTiming",
    "ExplainedEvent",
    "ExplainedRule",
    "Explanation",
    "StateValue",
    "ThrottleTiming",
    "Timing",
    "explain",
]
