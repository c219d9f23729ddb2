"""Hostile input in the suite: every reader gives a result or one of the project's errors,
naming the file, in time; a file that fails leaves nothing in the store.

A few dozen inputs per reader here; `benchmarks/fuzz.py` runs tens of thousands.
"""

from __future__ import annotations

import functools
import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES
from tests.fuzzing import READERS, judge, mutate, seeds
from triggers import load_rules
from triggers.cli import cli
from triggers.rules.compiled import CompiledRuleSet


@functools.cache
def _rules() -> CompiledRuleSet:
    return load_rules()


SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.mark.parametrize("reader", list(READERS))
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    phases=[Phase.generate],  # the seed is the whole input: shrinking it says nothing
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=SEEDS)
def test_every_hostile_input_gets_a_result_or_a_placed_error(
    reader: str, seed: int, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    data = mutate(rng.choice(seeds(reader)), rng, json_text=reader in ("json", "jsonl"))
    verdict = judge(reader, data, tmp_path, _rules())
    assert not verdict.failed, f"{verdict.outcome}: {verdict.detail} (seed {seed})"


def test_the_fuzzer_tells_a_failure_from_an_error(tmp_path: Path) -> None:
    """The verdicts themselves: a project error naming the file passes, anything else fails."""
    good = judge("yaml", (EXAMPLES / "mr-a.yaml").read_bytes(), tmp_path, _rules())
    broken = judge("yaml", b"case: a\nevents: [\n", tmp_path, _rules())
    assert (good.outcome, broken.outcome) == ("ok", "error")
    assert str(tmp_path / "input.yaml") in broken.detail


@pytest.mark.sqlite_only
@settings(
    max_examples=8,
    deadline=None,
    database=None,
    phases=[Phase.generate],  # the seed is the whole input: shrinking it says nothing
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=SEEDS)
def test_a_hostile_file_in_a_corpus_leaves_nothing_of_itself_in_the_store(
    seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("corpus")
    rng = random.Random(seed)
    hostile = folder / "b-hostile.yaml"
    data = mutate((EXAMPLES / "mr-c-bail.yaml").read_bytes(), rng)
    hostile.write_bytes(data.replace(b"case: mr-c", b"case: hostile", 1))
    store = folder / "store.sqlite"
    files = [str(EXAMPLES / "mr-a.yaml"), str(hostile), str(EXAMPLES / "mr-d-move.yaml")]
    result = CliRunner().invoke(
        cli, ["replay", *files, "--store", f"sqlite:///{store}", "--workers", "1"]
    )
    assert result.exit_code in (0, 1), result.output
    with sqlite3.connect(store) as db:
        cases = {row[0] for row in db.execute("SELECT id FROM cases")}
        events = {row[0] for row in db.execute("SELECT DISTINCT case_id FROM events")}
    assert {"hh-ii-jj", "mr-d"} <= cases
    if result.exit_code == 1:  # the hostile file failed: nothing of it is stored
        assert cases == events == {"hh-ii-jj", "mr-d"}
        assert str(hostile) in result.output
