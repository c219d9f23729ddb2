"""What rules may name: each event type's fields and the case-state values, with their kinds.

Derived from the event models and the case-state table, so that the rule
checker and the event catalogue cannot drift apart.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from triggers.models.events import EVENT_MODELS, ORDERED_VALUES, BaseEvent
from triggers.models.state import STATE_FIELDS

__all__ = ["FieldSpec", "Kind", "event_fields", "state_fields"]

Kind = Literal["bool", "int", "float", "str", "enum", "set", "list", "time"]


@dataclass(frozen=True)
class FieldSpec:
    """A field a condition can test."""

    name: str
    kind: Kind
    values: tuple[Any, ...] = ()
    required: bool = False

    @property
    def ordered(self) -> bool:
        """Whether `lt`/`le`/`gt`/`ge` make sense for this field."""
        return self.kind in ("int", "float") or (
            self.kind == "enum" and self.name in ORDERED_VALUES
        )

    def describe(self) -> str:
        """The kind in words, for messages."""
        if self.kind == "enum":
            return "one of " + ", ".join(repr(v) for v in self.values)
        if self.kind == "set":
            return "a set of " + ", ".join(repr(v) for v in self.values)
        if self.kind == "int" and self.values:
            return "one of " + ", ".join(str(v) for v in self.values)
        return {
            "bool": "true or false",
            "int": "a whole number",
            "float": "a number",
            "str": "text",
            "list": "a list",
            "time": "a date",
        }[self.kind]


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _unwrap(options[0])
    return annotation


def _spec(name: str, annotation: Any, required: bool) -> FieldSpec:
    bare = _unwrap(annotation)
    if get_origin(bare) is Literal:
        values = get_args(bare)
        if all(isinstance(v, int) for v in values):
            return FieldSpec(name, "int", values, required)
        return FieldSpec(name, "enum", values, required)
    if get_origin(bare) is tuple:
        member = _unwrap(get_args(bare)[0])
        if get_origin(member) is Literal:  # a list of values from an enumeration
            return FieldSpec(name, "set", get_args(member), required)
        return FieldSpec(name, "list", (), required)
    kinds: dict[Any, Kind] = {bool: "bool", int: "int", float: "float", str: "str"}
    kind: Kind = kinds.get(bare, "time")
    return FieldSpec(name, kind, (), required)


def _fields(model: type[BaseEvent]) -> dict[str, FieldSpec]:
    # A field is named as files write it: `from`, not Python's `from_`.
    return {
        info.alias or name: _spec(info.alias or name, info.annotation, info.is_required())
        for name, info in model.model_fields.items()
    }


_EVENT_FIELDS = {event_type: _fields(model) for event_type, model in EVENT_MODELS.items()}


def event_fields(event_type: str) -> dict[str, FieldSpec]:
    """The fields of an event type, by name (including the common ones such as `source`)."""
    return _EVENT_FIELDS[event_type]


def state_fields() -> dict[str, FieldSpec]:
    """The case-state values rules may test, by name."""
    return {name: FieldSpec(name, f.kind, f.values) for name, f in STATE_FIELDS.items()}
