"""`triggers rules ...` and `triggers events ...`: rule sets (check, list, test); the catalogue."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from triggers.cli.app import cli
from triggers.cli.render import action_text, print_problem, stderr, stdout
from triggers.engine import load_rules
from triggers.models import (
    ACTIONS,
    CATALOGUE_VERSION,
    DEFAULT_ACT_WITHIN,
    EVENT_MODELS,
    PARAM_VALUES,
    STATE_FIELDS,
    chronology_schema,
)
from triggers.rules import rule_file_schema
from triggers.rules.catalogue import event_fields, state_fields
from triggers.ruletests import load_rule_tests, rule_test_files, run_rule_tests, untested_rules

__all__ = ["events", "rules"]


@cli.group()
def rules() -> None:
    """Check, list and test rule sets."""


@rules.command("check")
@click.argument("path", required=False, type=click.Path())
@click.option("--strict", is_flag=True, help="Exit 1 on warnings as well as on errors.")
def rules_check(path: str | None, strict: bool) -> None:
    """Check the rule files at PATH (default: the shipped rules) against the event catalogue.

    Every problem in every file is reported with file, line and column. Rules that can
    never fire, or that another rule shadows, are warnings. Exits 0 when the rules
    have no errors, 1 when they have (or, with --strict, when there are warnings).
    """
    err = stderr()
    compiled = load_rules(path)
    cache: dict[str, list[str]] = {}
    for warning in compiled.warnings:
        print_problem(warning, "[yellow]warning:[/yellow]", err, cache)
    files = ", ".join(compiled.files)
    found = len(compiled.warnings)
    noun = "warning" if found == 1 else "warnings"
    err.print(
        f"{len(compiled.rules)} rule(s) in {files}: no errors, {found} {noun}"
        f" (version {compiled.version})"
    )
    if strict and found:
        raise SystemExit(1)


@rules.command("list")
@click.argument("path", required=False, type=click.Path())
def rules_list(path: str | None) -> None:
    """List the rules at PATH (default: the shipped rules): id, title, learning and actions."""
    compiled = load_rules(path)
    table = Table(
        title=f"rule set {compiled.version}", title_justify="left", expand=True, show_lines=True
    )
    table.add_column("Id", no_wrap=True)
    table.add_column("Title / learning", ratio=3)
    table.add_column("Actions", ratio=2, overflow="fold")
    for rule in compiled.rules:
        actions = "\n".join(action_text(action) for action in rule.actions)
        table.add_row(
            escape(rule.id),
            f"[bold]{escape(rule.title)}[/]\n{escape(rule.learning)}",
            escape(actions),
        )
    stdout().print(table)


@rules.command("schema")
def rules_schema() -> None:
    """Print a JSON Schema of the rule file format, for editors to validate and complete."""
    click.echo(json.dumps(rule_file_schema(), indent=2))


@rules.command("test")
@click.argument("path", required=False, type=click.Path())
def rules_test(path: str | None) -> None:
    """Run the rule tests beside the rules at PATH (default: the shipped rules).

    PATH is a rule file or a directory; its tests are the *.test.yaml files beside it
    (for a rule file core.yaml: core.test.yaml and core.*.test.yaml). Each test
    replays a short chronology and checks that the alerts it expects are raised and
    those it forbids are not. Each failure is shown with its file and line, what was
    expected and what was got. Exits 0 when every test passes, 1 when any fails or a
    rule or test file has problems.
    """
    err = stderr()
    compiled = load_rules(path)
    results = run_rule_tests(load_rule_tests(rule_test_files(path), compiled), compiled)
    out = stdout(soft_wrap=True)
    failed = [result for result in results if not result.passed]
    for result in failed:
        where = result.file if result.line is None else f"{result.file}:{result.line}"
        out.print(f"[red]{escape(where)}: test '{escape(result.name)}'[/red]")
        for failure in result.failures:
            for line in failure.explain():
                out.print(f"    {escape(line)}")
    untested = untested_rules([result.test for result in results], compiled)
    for rule_id, missing in untested:
        err.print(f"[yellow]warning: rule {escape(rule_id)} has {missing}[/yellow]")
    colour = "red" if failed else "green"
    noun = "test" if len(results) == 1 else "tests"
    untested_text = f", {len(untested)} rule(s) not fully tested" if untested else ""
    err.print(f"[{colour}]{len(results)} {noun}, {len(failed)} failed{untested_text}[/{colour}]")
    if failed:
        raise SystemExit(1)


@cli.group()
def events() -> None:
    """Describe the chronology format."""


@events.command("schema")
def events_schema() -> None:
    """Print a JSON Schema of chronology files, for editors to validate and complete."""
    click.echo(json.dumps(chronology_schema(), indent=2))


_COMMON = ("at", "type", "id", "source", "recorded_at", "note")


@events.command("list")
def events_list() -> None:
    """Print the event catalogue, the case state rules test and the action vocabulary.

    Each event type with its meaning and fields (required ones marked), each field's
    kind or enumeration of values; then the case-state values and the actions.
    """
    lines = [
        f"Event catalogue version {CATALOGUE_VERSION}: {len(EVENT_MODELS)} types. Every event"
        " also has at and type (required), id, source, recorded_at and note.",
    ]
    for event_type, model in EVENT_MODELS.items():
        lines += ["", f"{event_type}: {_meaning(model.__doc__)}"]
        fields = {n: f for n, f in event_fields(event_type).items() if n not in _COMMON}
        width = max((len(name) for name in fields), default=0)
        lines += [
            f"  {name:<{width}}  {'required' if spec.required else 'optional'}  {spec.describe()}"
            for name, spec in fields.items()
        ] or ["  (no fields of its own)"]
    lines += ["", "Case state (rules test it with case:):"]
    width = max(len(name) for name in STATE_FIELDS)
    for name, spec in state_fields().items():
        lines.append(f"  {name:<{width}}  {spec.describe()}: {STATE_FIELDS[name].description}")
    lines += ["", "Actions (default time to act):"]
    for action, params in ACTIONS.items():
        described = [
            f"{name} ({'required' if required else 'optional'}"
            + (
                ": " + " or ".join(repr(v) for v in PARAM_VALUES[action, name])
                if (action, name) in PARAM_VALUES
                else ""
            )
            + ")"
            for name, required in params.items()
        ]
        lines.append(
            f"  {action}: {', '.join(described) or 'no params'} ({DEFAULT_ACT_WITHIN[action]})"
        )
    click.echo("\n".join(lines))


def _meaning(doc: str | None) -> str:
    text = " ".join((doc or "").split())
    return text[:1].lower() + text[1:].rstrip(".")
