"""CSV chronologies: one row per event, read into the fields the contract names.

This module reads the sheet: the header (through a `ColumnMapping`), then each row's
cells as the field types of its event type want them (booleans, whole numbers,
lists, dates in ISO 8601 or UK day-first form). A problem with the file itself (no
header, an unknown or repeated column, too many rows) raises `ChronologyError`; a
problem with one row is kept with its row number, and the other rows still read.
Turning rows into validated events and cases is `triggers.reading`'s job.

Rows are numbered as a spreadsheet numbers them: the header is row 1, the first
event row 2. Where a cell holds a line break the row starts on a later line of the
file; problems give both (`file:LINE: row N, ...`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from triggers._yaml import BOOLEANS
from triggers.errors import ChronologyError, Problem, shown, suggest
from triggers.limits import MAX_COLUMNS, MAX_EVENTS_PER_FILE
from triggers.mapping import CASE_COLUMNS, COLUMNS, ColumnMapping, field_kind
from triggers.models.events import EVENT_TYPES
from triggers.models.times import ISO_TIME, parse_time

__all__ = ["LIST_SEPARATOR", "Row", "Sheet", "read_sheet", "sheet_date"]

#: What separates the items of a list cell (bail conditions, risk scales).
LIST_SEPARATOR = ";"
#: Columns every CSV chronology has.
_REQUIRED = ("case", "at", "type")
_WHOLE = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True)
class Row:
    """One event row: its number (the header is row 1), the file line it starts on,
    and its non-empty cells as contract fields (`case`, `title`, `subject` included)."""

    number: int
    line: int
    values: dict[str, Any]


@dataclass
class Sheet:
    """A CSV file read: the rows that could be read, the problems of those that could
    not (each naming its row), and each contract column's header as the file writes it."""

    file: str
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def problem(
        self,
        row: int,
        line: int,
        column: str | None,
        message: str,
        suggestion: str | None = None,
    ) -> None:
        """A problem with row `row`, in `column` (a contract name) if it is one cell's."""
        where = self.where(row, column)
        self.problems.append(Problem(self.file, where, message, line, suggestion=suggestion))

    def where(self, row: int, column: str | None = None) -> str:
        """A row, or one of its cells by the header the file gives its column."""
        where = f"row {row}"
        if column is not None:
            where += f", column {self.headers.get(column, column)!r}"
        return where


#: UK day-first: D/M/YYYY, day and month of one or two digits, then optionally a time.
_UK = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})(?: ([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?)?")
#: Forms that look like a date but cannot be read without a guess, with why.
_AMBIGUOUS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}(?:\s|$)"),
        "a two-digit year is ambiguous (which century?): write the year in full",
    ),
    (
        re.compile(r"[0-9]+([/.-])[0-9]+(?!\1)[/.-][0-9]+"),
        "the parts are separated by different characters: write DD/MM/YYYY or YYYY-MM-DD",
    ),
    (
        re.compile(r"[0-9]{1,2}[.-][0-9]{1,2}[.-][0-9]{2,4}(?:\s|$)"),
        "day-first dates are written with slashes only (DD/MM/YYYY)",
    ),
    (
        re.compile(r"[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}(?:\s|$)"),
        "a year-first date is written with hyphens (YYYY-MM-DD)",
    ),
    (
        re.compile(r"[0-9]{1,2}/[0-9]{1,4}$|[0-9]{4}-[0-9]{1,2}$|[0-9]{4}$"),
        "a date needs a day, a month and a year",
    ),
)
_FORMS = "expected DD/MM/YYYY (UK, day first), DD/MM/YYYY HH:MM, or ISO 8601 (YYYY-MM-DD)"


def sheet_date(text: str) -> str:
    """A date cell as the ISO 8601 text the contract reads; raises `ValueError` naming
    the value, why it cannot be read without a guess, and the forms accepted.

    ISO 8601 is read exactly as `triggers.models.times.parse_time` reads it; a UK
    day-first date (14/03/2011, 14/03/2011 10:30) is turned into ISO 8601 (a time is
    UTC, as an ISO 8601 time without an offset is).
    """
    if ISO_TIME.fullmatch(text):
        return text  # the event's validation reads it (and names a day that does not exist)
    uk = _UK.fullmatch(text)
    if uk is not None:
        day, month, year = (int(part) for part in uk.groups()[:3])
        hour, minute, second = (int(part or 0) for part in uk.groups()[3:])
        if month > 12 and day <= 12:
            raise ValueError(
                f"invalid date {shown(text)}: there is no month {month}; dates are read day"
                f" first (DD/MM/YYYY), and this looks month first (US): write"
                f" {month:02}/{day:02}/{year} or {year}-{day:02}-{month:02}"
            )
        try:
            moment = datetime(year, month, day, hour, minute, second)
        except ValueError:
            raise ValueError(f"invalid date {shown(text)}: no such day or time") from None
        iso = moment.date().isoformat()
        return iso if uk.group(4) is None else f"{iso}T{moment.time().isoformat()}"
    for pattern, why in _AMBIGUOUS:
        if pattern.match(text):
            raise ValueError(f"invalid date {shown(text)}: {why}; {_FORMS}")
    try:
        parse_time(text)
    except ValueError as error:
        raise ValueError(f"{error}; or a UK day-first date such as 20/06/2011") from None
    return text


def _cell(kind: str, text: str) -> Any:
    """A cell's text as the value a field of `kind` takes; raises `ValueError`."""
    if kind == "boolean":
        if text not in BOOLEANS:
            raise ValueError(
                f"expected true or false, got {shown(text)} (a mapping file's 'values' can"
                " turn other words into true and false)"
            )
        return BOOLEANS[text]
    if kind == "integer":
        if not _WHOLE.fullmatch(text):
            raise ValueError(f"expected a whole number, got {shown(text)}")
        return int(text)
    if kind == "number":
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"expected a number such as 12 or 1.5, got {shown(text)}")
        return float(text)
    if kind == "list":
        items = [item.strip() for item in text.split(LIST_SEPARATOR)]
        if not all(items):
            raise ValueError(
                f"an empty item in the list {shown(text)}: items are separated by"
                f" {LIST_SEPARATOR!r}"
            )
        return items
    if kind == "date":
        return sheet_date(text)
    return text


def _columns(header: list[str], file: str, mapping: ColumnMapping) -> list[str | None]:
    """Each header cell's contract column (None: left out); raises `ChronologyError`."""
    if len(header) > MAX_COLUMNS:
        raise ChronologyError(
            [
                Problem(
                    file,
                    "row 1",
                    f"{len(header):,} columns: a CSV chronology may have at most {MAX_COLUMNS:,}",
                    1,
                )
            ]
        )
    problems: list[Problem] = []
    columns: list[str | None] = []
    seen: dict[str, str] = {}
    for index, name in enumerate(header, start=1):
        column = mapping.column(name) if name else None
        if column is not None and column not in COLUMNS:
            choices = (*COLUMNS, *mapping.columns)
            hint = "" if mapping.file else " (or map it to one with --mapping)"
            problems.append(
                Problem(
                    file,
                    f"row 1, column {index}",
                    f"unknown column {shown(name)}: expected a column of a chronology{hint}",
                    1,
                    suggestion=suggest(name, choices),
                )
            )
            column = None
        elif column is not None and column in seen:
            problems.append(
                Problem(
                    file,
                    f"row 1, column {index}",
                    f"{shown(name)} is the column {column!r} again (first as {seen[column]!r})",
                    1,
                )
            )
            column = None
        if column is not None:
            seen[column] = name
        columns.append(column)
    missing = [name for name in _REQUIRED if name not in seen]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        problems.append(
            Problem(file, "row 1", f"missing the column(s) {names}: every event row needs them", 1)
        )
    if problems:
        raise ChronologyError(problems)
    return columns


def read_sheet(text: str, file: str, mapping: ColumnMapping | None = None) -> Sheet:
    """The rows of a CSV chronology; raises `ChronologyError` for a problem with the file
    as a whole (each row's own problems are kept in the `Sheet`)."""
    mapping = mapping or ColumnMapping()
    lines = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        first = next(lines, None)
        if first is None:
            raise ChronologyError(
                [Problem(file, "", "empty: a CSV chronology starts with a header row")]
            )
        header = [cell.strip() for cell in first]
        columns = _columns(header, file, mapping)
        sheet = Sheet(file, headers={c: h for c, h in zip(columns, header, strict=True) if c})
        layout = _Layout(header, columns, mapping)
        line = lines.line_num + 1
        for number, cells in enumerate(lines, start=2):
            if number - 1 > MAX_EVENTS_PER_FILE:
                raise ChronologyError(
                    [
                        Problem(
                            file,
                            f"row {number}",
                            f"more than {MAX_EVENTS_PER_FILE:,} events: a file may hold at"
                            f" most {MAX_EVENTS_PER_FILE:,}; split it",
                            line,
                        )
                    ]
                )
            _row(sheet, layout, cells, number, line)
            line = lines.line_num + 1
    except csv.Error as error:
        raise ChronologyError(
            [Problem(file, "", f"not readable as CSV: {error}", lines.line_num)]
        ) from None
    return sheet


@dataclass(frozen=True)
class _Layout:
    """The header as written, each of its columns' contract name, and the mapping."""

    header: list[str]
    columns: list[str | None]
    mapping: ColumnMapping


def _row(sheet: Sheet, layout: _Layout, cells: list[str], number: int, line: int) -> None:
    """Read one row into `sheet`: a `Row`, or its problems."""
    header, columns, mapping = layout.header, layout.columns, layout.mapping
    cells = [cell.strip() for cell in cells]
    if not any(cells):
        return  # a blank row, as spreadsheets leave at the end
    found = len(sheet.problems)
    values: dict[str, str] = {}
    stray: list[int] = []  # cells with a value but no header
    for index, cell in enumerate(cells):
        column = columns[index] if index < len(columns) else None
        if column is not None and cell:
            values[column] = mapping.value(column, cell)
        elif cell and (index >= len(columns) or not header[index]):
            stray.append(index)
    if stray:  # one problem a row, however many cells
        more = f" (and {len(stray) - 1:,} more cells)" if len(stray) > 1 else ""
        message = f"cell {stray[0] + 1} holds {shown(cells[stray[0]])} but has no header{more}"
        sheet.problem(number, line, None, message)
    event_type = values.get("type")
    for name in _REQUIRED:
        if name not in values:
            sheet.problem(number, line, None, f"the {name!r} cell is empty")
    if event_type is not None and event_type not in EVENT_TYPES:
        message = f"unknown event type {shown(event_type)}"
        sheet.problem(number, line, "type", message, suggest(event_type, EVENT_TYPES))
        event_type = None
    row: dict[str, Any] = {}
    for column, text in values.items():
        if column in ("case", "type", *CASE_COLUMNS) or event_type is None:
            row[column] = text
            continue
        kind = field_kind(event_type, column)
        if kind is None:
            sheet.problem(
                number, line, column, f"event type {event_type!r} has no field {column!r}"
            )
            continue
        try:
            row[column] = _cell(kind, text)
        except ValueError as error:
            sheet.problem(number, line, column, str(error))
    if len(sheet.problems) == found:
        sheet.rows.append(Row(number, line, row))
