"""Options several commands share: the store, who acts and why, the rules, dates, and
the column mapping of CSV chronologies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import click

from triggers.limits import MAX_ID_LENGTH, MAX_NOTE_LENGTH, check_text
from triggers.models import parse_time
from triggers.store.settings import ACTOR_ENV, STORE_ENV

__all__ = [
    "ALERT_ID",
    "by_option",
    "date",
    "limited_text",
    "mapping_option",
    "reason_option",
    "rules_option",
    "store_option",
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
