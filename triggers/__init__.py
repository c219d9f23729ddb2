"""risk-triggers: raise safeguarding alerts when a case's circumstances change.

Typical use as a library::

    from triggers import Chronology, Engine, Store, load_rules

    engine = Engine(load_rules())            # the shipped default rules
    result = engine.replay(Chronology.model_validate(data))
    with Store("sqlite:///triggers.sqlite") as store:
        store.save(result)
"""

from triggers.engine import CaseResult, Engine, Explanation, ReferenceEngine, explain, load_rules
from triggers.errors import (
    ActionError,
    ChronologyError,
    EngineError,
    InputError,
    Problem,
    RuleFileError,
    RuleTestError,
    StoreError,
    TriggersError,
)
from triggers.models import (
    ACTIONS,
    EVENT_TYPES,
    STATE_FIELDS,
    Alert,
    CaseState,
    Chronology,
    Event,
    Outcome,
)
from triggers.reading import chronology_from_data, load_chronologies, parse_chronology
from triggers.rules import CompiledRule, CompiledRuleSet, default_rules_path
from triggers.ruletests import (
    AlertPattern,
    RuleTest,
    RuleTestFailure,
    RuleTestResult,
    load_rule_tests,
    rule_test_files,
    run_rule_tests,
)
from triggers.store import SaveSummary, Store

__version__ = "0.1.0"

__all__ = [
    "ACTIONS",
    "EVENT_TYPES",
    "STATE_FIELDS",
    "ActionError",
    "Alert",
    "AlertPattern",
    "CaseResult",
    "CaseState",
    "Chronology",
    "ChronologyError",
    "CompiledRule",
    "CompiledRuleSet",
    "Engine",
    "EngineError",
    "Event",
    "Explanation",
    "InputError",
    "Outcome",
    "Problem",
    "ReferenceEngine",
    "RuleFileError",
    "RuleTest",
    "RuleTestError",
    "RuleTestFailure",
    "RuleTestResult",
    "SaveSummary",
    "Store",
    "StoreError",
    "TriggersError",
    "__version__",
    "chronology_from_data",
    "default_rules_path",
    "explain",
    "load_chronologies",
    "load_rule_tests",
    "load_rules",
    "parse_chronology",
    "rule_test_files",
    "run_rule_tests",
]
