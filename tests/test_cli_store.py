"""The store's commands: alerts, explain, ingest, tick, audit, case erase — each audited."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner, Result

from tests.conftest import EXAMPLES, MR_A
from triggers import Store
from triggers.cli import cli


def run(*args: str, by: str = "analyst-1") -> Result:
    return CliRunner().invoke(cli, [*args, "--by", by] if args[0] != "audit" else list(args))


@pytest.fixture
def url(store_url: str) -> str:
    """A store holding the worked example."""
    assert run("replay", str(MR_A), "--store", store_url).exit_code == 0
    return store_url


def last_audit(url: str) -> tuple[str, str, str, str | None, tuple[int, ...], str | None]:
    with Store(url) as store:
        entry = store.audit()[-1]
    return (
        entry.actor,
        entry.activity,
        entry.operation,
        entry.case,
        entry.alerts,
        entry.justification,
    )


def test_replay_is_audited_as_collection(url: str) -> None:
    actor, activity, operation, case, alerts, _ = last_audit(url)
    assert (actor, activity, operation, case) == ("analyst-1", "collection", "replay", "hh-ii-jj")
    assert len(alerts) == 29


def test_alerts_list_shows_status_and_due_date_and_is_audited(url: str) -> None:
    result = run("alerts", "list", "--store", url, "--case", "hh-ii-jj", "--reason", "review")
    assert result.exit_code == 0
    assert "2009-04-19 overdue" in result.stdout
    # What was asked, not a list of every alert found.
    assert last_audit(url)[1:] == ("consultation", "alerts list", "hh-ii-jj", (), "review")


def test_alerts_export_as_json_and_csv(url: str) -> None:
    exported = json.loads(run("alerts", "list", "--store", url, "--format", "json").stdout)
    assert exported[0]["id"] == 1
    assert exported[0]["status"] == "open"
    assert exported[0]["due_by"] == "2009-04-19T00:00:00Z"
    assert last_audit(url)[2] == "alerts export (json)"
    rows = list(
        csv.DictReader(io.StringIO(run("alerts", "list", "--store", url, "--format", "csv").stdout))
    )
    assert len(rows) == 29
    # rows[1] is D14's escalation of the birth at MAPPA level 1 (issue 12).
    assert rows[2]["action"] == "notify_agency"
    assert json.loads(rows[2]["params"]) == {"agency": "area-b"}
    assert last_audit(url)[2] == "alerts export (csv)"


def test_filters(url: str) -> None:
    def ids(*options: str) -> list[int]:
        out = run("alerts", "list", "--store", url, "--format", "json", *options).stdout
        return [a["id"] for a in json.loads(out)]

    assert run("alerts", "resolve", "1", "--store", url, "--note", "done").exit_code == 0
    assert ids("--status", "resolved") == [1]
    assert ids("--rule", "D3-moved-area") == [3]
    assert 1 not in ids("--overdue")
    assert ids("--case", "nobody") == []


@pytest.mark.parametrize(
    ("command", "status", "note"),
    [
        ("ack", "acknowledged", None),
        ("resolve", "resolved", "done"),
        ("dismiss", "dismissed", "dup"),
    ],
)
def test_lifecycle_commands_are_audited(
    url: str, command: str, status: str, note: str | None
) -> None:
    args = ["alerts", command, "3", "--store", url, "--reason", "supervision"]
    result = run(*args, *(["--note", note] if note else []))
    assert result.exit_code == 0, result.output
    assert f"alert 3 is now {status} (by analyst-1)" in result.stderr
    assert last_audit(url) == ("analyst-1", "alteration", "resolve" if command == "resolve" else
                               "dismiss" if command == "dismiss" else "acknowledge",
                               "hh-ii-jj", (3,), "supervision")  # fmt: skip


def test_resolving_needs_a_note_and_a_closed_alert_cannot_move(url: str) -> None:
    assert run("alerts", "resolve", "3", "--store", url).exit_code == 2
    assert run("alerts", "dismiss", "3", "--store", url, "--note", "dup").exit_code == 0
    again = run("alerts", "ack", "3", "--store", url)
    assert again.exit_code == 1
    assert "alert 3 is dismissed; only open alerts can be acknowledged" in again.stderr
    assert run("alerts", "ack", "999", "--store", url).exit_code == 1


def test_explain_shows_the_basis_and_is_audited(url: str) -> None:
    text = run("explain", "4", "--store", url)
    assert text.exit_code == 0
    assert "Rule D12-written-agreement" in text.stdout
    assert "case.risk_to_children eq true: held (actual true)" in text.stdout
    assert last_audit(url)[1:5] == ("consultation", "explain", "hh-ii-jj", (4,))
    data = json.loads(run("explain", "4", "--store", url, "--format", "json").stdout)
    assert data["alert"]["rule"] == "D12-written-agreement"
    assert data["reproduced"] is True


def test_ingest_and_tick_are_audited_and_idempotent(store_url: str) -> None:
    url = store_url
    feed = str(EXAMPLES / "feed.jsonl")
    first = run("ingest", feed, "--store", url)
    assert first.exit_code == 0
    assert "ingested 5 new event(s); 2 new alert(s)" in first.stderr
    assert "ingested 0 new event(s); 0 new alert(s)" in run("ingest", feed, "--store", url).stderr
    assert last_audit(url)[1:3] == ("collection", "ingest")
    assert run("tick", "--now", "2030-01-01", "--store", url).exit_code == 0
    assert last_audit(url)[1:3] == ("collection", "tick")


def test_audit_reads_the_log_by_case_actor_and_time(url: str) -> None:
    run("alerts", "list", "--store", url, by="lead-2")
    out = json.loads(run("audit", "--store", url, "--actor", "lead-2", "--format", "json").stdout)
    assert [(e["actor"], e["operation"]) for e in out] == [("lead-2", "alerts list")]
    assert (
        json.loads(run("audit", "--store", url, "--since", "2999-01-01", "--format", "json").stdout)
        == []
    )
    assert "replay" in run("audit", "--store", url, "--case", "hh-ii-jj").stdout


def test_case_erase_leaves_only_the_record_and_is_audited(url: str) -> None:
    assert run("case", "erase", "hh-ii-jj", "--store", url).exit_code == 2  # --reason required
    result = run("case", "erase", "hh-ii-jj", "--store", url, "--reason", "retention ended")
    assert result.exit_code == 0
    assert "erased case hh-ii-jj: 26 event(s), 29 alert(s)" in result.stderr
    with Store(url) as store:
        assert store.counts()["events"] == store.counts()["alerts"] == 0
        assert [r.reason for r in store.erasures()] == ["retention ended"]
    assert last_audit(url)[1:3] == ("erasure", "case erase")


@pytest.mark.parametrize(("command", "option"), [("tick", "--now"), ("audit", "--since")])
def test_a_bad_date_names_its_own_option(url: str, command: str, option: str) -> None:
    result = CliRunner().invoke(cli, [command, option, "soon", "--store", url])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': invalid date 'soon'" in result.stderr


def test_a_field_named_from_is_stored_as_files_name_it_and_read_back(store_url: str) -> None:
    household = str(EXAMPLES / "kk-household.yaml")  # an intelligence_received with `from`
    assert run("replay", household, "--store", store_url).exit_code == 0
    ticked = run("tick", "--now", "2023-01-01", "--store", store_url)
    assert ticked.exit_code == 0, ticked.stderr
    assert "error" not in ticked.stderr
    with Store(store_url) as store:
        (intelligence,) = [
            e for e in store.events("kk-household") if e.type == "intelligence_received"
        ]
    assert intelligence.from_ == "partner agency"
    # A version before this one stored the field under its Python name: still read.
    from sqlalchemy import create_engine, text

    engine = create_engine(store_url)
    with engine.begin() as sql:
        (payload,) = sql.execute(
            text("SELECT payload FROM events WHERE case_id = 'kk-household' AND type = :t"),
            {"t": "intelligence_received"},
        ).one()
        old = dict(payload if isinstance(payload, dict) else json.loads(payload))
        old["from_"] = old.pop("from")
        value = "CAST(:p AS json)" if engine.dialect.name == "postgresql" else ":p"
        sql.execute(
            text(
                f"UPDATE events SET payload = {value} WHERE case_id = 'kk-household' AND type = :t"
            ),
            {"p": json.dumps(old), "t": "intelligence_received"},
        )
    engine.dispose()
    assert run("explain", "1", "--store", store_url).exit_code == 0
    again = run("replay", household, "--store", store_url)
    assert again.exit_code == 0, again.stderr
    assert "0 new event(s) and 0 new alert(s)" in again.stderr
