"""The README tells the truth: its quick start is CI's command, its examples work."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT
from triggers import load_rules, parse_chronology
from triggers.cli import cli

README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_quick_start_is_two_commands_and_ci_runs_the_second() -> None:
    start = README.index("## Quick start")
    block = re.search(r"```sh\n(.*?)```", README[start:], flags=re.DOTALL)
    assert block is not None
    commands = block.group(1).strip().splitlines()
    assert len(commands) == 2
    assert "triggers replay examples/mr-a.yaml" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()
    assert (ROOT / "examples" / "mr-a.yaml").is_file()


def test_the_chronology_example_loads() -> None:
    (example,) = [b for b in _blocks("yaml") if b.startswith("case:")]
    (case,) = parse_chronology(example, "README.yaml")
    assert case.case == "hh-ii-jj"


def test_the_rule_example_compiles(tmp_path: Path) -> None:
    (example,) = [b for b in _blocks("yaml") if b.startswith("rules:")]
    path = tmp_path / "readme-rules.yaml"
    path.write_text(example)
    assert [rule.id for rule in load_rules(path).rules] == [
        "D1-pregnancy-or-new-child",
        "D9-new-offence",
    ]


def test_every_command_and_option_is_documented() -> None:
    for name, command in cli.commands.items():
        assert f"triggers {name}" in README
        for param in command.params:
            for option in getattr(param, "opts", []):
                if option.startswith("--"):
                    assert option in README, f"{name} {option} is not in the README"


def test_every_case_state_name_is_documented() -> None:
    from triggers import STATE_FIELDS

    for name in STATE_FIELDS:
        assert f"`{name}`" in README, name
