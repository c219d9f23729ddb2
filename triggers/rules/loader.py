"""Find and read rule files, then hand them to the compiler."""

from __future__ import annotations

from pathlib import Path

from triggers.errors import Problem, RuleFileError
from triggers.rules.compiled import CompiledRuleSet
from triggers.rules.compiler import SourceFile, compile_rule_files
from triggers.yamlmap import load_yaml

__all__ = ["RULE_SUFFIXES", "default_rules_path", "load_rules", "rule_files"]

RULE_SUFFIXES = (".yaml", ".yml")


def default_rules_path() -> Path:
    """The default rule set: shipped inside the package, or `rules/` in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    shipped = package / "default_rules"
    if shipped.is_dir():
        return shipped
    return package.parent / "rules"


def rule_files(path: str | Path) -> list[Path]:
    """The rule files at `path`: the file itself, or a directory's YAML files in name order."""
    where = Path(path)
    if where.is_dir():
        files = sorted(p for p in where.iterdir() if p.suffix in RULE_SUFFIXES and p.is_file())
        if not files:
            raise RuleFileError(
                [Problem(str(where), "", "no rule files (*.yaml) in this directory")]
            )
        return files
    if not where.exists():
        raise RuleFileError([Problem(str(where), "", "no such rule file or directory")])
    return [where]


def load_rules(path: str | Path | None = None) -> CompiledRuleSet:
    """Read, check and compile the rules at `path` (default: the shipped rule set).

    Raises `RuleFileError` listing every problem in every file.
    """
    sources: list[SourceFile] = []
    problems: list[Problem] = []
    for file in rule_files(default_rules_path() if path is None else path):
        name = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(name, "", f"cannot read the rule file: {error}"))
            continue
        located, yaml_problems = load_yaml(text, name)
        if yaml_problems:
            problems.extend(yaml_problems)
            continue
        sources.append(SourceFile(name, text, located))
    try:
        compiled = compile_rule_files(sources)
    except RuleFileError as error:
        problems.extend(error.problems)
    if problems:
        raise RuleFileError(problems)
    return compiled
