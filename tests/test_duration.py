"""Durations: parsing and exact calendar arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from triggers.rules.duration import Duration, DurationError


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "months", "seconds"),
    [
        ("72h", 0, 259200),
        ("28d", 0, 2419200),
        ("2w", 0, 1209600),
        ("365 days", 0, 31536000),
        ("12 months", 12, 0),
        ("1 month", 1, 0),
        ("1 year", 12, 0),
        ("3Y", 36, 0),
    ],
)
def test_parse(text: str, months: int, seconds: int) -> None:
    duration = Duration.parse(text)
    assert (duration.months, duration.seconds) == (months, seconds)
    assert str(duration) == text


@pytest.mark.parametrize("text", ["", "28", "d28", "28 fortnights", "-3d", "1.5d", "0d"])
def test_bad_durations_say_how_to_write_one(text: str) -> None:
    with pytest.raises(DurationError, match=rf"{text!r} is not a duration"):
        Duration.parse(text)


@pytest.mark.parametrize(
    ("start", "duration", "after", "before"),
    [
        ("2011-01-31T00:00", "1 month", "2011-02-28T00:00", "2010-12-31T00:00"),
        ("2012-01-31T00:00", "1 month", "2012-02-29T00:00", "2011-12-31T00:00"),
        ("2012-02-29T10:00", "1 year", "2013-02-28T10:00", "2011-02-28T10:00"),
        ("2011-03-31T00:00", "28d", "2011-04-28T00:00", "2011-03-03T00:00"),
        ("2011-03-27T00:30", "72h", "2011-03-30T00:30", "2011-03-24T00:30"),
        ("2011-12-15T00:00", "12 months", "2012-12-15T00:00", "2010-12-15T00:00"),
    ],
)
def test_calendar_arithmetic(start: str, duration: str, after: str, before: str) -> None:
    parsed = Duration.parse(duration)
    assert parsed.after(at(start)) == at(after)
    assert parsed.before(at(start)) == at(before)
