"""Shared fixtures: the default rules, an engine, a temporary store, chronology builders."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from triggers import Alert, Chronology, CompiledRuleSet, Engine, Store, load_rules

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
RULES = ROOT / "rules"
MR_A = EXAMPLES / "mr-a.yaml"

#: A chronology with an unknown event type, a missing required field and a bad date.
BROKEN_CHRONOLOGY = """\
case: broken-1
events:
  - at: 2011-06-20
    type: new_pregnacy
  - at: 2011-06-21
    type: arrest
    offence: theft
  - at: 2011-13-45
    type: strategy_meeting
"""


@pytest.fixture(scope="session")
def default_rules() -> CompiledRuleSet:
    return load_rules(RULES)


@pytest.fixture(scope="session")
def engine(default_rules: CompiledRuleSet) -> Engine:
    return Engine(default_rules)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'store.sqlite'}") as opened:
        yield opened


def chronology(events: Sequence[dict[str, Any]], case: str = "case-1") -> Chronology:
    """A chronology from plain event records."""
    return Chronology.model_validate({"case": case, "events": list(events)})


def replay(engine: Engine, events: Sequence[dict[str, Any]], case: str = "case-1") -> list[Alert]:
    """The alerts the engine raises for these events."""
    return list(engine.replay(chronology(events, case)).alerts)


def summary(alerts: Sequence[Alert]) -> list[tuple[str, str, str]]:
    """(date, rule, action) of each alert, for compact assertions."""
    return [(f"{a.at:%Y-%m-%d}", a.rule, a.action) for a in alerts]
