"""The timeline report as one self-contained HTML page: inline CSS, SVG and script.

The page needs no network (no fonts, scripts or styles from elsewhere), so it can
be mailed to a review panel or opened where nothing else is reachable. Every text
that comes from a chronology, a rule or a store (case ids, notes, reasons) is
escaped: a case id such as `<script>` is shown, never run.

Each alert is one SVG marker (`data-alert`), coloured by priority; hovering over
it (or focusing it with the keyboard) shows its reason and the events that caused
it, and clicking it opens its whole explanation under the timeline.
"""

from __future__ import annotations

import json
from calendar import monthrange
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import escape

from triggers.report.timeline import (
    COLOURS,
    AlertMark,
    CaseTimeline,
    Report,
    Summary,
    day,
    event_text,
    moment,
    stack,
)
from triggers.report.writing import write_atomically

__all__ = ["render_html", "write_html"]

# The SVG's geometry, in its own units (the picture scales to the page's width).
_WIDTH = 1100
_LEFT = 220  # lane labels
_RIGHT = 24
_TOP = 10
_ALERT_ROW = 18
_LANE = 26
_AXIS = 34
_MARKER = 7  # half the diamond's width
_EVENT = 5  # an event dot's radius


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Tick marks for the date axis: years, months or days, at most about ten."""
    span = (end - start).days
    if span > 3 * 365:
        step = max(1, -(-span // 3650))
        first = datetime(start.year + 1, 1, 1, tzinfo=UTC)
        return [(t, f"{t:%Y}") for t in _months(first, end, 12 * step)]
    if span > 75:
        step = next(s for s in (1, 2, 3, 6) if span / (30 * s) <= 10)
        month = start.month + 1
        first = datetime(start.year + (month > 12), (month - 1) % 12 + 1, 1, tzinfo=UTC)
        return [(t, f"{t:%b %Y}") for t in _months(first, end, step)]
    step = next((s for s in (1, 2, 7, 14) if span / s <= 10), 31)
    first = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=1)
    count = int((end - first).days // step) + 1
    return [(t, f"{t:%d %b %Y}") for t in (first + timedelta(days=i * step) for i in range(count))]


def _months(first: datetime, end: datetime, step: int) -> Iterator[datetime]:
    at = first
    while at <= end:
        yield at
        month = at.month - 1 + step
        year, month = at.year + month // 12, month % 12 + 1
        at = at.replace(year=year, month=month, day=min(at.day, monthrange(year, month)[1]))


class _Scale:
    """Event time to the SVG's x, with a little room at both ends."""

    def __init__(self, start: datetime, end: datetime) -> None:
        pad = (end - start) * 0.03
        self.start, self.end = start - pad, end + pad

    def __call__(self, at: datetime) -> float:
        share = (at - self.start) / (self.end - self.start)
        return round(_LEFT + share * (_WIDTH - _LEFT - _RIGHT), 1)


def _svg(timeline: CaseTimeline, first_number: int) -> str:
    span = timeline.span
    if span is None:
        return '<p class="meta">no events</p>'
    scale = _Scale(*span)
    marks = timeline.alerts
    xs = [scale(mark.alert.at) for mark in marks]
    rows = stack(xs, 2 * _MARKER + 2)
    alert_rows = max(rows, default=0) + 1
    lanes_top = _TOP + alert_rows * _ALERT_ROW + 10
    lanes = {lane: lanes_top + (i + 0.5) * _LANE for i, lane in enumerate(timeline.lanes)}
    bottom = lanes_top + len(lanes) * _LANE
    height = bottom + _AXIS
    parts = [
        f'<svg class="timeline" viewBox="0 0 {_WIDTH} {height}" role="img"'
        f' aria-label="timeline of case {_e(timeline.case)}">',
        f'<text class="lane-label" x="{_LEFT - 10}" y="{_TOP + _ALERT_ROW * 0.7}">alerts</text>',
    ]
    for i, (lane, y) in enumerate(lanes.items()):
        shade = ' class="lane odd"' if i % 2 else ' class="lane"'
        parts.append(
            f'<rect{shade} x="{_LEFT}" y="{y - _LANE / 2}" width="{_WIDTH - _LEFT - _RIGHT}"'
            f' height="{_LANE}"/><text class="lane-label" x="{_LEFT - 10}" y="{y + 4}">'
            f"{_e(lane)}</text>"
        )
    for at, label in _ticks(*span):
        x = scale(at)
        if _LEFT <= x <= _WIDTH - _RIGHT:
            parts.append(
                f'<line class="tick" x1="{x}" y1="{_TOP}" x2="{x}" y2="{bottom + 4}"/>'
                f'<text class="tick-label" x="{x}" y="{bottom + 18}">{_e(label)}</text>'
            )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" y1="{bottom}" x2="{_WIDTH - _RIGHT}" y2="{bottom}"/>'
    )
    for event in timeline.events:
        x, y = scale(event.at), lanes[event.type]
        note = f"\n{event.note}" if event.note else ""
        parts.append(
            f'<circle class="event" cx="{x}" cy="{y}" r="{_EVENT}" data-event="{_e(event.id)}">'
            f"<title>{_e(moment(event.at))} {_e(event_text(event))}{_e(note)}</title></circle>"
        )
    for number, (mark, x, row) in enumerate(zip(marks, xs, rows, strict=True), first_number):
        y = _TOP + (row + 0.5) * _ALERT_ROW
        kind = "" if mark.active else " inactive"
        events = json.dumps(list(mark.alert.events))
        label = f"{mark.alert.priority} alert, {day(mark.alert.at)}: {mark.action}"
        parts.append(
            f'<g class="alert p-{mark.alert.priority}{kind}" data-alert="{number}"'
            f' data-events="{_e(events)}" tabindex="0" role="button" aria-label="{_e(label)}">'
            f'<path d="M{x},{y - _MARKER}L{x + _MARKER},{y}L{x},{y + _MARKER}'
            f'L{x - _MARKER},{y}Z"/></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _detail(mark: AlertMark, number: int) -> str:
    """An alert's reason, its events and its whole explanation, hidden until asked for."""
    alert, explanation = mark.alert, mark.explanation
    status = f" · {mark.status}" if mark.status is not None else ""
    stored = f"alert {mark.alert_id} · " if mark.alert_id is not None else ""
    rows = "".join(
        f"<tr><td>{_e(event.role)}</td><td>{_e(moment(event.at))}</td><td>{_e(event.type)}</td>"
        f"<td>{_e(', '.join(f'{k} {v}' for k, v in event.fields.items()))}</td>"
        f"<td>{_e(event.note or '')}</td></tr>"
        for event in explanation.events
    )
    missing = (
        f"<p>events no longer in the chronology: {_e(', '.join(explanation.missing_events))}</p>"
        if explanation.missing_events
        else ""
    )
    return (
        f'<div class="detail" id="detail-{number}" data-detail="{number}" hidden>'
        f'<div class="brief"><p class="head"><span class="badge p-{_e(alert.priority)}">'
        f"{_e(alert.priority)}</span> {_e(stored)}{_e(moment(alert.at))} · {_e(mark.action)}"
        f"{_e(status)}</p>"
        f'<p class="reason">{_e(alert.reason)}</p>'
        f'<p class="rule">{_e(alert.rule)}: {_e(explanation.rule.title)}</p>'
        f"<table><thead><tr><th>role</th><th>at</th><th>event</th><th>fields</th><th>note</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>{missing}</div>"
        f"<details><summary>whole explanation</summary>"
        f"<pre>{_e(chr(10).join(explanation.lines()))}</pre></details></div>"
    )


def _summary(summary: Summary) -> str:
    priorities = "".join(
        f'<tr><td><span class="badge p-{p}">{p}</span></td><td class="n">{n}</td></tr>'
        for p, n in reversed(summary.by_priority)
    )
    rules = "".join(
        f'<tr><td>{_e(r.rule)}</td><td>{_e(r.title)}</td><td class="n">{r.alerts}</td></tr>'
        for r in summary.by_rule
    )
    statuses = "".join(
        f'<tr><td>{_e(status)}</td><td class="n">{n}</td></tr>' for status, n in summary.by_status
    )
    status_table = (
        f'<table class="figures"><caption>alerts by status</caption>{statuses}</table>'
        if statuses
        else ""
    )
    return (
        '<section class="summary"><h2>Summary</h2><div class="tables">'
        f'<table class="figures"><caption>totals</caption>'
        f'<tr><td>cases</td><td class="n">{summary.cases}</td></tr>'
        f'<tr><td>events</td><td class="n">{summary.events}</td></tr>'
        f'<tr><td>alerts</td><td class="n">{summary.alerts}</td></tr></table>'
        f'<table class="figures"><caption>alerts by priority</caption>{priorities}</table>'
        f"{status_table}"
        f'<table class="figures rules"><caption>alerts by rule</caption>'
        f"<tr><th>rule</th><th>title</th><th>alerts</th></tr>{rules}</table>"
        "</div></section>"
    )


def _legend() -> str:
    items = "".join(
        f'<span><svg viewBox="-8 -8 16 16"><path class="p-{p}" d="M0,-7L7,0L0,7L-7,0Z"/></svg>'
        f"{p}</span>"
        for p in COLOURS
    )
    return (
        f'<div class="legend">{items}<span><svg viewBox="-8 -8 16 16"><circle class="event"'
        ' r="5"/></svg>event</span><span><svg viewBox="-8 -8 16 16"><path class="p-high'
        ' inactive" d="M0,-7L7,0L0,7L-7,0Z"/></svg>no longer active (stored: resolved,'
        " dismissed or superseded)</span><span>hover over an alert for its reason and"
        " causes; click it for the whole explanation</span></div>"
    )


def _case(timeline: CaseTimeline, index: int, first_number: int) -> str:
    title = f" — {timeline.title}" if timeline.title else ""
    span = timeline.span
    dates = f" · {_e(day(span[0]))} to {_e(day(span[1]))}" if span is not None else ""
    details = "".join(
        _detail(mark, number) for number, mark in enumerate(timeline.alerts, first_number)
    )
    return (
        f'<section class="case" id="case-{index}"><h2>{_e(timeline.case)}{_e(title)}</h2>'
        f'<p class="meta">{len(timeline.events)} event(s), {len(timeline.alerts)} alert(s)'
        f"{dates} · {_e(timeline.origin)}</p>{_svg(timeline, first_number)}"
        f'<div class="details" aria-live="polite">{details}</div></section>'
    )


def write_html(report: Report, path: str) -> None:
    """Write the report's page to `path` (replaced whole, or not at all); raises
    `ReportError` if it cannot be written."""
    page = render_html(report).encode()
    write_atomically(path, lambda file: file.write(page))


def render_html(report: Report) -> str:
    """The report as one HTML page that needs nothing else to be shown."""
    summary = report.summary()
    cases, number = [], 0
    for index, timeline in enumerate(report.timelines):
        cases.append(_case(timeline, index, number))
        number += len(timeline.alerts)
    contents = "".join(
        f'<li><a href="#case-{index}">{_e(timeline.case)}</a> ({len(timeline.alerts)})</li>'
        for index, timeline in enumerate(report.timelines)
    )
    colours = "".join(
        f".p-{p}{{fill:{c};background:{c}}}.p-{p}.inactive{{fill:#fff;stroke:{c}}}"
        for p, c in COLOURS.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Timeline report: {summary.cases} case(s), {summary.alerts} alert(s)</title>"
        f"<style>{_CSS}{colours}</style></head><body>"
        f"<header><h1>Timeline report</h1>{_legend()}</header><main>{_summary(summary)}"
        f'<nav><h2>Cases</h2><ol class="cases">{contents}</ol></nav>{"".join(cases)}</main>'
        f'<div id="tooltip" role="tooltip" hidden></div><script>{_SCRIPT}</script>'
        "</body></html>\n"
    )


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;
color:#1d1d1f;background:#fafafa;line-height:1.4}
header{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid #ddd;
padding:.4em 1.5em}
h1{font-size:1.3em;margin:.2em 0}
h2{font-size:1.1em;margin:.3em 0}
main{padding:0 1.5em 2em}
.legend{display:flex;flex-wrap:wrap;gap:1.2em;font-size:.85em;align-items:center}
.legend span{display:inline-flex;align-items:center;gap:.3em}
.legend svg{width:14px;height:14px}
.tables{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}
table{border-collapse:collapse;font-size:.85em}
caption{text-align:left;font-weight:600;padding-bottom:.2em}
td,th{padding:.15em .6em;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 .5em;border-radius:.6em;color:#fff;font-size:.85em}
.badge.p-low,.badge.p-medium{color:#1d1d1f}
ol.cases{columns:3;font-size:.9em}
section.case{background:#fff;border:1px solid #ddd;border-radius:6px;margin:1.2em 0;
padding:.6em 1em;scroll-margin-top:7em}
.meta{color:#555;font-size:.85em;margin:.1em 0 .4em;overflow-wrap:anywhere}
h2{overflow-wrap:anywhere}
svg.timeline{width:100%;height:auto;display:block;font-size:12px}
.lane{fill:#f7f7f7}.lane.odd{fill:#efeff2}
.lane-label{text-anchor:end;fill:#333}
.tick{stroke:#ccc;stroke-dasharray:2 3}.axis{stroke:#666}
.tick-label{text-anchor:middle;fill:#444;font-size:11px}
circle.event{fill:#4a4a4a;stroke:#fff;stroke-width:1}
circle.event.cause{fill:#111;stroke:#000;stroke-width:3}
.link{stroke:#111;stroke-width:1.2;stroke-dasharray:4 2;pointer-events:none}
g.alert{cursor:pointer;outline:none}
g.alert path{stroke:#222;stroke-width:1}
g.alert.inactive path{stroke-width:2}
g.alert:hover path,g.alert:focus path,g.alert.chosen path{stroke:#000;stroke-width:3}
.details .detail{border-top:1px solid #ddd;margin-top:.5em;padding-top:.4em}
.detail pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.8em;background:#f5f5f5;
padding:.5em}
.reason{font-weight:600;margin:.2em 0;overflow-wrap:anywhere}
.head,.rule{margin:.2em 0;font-size:.9em;overflow-wrap:anywhere}
#tooltip{position:absolute;z-index:3;max-width:36em;background:#fff;border:1px solid #888;
border-radius:4px;box-shadow:0 2px 8px rgba(0,0,0,.25);padding:.4em .7em;font-size:.9em;
pointer-events:none}
"""

# Markers find their details and events by comparing data attributes, never by building
# selectors from the data: an id may hold any character.
_SCRIPT = """
(function () {
  "use strict";
  var tooltip = document.getElementById("tooltip");
  var SVG = "http://www.w3.org/2000/svg";
  function detailOf(marker) {
    var section = marker.closest("section.case");
    var found = null;
    section.querySelectorAll(".detail").forEach(function (d) {
      if (d.dataset.detail === marker.dataset.alert) { found = d; }
    });
    return found;
  }
  function highlight(marker, on) {
    var svg = marker.ownerSVGElement;
    svg.querySelectorAll(".link").forEach(function (l) { l.remove(); });
    svg.querySelectorAll("circle.cause").forEach(function (c) { c.classList.remove("cause"); });
    if (!on) { return; }
    var ids = JSON.parse(marker.dataset.events);
    var box = marker.getBBox();
    var mx = box.x + box.width / 2, my = box.y + box.height / 2;
    svg.querySelectorAll("circle.event").forEach(function (c) {
      if (ids.indexOf(c.dataset.event) < 0) { return; }
      c.classList.add("cause");
      var line = document.createElementNS(SVG, "line");
      line.setAttribute("class", "link");
      line.setAttribute("x1", mx); line.setAttribute("y1", my);
      line.setAttribute("x2", c.getAttribute("cx")); line.setAttribute("y2", c.getAttribute("cy"));
      svg.insertBefore(line, svg.querySelector("circle.event"));
    });
  }
  function show(marker) {
    var detail = detailOf(marker);
    tooltip.replaceChildren(detail.querySelector(".brief").cloneNode(true));
    tooltip.hidden = false;
    var r = marker.getBoundingClientRect();
    var left = Math.min(window.scrollX + r.left, window.scrollX + window.innerWidth - 560);
    tooltip.style.left = Math.max(window.scrollX + 4, left) + "px";
    tooltip.style.top = (window.scrollY + r.bottom + 8) + "px";
    highlight(marker, true);
  }
  function hide(marker) {
    tooltip.hidden = true;
    highlight(marker, marker.classList.contains("chosen"));
  }
  function choose(marker) {
    var section = marker.closest("section.case");
    section.querySelectorAll("g.alert.chosen").forEach(function (m) {
      m.classList.remove("chosen");
    });
    section.querySelectorAll(".detail").forEach(function (d) { d.hidden = true; });
    marker.classList.add("chosen");
    detailOf(marker).hidden = false;
    highlight(marker, true);
  }
  document.querySelectorAll("g.alert").forEach(function (marker) {
    marker.addEventListener("mouseenter", function () { show(marker); });
    marker.addEventListener("focus", function () { show(marker); });
    marker.addEventListener("mouseleave", function () { hide(marker); });
    marker.addEventListener("blur", function () { hide(marker); });
    marker.addEventListener("click", function () { choose(marker); });
    marker.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choose(marker); }
    });
  });
})();
"""
