"""Replaying a corpus in worker processes: the same alerts for any number of workers, and a
worker that crashes loses nothing but its own file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import EXAMPLES, ROOT
from triggers import load_chronologies, load_rules
from triggers.cli import cli
from triggers.parallel import ABORT_ENV, replay_files

CORPUS = [*sorted(str(p) for p in EXAMPLES.glob("*.yaml")), str(EXAMPLES / "feed.jsonl")]


def _alerts(workers: int, files: list[str]) -> list[tuple[str, list[str]]]:
    rules = load_rules()
    return [
        (outcome.file, [json.dumps(a.to_json()) for r in outcome.results for a in r.alerts])
        for outcome in replay_files(files, rules, workers=workers)
    ]


def test_one_and_two_workers_give_the_same_alerts_in_file_order() -> None:
    one = _alerts(1, CORPUS)
    two = _alerts(2, CORPUS)
    assert [file for file, _ in two] == CORPUS
    assert one == two
    assert sum(len(alerts) for _, alerts in one) > 20


def test_errors_come_back_from_workers_with_their_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("case: b\nevents:\n  - {at: soon, type: arrest}\n")
    outcomes = list(replay_files([str(broken), CORPUS[0]], load_rules(), workers=2))
    assert outcomes[0].error is not None
    assert str(outcomes[0].error.problems[0]).startswith(f"{broken}:3:")  # type: ignore[attr-defined]
    assert outcomes[1].error is None and outcomes[1].results


def _replay(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`triggers replay` as a process of its own (workers are processes of their own)."""
    code = "from triggers.cli import main; main()"
    store = "sqlite:///" + str(tmp_path / "corpus.sqlite")  # the tests using it are SQLite-only
    return subprocess.run(
        [sys.executable, "-c", code, "replay", *args, "--store", store, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )


def _stored_cases(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "corpus.sqlite") as connection:
        return [row[0] for row in connection.execute("SELECT id FROM cases ORDER BY id")]


@pytest.mark.sqlite_only  # a store file of its own, read directly
def test_a_worker_that_dies_loses_only_its_own_file(tmp_path: Path) -> None:
    (victim,) = load_chronologies(EXAMPLES / "mr-d-move.yaml")
    env = {**os.environ, ABORT_ENV: victim.case}
    result = _replay(tmp_path, *CORPUS, "--workers", "2", env=env)
    assert result.returncode == 1, result.stderr
    assert f"the worker replaying case {victim.case!r} of " in result.stderr
    assert "it died again when retried in a fresh process" in result.stderr
    assert f"1 of {len(CORPUS)} file(s) failed" in result.stderr
    expected = {c.case for f in CORPUS for c in load_chronologies(f)} - {victim.case}
    assert set(_stored_cases(tmp_path)) == expected
    alerts = json.loads(result.stdout)
    assert alerts and victim.case not in {a["case"] for a in alerts}


@pytest.mark.sqlite_only  # as above
def test_a_worker_that_dies_once_is_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    (victim,) = load_chronologies(EXAMPLES / "mr-d-move.yaml")
    marker = tmp_path / "died-once"
    env = {**os.environ, ABORT_ENV: f"{victim.case}@{marker}"}
    result = _replay(
        tmp_path, str(EXAMPLES), str(EXAMPLES / "feed.jsonl"), "--workers", "2", env=env
    )
    assert result.returncode == 0, result.stderr
    assert marker.exists()  # the first attempt did die
    expected = {c.case for f in CORPUS for c in load_chronologies(f)}
    assert set(_stored_cases(tmp_path)) == expected
    (tmp_path / "calm").mkdir()
    calm = _replay(
        tmp_path / "calm",
        str(EXAMPLES),
        str(EXAMPLES / "feed.jsonl"),
        "--workers",
        "1",
        env=dict(os.environ),
    )
    assert json.loads(calm.stdout) == json.loads(result.stdout)


def test_directories_and_globs_name_the_files_of_a_corpus(tmp_path: Path, store_url: str) -> None:
    runner = CliRunner()
    by_glob = runner.invoke(
        cli,
        [
            "replay",
            str(EXAMPLES / "mr-*.yaml"),
            "--store",
            store_url,
            "--format",
            "json",
            "--workers",
            "1",
        ],
    )
    assert by_glob.exit_code == 0, by_glob.stderr
    assert "4 case(s)" in by_glob.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = runner.invoke(
        cli, ["replay", str(empty), str(tmp_path / "*.yaml"), "--store", store_url]
    )
    assert nothing.exit_code == 1
    assert f"error: {empty}: no chronology files in this directory" in nothing.stderr
    assert f"error: {tmp_path / '*.yaml'}: no file matches this pattern" in nothing.stderr


def test_a_worker_that_died_idle_is_replaced_and_nothing_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import signal

    from triggers import parallel

    give = parallel._Worker.give
    killed: list[int] = []

    def die_first(worker: parallel._Worker, index: int, file: str, until: object) -> bool:
        if index == 1 and not killed:  # as if the system had killed it while it waited
            killed.append(worker.process.pid or 0)
            os.kill(worker.process.pid or 0, signal.SIGKILL)
            worker.process.join()
        return give(worker, index, file, until)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel._Worker, "give", die_first)
    outcomes = list(replay_files(CORPUS, load_rules(), workers=2))
    assert killed
    assert [o.error for o in outcomes] == [None] * len(CORPUS)
    assert [o.file for o in outcomes] == CORPUS
    assert [
        (o.file, [json.dumps(a.to_json()) for r in o.results for a in r.alerts]) for o in outcomes
    ] == _alerts(1, CORPUS)
