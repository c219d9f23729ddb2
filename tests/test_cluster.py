"""Replaying a corpus on a Dask cluster: the same alerts as one and two local workers, and a
worker killed mid-case loses nothing but its own file (a LocalCluster of 2 processes)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import EXAMPLES
from tests.test_parallel import CORPUS, _alerts, _replay, _stored_cases
from triggers import ClusterError, load_chronologies, load_rules
from triggers.cli import cli
from triggers.cluster import CLUSTER_ENV, replay_on_cluster
from triggers.parallel import ABORT_ENV
from triggers.reading import chronology_files

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A scheduler and 2 worker processes of one thread; a worker that dies is not run
    again by the scheduler (allowed-failures 0) but by the replay itself, as one
    replayed by `--workers` is, so each death is one attempt."""
    import dask

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=50,  # CRITICAL: a worker killed on purpose is logged as an error
        ) as local,
    ):
        yield local.scheduler_address


def _on_cluster(address: str, batch: int | None = None) -> list[tuple[str, list[str]]]:
    return [
        (outcome.file, [json.dumps(a.to_json()) for r in outcome.results for a in r.alerts])
        for outcome in replay_on_cluster(CORPUS, load_rules(), address=address, batch=batch)
    ]


def test_the_cluster_gives_the_alerts_of_one_and_two_workers_in_file_order(cluster: str) -> None:
    one = _alerts(1, CORPUS)
    assert _alerts(2, CORPUS) == one
    on_cluster = _on_cluster(cluster)
    assert [file for file, _ in on_cluster] == CORPUS
    assert on_cluster == one
    assert _on_cluster(cluster, batch=4) == one  # several files a task
    assert sum(len(alerts) for _, alerts in one) > 20


def test_a_batch_whose_worker_dies_is_retried_file_by_file(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (victim,) = load_chronologies(EXAMPLES / "mr-d-move.yaml")
    monkeypatch.setenv(ABORT_ENV, victim.case)  # sent with each task: the workers abort
    broken = tmp_path / "broken.yaml"
    broken.write_text("case: b\nevents:\n  - {at: soon, type: arrest}\n")
    files = [str(broken), *CORPUS]
    outcomes = list(replay_on_cluster(files, load_rules(), address=cluster, batch=4))
    assert [o.file for o in outcomes] == files
    failed = {o.file: str(o.error) for o in outcomes if o.error is not None}
    victim_file = str(EXAMPLES / "mr-d-move.yaml")
    assert set(failed) == {str(broken), victim_file}
    assert failed[str(broken)].startswith(f"{broken}:3:")
    assert failed[victim_file] == (
        f"{victim_file}: the worker replaying case {victim.case!r} of {victim_file} died (on"
        f" the Dask cluster at {cluster}); it died again when retried"
    )
    replayed = {r.case for o in outcomes for r in o.results}
    assert replayed == {c.case for f in CORPUS for c in load_chronologies(f)} - {victim.case}


@pytest.mark.sqlite_only  # a store file of its own, read directly
def test_a_worker_killed_once_mid_case_is_retried_and_nothing_is_lost(
    cluster: str, tmp_path: Path
) -> None:
    (victim,) = load_chronologies(EXAMPLES / "mr-d-move.yaml")
    marker = tmp_path / "died-once"
    env = {**os.environ, ABORT_ENV: f"{victim.case}@{marker}", CLUSTER_ENV: cluster}
    paths = [str(EXAMPLES), str(EXAMPLES / "feed.jsonl")]
    result = _replay(tmp_path, *paths, env=env)
    assert result.returncode == 0, result.stderr
    assert marker.exists()  # the first attempt did die
    files = chronology_files(paths)
    assert set(_stored_cases(tmp_path)) == {c.case for f in files for c in load_chronologies(f)}
    one = [a for _, alerts in _alerts(1, files) for a in alerts]
    assert [json.dumps(a) for a in json.loads(result.stdout)] == one


@pytest.mark.sqlite_only  # as above
def test_a_worker_killed_every_time_loses_only_its_own_file(cluster: str, tmp_path: Path) -> None:
    (victim,) = load_chronologies(EXAMPLES / "mr-d-move.yaml")
    env = {**os.environ, ABORT_ENV: victim.case}
    result = _replay(tmp_path, *CORPUS, "--cluster", cluster, env=env)
    assert result.returncode == 1, result.stderr
    assert f"the worker replaying case {victim.case!r} of " in result.stderr
    assert "it died again when retried" in result.stderr
    assert f"1 of {len(CORPUS)} file(s) failed" in result.stderr
    assert "Traceback" not in result.stderr
    expected = {c.case for f in CORPUS for c in load_chronologies(f)} - {victim.case}
    assert set(_stored_cases(tmp_path)) == expected
    alerts = json.loads(result.stdout)
    assert alerts and victim.case not in {a["case"] for a in alerts}


def test_an_unreachable_scheduler_is_reported_by_address(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triggers import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 0.5)
    address = "tcp://127.0.0.1:9"  # discard: nothing listens there
    result = CliRunner().invoke(
        cli, ["replay", str(CORPUS[0]), "--store", store_url, "--cluster", address]
    )
    assert result.exit_code == ClusterError.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(f"error: cannot reach the Dask scheduler at {address}: ")
    assert "Traceback" not in result.output
    malformed = CliRunner().invoke(
        cli, ["replay", str(CORPUS[0]), "--store", store_url, "--cluster", "scheduler"]
    )
    assert malformed.exit_code == 1
    assert malformed.stderr == (
        "error: 'scheduler' is not a Dask scheduler address (tcp://HOST:PORT):"
        " missing port number in address 'scheduler'\n"
    )


def test_cluster_and_workers_are_one_or_the_other(store_url: str) -> None:
    both = CliRunner().invoke(
        cli,
        ["replay", CORPUS[0], "--store", store_url, "--cluster", "tcp://x:8786", "--workers", "2"],
    )
    assert both.exit_code == 2
    assert "give --cluster or --workers, not both" in both.stderr
    # --workers on the command line wins over the environment's cluster.
    local = CliRunner().invoke(
        cli,
        ["replay", CORPUS[0], "--store", store_url, "--workers", "1"],
        env={CLUSTER_ENV: "tcp://nowhere:8786"},
    )
    assert local.exit_code == 0, local.stderr


def test_without_dask_the_error_says_which_extra_to_install(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    with pytest.raises(ClusterError) as missing:
        next(replay_on_cluster(CORPUS, load_rules(), address="tcp://x:8786"))
    assert missing.value.address == "tcp://x:8786"
    result = CliRunner().invoke(
        cli, ["replay", CORPUS[0], "--store", store_url], env={CLUSTER_ENV: "tcp://x:8786"}
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: replaying on a Dask cluster (--cluster) needs Dask:"
        " pip install 'risk-triggers[cluster]'\n"
    )


def test_a_lost_scheduler_is_reported_by_address() -> None:
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as local:
        address = local.scheduler_address
        outcomes = replay_on_cluster(CORPUS * 10, load_rules(), address=address, batch=1)
        assert next(outcomes).error is None
        local.close()
        with pytest.raises(ClusterError) as lost:
            list(outcomes)
    assert lost.value.address == address
    assert str(lost.value).startswith(f"lost the Dask scheduler at {address}")
