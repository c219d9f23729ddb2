"""`triggers report`: the HTML page in a real headless browser, the picture, the arguments."""

from __future__ import annotations

import re
import shutil
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import EXAMPLES, MR_A
from triggers import Alert, Engine, load_chronologies
from triggers.cli import cli
from triggers.reading import chronology_files

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium"
    " chromium-driver; .ci/run installs them where missing)",
)

HOSTILE = """\
case: "<script>document.title='owned'</script>"
title: "<b>bold</b> & \\"quoted\\""
events:
  - at: 2011-01-10
    type: conviction
    offence: "<img src=x onerror=\\"document.title='owned'\\">"
    category: sexual
    note: "</title><script>document.title='owned'</script>"
  - at: 2011-02-01
    type: registration_started
  - at: 2011-06-20
    type: new_pregnancy
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _example_alerts(engine: Engine) -> list[Alert]:
    """The alerts an in-memory replay of every example raises, in the report's order."""
    return [
        alert
        for file in chronology_files([str(EXAMPLES)])
        for chronology in load_chronologies(file)
        for alert in engine.replay(chronology).alerts
    ]


def _severe(browser: object) -> list[object]:
    """The browser's console messages of level SEVERE (errors) since it was last asked."""
    log: list[dict[str, object]] = browser.get_log("browser")  # type: ignore[attr-defined]
    return [entry for entry in log if entry["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER or ""))
    driver.set_window_size(1400, 1000)
    try:
        yield driver
    finally:
        driver.quit()


@needs_chromium
def test_the_report_of_the_examples_shows_one_marker_per_alert_and_explains_each(
    browser: object, engine: Engine, tmp_path: Path
) -> None:
    from selenium.webdriver import ActionChains, Chrome
    from selenium.webdriver.common.by import By

    assert isinstance(browser, Chrome)
    page = tmp_path / "report.html"
    done = run("report", str(EXAMPLES), "--html", str(page))
    assert done.exit_code == 0, done.output
    expected = _example_alerts(engine)
    assert len(expected) > 40
    browser.get(page.as_uri())
    markers = browser.find_elements(By.CSS_SELECTOR, "[data-alert]")
    assert len(markers) == len(expected)
    assert [m.get_attribute("data-alert") for m in markers] == [
        str(i) for i in range(len(expected))
    ]
    # Hovering over a marker shows its reason in the tooltip ...
    tooltip = browser.find_element(By.ID, "tooltip")
    assert not tooltip.is_displayed()
    hovered = markers[3]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", hovered)
    ActionChains(browser).move_to_element(hovered).perform()
    assert tooltip.is_displayed()
    assert expected[3].reason in tooltip.text
    # ... and the events that caused it are highlighted.
    causes = browser.find_elements(By.CSS_SELECTOR, "circle.event.cause")
    assert sorted({c.get_attribute("data-event") or "" for c in causes}) == sorted(
        expected[3].events
    )
    # Clicking one opens its reason, events and whole explanation under the timeline.
    last = len(expected) - 1
    clicked = markers[last]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", clicked)
    detail = browser.find_element(By.ID, f"detail-{last}")
    assert not detail.is_displayed()
    ActionChains(browser).move_to_element(clicked).click().perform()
    assert detail.is_displayed()
    assert expected[last].reason in detail.text
    assert expected[last].rule in detail.text
    assert _severe(browser) == []


@needs_chromium
def test_hostile_text_in_a_chronology_is_shown_never_run(browser: object, tmp_path: Path) -> None:
    from selenium.webdriver import Chrome
    from selenium.webdriver.common.by import By

    assert isinstance(browser, Chrome)
    (tmp_path / "hostile.yaml").write_text(HOSTILE)
    page = tmp_path / "report.html"
    done = run("report", str(tmp_path / "hostile.yaml"), "--html", str(page))
    assert done.exit_code == 0, done.output
    browser.get(page.as_uri())
    assert browser.title == "Timeline report: 1 case(s), 1 alert(s)"
    heading = browser.find_element(By.CSS_SELECTOR, "section.case h2")
    assert heading.text == "<script>document.title='owned'</script> — <b>bold</b> & \"quoted\""
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-alert]")) == 1
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main b, main script") == []
    assert _severe(browser) == []


def test_the_page_needs_no_network_and_escapes_what_files_say(tmp_path: Path) -> None:
    (tmp_path / "hostile.yaml").write_text(HOSTILE)
    page = tmp_path / "report.html"
    done = run("report", str(tmp_path / "hostile.yaml"), str(MR_A), "--html", str(page))
    assert done.exit_code == 0, done.output
    text = page.read_text()
    assert "<script>document" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;script&gt;document.title=&#x27;owned&#x27;&lt;/script&gt;" in text
    # Nothing is fetched: no link or source but the page's own anchors, no CSS url().
    assert all(link.startswith("#") for link in re.findall(r'(?:src|href)="([^"]*)"', text))
    assert "url(" not in text and "@import" not in text and "<link" not in text
    assert text.count("<script>") == 1


def test_the_picture_is_a_png(tmp_path: Path) -> None:
    picture = tmp_path / "report.png"
    done = run("report", str(EXAMPLES), "--png", str(picture))
    assert done.exit_code == 0, done.output
    data = picture.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1650 and height > 2000  # 11 inches at 150 dpi; 7 cases stacked
    assert len(data) > 50_000
    assert done.stderr == f"7 case(s), 70 event(s), 55 alert(s); wrote {picture}\n"


def test_without_matplotlib_the_picture_names_the_extra_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    page = tmp_path / "report.html"
    done = run("report", str(MR_A), "--html", str(page), "--png", str(tmp_path / "r.png"))
    assert done.exit_code == 1
    assert done.stderr == (
        "error: a --png picture needs matplotlib, which is not installed:"
        " pip install 'risk-triggers[report]'\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_argument_that_is_neither_a_file_nor_a_stored_case_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIGGERS_STORE", raising=False)
    page = tmp_path / "report.html"
    done = run("report", str(MR_A), "no-such-case", "--html", str(page))
    assert done.exit_code == 1
    assert (
        "no-such-case: no such chronology file, directory or pattern (to report a stored"
        " case, give --store URL or set TRIGGERS_STORE)"
    ) in done.stderr
    assert not page.exists()
    assert run("report", str(MR_A)).exit_code == 2  # neither --html nor --png


def test_stored_cases_show_their_stored_alerts(store_url: str, tmp_path: Path) -> None:
    assert run("replay", str(MR_A), "--workers", "1", "--store", store_url).exit_code == 0
    page = tmp_path / "report.html"
    done = run("report", "hh-ii-jj", "--store", store_url, "--html", str(page))
    assert done.exit_code == 0, done.output
    text = page.read_text()
    assert text.count("data-alert=") == 29
    assert "stored in" in text and " · open</p>" in text
    assert re.search(r"alert \d+ · \d{4}-\d\d-\d\d", text)
    missing = run("report", "hh-ii-jj", "nope", "other", "--store", store_url, "--html", str(page))
    assert missing.exit_code == 1
    assert "'nope', 'other': neither a chronology file, directory or pattern, nor a case" in (
        missing.stderr
    )


def test_a_chronology_with_problems_is_named_by_line_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    from tests.conftest import BROKEN_CHRONOLOGY

    (tmp_path / "broken.yaml").write_text(BROKEN_CHRONOLOGY)
    page = tmp_path / "report.html"
    done = run("report", str(MR_A), str(tmp_path / "broken.yaml"), "--html", str(page))
    assert done.exit_code == 1
    assert f"{tmp_path / 'broken.yaml'}:4:11: events[0].type:" in done.stderr
    assert f"{tmp_path / 'broken.yaml'}:8:9: events[2].at:" in done.stderr
    assert not page.exists()


def test_a_case_without_events_is_shown_as_such(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("case: empty-1\nevents: []\n")
    page, picture = tmp_path / "report.html", tmp_path / "report.png"
    done = run("report", str(tmp_path / "empty.yaml"), str(MR_A), "--html", str(page))
    assert done.exit_code == 0, done.output
    assert '<h2>empty-1</h2><p class="meta">0 event(s), 0 alert(s) · ' in page.read_text()
    drawn = run("report", str(tmp_path / "empty.yaml"), "--png", str(picture))
    assert drawn.exit_code == 0, drawn.output
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_output_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.html"
    done = run("report", str(MR_A), "--html", str(target))
    assert done.exit_code == 1
    assert done.stderr.startswith(f"error: {target}: cannot write the report:")
