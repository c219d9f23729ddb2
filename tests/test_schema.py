"""JSON Schemas for editors: they accept every shipped file and reject unknown keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from tests.conftest import EXAMPLES, RULES
from triggers.cli import cli
from triggers.rules import rule_files


def _schema(*command: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, list(command), catch_exceptions=False)
    assert result.exit_code == 0
    schema: dict[str, Any] = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _as_json(path: Path) -> Any:
    # YAML dates become text, as an editor's YAML language server sees them.
    return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))


# Rule files only: the rule tests beside them (*.test.yaml) are another format.
@pytest.mark.parametrize("path", rule_files(RULES), ids=lambda p: p.name)
def test_rule_schema_accepts_every_shipped_rule_file(path: Path) -> None:
    jsonschema.validate(_as_json(path), _schema("rules", "schema"))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["rules"][0]["then"][0].update(urgency=1), "urgency"),
        (lambda d: d["rules"][0].update(whn={}), "whn"),
        (lambda d: d["rules"][0]["when"].update(evnt="arrest"), "evnt"),
        (lambda d: d.update(extra=[]), "extra"),
    ],
    ids=["action", "rule", "when", "top level"],
)
def test_rule_schema_rejects_unknown_keys(change: Any, where: str) -> None:
    data = _as_json(RULES / "core.yaml")
    change(data)
    with pytest.raises(jsonschema.ValidationError, match=where):
        jsonschema.validate(data, _schema("rules", "schema"))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_event_schema_accepts_every_example(path: Path) -> None:
    jsonschema.validate(_as_json(path), _schema("events", "schema"))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(titel="x"), "titel"),
        (lambda d: d["events"][0].update(colour="red"), "colour"),
        (lambda d: d["events"][0].update(type="new_pregnacy"), "new_pregnacy"),
    ],
    ids=["top level", "event field", "event type"],
)
def test_event_schema_rejects_what_the_loader_rejects(change: Any, where: str) -> None:
    data = _as_json(EXAMPLES / "mr-a.yaml")
    change(data)
    validator = jsonschema.Draft202012Validator(_schema("events", "schema"))
    errors = list(validator.iter_errors(data))
    assert errors
    # Events are a union by type: the editor shows the failure at the event (or key) itself.
    places = {tuple(error.absolute_path)[:2] for error in errors}
    assert places == ({("events", 0)} if where != "titel" else {()})
    if where == "titel":
        assert "titel" in errors[0].message
