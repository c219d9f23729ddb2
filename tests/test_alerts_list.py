"""Alerts at volume (issue 13 item 2): filters and pages done in SQL, a priority column and
full rule ids, moves of several alerts all or none, and consultations audited by what
was asked."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import EXAMPLES
from triggers import Store
from triggers.cli import cli

EXAMPLE_FILES = sorted(str(p) for p in EXAMPLES.glob("*.yaml"))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def url(store_url: str) -> str:
    """A store holding the shipped examples (53 alerts in 5 cases)."""
    assert run("replay", *EXAMPLE_FILES, "--store", store_url).exit_code == 0
    return store_url


def listed(url: str, *options: str) -> list[dict[str, Any]]:
    result = run("alerts", "list", "--store", url, "--format", "json", *options)
    assert result.exit_code == 0, result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found


def test_pages_are_slices_of_the_whole_list(url: str) -> None:
    everything = [a["id"] for a in listed(url)]
    assert len(everything) == 53
    pages = [
        [a["id"] for a in listed(url, "--limit", "10", "--offset", str(n))]
        for n in range(0, 60, 10)
    ]
    assert [i for page in pages for i in page] == everything
    assert [len(page) for page in pages] == [10, 10, 10, 10, 10, 3]
    assert listed(url, "--offset", "50") == listed(url)[50:]
    assert listed(url, "--limit", "0") == []


def test_filters_by_priority_time_and_rule_as_rule_tests_do(url: str) -> None:
    urgent = listed(url, "--priority", "urgent")
    assert {a["priority"] for a in urgent} == {"urgent"}
    assert len(urgent) == 9
    since = listed(url, "--since", "2015-08-10", "--until", "2018-05-22")
    assert [(a["at"], a["case"], a["rule"]) for a in since][:2] == [
        ("2015-08-10T00:00:00Z", "hh-ii-jj", "D9-new-offence"),
        ("2015-08-10T00:00:00Z", "hh-ii-jj", "D9-new-offence"),
    ]
    assert all("2015-08-10" <= a["at"] < "2018-05-22" for a in since)
    # A leading part up to a hyphen names its rules, never a longer number.
    assert {a["rule"] for a in listed(url, "--rule", "D1")} == {"D1-pregnancy-or-new-child"}
    assert {a["rule"] for a in listed(url, "--rule", "D2")} == {
        "D2-monitoring-failure",
        "D2-monitoring-failure-children",
    }
    assert listed(url, "--rule", "D1-preg") == []
    assert listed(url, "--rule", "D_") == []  # LIKE's wildcards are matched as themselves
    # Rule ids are matched exactly on every backend (SQLite's LIKE would ignore case).
    assert listed(url, "--rule", "d1") == []
    assert listed(url, "--rule", "d1-pregnancy-or-new-child") == []
    summary = run("summary", "--store", url, "--rule", "d2", "--format", "json").stdout
    assert {k: v for k, v in json.loads(summary).items() if v} == {}  # nothing, in one shape


def test_the_table_shows_priority_and_full_rule_ids_and_the_page(url: str) -> None:
    result = run("alerts", "list", "--store", url, "--limit", "5", "--offset", "10")
    out = result.stdout
    assert "┃ priority ┃" in out
    assert "│ D16-risk-lowered-without-home-visit │ high     │ review_risk_management_plan" in out
    assert "…" not in out
    assert "5 alert(s): 11 to 15; --offset 15 for the next page" in out
    last = run("alerts", "list", "--store", url, "--limit", "5", "--offset", "50").stdout
    assert "3 alert(s): 51 to 53 " in last  # the last page: no next one
    none = run("alerts", "list", "--store", url, "--offset", "60").stdout
    assert "0 alert(s) after the first 60" in none


def test_a_limit_or_offset_beyond_64_bits_is_no_traceback(url: str) -> None:
    huge = str(10**20)  # the database's integers are 64-bit
    assert [a["id"] for a in listed(url, "--limit", huge)] == [a["id"] for a in listed(url)]
    everything = run("alerts", "list", "--store", url, "--limit", str(2**63 - 1)).stdout
    assert "53 alert(s): 1 to 53 " in everything and "next page" not in everything
    beyond = run("alerts", "list", "--store", url, "--offset", huge)
    assert beyond.exit_code == 0
    assert f"0 alert(s) after the first {huge}" in beyond.stdout


def test_a_last_page_that_is_exactly_full_offers_no_next_page(url: str) -> None:
    # 9 urgent alerts: the third page of 3 is the last, though it is full.
    page = ["alerts", "list", "--store", url, "--priority", "urgent", "--limit", "3"]
    second = run(*page, "--offset", "3").stdout
    assert "3 alert(s): 4 to 6; --offset 6 for the next page" in second
    third = run(*page, "--offset", "6").stdout
    assert "3 alert(s): 7 to 9 " in third
    assert "next page" not in third
    assert third.count(" urgent ") == 3  # the alert looked ahead for is not shown
    whole = run("alerts", "list", "--store", url, "--limit", "53").stdout
    assert "53 alert(s): 1 to 53 " in whole
    with Store(url) as store:
        assert store.audit()[-1].details == {"limit": 53}  # the page asked for


def test_csv_export_is_the_stored_alerts_exactly(url: str) -> None:
    out = run("alerts", "list", "--store", url, "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    with Store(url) as store:
        alerts = store.alerts()
    assert len(rows) == len(alerts) == 53
    for row, stored in zip(rows, alerts, strict=True):
        alert = stored.alert.to_json()
        assert row["id"] == str(stored.id)
        assert (row["case"], row["rule"], row["action"]) == (
            alert["case"],
            alert["rule"],
            alert["action"],
        )
        assert (row["at"], row["priority"], row["reason"]) == (
            alert["at"],
            alert["priority"],
            alert["reason"],
        )
        assert row["params"] == json.dumps(alert["params"])
        assert row["events"] == " ".join(alert["events"])
        assert row["due_by"] == stored.model_dump(mode="json")["due_by"]
        assert (row["status"], row["overdue"]) == ("open", "True")


def test_a_listing_is_audited_by_what_was_asked(url: str) -> None:
    options = ["--rule", "D1", "--priority", "high", "--limit", "5", "--offset", "2"]
    assert run("alerts", "list", "--store", url, "--format", "csv", *options).exit_code == 0
    with Store(url) as store:
        entry = store.audit()[-1]
    assert (entry.activity, entry.operation, entry.case) == (
        "consultation",
        "alerts export (csv)",
        None,
    )
    assert entry.alerts == ()
    assert entry.details == {"rule": "D1", "priority": "high", "limit": 5, "offset": 2}


def statuses(url: str, *ids: int) -> list[str]:
    with Store(url) as store:
        found = {a.id: a.status for a in store.alerts()}
    return [found[i] for i in ids]


def test_several_alerts_move_at_once_all_or_none(url: str) -> None:
    unknown = run("alerts", "ack", "1", "2", "999", "--store", url)
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        "error: no alert with id 999 in this store; none of the 3 alerts was changed\n"
    )
    assert statuses(url, 1, 2) == ["open", "open"]
    done = run("alerts", "ack", "1", "2", "--store", url, "--by", "lead-1")
    assert done.exit_code == 0
    assert done.stderr == (
        "alert 1 is now acknowledged (by lead-1)\nalert 2 is now acknowledged (by lead-1)\n"
    )
    refused = run("alerts", "ack", "3", "1", "--store", url)
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: alert 1 is acknowledged; only open alerts can be acknowledged;"
        " none of the 2 alerts was changed\n"
    )
    assert statuses(url, 3) == ["open"]
    resolved = run("alerts", "resolve", "1", "2", "3", "--note", "assessed", "--store", url)
    assert resolved.exit_code == 0
    assert statuses(url, 1, 2, 3) == ["resolved", "resolved", "resolved"]
    with Store(url) as store:
        moves = [(e.operation, e.alerts) for e in store.audit() if e.activity == "alteration"]
    assert moves[-3:] == [("resolve", (1,)), ("resolve", (2,)), ("resolve", (3,))]
