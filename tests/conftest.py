"""Shared fixtures: the default rules, an engine, a temporary store, chronology builders.

Every store the tests open comes from `store_url`: a new SQLite file by default, or
a new database on a PostgreSQL server the tests start themselves (tests/postgres.py)
when TRIGGERS_TEST_BACKEND=postgresql. scripts/check runs the suite both ways.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import PostgresServer, PostgresUnavailableError, postgres_server
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


BACKEND_ENV = "TRIGGERS_TEST_BACKEND"
BACKENDS = ("sqlite", "postgresql")


def backend() -> str:
    """The store backend this run tests: `$TRIGGERS_TEST_BACKEND`, SQLite by default."""
    return os.environ.get(BACKEND_ENV) or "sqlite"


def pytest_configure(config: pytest.Config) -> None:
    if backend() not in BACKENDS:
        raise pytest.UsageError(
            f"{BACKEND_ENV}={backend()!r}: expected one of {', '.join(BACKENDS)}"
        )
    config.addinivalue_line("markers", "sqlite_only: about SQLite itself; not run on PostgreSQL")


def pytest_report_header() -> str:
    return f"store backend: {backend()} ({BACKEND_ENV})"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if backend() != "sqlite" and item.get_closest_marker("sqlite_only"):
        pytest.skip(f"about SQLite; this run is on {backend()}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server; failing, never skipping, when it cannot start."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(postgres_server())
        except PostgresUnavailableError as error:
            problem = f"{BACKEND_ENV}=postgresql, but PostgreSQL cannot be started: {error}"
        else:
            yield server
            return
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty store on the backend under test."""
    if backend() == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    database = server.create_database()
    yield server.url(database)
    server.drop_database(database)


@pytest.fixture
def scratch_sqlite_url(tmp_path: Path) -> str:
    """A SQLite store in a temporary file whatever the backend under test: for data a test
    prepares to compare or copy from, never the store the test is about."""
    return f"sqlite:///{tmp_path / 'scratch.sqlite'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store(store_url) as opened:
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


def printed_problems(call: str, *args: str) -> str:
    """The problems `call` raises as an `InputError`, one a line, from a fresh interpreter.

    `call` is a Python statement using `sys.argv` (`args`), the names of `triggers` and
    `read_rules`. For inputs that could make reading hang: the timeout is generous, so
    a regression fails rather than hangs the suite.
    """
    script = (
        "import sys\nfrom triggers import *\nfrom triggers.errors import InputError\n"
        "from triggers.rules import read_rules\n"
        f"try:\n    {call}\nexcept InputError as error:\n    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    return done.stdout.strip()


def expected_problems(path: Path) -> str:
    """The problems a hostile file beside its `.expected` file has, for `printed_problems`."""
    return path.with_suffix(".expected").read_text().replace("{file}", str(path)).strip()
