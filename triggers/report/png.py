"""The timeline report as a static picture for slides, drawn with matplotlib.

matplotlib is an optional extra (`pip install 'risk-triggers[report]'`), imported
only here and only when a picture is asked for; it draws with its Agg backend,
without a display. The picture shows what the HTML page shows, without the
explanations: one panel per case, a lane per event type, the alerts above the
lanes as diamonds coloured by priority, and a shared legend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from triggers.errors import ReportError
from triggers.report.timeline import COLOURS, CaseTimeline, Report, stack
from triggers.report.writing import write_atomically

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MAX_PICTURE_CASES", "require_matplotlib", "write_png"]

#: More cases than this make a picture no one can read on a slide; the HTML page has
#: no such limit.
MAX_PICTURE_CASES = 30
_EXTRA = "report"
#: How close two alerts may be, as a share of the time axis, before one goes on the next
#: row (a diamond is about 1.3% of the axis wide).
_GAP = 0.016


def require_matplotlib() -> None:
    """Raise `ReportError` naming the extra to install if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401, PLC0415 -- an optional extra, loaded on use
    except ImportError:
        raise ReportError(
            "a --png picture needs matplotlib, which is not installed:"
            f" pip install 'risk-triggers[{_EXTRA}]'",
            extra=_EXTRA,
        ) from None


def _rows(timeline: CaseTimeline) -> list[int]:
    """A row for each alert so that alerts close in time sit one above the other."""
    span = timeline.span
    if span is None:
        return []
    start, end = span
    return stack([(m.alert.at - start) / (end - start) for m in timeline.alerts], _GAP)


def _draw(axes: Axes, timeline: CaseTimeline) -> None:
    from matplotlib import dates  # noqa: PLC0415 -- see require_matplotlib

    lanes = timeline.lanes
    rows = _rows(timeline)
    alert_rows = max(rows, default=0) + 1
    # Lanes from the top: alerts (their rows 0.4 apart), then one lane per event type.
    y_of = {lane: -(i + 1) for i, lane in enumerate(lanes)}
    for i in range(len(lanes)):
        if i % 2:
            axes.axhspan(-(i + 1) - 0.5, -(i + 1) + 0.5, color="#f0f0f3", zorder=0)
    axes.scatter(
        dates.date2num([event.at for event in timeline.events]),
        [y_of[event.type] for event in timeline.events],
        s=28,
        color="#4a4a4a",
        edgecolors="white",
        linewidths=0.6,
        zorder=2,
    )
    for mark, row in zip(timeline.alerts, rows, strict=True):
        colour = COLOURS[mark.alert.priority]
        axes.scatter(
            dates.date2num([mark.alert.at]),
            [0.25 + 0.4 * row],
            marker="D",
            s=46,
            color=colour if mark.active else "white",
            edgecolors="#222" if mark.active else colour,
            linewidths=0.8 if mark.active else 1.6,
            zorder=3,
        )
    axes.axhline(-0.5, color="#999", linewidth=0.6)
    axes.set_yticks([0.25 + 0.2 * (alert_rows - 1), *y_of.values()], ["alerts", *lanes], fontsize=8)
    axes.set_ylim(-len(lanes) - 0.6, 0.25 + 0.4 * (alert_rows - 1) + 0.45)
    assert timeline.span is not None  # only timelines with events are drawn
    start, end = timeline.span
    pad = (end - start) * 0.03
    axes.set_xlim(dates.date2num(start - pad), dates.date2num(end + pad))
    locator = dates.AutoDateLocator(minticks=4, maxticks=10)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    axes.tick_params(axis="x", labelsize=8)
    axes.grid(axis="x", color="#ccc", linestyle=":", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    title = timeline.case + (f" — {timeline.title}" if timeline.title else "")
    if len(title) > 110:
        title = title[:109] + "…"
    # parse_math off: a case id or title with `$` in it is text, not mathematics.
    axes.set_title(
        f"{title}   ({len(timeline.events)} events, {len(timeline.alerts)} alerts)",
        loc="left",
        fontsize=10,
        parse_math=False,
    )


def write_png(report: Report, path: str) -> None:
    """Draw the report's timelines into a PNG file at `path` (replaced whole, or not at all).

    Raises `ReportError` when matplotlib is missing, the report has more than
    `MAX_PICTURE_CASES` cases, or the file cannot be written.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.lines import Line2D  # noqa: PLC0415

    timelines = [t for t in report.timelines if t.events]
    if len(timelines) > MAX_PICTURE_CASES:
        raise ReportError(
            f"{path}: a picture of {len(timelines)} cases would not be legible; give at most"
            f" {MAX_PICTURE_CASES} cases with --png (the --html page shows any number)",
            path=path,
        )
    heights = [len(t.lanes) + 0.4 * max(_rows(t), default=0) + 2.2 for t in timelines] or [1]
    figure = Figure(figsize=(11, 0.8 + 0.27 * sum(heights)), dpi=150, layout="constrained")
    FigureCanvasAgg(figure)  # the Agg backend: no display needed
    grid = figure.subplots(
        max(len(timelines), 1), 1, squeeze=False, gridspec_kw={"height_ratios": heights}
    )
    for axes, timeline in zip(grid[:, 0], timelines, strict=False):
        _draw(axes, timeline)
    if not timelines:
        grid[0, 0].set_axis_off()
        grid[0, 0].text(0.5, 0.5, "no events", ha="center", va="center")
    handles = [
        Line2D([], [], marker="D", linestyle="", markersize=7, color=colour, markeredgecolor="#222")
        for colour in COLOURS.values()
    ]
    handles.append(Line2D([], [], marker="o", linestyle="", markersize=6, color="#4a4a4a"))
    summary = report.summary()
    figure.legend(
        handles,
        [f"{priority} alert" for priority in COLOURS] + ["event"],
        loc="outside upper center",
        ncols=len(handles),
        fontsize=8,
        frameon=False,
        title=f"{summary.cases} case(s), {summary.events} event(s), {summary.alerts} alert(s)",
        title_fontsize=10,
    )
    write_atomically(path, lambda file: figure.savefig(file, format="png"))
