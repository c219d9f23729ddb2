"""Reading chronology files: YAML, JSON, JSONL and CSV, told apart by their suffix.

Reading reports every problem in a file at once, each with the file, the
event's key path and, where the format has them, the line and column. The
chronology itself (`triggers.models.chronology`) knows nothing of files. A CSV
file's bad rows are each reported by row number; `load_cases` and `parse_cases`
keep its good rows, where `load_chronologies` and `parse_chronology` fail the file.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from triggers._json import JsonLocated, load_json
from triggers._yaml import (
    KeyPath,
    Located,
    ProblemCollector,
    format_key_path,
    load_yaml,
    read_text,
    too_big,
)
from triggers.errors import ChronologyError, Problem, shown, suggest
from triggers.limits import (
    MAX_DEPTH,
    MAX_EVENTS_PER_CASE,
    MAX_EVENTS_PER_FILE,
    MAX_FILE_BYTES,
    MAX_ID_LENGTH,
    MAX_OUTCOMES_PER_CASE,
    MAX_TEXT_LENGTH,
    check_text,
)
from triggers.mapping import ColumnMapping
from triggers.models.chronology import Chronology, Outcome, with_event_ids
from triggers.models.events import EVENT_MODELS, EVENT_TYPES, Event, event_adapter
from triggers.spreadsheet import Row, Sheet, read_sheet

__all__ = [
    "CHRONOLOGY_SUFFIXES",
    "LoadedCases",
    "chronology_files",
    "chronology_from_data",
    "load_cases",
    "load_chronologies",
    "parse_cases",
    "parse_chronology",
    "read_chronology",
]

CHRONOLOGY_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl", ".csv")


class LoadedCases(NamedTuple):
    """The cases read from a file, and the error for the rows of a CSV file that were
    left out (None when every row was read)."""

    chronologies: list[Chronology]
    skipped: ChronologyError | None = None

    def strictly(self) -> list[Chronology]:
        """The cases, or `skipped` raised if any row was left out."""
        if self.skipped is not None:
            raise self.skipped
        return self.chronologies


class _Reader(ProblemCollector):
    """Collects problems while turning raw data into validated models."""

    def event(self, raw: Any, path: KeyPath, line: int | None = None) -> Event | None:
        if not isinstance(raw, Mapping):
            self.add(path, f"an event must be a mapping of fields, got {_kind(raw)}", line=line)
            return None
        try:
            return event_adapter.validate_python(raw)
        except ValidationError as error:
            for detail in error.errors():
                self._event_problem(raw, path, detail, line)
            return None

    def _event_problem(
        self, raw: Mapping[str, Any], path: KeyPath, detail: ErrorDetails, line: int | None
    ) -> None:
        kind = detail["type"]
        if kind == "union_tag_not_found":
            self.add(path, "missing required field 'type' (the event type)", line=line)
            return
        if kind == "union_tag_invalid":
            given = raw.get("type")
            self.add(
                (*path, "type"),
                f"unknown event type {shown(given)}",
                suggestion=suggest(str(given), EVENT_TYPES),
                line=line,
            )
            return
        event_type = str(raw.get("type"))
        fields = tuple(str(part) for part in detail["loc"][1:])
        field_path = (*path, *fields)
        name = ".".join(fields)
        if kind == "missing":
            self.add(
                path, f"missing required field {name!r} for event type {event_type!r}", line=line
            )
        elif kind == "extra_forbidden":
            allowed = [  # as files write them: `from`, not Python's `from_`
                field.alias or name for name, field in EVENT_MODELS[event_type].model_fields.items()
            ]
            self.add(
                field_path,
                f"unknown field {shown(name)} for event type {event_type!r}",
                key=True,
                suggestion=suggest(name, allowed),
                line=line,
            )
        elif kind == "literal_error":
            expected = detail.get("ctx", {}).get("expected", "")
            self.add(
                field_path,
                f"{shown(detail['input'])} is not allowed for {name!r}: expected {expected}",
                line=line,
            )
        elif kind == "value_error":
            self.add(field_path, str(detail.get("ctx", {}).get("error", detail["msg"])), line=line)
        else:
            self.add(field_path, detail["msg"].lower(), line=line)

    def header(self, raw: Any) -> dict[str, Any] | None:
        if not isinstance(raw, Mapping):
            self.add(
                (), f"a chronology must be a mapping with 'case' and 'events', got {_kind(raw)}"
            )
            return None
        known = set(Chronology.model_fields)
        for key in raw:
            if key not in known:
                self.add(
                    (key,),
                    f"unknown top-level key {shown(key)}",
                    key=True,
                    suggestion=suggest(str(key), known),
                )
        case = raw.get("case")
        if "case" not in raw:
            self.add((), "missing required key 'case' (the case id)")
        elif not isinstance(case, str) or not case:
            self.add(
                ("case",),
                "'case' must be text; quote an id that looks like a number, such as case: \"010\"",
            )
        else:
            self.text(case, ("case",), MAX_ID_LENGTH)
        for key, limit in (("title", MAX_TEXT_LENGTH), ("subject", MAX_ID_LENGTH)):
            if key in raw and raw[key] is not None:
                if key == "subject" and raw[key] == "":
                    self.add((key,), "'subject' is empty: leave it out if it is not known")
                elif isinstance(raw[key], str):
                    self.text(raw[key], (key,), limit)
                else:
                    self.add((key,), f"{key!r} must be a string")
        if "events" not in raw:
            self.add((), "missing required key 'events' (a list, which may be empty)")
        elif not isinstance(raw["events"], list):
            self.add(("events",), f"'events' must be a list, got {_kind(raw['events'])}")
        # Too many to validate: said before any is read.
        too_many = [
            (key, len(raw[key]), limit)
            for key, limit in (("events", MAX_EVENTS_PER_CASE), ("outcomes", MAX_OUTCOMES_PER_CASE))
            if isinstance(raw.get(key), list) and len(raw[key]) > limit
        ]
        for key, count, limit in too_many:
            self.add(
                (key,),
                f"{count:,} {key}: a case may hold at most {limit:,}; split the file",
            )
        return None if too_many else dict(raw)

    def text(self, value: str, path: KeyPath, limit: int, line: int | None = None) -> bool:
        """Whether `value` is short enough and holds only allowed characters; if not,
        a problem at `path`."""
        try:
            check_text(value, limit)
        except ValueError as error:
            self.add(path, str(error), line=line)
            return False
        return True

    def outcomes(self, raw: Any) -> list[Any]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.add(("outcomes",), f"'outcomes' must be a list, got {_kind(raw)}")
            return []
        result = []
        for index, item in enumerate(raw):
            try:
                result.append(Outcome.model_validate(item))
            except ValidationError as error:
                for detail in error.errors():
                    loc = ("outcomes", index, *detail["loc"])
                    message = str(detail.get("ctx", {}).get("error", detail["msg"]))
                    self.add(loc, message, key=detail["type"] == "extra_forbidden")
        return result

    def duplicate_ids(
        self, events: Sequence[tuple[KeyPath, Event]], line_of: Mapping[KeyPath, int]
    ) -> tuple[Event, ...]:
        """Report two different events with one id, given or derived; returns the events
        with their ids (derived once, here)."""
        first: dict[str, tuple[KeyPath, Event]] = {}
        identified = with_event_ids([event for _, event in events])
        for (path, _), event in zip(events, identified, strict=True):
            assert event.id is not None  # assigned by with_event_ids
            if event.id in first and first[event.id][1] != event:
                other = format_key_path((*self.at, *first[event.id][0]))
                self.add(
                    (*path, "id"),
                    f"event id {event.id!r} is already used by {other}",
                    line=line_of.get(path),
                )
            first.setdefault(event.id, (path, event))
        return identified


def _json_limit(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply to read"
    return str(error)


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep: a chronology needs only a few"


def _too_deep(data: Any) -> KeyPath | None:
    """The key path of a value nested deeper than `MAX_DEPTH`, if there is one."""
    if not _deeper_than_allowed(data):
        return None
    path: KeyPath = ()
    value = data
    while len(path) <= MAX_DEPTH:  # down the first branch that is too deep
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            if _is_container(item) and _deeper_than_allowed(item, len(path) + 1):
                path, value = (*path, str(key) if isinstance(value, Mapping) else key), item
                break
    return path


#: Types that hold nothing: most values, passed over without asking whether they do.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _is_container(value: Any) -> bool:
    return isinstance(value, Mapping | list | tuple)


def _deeper_than_allowed(data: Any, depth: int = 0) -> bool:
    """Whether a container in `data`, itself at `depth`, is deeper than `MAX_DEPTH`."""
    seen: set[int] = set()  # Python data may share (or even contain) its own parts
    stack = [(data, depth)] if _is_container(data) else []
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if id(value) in seen:
            continue
        seen.add(id(value))
        children = value.values() if isinstance(value, Mapping) else value
        stack.extend(
            (child, depth + 1)
            for child in children
            if type(child) not in _SCALARS and _is_container(child)
        )
    return False


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _document(file: str, raw: Any, located: Located | None, at: KeyPath = ()) -> Chronology:
    """One case from a YAML or JSON document; raises `ChronologyError` with every problem."""
    reader = _Reader(file, located, at)
    if not isinstance(located, Located) or isinstance(located, JsonLocated):
        deep = _too_deep(raw)  # YAML's reader has checked its own
        if deep is not None:
            reader.add(deep[:3], _TOO_DEEP)
            raise ChronologyError(reader.problems)
    header = reader.header(raw)
    if header is None:  # the reader has said why
        raise ChronologyError(reader.problems)
    outcomes = reader.outcomes(header.get("outcomes"))
    events: list[tuple[KeyPath, Event]] = []
    raw_events = header.get("events")
    for index, item in enumerate(raw_events if isinstance(raw_events, list) else []):
        event = reader.event(item, ("events", index))
        if event is not None:
            events.append((("events", index), event))
    identified = reader.duplicate_ids(events, {})
    reader.raise_if_any(ChronologyError)
    try:
        return Chronology(
            case=str(header["case"]),
            title=header.get("title"),
            subject=header.get("subject"),
            outcomes=tuple(outcomes),
            events=identified,
        )
    except ValidationError as error:  # what the checks above missed is still placed
        for detail in error.errors():
            reader.add(tuple(str(part) for part in detail["loc"]), detail["msg"])
        reader.raise_if_any(ChronologyError)
        raise


def _jsonl(file: str, text: str) -> list[Chronology]:
    """Cases from JSONL, one event a line; raises `ChronologyError` with every problem."""
    reader = _Reader(file, None)
    cases: dict[str, list[tuple[KeyPath, Event]]] = {}
    counts: dict[str, int] = {}
    lines: dict[KeyPath, int] = {}
    index = -1
    # Lines end at "\n" only: JSON text may hold U+2028 and others that splitlines() splits at.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        index += 1
        path: KeyPath = ("events", index)
        if index == MAX_EVENTS_PER_FILE:
            reader.add(
                path,
                f"more than {MAX_EVENTS_PER_FILE:,} events: a file may hold at most"
                f" {MAX_EVENTS_PER_FILE:,}; split it",
                line=number,
            )
            break
        record = _record(reader, line, path, number)
        if record is None:
            continue
        case = record.pop("case", None)
        if not isinstance(case, str) or not case:
            reader.add(
                path, "missing required field 'case' (each JSONL event names its case)", line=number
            )
            case = None
        elif not reader.text(case, (*path, "case"), MAX_ID_LENGTH, line=number):
            case = None
        elif counts.get(case, 0) == MAX_EVENTS_PER_CASE:
            reader.add(
                path,
                f"more than {MAX_EVENTS_PER_CASE:,} events for case {case!r}: a case may hold"
                f" at most {MAX_EVENTS_PER_CASE:,}",
                line=number,
            )
        if case is not None:
            counts[case] = counts.get(case, 0) + 1
            if counts[case] > MAX_EVENTS_PER_CASE:
                continue
        event = reader.event(record, path, line=number)
        if event is not None and case is not None:
            cases.setdefault(case, []).append((path, event))
            lines[path] = number
    identified = {case: reader.duplicate_ids(events, lines) for case, events in cases.items()}
    reader.raise_if_any(ChronologyError)
    return [Chronology(case=case, events=events) for case, events in identified.items()]


def _record(reader: _Reader, line: str, path: KeyPath, number: int) -> dict[str, Any] | None:
    """One JSONL line's object; None, with a problem at its line, if it is not one."""
    try:
        record, repeated = load_json(line)
    except json.JSONDecodeError as error:
        reader.add(path, f"invalid JSON: {error.msg}", line=number, column=error.colno)
        return None
    except (ValueError, RecursionError) as error:
        reader.add(path, f"invalid JSON: {_json_limit(error)}", line=number)
        return None
    if repeated is not None:
        for key_path, at, message in repeated.duplicate_keys():
            reader.add((*path, *key_path), message, line=number, column=at.column)
        return None
    if not isinstance(record, dict):
        reader.add(path, f"each line must be a JSON object, got {_kind(record)}", line=number)
        return None
    deep = _too_deep(record)
    if deep is not None:
        reader.add((*path, *deep[:1]), _TOO_DEEP, line=number)
        return None
    return record


def parse_chronology(
    text: str, file: str, suffix: str | None = None, mapping: ColumnMapping | None = None
) -> list[Chronology]:
    """Chronologies from the text of a file; `suffix` (default: the file's) picks the format.

    A YAML or JSON file holds one case; a JSONL file one event a line, each with its
    `case`; a CSV file one event a row, each with its `case`, its headers read through
    `mapping` if given. Raises `ChronologyError` with every problem found.
    """
    return parse_cases(text, file, suffix, mapping).strictly()


def parse_cases(
    text: str, file: str, suffix: str | None = None, mapping: ColumnMapping | None = None
) -> LoadedCases:
    """As `parse_chronology`, but a CSV file's bad rows are left out, not the whole file:
    they are reported in `skipped`. Any other problem raises `ChronologyError`."""
    kind = (suffix or Path(file).suffix).lower()
    if len(text) > MAX_FILE_BYTES:  # characters: at least as many bytes
        raise ChronologyError([Problem(file, "", too_big(len(text), "characters"))])
    if kind == ".csv":
        return _csv(file, read_sheet(text, file, mapping))
    if kind == ".jsonl":
        return LoadedCases(_jsonl(file, text))
    if kind == ".json":
        try:
            raw, repeated = load_json(text)
        except (ValueError, RecursionError) as error:
            if not isinstance(error, json.JSONDecodeError):
                raise ChronologyError(
                    [Problem(file, "", f"invalid JSON: {_json_limit(error)}")]
                ) from None
            raise ChronologyError(
                [Problem(file, "", f"invalid JSON: {error.msg}", error.lineno, error.colno)]
            ) from None
        if repeated is not None:
            raise ChronologyError(
                [
                    Problem(file, format_key_path(path), message, at.line, at.column)
                    for path, at, message in repeated.duplicate_keys()
                ]
            )
        return LoadedCases([_document(file, raw, JsonLocated(raw, text=text))])
    if kind in (".yaml", ".yml"):
        located, problems = load_yaml(text, file)
        if problems:
            raise ChronologyError(problems)
        return LoadedCases([_document(file, located.data, located)])
    raise ChronologyError(
        [
            Problem(
                file,
                "",
                f"unsupported file type {kind or '(none)'!r}: expected one of "
                + ", ".join(CHRONOLOGY_SUFFIXES),
            )
        ]
    )


def read_chronology(raw: Any, file: str, located: Located, at: KeyPath = ()) -> Chronology:
    """A chronology from YAML already loaded, such as one written inside a larger file.

    `raw` is the data at key path `at` of `located`; problems are reported with their
    full key path, line and column. Raises `ChronologyError` with every problem found.
    """
    return _document(file, raw, located, at)


def chronology_files(paths: Iterable[str]) -> list[str]:
    """The chronology files that `paths` name: a file as given, a directory's chronology
    files (found below it, sorted), a glob's matches (sorted); in the order given.

    Raises `ChronologyError` for a directory or a glob that holds no chronology file.
    """
    found: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        if Path(path).is_dir():
            inside = sorted(
                str(p)
                for p in Path(path).rglob("*")
                if p.suffix.lower() in CHRONOLOGY_SUFFIXES and p.is_file()
            )
            if not inside:
                problems.append(Problem(path, "", "no chronology files in this directory"))
            found.extend(inside)
        elif not Path(path).exists() and glob.has_magic(path):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                problems.append(Problem(path, "", "no file matches this pattern"))
            found.extend(matches)
        else:
            found.append(path)
    if problems:
        raise ChronologyError(problems)
    return found


def chronology_from_data(data: Any, source: str = "<data>") -> Chronology:
    """A chronology from Python data, such as records a case-management system holds.

    `data` has the shape of a chronology file (`case`, `events`, ...). Raises
    `ChronologyError` with every problem found, each at its key path (such as
    `events[0].at`) under the name `source`, never pydantic's `ValidationError`.
    """
    return _document(source, data, None)


def load_chronologies(path: str | Path, mapping: ColumnMapping | None = None) -> list[Chronology]:
    """Read a chronology file (YAML, JSON, JSONL or CSV, its headers read through
    `mapping`); raises `ChronologyError` on any problem."""
    return load_cases(path, mapping).strictly()


def load_cases(path: str | Path, mapping: ColumnMapping | None = None) -> LoadedCases:
    """As `load_chronologies`, but a CSV file's bad rows are left out, not the whole file:
    they are reported in `skipped`. Any other problem raises `ChronologyError`."""
    text = read_text(path, "chronology file")
    if isinstance(text, Problem):
        raise ChronologyError([text])
    return parse_cases(text, str(path), mapping=mapping)


class _RowReader(_Reader):
    """Places problems by CSV row: a key path is (row number, field)."""

    def __init__(self, sheet: Sheet) -> None:
        super().__init__(sheet.file)
        self.sheet = sheet

    def where(self, path: KeyPath) -> str:
        return self.sheet.where(int(path[0]), str(path[1]) if len(path) > 1 else None)


def _csv(file: str, sheet: Sheet) -> LoadedCases:
    """The cases of a CSV file's rows; a row that is not a valid event is left out."""
    reader = _RowReader(sheet)
    cases: dict[str, list[tuple[Row, Event]]] = {}
    about: dict[str, dict[str, tuple[str, int]]] = {}  # a case's title and subject, first row
    for row in sheet.rows:
        values = dict(row.values)
        case, found = values.pop("case"), len(reader.problems)
        given = {key: values.pop(key) for key in ("title", "subject") if key in values}
        event = reader.event(values, (row.number,), line=row.line)
        reader.text(case, (row.number, "case"), MAX_ID_LENGTH, line=row.line)
        for key, value in given.items():
            limit = MAX_TEXT_LENGTH if key == "title" else MAX_ID_LENGTH
            first = about.setdefault(case, {}).get(key)
            if first is not None and first[0] != value:
                message = f"case {case!r} has the {key} {first[0]!r} (row {first[1]})"
                reader.add((row.number, key), message, line=row.line)
            reader.text(value, (row.number, key), limit, line=row.line)
        if event is None or len(reader.problems) > found:
            continue
        for key, value in given.items():
            about[case].setdefault(key, (value, row.number))
        cases.setdefault(case, []).append((row, event))
    chronologies = []
    for case, rows in cases.items():
        if len(rows) > MAX_EVENTS_PER_CASE:
            raise ChronologyError(
                [
                    Problem(
                        file,
                        f"row {rows[MAX_EVENTS_PER_CASE][0].number}",
                        f"more than {MAX_EVENTS_PER_CASE:,} events for case {case!r}: a case"
                        f" may hold at most {MAX_EVENTS_PER_CASE:,}",
                        rows[MAX_EVENTS_PER_CASE][0].line,
                    )
                ]
            )
        by_id: dict[str, tuple[int, Event]] = {}
        events = []
        for (row, _), event in zip(rows, with_event_ids(e for _, e in rows), strict=True):
            assert event.id is not None  # assigned by with_event_ids
            number, other = by_id.setdefault(event.id, (row.number, event))
            if other != event:
                message = f"event id {event.id!r} is already used by row {number}"
                reader.add((row.number, "id"), message, line=row.line)
            else:
                events.append(event)
        chronologies.append(Chronology(case=case, **_about(about.get(case, {})), events=events))
    problems = sorted([*sheet.problems, *reader.problems], key=lambda p: p.line or 0)
    return LoadedCases(chronologies, ChronologyError(problems) if problems else None)


def _about(given: Mapping[str, tuple[str, int]]) -> dict[str, str]:
    return {key: value for key, (value, _) in given.items()}
