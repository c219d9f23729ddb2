"""`triggers backtest`: the alerts a rule change adds, removes and moves, and outcomes caught."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import EXAMPLES, ROOT, RULES
from triggers import Engine, load_chronologies, load_rules
from triggers.backtest import backtest, compare_alerts
from triggers.cli import cli
from triggers.models import Alert
from triggers.reading import chronology_files

CORE = RULES / "core.yaml"
DATA = ROOT / "tests" / "data" / "backtest"


def run(candidate: Path, *args: str) -> Result:
    """`triggers backtest` of the default rules against `candidate`."""
    command = ["backtest", "--base", str(CORE), "--candidate", str(candidate), *args]
    return CliRunner().invoke(cli, command, catch_exceptions=False)


def _halved(rule: str, tmp_path: Path) -> Path:
    """A copy of the default rules with `rule`'s 12-month window made 6 months."""
    text = CORE.read_text()
    start = text.index(f"  - id: {rule}\n")
    end = text.index("  - id: ", start + 1)
    changed = text[start:end].replace("within: 12 months", "within: 6 months")
    assert changed.count("6 months") == 1
    path = tmp_path / "candidate.yaml"
    path.write_text(text[:start] + changed + text[end:])
    return path


def _keys(alerts: tuple[Alert, ...]) -> Counter[tuple[str, str, datetime]]:
    return Counter((a.rule, a.action, a.at) for a in alerts)


@pytest.mark.parametrize(
    ("rule", "kind"),
    [
        ("D7b-no-assessment-after-plan-ended", "moved"),
        ("D2b-repeated-monitoring-failure", "removed"),
    ],
)
def test_a_halved_window_reports_exactly_the_alerts_that_change(
    rule: str, kind: str, tmp_path: Path
) -> None:
    candidate = load_rules(_halved(rule, tmp_path))
    base = load_rules(CORE)
    files = chronology_files([str(EXAMPLES)])
    # Independently: replay each rule set and diff each case's alerts as multisets.
    expected = {}
    engines = Engine(base), Engine(candidate)
    for file in files:
        for chronology in load_chronologies(file):
            old, new = (_keys(engine.replay(chronology).alerts) for engine in engines)
            if old != new:
                expected[chronology.case] = (old - new, new - old)
    assert expected  # the change matters to the examples
    result = backtest(files, base, candidate)
    reported = {}
    for case in result.changed:
        gone: Counter[tuple[str, str, datetime]] = Counter()
        came: Counter[tuple[str, str, datetime]] = Counter()
        for change in case.changes:
            assert change.rule == rule
            if change.base_at is not None:
                gone[change.rule, change.action, change.base_at] += 1
            if change.candidate_at is not None:
                came[change.rule, change.action, change.candidate_at] += 1
        reported[case.case] = (gone, came)
    assert reported == expected
    assert {change.kind for case in result.changed for change in case.changes} == {kind}
    (changed,) = [r for r in result.rules if r.added or r.removed or r.moved]
    assert changed.rule == rule


def test_moved_alerts_say_how_far() -> None:
    (case,) = load_chronologies(EXAMPLES / "mr-a.yaml")
    alerts = Engine(load_rules(CORE)).replay(case).alerts
    first = alerts[0]
    later = first.model_copy(update={"at": datetime(2030, 1, 2, tzinfo=first.at.tzinfo)})
    other = first.model_copy(
        update={"events": ("ev-other",), "at": datetime(2025, 1, 1, tzinfo=first.at.tzinfo)}
    )
    same, changes = compare_alerts([first, other], [later, other])
    assert same == 1
    (moved,) = changes
    assert (moved.kind, moved.base_at, moved.candidate_at) == ("moved", first.at, later.at)
    assert moved.days == (later.at - first.at).days
    # Different triggering events at another time: removed and added, not moved.
    _, changes = compare_alerts([first], [later.model_copy(update={"events": ("ev-x",)})])
    assert [c.kind for c in changes] == ["removed", "added"]


def test_outcomes_on_a_hand_computed_corpus(tmp_path: Path) -> None:
    files = chronology_files([str(DATA)])
    result = backtest(
        files, load_rules(CORE), load_rules(_halved("D2b-repeated-monitoring-failure", tmp_path))
    )
    each = [
        (
            c.case,
            f"{c.at:%Y-%m-%d}",
            c.base and (c.base.rule, c.base.days),
            c.candidate and c.candidate.days,
        )
        for c in result.outcome_checks
    ]
    assert each == [
        # Only the failure of 2020-01-01 is before (an alert at the outcome's moment is not).
        ("bt-caught", "2020-09-01", ("D2-monitoring-failure", 244.0), 244.0),
        # The failure of 2020-09-01 raises D2 and, under the base only, D2b.
        ("bt-caught", "2021-03-01", ("D2-monitoring-failure", 181.0), 181.0),
        # Its one alert is 730 days before: beyond the horizon.
        ("bt-missed", "2020-01-01", None, None),
    ]
    base, candidate = result.base_outcomes, result.candidate_outcomes
    assert (base.outcomes, base.caught, base.median_days) == (3, 2, 212.5)
    assert (candidate.outcomes, candidate.caught, candidate.median_days) == (3, 2, 212.5)
    # bt-caught: D2 twice and D2b once under the base; bt-missed and bt-quiet one each.
    assert (base.alerts, base.alerts_in_outcome_cases) == (5, 4)
    assert (candidate.alerts, candidate.alerts_in_outcome_cases) == (4, 3)

    longer = backtest(files, load_rules(CORE), load_rules(CORE), horizon_days=800)
    # The first alert in the horizon now is that of 2020-01-01 for both of bt-caught's.
    assert [c.base and c.base.days for c in longer.outcome_checks] == [244.0, 425.0, 730.0]
    assert (longer.base_outcomes.caught, longer.base_outcomes.median_days) == (3, 425.0)


def test_identical_rule_sets_report_no_change(tmp_path: Path) -> None:
    copy = tmp_path / "same.yaml"
    copy.write_text(CORE.read_text())
    result = run(
        copy,
        str(EXAMPLES),
        "--format",
        "json",
        "--workers",
        "1",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    totals = report["totals"]
    assert (totals["added"], totals["removed"], totals["moved"], totals["cases_changed"]) == (
        0,
        0,
        0,
        0,
    )
    assert totals["same"] == totals["base_alerts"] == totals["candidate_alerts"] > 0
    assert report["cases"] == []


def _report(candidate: Path, *extra: str) -> Any:
    result = run(
        candidate,
        str(EXAMPLES),
        str(DATA),
        "--format",
        "json",
        *extra,
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_two_workers_report_what_one_does(tmp_path: Path) -> None:
    candidate = _halved("D7b-no-assessment-after-plan-ended", tmp_path)
    assert _report(candidate, "--workers", "2") == _report(candidate, "--workers", "1")


def test_the_json_shape(tmp_path: Path) -> None:
    report = _report(_halved("D7b-no-assessment-after-plan-ended", tmp_path), "--workers", "1")
    assert (
        " ".join(report) == "format base candidate horizon_days totals rules cases outcomes failed"
    )
    assert report["format"] == 1
    assert report["horizon_days"] == 365
    assert (
        " ".join(report["totals"])
        == "cases cases_changed base_alerts candidate_alerts same added removed moved"
    )
    (case,) = report["cases"]
    assert case["file"] == str(EXAMPLES / "mr-a.yaml")
    assert (
        " ".join(case) == "file case base_alerts candidate_alerts same added removed moved changes"
    )
    assert [(c["change"], c["base_at"], c["candidate_at"], c["days"]) for c in case["changes"]] == [
        ("moved", "2011-06-14T00:00:00Z", "2010-12-14T00:00:00Z", -182.0),
        ("moved", "2011-08-16T00:00:00Z", "2011-02-16T00:00:00Z", -181.0),
    ]
    assert (
        " ".join(case["changes"][0]) == "change rule action params base_at candidate_at days events"
    )
    outcomes = report["outcomes"]
    assert " ".join(outcomes) == "base candidate each"
    assert (
        " ".join(outcomes["base"]) == "outcomes caught median_days alerts alerts_in_outcome_cases"
    )
    assert " ".join(outcomes["each"][0]) == "file case at note base candidate"
    assert report["failed"] == []


def test_a_bad_rule_file_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: x\n    title: t\n    learning: l\n    when:\n      event: new_pregnacy\n"
        "    then:\n      - {action: flag, reason: r}\n"
    )
    result = run(rules, str(EXAMPLES))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"{rules}:6:14: rules[0].when.event: unknown event type 'new_pregnacy'" in result.stderr


def test_a_bad_chronology_is_reported_and_the_others_compared(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("case: b\nevents:\n  - {at: 2020-01-01, type: new_pregnacy}\n")
    result = run(
        CORE,
        str(DATA),
        str(broken),
        "--format",
        "json",
        "--workers",
        "1",
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["totals"]["cases"] == 3
    assert [f["file"] for f in report["failed"]] == [str(broken)]
    assert f"{broken}:3:" in result.stderr
    assert "1 of 4 file(s) failed" in result.stderr


def test_cluster_and_workers_are_one_or_the_other() -> None:
    result = run(CORE, str(DATA), "--cluster", "tcp://x:8786", "--workers", "2")
    assert result.exit_code == 2
    assert "give --cluster or --workers, not both" in result.stderr


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.classes: Counter[str] = Counter()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.classes.update(value or "" for name, value in attrs if name == "class")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    hostile = tmp_path / "<b>case.yaml"
    hostile.write_text(
        "case: '<script>alert(1)</script>'\noutcomes:\n  - {at: 2021-01-01, note: '<i>x</i>'}\n"
        "events:\n  - {at: 2020-01-01, type: monitoring_software_failure, cause: a}\n"
        "  - {at: 2020-09-01, type: monitoring_software_failure, cause: b}\n"
    )
    out = tmp_path / "out.html"
    candidate = _halved("D2b-repeated-monitoring-failure", tmp_path)
    result = run(
        candidate,
        str(hostile),
        "--html",
        str(out),
        "--workers",
        "1",
    )
    assert result.exit_code == 0, result.stderr
    html = out.read_text()
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"(src|href)=", html)  # nothing fetched
    page = _Page()
    page.feed(html)
    assert page.tags["svg"] == 1
    assert page.classes["removed"] == 1  # the D2b alert of 2020-09-01, on the base lane
    assert page.classes["outcome"] == 1


def test_the_html_is_written_whole_for_its_owner_or_is_an_error(tmp_path: Path) -> None:
    candidate = _halved("D7b-no-assessment-after-plan-ended", tmp_path)
    out = tmp_path / "out.html"
    assert run(candidate, str(EXAMPLES / "mr-a.yaml"), "--html", str(out)).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600  # it holds case data
    assert set(tmp_path.iterdir()) == {candidate, out}  # no part-written file left beside it
    missing = tmp_path / "no-such-folder" / "out.html"
    result = run(candidate, str(EXAMPLES / "mr-a.yaml"), "--html", str(missing))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: {missing}: cannot write the report: No such file or directory"
    )


def test_a_horizon_beyond_a_century_is_a_usage_error(tmp_path: Path) -> None:
    candidate = _halved("D7b-no-assessment-after-plan-ended", tmp_path)
    mr_a = str(EXAMPLES / "mr-a.yaml")
    assert run(candidate, mr_a, "--horizon", "36525", "--format", "json").exit_code == 0
    for days in ("36526", "999999999", str(10**20)):  # a date out of range, an overflow
        result = run(candidate, mr_a, "--horizon", days)
        assert result.exit_code == 2
        assert f"Invalid value for '--horizon': {days} is not in the range 1<=x<=36525." in (
            result.stderr
        )


def test_backtest_never_opens_a_store() -> None:
    code = (
        "import sys\nfrom triggers.cli import cli\n"
        "try:\n    cli.main(sys.argv[1:], prog_name='triggers')\n"
        "except SystemExit as done:\n    print(*sorted(sys.modules), file=sys.stderr)\n"
        "    raise\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "backtest",
            "--base",
            str(CORE),
            "--candidate",
            str(CORE),
            str(DATA),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "sqlalchemy" not in result.stderr.split()
    assert "triggers.store.store" not in result.stderr.split()


def test_the_readme_example_does_what_it_says(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Backtesting a rule change")
    block = re.search(r"```sh\n(.*?)```", readme[start:], flags=re.DOTALL)
    assert block is not None
    make, command = block.group(1).strip().splitlines()
    candidate = tmp_path / "candidate.yaml"
    subprocess.run(
        ["sh", "-c", make.replace("> candidate.yaml", f"> '{candidate}'")], check=True, cwd=ROOT
    )
    changed = [
        (old, new)
        for old, new in zip(
            CORE.read_text().splitlines(), candidate.read_text().splitlines(), strict=True
        )
        if old != new
    ]
    assert changed == [("        within: 12 months", "        within: 6 months")]
    args = command.split()[1:]
    assert args[:5] == ["backtest", "--base", "rules/core.yaml", "--candidate", "candidate.yaml"]
    html = tmp_path / "backtest.html"
    assert args[5:] == ["examples/", "--horizon", "730", "--html", "backtest.html"]
    options = ("--horizon", "730", "--html", str(html), "--format", "json")
    result = run(candidate, str(EXAMPLES), *options)
    assert result.exit_code == 0, result.stderr
    assert "0 added, 0 removed, 2 moved" in result.stderr
    outcomes = json.loads(result.stdout)["outcomes"]
    for which in ("base", "candidate"):
        assert outcomes[which] == {
            "outcomes": 1,
            "caught": 1,
            "median_days": 700.0,
            "alerts": 55,
            "alerts_in_outcome_cases": 29,
        }
    assert html.read_text().count('class="moved"') == 4  # two alerts, each on both lanes


def test_a_dask_cluster_gives_the_report_of_one_worker(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    candidate = _halved("D7b-no-assessment-after-plan-ended", tmp_path)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        on_cluster = _report(candidate, "--cluster", local.scheduler_address)
    assert on_cluster == _report(candidate, "--workers", "1")


def test_a_csv_corpus_through_a_mapping_compares_its_good_rows(tmp_path: Path) -> None:
    sheets = ROOT / "docs" / "spreadsheet"
    sheet = tmp_path / "mr-c-bail.csv"
    sheet.write_text((sheets / "mr-c-bail.csv").read_text().rstrip("\n") + "\nmr-c,not a date\n")
    mapping = str(sheets / "mapping.yaml")
    result = run(CORE, str(sheet), "--mapping", mapping, "--format", "json", "--workers", "1")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [f["file"] for f in report["failed"]] == [str(sheet)]
    assert "row" in report["failed"][0]["error"]
    # The good rows were replayed under both rule sets and compared: as the whole sheet.
    whole = run(CORE, str(sheets / "mr-c-bail.csv"), "--mapping", mapping, "--format", "json")
    assert whole.exit_code == 0, whole.stderr
    assert report["totals"] == json.loads(whole.stdout)["totals"]
    assert report["totals"]["base_alerts"] == report["totals"]["same"] > 0
