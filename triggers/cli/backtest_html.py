"""A backtest as one self-contained HTML page: the two rule sets side by side.

No script and nothing fetched: inline CSS and SVG only, so the page opens offline and
in locked-down browsers. Every text from a file (case ids, file names, rule ids,
notes) is HTML-escaped.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from triggers.backtest import Backtest, CaseComparison, OutcomeSummary

__all__ = ["backtest_html"]

#: At most this many cases are drawn (changed cases first, then cases with outcomes).
MAX_DRAWN = 200
_WIDTH, _LEFT, _LANE = 900, 90, 26
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.2em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
.side{display:flex;gap:2em}.side>div{flex:1}
.added{fill:#2a9d3a}.removed{fill:#c62828}.moved{fill:#e69500}
.outcome{stroke:#000;stroke-width:2}.horizon{fill:#000;opacity:.06}
.arrow{stroke:#e69500;stroke-width:1.5}
svg text{font:12px system-ui,sans-serif}
.legend span{display:inline-block;margin-right:1.5em}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _summary_cell(summary: OutcomeSummary) -> str:
    median = "none" if summary.median_days is None else f"{summary.median_days:g}"
    return (
        f"<tr><td>outcomes caught</td><td>{summary.caught} of {summary.outcomes}</td></tr>"
        f"<tr><td>median days before</td><td>{median}</td></tr>"
        f"<tr><td>alerts raised</td><td>{summary.alerts}</td></tr>"
        f"<tr><td>alerts in cases with outcomes</td><td>{summary.alerts_in_outcome_cases}</td></tr>"
    )


def _side(result: Backtest) -> str:
    columns = []
    for label, files, version, summary in (
        ("Base", result.base_files, result.base_version, result.base_outcomes),
        ("Candidate", result.candidate_files, result.candidate_version, result.candidate_outcomes),
    ):
        columns.append(
            f"<div><h2>{label}</h2><p>{_e(', '.join(files))}<br>version {_e(version)}</p>"
            f"<table>{_summary_cell(summary)}</table></div>"
        )
    return f'<div class="side">{"".join(columns)}</div>'


def _rules(result: Backtest) -> str:
    head = "".join(
        f"<th>{name}</th>"
        for name in ("Rule", "Base", "Candidate", "Same", "Added", "Removed", "Moved")
    )
    rows = "".join(
        f"<tr><td>{_e(r.rule)}</td><td>{r.base_alerts}</td><td>{r.candidate_alerts}</td>"
        f"<td>{r.same}</td><td>{r.added}</td><td>{r.removed}</td><td>{r.moved}</td></tr>"
        for r in result.rules
    )
    return f"<h2>Per rule</h2><table><tr>{head}</tr>{rows}</table>"


def _case_svg(case: CaseComparison, outcomes: list[datetime], horizon: int) -> str:
    times = [t for c in case.changes for t in (c.base_at, c.candidate_at) if t is not None]
    times += outcomes
    start, end = min(times), max(times)
    span = max((end - start).total_seconds(), 86400.0)

    def x(at: datetime) -> float:
        return _LEFT + (_WIDTH - _LEFT - 20) * (at - start).total_seconds() / span

    parts = [
        f'<text x="4" y="{_LANE - 8}">base</text>',
        f'<text x="4" y="{2 * _LANE - 8}">candidate</text>',
        f'<text x="{_LEFT}" y="{2 * _LANE + 14}">{start:%Y-%m-%d}</text>',
        f'<text x="{x(end)}" y="{2 * _LANE + 14}" text-anchor="end">{end:%Y-%m-%d}</text>',
    ]
    for at in outcomes:
        left = max(_LEFT, x(at) - (_WIDTH - _LEFT - 20) * horizon * 86400 / span)
        parts.append(
            f'<rect class="horizon" x="{left:.1f}" y="0" width="{x(at) - left:.1f}"'
            f' height="{2 * _LANE}"/>'
            f'<line class="outcome" x1="{x(at):.1f}" x2="{x(at):.1f}" y1="0" y2="{2 * _LANE}">'
            f"<title>outcome {at:%Y-%m-%d}</title></line>"
        )
    for change in case.changes:
        tip = _e(f"{change.kind}: {change.rule} ({change.action})")
        if change.base_at is not None and change.candidate_at is not None:
            parts.append(
                f'<line class="arrow" x1="{x(change.base_at):.1f}" y1="{_LANE - 12}"'
                f' x2="{x(change.candidate_at):.1f}" y2="{2 * _LANE - 12}"/>'
            )
        for lane, when in ((1, change.base_at), (2, change.candidate_at)):
            if when is not None:
                parts.append(
                    f'<circle class="{change.kind}" cx="{x(when):.1f}" cy="{lane * _LANE - 12}"'
                    f' r="5"><title>{tip} {when:%Y-%m-%d}</title></circle>'
                )
    return (
        f'<svg width="{_WIDTH}" height="{2 * _LANE + 20}" role="img"'
        f' xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _cases(result: Backtest) -> str:
    outcomes: dict[tuple[str, str], list[datetime]] = {}
    for check in result.outcome_checks:
        outcomes.setdefault((check.file, check.case), []).append(check.at)
    drawn = [c for c in result.cases if c.changes]
    drawn += [c for c in result.cases if not c.changes and (c.file, c.case) in outcomes]
    parts = [
        "<h2>Cases</h2>",
        '<p class="legend"><span style="color:#2a9d3a">● added</span>'
        '<span style="color:#c62828">● removed</span><span style="color:#e69500">● moved</span>'
        f"<span>| outcome, shaded: the {result.horizon_days} days before it</span></p>",
    ]
    for case in drawn[:MAX_DRAWN]:
        counts = ", ".join(f"{case.count(k)} {k}" for k in ("added", "removed", "moved"))
        parts.append(
            f"<h3>{_e(case.case)} <small>{_e(case.file)}: {case.base_alerts} → "
            f"{case.candidate_alerts} alert(s); {counts}</small></h3>"
            + _case_svg(case, outcomes.get((case.file, case.case), []), result.horizon_days)
        )
    if len(drawn) > MAX_DRAWN:
        parts.append(f"<p>… and {len(drawn) - MAX_DRAWN} more case(s) not drawn.</p>")
    if not drawn:
        parts.append("<p>No case changed and none has outcomes.</p>")
    return "".join(parts)


def backtest_html(result: Backtest) -> str:
    """The page: each rule set's catch of harm and alert load side by side, the changes
    per case a base lane and a candidate lane with the changed alerts, and the changes per rule."""
    totals = result.totals()
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Backtest</title><style>{_STYLE}</style></head><body>"
        f"<h1>Backtest</h1><p>{totals['cases']} case(s), {totals['cases_changed']} changed:"
        f" {totals['added']} alert(s) added, {totals['removed']} removed,"
        f" {totals['moved']} moved, {totals['same']} the same.</p>"
        + _side(result)
        + _cases(result)
        + _rules(result)
        + "</body></html>"
    )
