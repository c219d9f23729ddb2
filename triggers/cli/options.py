"""Options several commands share: the store, who acts and why, the rules, dates, the
column mapping of CSV chronologies, and where to replay (worker processes or a cluster)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from triggers.limits import MAX_ID_LENGTH, MAX_NOTE_LENGTH, check_text
from triggers.models import parse_time
from triggers.store.settings import ACTOR_ENV, STORE_ENV

__all__ = [
    "ALERT_ID",
    "by_option",
    "cluster_option",
    "date",
    "format_option",
    "limited_text",
    "mapping_option",
    "reason_option",
    "rules_option",
    "store_option",
    "workers_option",
    "workers_or_cluster",
]

#: An alert id: any whole number; one that no store could hold (the stores keep 64-bit
#: integers) is "no such alert", like any other id that is not stored.
ALERT_ID = click.INT


def date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """A date option's value: a date alone is the start of that day (UTC)."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        # click names the option this callback belongs to.
        raise click.BadParameter(str(error)) from None


def limited_text(limit: int) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A callback refusing an option's text over `limit` characters or holding a character
    input may not (`triggers.limits.check_text`): a usage error naming the option, before
    any file is read. The store checks the same again, for callers other than this command.
    """

    def check(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            try:
                check_text(value, limit)
            except ValueError as error:
                raise click.BadParameter(str(error)) from None
        return value

    return check


store_option = click.option(
    "--store",
    "store",
    metavar="URL",
    envvar=STORE_ENV,
    show_envvar=True,
    help="SQLAlchemy URL of the store (default: sqlite:///triggers.sqlite).",
)
by_option = click.option(
    "--by",
    "by",
    metavar="NAME",
    envvar=ACTOR_ENV,
    show_envvar=True,
    callback=limited_text(MAX_ID_LENGTH),
    help="Who is acting, for the audit log (default: the OS user).",
)
reason_option = click.option(
    "--reason",
    "reason",
    metavar="TEXT",
    callback=limited_text(MAX_NOTE_LENGTH),
    help="Why, for the audit log (required where TRIGGERS_REQUIRE_REASON says so).",
)
rules_option = click.option(
    "--rules",
    "rules_path",
    metavar="PATH",
    type=click.Path(exists=True),
    help="Rule file or directory of rule files (default: the shipped rules).",
)
mapping_option = click.option(
    "--mapping",
    "mapping_path",
    metavar="MAP.yaml",
    type=click.Path(exists=True, dir_okay=False),
    help="Read CSV chronologies' headers and values through this column mapping (README"
    " 'Spreadsheet chronologies'); YAML, JSON and JSONL files are read as they are.",
)
workers_option = click.option(
    "--workers",
    "workers",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Replay in N worker processes (default: one per CPU); 1 replays in this process.",
)


def cluster_option(also: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The `--cluster` option; `also` adds to its help what the command still does here."""
    return click.option(
        "--cluster",
        "cluster",
        envvar="TRIGGERS_CLUSTER",
        show_envvar=True,
        metavar="ADDRESS",
        help="Replay on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786)"
        f" instead of in worker processes{also}. Not with --workers (which overrides the env"
        " var). Needs the cluster extra: pip install 'risk-triggers[cluster]'.",
    )


def workers_or_cluster(
    ctx: click.Context, workers: int | None, cluster: str | None
) -> tuple[int, str | None]:
    """How many worker processes, or which cluster: --cluster and --workers together are a
    usage error, but --workers wins over $TRIGGERS_CLUSTER."""
    if cluster and workers is not None:
        if ctx.get_parameter_source("cluster") is not click.core.ParameterSource.ENVIRONMENT:
            raise click.UsageError("give --cluster or --workers, not both")
        cluster = None
    return workers or os.cpu_count() or 1, cluster


def format_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--format table|json` (parameter `output`, default table); `help_text` says what each
    shows for this command."""
    return click.option(
        "--format",
        "output",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help=help_text,
    )
