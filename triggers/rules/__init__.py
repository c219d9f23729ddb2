"""The rule language: YAML rule files, checked against the event catalogue and compiled."""

from triggers.rules.compiled import (
    AllOf,
    AnyOf,
    CompiledAction,
    CompiledRule,
    CompiledRuleSet,
    Condition,
    RuleSource,
    Test,
    holds,
)
from triggers.rules.compiler import SourceFile, compile_rule_files
from triggers.rules.loader import (
    RULE_TEST_SUFFIXES,
    default_rules_path,
    is_rule_test_file,
    read_rules,
    rule_files,
    rules_from_texts,
)
from triggers.rules.model import ActionSpec, Rule, RuleFile, When, rule_file_schema
from triggers.rules.template import Template

__all__ = [
    "RULE_TEST_SUFFIXES",
    "ActionSpec",
    "AllOf",
    "AnyOf",
    "CompiledAction",
    "CompiledRule",
    "CompiledRuleSet",
    "Condition",
    "Rule",
    "RuleFile",
    "RuleSource",
    "SourceFile",
    "Template",
    "Test",
    "When",
    "compile_rule_files",
    "default_rules_path",
    "holds",
    "is_rule_test_file",
    "read_rules",
    "rule_file_schema",
    "rule_files",
    "rules_from_texts",
]
