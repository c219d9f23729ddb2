"""Durations in rules: `28d`, `72h`, `2 weeks`, `12 months`, `1 year`.

Exact calendar semantics, in UTC (no daylight saving):

- hours, days and weeks are fixed lengths: 1h = 3,600 s, 1d = 24h, 1w = 7d;
- months and years are calendar steps: adding 1 month moves to the same day of
  the next month, or to its last day when that day does not exist (31 January
  + 1 month = 28 or 29 February); 1 year = 12 months.

A window "within D after t" runs from t to `D.after(t)` inclusive; "within D
before t" from `D.before(t)` to t inclusive.

A duration is at least 1 hour (the smallest unit) and at most 100 years
(`MAX_MONTHS`, `MAX_SECONDS`): longer ones would take window bounds past the year
9999 that dates can hold ("year 12008 is out of range"), and a longer number would
make Python refuse to read it (more than 4,300 digits).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["MAX_MONTHS", "MAX_SECONDS", "MAX_TEXT_LENGTH", "Duration", "DurationError"]

_UNITS = {
    "h": ("seconds", 3600), "hour": ("seconds", 3600), "hours": ("seconds", 3600),
    "d": ("seconds", 86400), "day": ("seconds", 86400), "days": ("seconds", 86400),
    "w": ("seconds", 604800), "week": ("seconds", 604800), "weeks": ("seconds", 604800),
    "month": ("months", 1), "months": ("months", 1),
    "y": ("months", 12), "year": ("months", 12), "years": ("months", 12),
}  # fmt: skip
_PATTERN = re.compile(r"^\s*([0-9]+)\s*([a-z]+)\s*$")
#: The longest duration: 100 years, as calendar months or as a fixed length (36,525 days).
MAX_MONTHS = 1200
MAX_SECONDS = 36525 * 86400
#: The longest text a duration is written in.
MAX_TEXT_LENGTH = 32


class DurationError(ValueError):
    """A duration that does not parse."""


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class Duration:
    """A length of time: whole calendar months plus a fixed number of seconds."""

    months: int = 0
    seconds: int = 0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Duration:
        """`28d`, `72h`, `2 weeks`, `12 months`, `1 year`; raises `DurationError` otherwise."""
        text = str(text)
        if len(text) > MAX_TEXT_LENGTH:
            raise DurationError(
                f"a duration is at most {MAX_TEXT_LENGTH} characters and this one has"
                f" {len(text)}: write a whole number and a unit, such as 72h or 28d"
            )
        match = _PATTERN.match(text.lower())
        if match is None or match.group(2) not in _UNITS:
            raise DurationError(
                f"{text!r} is not a duration: write a whole number and a unit,"
                " such as 72h, 28d, 2w, 12 months or 1 year"
            )
        amount = int(match.group(1))
        if amount == 0:
            raise DurationError(f"{text!r} is not a duration: it must be longer than zero")
        kind, size = _UNITS[match.group(2)]
        if amount * size > (MAX_MONTHS if kind == "months" else MAX_SECONDS):
            raise DurationError(
                f"{text!r} is too long: a duration is at most 100 years"
                f" ({MAX_MONTHS} months, {MAX_SECONDS // 86400} days)"
            )
        if kind == "months":
            return cls(months=amount * size, text=text.strip())
        return cls(seconds=amount * size, text=text.strip())

    def after(self, moment: datetime) -> datetime:
        """`moment` plus this duration."""
        if self.months:
            moment = _add_months(moment, self.months)
        return moment + timedelta(seconds=self.seconds)

    def before(self, moment: datetime) -> datetime:
        """`moment` minus this duration."""
        if self.months:
            moment = _add_months(moment, -self.months)
        return moment - timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        return self.text or f"{self.months} months {self.seconds} s"
