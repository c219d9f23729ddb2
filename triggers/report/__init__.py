"""Timeline reports: each case's events and alerts on a time axis, for review panels.

`timeline` holds what a report shows (built from chronologies replayed in memory
or from a store), `html` writes it as one self-contained page, `png` as a picture
with matplotlib (the optional `report` extra, imported only there).
"""

from triggers.report.html import render_html, write_html
from triggers.report.png import MAX_PICTURE_CASES, require_matplotlib, write_png
from triggers.report.timeline import (
    COLOURS,
    AlertMark,
    CaseTimeline,
    Report,
    RuleCount,
    Summary,
    is_chronology_path,
    replayed,
    stored,
)

__all__ = [
    "COLOURS",
    "MAX_PICTURE_CASES",
    "AlertMark",
    "CaseTimeline",
    "Report",
    "RuleCount",
    "Summary",
    "is_chronology_path",
    "render_html",
    "replayed",
    "require_matplotlib",
    "stored",
    "write_html",
    "write_png",
]
