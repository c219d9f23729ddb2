"""risk-triggers: raise safeguarding alerts when a case's circumstances change.

Typical use as a library::

    from triggers import Engine, Store, chronology_from_data, load_rules

    engine = Engine(load_rules())            # the shipped default rules
    result = engine.replay(chronology_from_data(records, "case-management system"))
    with Store("sqlite:///triggers.sqlite") as store:
        store.save(result)

The public names are exactly `__all__`. The store, the pipeline and explanations
load on first use (and with them SQLAlchemy and Alembic), so that a command that
needs none of them starts quickly.
"""

# Imported under private names: the public names of this module are exactly `__all__`.
import typing as _typing
from importlib.metadata import version as _version

from triggers._lazy import lazy_names as _lazy_names
from triggers.engine import Backend, CaseResult, Engine, ReferenceEngine, load_rules
from triggers.errors import (
    ActionError,
    AuditLogError,
    ChronologyError,
    ClusterError,
    EngineError,
    InputError,
    LifecycleError,
    NotFoundError,
    Problem,
    ReasonRequiredError,
    ReportError,
    RuleFileError,
    RuleTestError,
    SchemaError,
    StoreError,
    TriggersError,
)
from triggers.models import (
    ACTIONS,
    ALERT_STATUSES,
    EVENT_TYPES,
    PARAM_VALUES,
    STATE_FIELDS,
    Alert,
    AlertStatus,
    AuditEntry,
    CaseState,
    Chronology,
    ErasureRecord,
    Event,
    Outcome,
    StatusChange,
    StoredAlert,
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

if _typing.TYPE_CHECKING:
    from triggers.engine.explain import Explanation, explain
    from triggers.pipeline import explain_alert, ingest, tick
    from triggers.store import HEAD_REVISION, SaveSummary, Store, schema_revision, upgrade_schema

__version__ = _version("risk-triggers")

__all__ = [
    "ACTIONS",
    "ALERT_STATUSES",
    "EVENT_TYPES",
    "HEAD_REVISION",
    "PARAM_VALUES",
    "STATE_FIELDS",
    "ActionError",
    "Alert",
    "AlertPattern",
    "AlertStatus",
    "AuditEntry",
    "AuditLogError",
    "Backend",
    "CaseResult",
    "CaseState",
    "Chronology",
    "ChronologyError",
    "ClusterError",
    "CompiledRule",
    "CompiledRuleSet",
    "Engine",
    "EngineError",
    "ErasureRecord",
    "Event",
    "Explanation",
    "InputError",
    "LifecycleError",
    "NotFoundError",
    "Outcome",
    "Problem",
    "ReasonRequiredError",
    "ReferenceEngine",
    "ReportError",
    "RuleFileError",
    "RuleTest",
    "RuleTestError",
    "RuleTestFailure",
    "RuleTestResult",
    "SaveSummary",
    "SchemaError",
    "StatusChange",
    "Store",
    "StoreError",
    "StoredAlert",
    "TriggersError",
    "__version__",
    "chronology_from_data",
    "default_rules_path",
    "explain",
    "explain_alert",
    "ingest",
    "load_chronologies",
    "load_rule_tests",
    "load_rules",
    "parse_chronology",
    "rule_test_files",
    "run_rule_tests",
    "schema_revision",
    "tick",
    "upgrade_schema",
]

#: Names loaded on first use, and the module that defines each.
_LAZY = {
    "Explanation": "triggers.engine.explain",
    "explain": "triggers.engine.explain",
    "explain_alert": "triggers.pipeline",
    "ingest": "triggers.pipeline",
    "tick": "triggers.pipeline",
    "HEAD_REVISION": "triggers.store",
    "SaveSummary": "triggers.store",
    "Store": "triggers.store",
    "schema_revision": "triggers.store",
    "upgrade_schema": "triggers.store",
}


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, __all__)
