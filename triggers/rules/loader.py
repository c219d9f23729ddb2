"""Find and read rule files, then hand them to the compiler."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from triggers._yaml import load_yaml, read_yaml_file
from triggers.errors import Problem, RuleFileError
from triggers.rules.compiled import CompiledRuleSet
from triggers.rules.compiler import SourceFile, compile_rule_files

__all__ = [
    "RULE_SUFFIXES",
    "RULE_TEST_SUFFIXES",
    "default_rules_path",
    "is_rule_test_file",
    "read_rules",
    "rule_files",
    "rules_from_texts",
]

RULE_SUFFIXES = (".yaml", ".yml")
#: Rule tests live beside the rules they test; they are never rule files themselves.
RULE_TEST_SUFFIXES = (".test.yaml", ".test.yml")


def default_rules_path() -> Path:
    """The default rule set: shipped inside the package, or `rules/` in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    shipped = package / "default_rules"
    if shipped.is_dir():
        return shipped
    return package.parent / "rules"


def is_rule_test_file(path: str | Path) -> bool:
    """Whether `path` names a rule test file (`*.test.yaml`) rather than a rule file."""
    return Path(path).name.endswith(RULE_TEST_SUFFIXES)


def rule_files(path: str | Path) -> list[Path]:
    """The rule files at `path`: the file itself, or a directory's YAML files in name order.

    Rule test files (`*.test.yaml`) beside the rules are not rule files.
    """
    where = Path(path)
    if where.is_dir():
        files = sorted(
            p
            for p in where.iterdir()
            if p.suffix in RULE_SUFFIXES and not is_rule_test_file(p) and p.is_file()
        )
        if not files:
            raise RuleFileError(
                [Problem(str(where), "", "no rule files (*.yaml) in this directory")]
            )
        return files
    if not where.exists():
        raise RuleFileError([Problem(str(where), "", "no such rule file or directory")])
    if is_rule_test_file(where):
        raise RuleFileError(
            [Problem(str(where), "", "this is a rule test file (*.test.yaml), not a rule file")]
        )
    return [where]


def read_rules(path: str | Path | None = None) -> CompiledRuleSet:
    """Read, check and compile the rules at `path` (default: the shipped rule set).

    Checks the rule language and the event catalogue; an engine's own limits are
    checked when it loads the rules (`triggers.load_rules` does both). Raises
    `RuleFileError` listing every problem in every file.
    """
    sources: list[SourceFile] = []
    problems: list[Problem] = []
    for file in rule_files(default_rules_path() if path is None else path):
        text, located, yaml_problems = read_yaml_file(file, "rule file")
        if yaml_problems:
            problems.extend(yaml_problems)
            continue
        sources.append(SourceFile(str(file), text, located))
    try:
        compiled = compile_rule_files(sources)
    except RuleFileError as error:
        problems.extend(error.problems)
    if problems:
        raise RuleFileError(problems)
    return compiled


def rules_from_texts(files: Sequence[tuple[str, str]]) -> CompiledRuleSet:
    """Compile rule files given as (name, text), such as a version the store recorded."""
    sources: list[SourceFile] = []
    problems: list[Problem] = []
    for name, text in files:
        located, yaml_problems = load_yaml(text, name)
        problems.extend(yaml_problems)
        if not yaml_problems:
            sources.append(SourceFile(name, text, located))
    if problems:
        raise RuleFileError(problems)
    return compile_rule_files(sources)
