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


FORMAT = (ROOT / "docs" / "format.md").read_text()


def test_the_format_documents_every_event_type_field_and_action() -> None:
    from triggers.models import ACTIONS, EVENT_MODELS, BaseEvent

    common = {*BaseEvent.model_fields, "type"}
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `([a-z_]+)` \| (.*?) \|", FORMAT, flags=re.MULTILINE)
    }
    for event_type, model in EVENT_MODELS.items():
        assert event_type in rows, event_type
        for python_name, field in model.model_fields.items():
            name = field.alias or python_name  # as files write it: `from`, not `from_`
            if name not in common:
                written = f"**{name}**" if field.is_required() else name
                assert re.search(rf"(^|, ){re.escape(written)}( |,|$)", rows[event_type]), (
                    f"{event_type}.{name}"
                )
    for action, params in ACTIONS.items():
        assert action in rows, action
        for name, required in params.items():
            assert (f"**{name}**" if required else name) in rows[action], f"{action} {name}"
    for name in common - {"type"}:
        assert f"| `{name}` |" in FORMAT, name


def test_readme_and_docs_name_only_files_in_the_repository() -> None:
    texts = [README, FORMAT, *(p.read_text() for p in (ROOT / "docs").glob("*.md"))]
    for text in texts:
        for link in re.findall(r"\]\(([^)#:]+)\)", text):
            assert (ROOT / link).exists(), link
        for name in re.findall(
            r"`((?:triggers|docs|tests|benchmarks|examples|rules|scripts)/[^`*]+)`", text
        ):
            assert (ROOT / name.split()[0]).exists(), name
        assert "shared/" not in text and "CHRONOLOGY.md" not in text and "DESIGN.md" not in text
