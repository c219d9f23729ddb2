"""Column mappings: a spreadsheet's own headers and values, named in the contract's terms.

A CSV chronology's headers are, by default, the contract's names (`case`, `at`,
`type`, the event fields). A mapping file (YAML, docs/format.md "Column mappings")
renames other headers to those names, leaves columns out, and turns a column's own
values ("Pregnancy") into the contract's (`new_pregnancy`). Every problem in a
mapping file is reported at once, at its line and column, with the valid choices.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from triggers._yaml import KeyPath, Located, ProblemCollector, read_yaml_file
from triggers.errors import ChronologyError, shown, suggest
from triggers.limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH, check_text
from triggers.models.events import EVENT_MODELS, EVENT_TYPES, BaseEvent

__all__ = [
    "CASE_COLUMNS",
    "COLUMNS",
    "ColumnMapping",
    "FieldKind",
    "field_kind",
    "load_mapping",
    "mapping_schema",
]

FieldKind = Literal["text", "boolean", "integer", "number", "list", "date"]

#: Columns about the case rather than one event: the same on each of its rows.
CASE_COLUMNS = ("title", "subject")
#: Every column a CSV chronology may have, as the contract names it: the case, the
#: fields every event has, the case's title and subject, then each event field.
COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            "case",
            "type",
            *(name for name in BaseEvent.model_fields),
            *CASE_COLUMNS,
            *(
                info.alias or name
                for model in EVENT_MODELS.values()
                for name, info in model.model_fields.items()
            ),
        ]
    )
)


def _bare(annotation: Any) -> Any:
    """The type inside `Optional[...]` and `Annotated[...]`."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            inner = [a for a in get_args(annotation) if a is not type(None)]
            annotation = inner[0] if len(inner) == 1 else annotation
            if len(inner) != 1:
                return annotation
        else:
            return annotation


def _kind_and_values(annotation: Any) -> tuple[FieldKind, tuple[str, ...]]:
    """How a field's cell is read, and the values it may hold (empty: any)."""
    bare = _bare(annotation)
    if get_origin(bare) is tuple:
        return "list", _kind_and_values(get_args(bare)[0])[1]
    if bare is bool:
        return "boolean", ("true", "false")
    if bare is datetime:
        return "date", ()
    if bare is float:
        return "number", ()
    if bare is int:
        return "integer", ()
    if get_origin(bare) is Literal:
        values = get_args(bare)
        kind: FieldKind = "integer" if all(isinstance(v, int) for v in values) else "text"
        return kind, tuple(str(v) for v in values)
    return "text", ()


def field_kind(event_type: str, column: str) -> FieldKind | None:
    """How `column`'s cells are read for an event of `event_type`; None if that type has
    no such field."""
    return _KINDS.get((event_type, column))


def _field_table() -> tuple[dict[tuple[str, str], FieldKind], dict[str, tuple[str, ...]]]:
    kinds: dict[tuple[str, str], FieldKind] = {}
    values: dict[str, set[str] | None] = {"type": set(EVENT_TYPES)}
    for event_type, model in EVENT_MODELS.items():
        for name, info in model.model_fields.items():
            if name == "type":
                continue
            column = info.alias or name
            kind, allowed = _kind_and_values(info.annotation)
            kinds[event_type, column] = kind
            known = values.setdefault(column, set())
            if known is not None:
                values[column] = known | set(allowed) if allowed else None
    return kinds, {name: tuple(sorted(v)) for name, v in values.items() if v}


_KINDS, _VALUES = _field_table()


@dataclass(frozen=True)
class ColumnMapping:
    """A spreadsheet's headers and values in the contract's terms (`load_mapping`).

    `columns` maps a header to a contract column, `ignore` lists headers left out, and
    `values` maps, per contract column, a cell's text to the contract's value (as
    text: `true`, `2`, `new_pregnancy`). `file` names the mapping file in messages.
    """

    file: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def column(self, header: str) -> str | None:
        """The contract column `header` stands for; None if it is left out."""
        if header in self.ignore:
            return None
        return self.columns.get(header, header)

    def value(self, column: str, cell: str) -> str:
        """A cell's text, as the contract writes it."""
        return self.values.get(column, {}).get(cell, cell)


#: The keys a mapping file may have.
_SECTIONS = ("columns", "ignore", "values")


class _MappingReader(ProblemCollector):
    def text(self, value: Any, path: KeyPath, what: str) -> str | None:
        """`value` as a header or cell text; None, with a problem, if it is not one."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.add(path, f"{what} must be text, got {shown(value)}")
            return None
        text = str(value)
        try:
            check_text(text, MAX_TEXT_LENGTH)
        except ValueError as error:
            self.add(path, f"{what} {error}")
            return None
        return text

    def mapping(self, raw: Any, path: KeyPath, what: str) -> dict[Any, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.add(path, f"{what} must be a mapping, got {shown(raw)}")
            return {}
        return raw

    def columns(self, raw: Any) -> dict[str, str]:
        result: dict[str, str] = {}
        used: dict[str, str] = {}
        for header, target in self.mapping(raw, ("columns",), "'columns'").items():
            path: KeyPath = ("columns", header)
            name = self.text(header, path, "a header")
            if name is None:
                continue
            if target is None:
                self.add(path, "no column given: list a column to leave out under 'ignore'")
                continue
            if not isinstance(target, str) or target not in COLUMNS:
                self.add(
                    path,
                    f"{shown(target)} is not a column of a chronology: expected one of "
                    + ", ".join(COLUMNS),
                    suggestion=suggest(str(target), COLUMNS),
                )
                continue
            if target in used:
                self.add(path, f"{target!r} is already the column {used[target]!r}")
                continue
            used[target] = name
            result[name.strip()] = target
        return result

    def ignore(self, raw: Any) -> frozenset[str]:
        if raw is None:
            return frozenset()
        if not isinstance(raw, list):
            self.add(("ignore",), f"'ignore' must be a list of headers, got {shown(raw)}")
            return frozenset()
        names = (self.text(item, ("ignore", i), "a header") for i, item in enumerate(raw))
        return frozenset(name.strip() for name in names if name is not None)

    def values(self, raw: Any) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for column, pairs in self.mapping(raw, ("values",), "'values'").items():
            if column not in COLUMNS:
                self.add(
                    ("values", column),
                    f"{shown(column)} is not a column of a chronology: 'values' is keyed by"
                    " the contract's column names",
                    key=True,
                    suggestion=suggest(str(column), COLUMNS),
                )
                continue
            path: KeyPath = ("values", column)
            given = self.mapping(pairs, path, f"the values of {column!r}")
            result[column] = {}
            for cell, target in given.items():
                name = self.text(cell, (*path, cell), "a value")
                value = self.target(column, target, (*path, cell))
                if name is not None and value is not None:
                    result[column][name.strip()] = value
        return result

    def target(self, column: str, target: Any, path: KeyPath) -> str | None:
        """A contract value as a cell would write it; None, with a problem, if not one."""
        if isinstance(target, bool):
            text = "true" if target else "false"
        elif isinstance(target, str | int):
            text = str(target)
        else:
            self.add(path, f"{shown(target)} is not a value: write text, a number, true or false")
            return None
        allowed = _VALUES.get(column)
        if allowed and text not in allowed:
            self.add(
                path,
                f"{shown(target)} is not a value of {column!r}: expected one of "
                + ", ".join(allowed),
                suggestion=suggest(text, allowed),
            )
            return None
        limit = MAX_ID_LENGTH if column in ("case", "id", "source", "subject") else MAX_TEXT_LENGTH
        try:
            check_text(text, limit)
        except ValueError as error:
            self.add(path, str(error))
            return None
        return text


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read a mapping file; raises `ChronologyError` with every problem, each at its line."""
    file = str(path)
    _, located, problems = read_yaml_file(path, "mapping file")
    if problems:
        raise ChronologyError(problems)
    return _from_data(located.data, file, located)


def _from_data(raw: Any, file: str, located: Located | None = None) -> ColumnMapping:
    """A mapping from data shaped as a mapping file; raises `ChronologyError`."""
    reader = _MappingReader(file, located)
    if not isinstance(raw, dict):
        reader.add((), f"a mapping file must be a mapping with {', '.join(_SECTIONS)}")
        reader.raise_if_any(ChronologyError)
    for key in raw:
        if key not in _SECTIONS:
            reader.add(
                (key,),
                f"unknown key {shown(key)}: expected {', '.join(_SECTIONS)}",
                key=True,
                suggestion=suggest(str(key), _SECTIONS),
            )
    mapping = ColumnMapping(
        file,
        reader.columns(raw.get("columns")),
        reader.ignore(raw.get("ignore")),
        reader.values(raw.get("values")),
    )
    for header in mapping.ignore & set(mapping.columns):
        reader.add(("ignore",), f"{header!r} is both mapped in 'columns' and ignored")
    reader.raise_if_any(ChronologyError)
    return mapping


def _schema_value(text: str) -> str | int | bool:
    """A contract value as YAML writes it in a mapping file."""
    if text in ("true", "false"):
        return text == "true"
    return int(text) if text.isdigit() else text


def mapping_schema() -> dict[str, Any]:
    """A JSON Schema of a mapping file, for editors (docs/spreadsheet/mapping.schema.json)."""
    any_value = {"type": ["string", "integer", "boolean"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "risk-triggers column mapping",
        "description": "How a CSV chronology's own headers and values name the contract's"
        " (docs/format.md, section 1.2).",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "columns": {
                "description": "A header as the file writes it: the contract column it is.",
                "type": "object",
                "additionalProperties": {"enum": list(COLUMNS)},
            },
            "ignore": {
                "description": "Headers of columns left out.",
                "type": "array",
                "items": {"type": "string"},
            },
            "values": {
                "description": "Per contract column: a cell's text: the contract's value.",
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    column: {
                        "type": "object",
                        "additionalProperties": (
                            {"enum": [_schema_value(v) for v in _VALUES[column]]}
                            if column in _VALUES
                            else any_value
                        ),
                    }
                    for column in COLUMNS
                },
            },
        },
    }
