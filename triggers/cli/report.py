"""`triggers report`: timelines of cases as an HTML page and a picture, for review panels."""

from __future__ import annotations

from collections.abc import Sequence

import click

from triggers.cli.app import cli
from triggers.cli.options import by_option, reason_option, rules_option, store_option
from triggers.cli.render import progress, safe, stderr
from triggers.cli.replay import open_store
from triggers.engine import Engine, load_rules
from triggers.errors import ChronologyError, Problem
from triggers.models import Chronology
from triggers.reading import chronology_files, load_chronologies

__all__ = ["report"]


def _chronologies(arguments: Sequence[str]) -> dict[str, list[tuple[str, Chronology]]]:
    """Each file argument's chronologies with the file each came from; every problem in
    every file is reported together, before anything is replayed."""
    loaded: dict[str, list[tuple[str, Chronology]]] = {}
    problems: list[Problem] = []
    for argument in arguments:
        loaded[argument] = []
        for file in chronology_files([argument]):
            try:
                loaded[argument].extend((file, case) for case in load_chronologies(file))
            except ChronologyError as error:
                problems.extend(error.problems)
    if problems:
        raise ChronologyError(problems)
    return loaded


@cli.command()
@click.argument("sources", nargs=-1, required=True, metavar="CASE_OR_FILE...")
@click.option(
    "--html",
    "html_path",
    metavar="OUT.html",
    type=click.Path(dir_okay=False),
    help="Write the report as one self-contained HTML page (no network needed to view it).",
)
@click.option(
    "--png",
    "png_path",
    metavar="OUT.png",
    type=click.Path(dir_okay=False),
    help="Write the timelines as a PNG picture for slides. Needs the report extra:"
    " pip install 'risk-triggers[report]'.",
)
@rules_option
@store_option
@by_option
@reason_option
def report(
    *,
    sources: Sequence[str],
    html_path: str | None,
    png_path: str | None,
    rules_path: str | None,
    store: str | None,
    by: str | None,
    reason: str | None,
) -> None:
    """Draw each case's timeline: a lane per event type, alerts coloured by priority.

    Each CASE_OR_FILE that names an existing file or directory, or a quoted glob
    pattern that matches files, is a chronology replayed in memory with the rules
    (--rules, default the shipped rules): nothing is stored. Any other argument is
    the id of a case in the store given by --store (or TRIGGERS_STORE): its stored
    events and alerts are shown, superseded and closed alerts too, each explained by
    the rule-set version that raised it (the consultation is audited). An argument
    that is neither is an error naming it, and nothing is written. Give --html,
    --png or both; each file is replaced whole.
    """
    # Imported here: the report needs the explanations, and --help starts without them.
    from triggers.report import (  # noqa: PLC0415
        CaseTimeline,
        Report,
        is_chronology_path,
        replayed,
        require_matplotlib,
        stored,
        write_html,
        write_png,
    )

    if html_path is None and png_path is None:
        raise click.UsageError("give --html OUT.html, --png OUT.png or both")
    if png_path is not None:
        require_matplotlib()
    files = [argument for argument in sources if is_chronology_path(argument)]
    cases = [argument for argument in sources if not is_chronology_path(argument)]
    if cases and store is None:
        raise ChronologyError(
            [
                Problem(
                    case,
                    "",
                    "no such chronology file, directory or pattern (to report a stored case,"
                    " give --store URL or set TRIGGERS_STORE)",
                )
                for case in cases
            ]
        )
    loaded = _chronologies(files)
    from_store: dict[str, CaseTimeline] = {}
    if cases:
        with open_store(store, by) as database:
            from_store = dict(zip(cases, stored(database, cases, reason=reason), strict=True))
    engine = Engine(load_rules(rules_path)) if files else None
    err = stderr()
    timelines: list[CaseTimeline] = []
    total = sum(len(loaded[file]) for file in files)
    with progress(total, err) as bar:
        task = bar.add_task("replaying", total=total) if bar else None
        for argument in sources:
            if argument in from_store:
                timelines.append(from_store[argument])
                continue
            for file, chronology in loaded[argument]:
                assert engine is not None  # made when there are files
                timelines.append(replayed(chronology, file, engine))
                if bar is not None and task is not None:
                    bar.advance(task)
    result = Report(tuple(timelines))
    written = []
    if html_path is not None:
        write_html(result, html_path)
        written.append(html_path)
    if png_path is not None:
        write_png(result, png_path)
        written.append(png_path)
    summary = result.summary()
    err.print(
        f"{summary.cases} case(s), {summary.events} event(s), {summary.alerts} alert(s);"
        f" wrote {safe(' and '.join(written))}"
    )
