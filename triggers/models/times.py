"""Reading dates and date-times: exactly the ISO 8601 forms the chronology contract allows.

Every date a person or another system gives (an event's `at` and `recorded_at`, an
outcome's `at`, a rule test's dates, `--until`, `--now`, `--since`) is read by
`parse_time`, whatever the format it came in: YAML keeps dates as text for it
(`triggers._yaml`), so YAML's own looser timestamps never decide what is accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from triggers.errors import shown

__all__ = ["ISO_TIME", "parse_time"]

#: The forms accepted: a date, or a date and a time of hours and minutes, seconds
#: optional, at most six decimal places of a second (microseconds: more would be lost),
#: then optionally `Z` or an offset `±HH:MM`. A space may stand for the `T` (RFC 3339
#: allows it, and spreadsheets and YAML write it); nothing else may stand between the
#: parts. Digits are ASCII digits only.
ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?)?"
)

_EXPECTED = "expected an ISO 8601 date or date-time, such as 2011-06-20 or 2011-06-20T14:30:00Z"

#: Near misses, each with what is wrong and how to write it right.
_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[0-9]{4}-?W"), "week dates are not accepted: give the calendar date"),
    (
        re.compile(r"^[0-9]{4}-?[0-9]{3}(?:[T ]|$)"),
        "ordinal dates (day of the year) are not accepted: give the calendar date",
    ),
    (re.compile(r"^[0-9]{8}(?:[T ]|$)"), "write the date with hyphens (YYYY-MM-DD)"),
    (re.compile(r"\s(?:Z|[+-][0-9])"), "no space is allowed before the offset"),
    (re.compile(r"[T ][0-9]{2}(?:[^0-9:]|$)"), "give the time as hours and minutes (14:00)"),
    (
        re.compile(r":[0-9]{2}[.,][0-9]{7,}"),
        "at most six decimal places of a second (microseconds): round it",
    ),
    (
        re.compile(r"^[0-9]{4}-(?:[0-9]-[0-9]{1,2}|[0-9]{2}-[0-9])(?:[T ]|$)"),
        "write the month and the day with two digits each (2011-06-02)",
    ),
    (re.compile(r"^\S{10}[tz]|[0-9]z$"), "write T and Z as capitals"),
    (re.compile(r":[0-9]{2}[+-][0-9]{2}(?:[0-9]{2})?$"), "write the offset as ±HH:MM (+01:00)"),
    (re.compile(r"^\s|\s$"), "remove the spaces around it"),
)


def _refused(value: str) -> ValueError:
    for pattern, hint in _HINTS:
        if pattern.search(value):
            return ValueError(f"invalid date {shown(value)}: {hint}; {_EXPECTED}")
    return ValueError(f"invalid date {shown(value)}: {_EXPECTED}")


def parse_time(value: Any) -> datetime:
    """An ISO 8601 date or date-time (`ISO_TIME`) as an aware UTC datetime.

    A date means the start of that day (UTC); a date-time without an offset is UTC.
    Python's `datetime` and `date` are taken as they are (a naive one is UTC). Text in
    any other form (a week or ordinal date, the basic format `20110620`, hours alone,
    a space before the offset, nanoseconds, ...) raises `ValueError` naming the value
    and what would be right, as does a day or time that does not exist (2011-02-30).
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.min)
    elif isinstance(value, str):
        if not ISO_TIME.fullmatch(value):
            raise _refused(value)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:  # a day or time that does not exist, such as 2011-13-45
            raise ValueError(f"invalid date {shown(value)}: {_EXPECTED}") from None
    elif isinstance(value, int) and not isinstance(value, bool):  # YAML's 20110620
        raise _refused(str(value))
    else:
        raise ValueError(
            f"invalid date {shown(value)}: expected an ISO 8601 date or date-time,"
            " such as 2011-06-20"
        )
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"invalid date {shown(value)}: out of range in UTC") from None
