"""Summaries (issue 13 item 1, issue 14 item 9): what replay, ingest and tick committed,
and `triggers summary` over the store; honest even after a failure or in memory."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import EXAMPLES, MR_A
from triggers import Store
from triggers.cli import cli
from triggers.errors import StoreError

EXAMPLE_FILES = sorted(str(p) for p in EXAMPLES.glob("*.yaml"))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def stored(url: str) -> dict[str, int]:
    with Store(url) as store:
        return store.counts()


def test_replay_ends_with_a_summary_on_stderr_and_json_stays_the_array(store_url: str) -> None:
    result = run("replay", str(MR_A), "--store", store_url, "--format", "json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 29  # standard output: only the alerts
    err = result.stderr
    for heading in ("replay: what was stored", "alerts by rule", "alerts by action"):
        assert heading in err
    assert "alerts by priority" in err
    assert "│ D1-pregnancy-or-new-child           │      5 │ 17.2% │" in err
    assert "│ reopen_assessment           │      9 │ 31.0% │" in err
    assert "│ high     │     24 │ 82.8% │" in err
    assert err.rstrip().endswith(
        f"1 case(s), 29 alert(s); stored 26 new event(s) and 29 new alert(s) in {store_url}"
    )


def test_replay_of_a_directory_is_the_replay_of_its_files(
    store_url: str, scratch_sqlite_url: str
) -> None:
    by_directory = run("replay", str(EXAMPLES), "--store", store_url, "--format", "json")
    assert by_directory.exit_code == 0
    alerts = json.loads(by_directory.stdout)
    cases = {"hh-ii-jj", "kk-household", "mr-c", "mr-d", "mr-h", "ms-f"}
    assert {a["case"] for a in alerts} == cases
    files = [str(EXAMPLES / "feed.jsonl"), *EXAMPLE_FILES]  # in name order
    by_files = run("replay", *files, "--store", scratch_sqlite_url, "--format", "json")
    assert json.loads(by_files.stdout) == alerts
    assert "7 case(s), 55 alert(s); stored 70 new event(s) and 55 new alert(s)" in (
        by_directory.stderr
    )


@pytest.fixture
def examples(store_url: str) -> str:
    """A store holding the shipped examples."""
    assert run("replay", *EXAMPLE_FILES, "--store", store_url).exit_code == 0
    return store_url


def summary(url: str, *options: str) -> dict[str, object]:
    result = run("summary", "--store", url, "--format", "json", *options)
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_summary_counts_the_store(examples: str) -> None:
    whole = summary(examples)
    assert (whole["cases"], whole["events"], whole["alerts"]) == (5, 65, 53)
    assert whole["by_status"] == {"open": 53}
    mr_a = summary(examples, "--case", "hh-ii-jj")
    assert (mr_a["cases"], mr_a["events"], mr_a["alerts"]) == (1, 26, 29)
    assert mr_a["by_priority"] == {"high": 24, "medium": 3, "urgent": 2}


def test_summary_filters_by_rule_as_rule_tests_do_and_by_dates(examples: str) -> None:
    d1 = summary(examples, "--rule", "D1")
    # D1 names D1-pregnancy-or-new-child, never D14-… or D13-….
    assert d1["by_rule"] == {"D1-pregnancy-or-new-child": 6}
    assert summary(examples, "--rule", "D1-pregnancy-or-new-child")["alerts"] == 6
    assert summary(examples, "--rule", "D1-preg")["alerts"] == 0  # not up to a hyphen
    window = summary(examples, "--rule", "D1", "--since", "2009-01-01", "--until", "2012-01-01")
    assert (window["cases"], window["events"], window["alerts"]) == (1, 16, 2)
    # One shape whatever is found: a consumer reads by_rule on an empty store too.
    empty: dict[str, dict[str, int]] = {
        "by_rule": {},
        "by_action": {},
        "by_priority": {},
        "by_status": {},
    }
    assert summary(examples, "--until", "1990-01-01") == {
        "cases": 0,
        "events": 0,
        "alerts": 0,
        **empty,
    }


def test_the_summary_table_and_its_audit(examples: str) -> None:
    result = run("summary", "--store", examples, "--rule", "D9", "--by", "lead-1")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{examples} (rule D9)\n")
    assert "│ D9-new-offence │      4 │ 100.0% │" in result.stdout
    with Store(examples) as store:
        entry = store.audit()[-1]
    assert (entry.actor, entry.activity, entry.operation) == ("lead-1", "consultation", "summary")
    assert (entry.alerts, entry.details) == ((), {"rule": "D9"})


@pytest.mark.sqlite_only
@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_store_says_it_keeps_nothing(url: str) -> None:
    result = run("replay", str(MR_A), "--store", url, "--format", "json")
    assert result.exit_code == 0
    assert result.stderr.rstrip().endswith(
        f"1 case(s), 29 alert(s); 26 new event(s) and 29 new alert(s) in {url}"
        " (in-memory store: nothing is kept)"
    )
    ingested = run("ingest", str(EXAMPLES / "feed.jsonl"), "--store", url)
    assert ingested.stderr.rstrip().endswith(
        f"ingested 5 new event(s); 2 new alert(s), 0 superseded in {url}"
        " (in-memory store: nothing is kept)"
    )


def failing_on(monkeypatch: pytest.MonkeyPatch, method: str, nth: int) -> None:
    """Make `Store.method` fail as a full disk would, on its `nth` call and after."""
    original = getattr(Store, method)
    calls = 0

    @contextmanager
    def failing(self: Store, *args: object, **kwargs: object) -> Iterator[object]:
        nonlocal calls
        calls += 1
        with original(self, *args, **kwargs) as inner:
            yield inner
            if calls >= nth:
                raise StoreError("store: database or disk is full")

    monkeypatch.setattr(Store, method, failing)


def test_ingest_after_a_failure_reports_what_was_committed(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        "".join(
            json.dumps({"case": f"c{n}", "at": f"2011-0{day}-01", "type": "strategy_meeting"})
            + "\n"
            for n in range(1, 6)
            for day in (1, 2, 3)
        )
    )
    failing_on(monkeypatch, "writing", 4)  # cases c1 to c3 commit, c4 fails
    result = run("ingest", str(feed), "--store", store_url)
    assert result.exit_code == 1
    assert "error: store: database or disk is full" in result.stderr
    assert (
        f"ingested 9 new event(s); 0 new alert(s), 0 superseded in {store_url}\n"
        "1 of 1 file(s) failed\n"
    ) in result.stderr
    monkeypatch.undo()
    assert stored(store_url)["cases"] == 3
    assert stored(store_url)["events"] == 9


def test_replay_after_a_failed_commit_reports_what_was_committed(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("triggers.cli.replay._BATCH", 2)
    failing_on(monkeypatch, "batch", 2)  # the first two files commit; then the disk is full
    files = EXAMPLE_FILES[:4]  # kk-household, mr-a, mr-c-bail, mr-d-move
    result = run("replay", *files, "--store", store_url, "--format", "json", "--workers", "1")
    assert result.exit_code == 1
    assert len(json.loads(result.stdout)) == 43  # every alert raised is still shown
    err = result.stderr
    assert err.count("error: store: database or disk is full") == 1
    assert (
        "2 case(s), 34 alert(s); stored 37 new event(s) and 34 new alert(s)"
        f" in {store_url}\n2 of 4 file(s) failed\n"
    ) in err
    assert f"│ {files[2]} │" in err and f"│ {files[3]} │" in err  # named as failed
    monkeypatch.undo()
    assert stored(store_url)["cases"] == 2
    assert stored(store_url)["alerts"] == 34


def test_tick_ends_with_its_summary(store_url: str) -> None:
    assert run("replay", str(MR_A), "--store", store_url).exit_code == 0
    result = run("tick", "--now", "2030-01-01", "--store", store_url)
    assert result.exit_code == 0
    assert "tick: what was stored" in result.stderr
    assert result.stderr.rstrip().endswith(
        f"clock at 2030-01-01 00:00 UTC: 0 new alert(s) in 1 case(s) in {store_url}"
    )


def test_progress_shows_the_rate_the_time_elapsed_and_the_time_left(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from triggers.cli.render import progress, stderr

    monkeypatch.setenv("FORCE_COLOR", "1")  # a terminal, so the bar is shown
    with progress(4, stderr()) as bar:
        assert bar is not None
        task = bar.add_task("ticking", total=4)
        bar.advance(task, 1)
        time.sleep(0.1)
        bar.advance(task, 1)
        bar.refresh()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().err)
    # Done of all, the rate, the time elapsed and the time left.
    assert re.search(r"ticking [━╺]+ 2/4 \d+\.\d/s 0:00:00 0:00:0\d", shown), shown


def test_tick_after_a_failure_reports_what_was_committed(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [str(MR_A), str(EXAMPLES / "mr-d-move.yaml")]
    assert run("replay", *files, "--store", store_url).exit_code == 0
    failing_on(monkeypatch, "rewriting", 2)  # the first case's clock moves, then the disk is full
    result = run("tick", "--now", "2030-01-01", "--store", store_url)
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"clock at 2030-01-01 00:00 UTC: 0 new alert(s) in 1 case(s) in {store_url}\n"
        "error: store: database or disk is full\n"
    )
    monkeypatch.undo()
    with Store(store_url) as store:
        assert [e.operation for e in store.audit()][-1] == "replay"  # the tick never finished
