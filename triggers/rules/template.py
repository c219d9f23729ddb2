"""Reason and parameter templates: text with `{event.field}`, `{case.field}` and `{rule.id}`.

A deliberately tiny language: names are looked up in plain dictionaries, never
evaluated, so a rule file cannot reach into Python objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["NAMESPACES", "Template", "TemplateSyntaxError", "render_value"]

NAMESPACES = ("event", "case", "rule")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]|[^{}]+")
_NAME = re.compile(r"^(event|case|rule)\.([a-z_][a-z0-9_]*)$")


class TemplateSyntaxError(ValueError):
    """A template is malformed; `offset` is the character where the problem starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and `(namespace, name)` references, in order."""

    source: str
    parts: tuple[str | tuple[str, str], ...]

    @classmethod
    def parse(cls, source: str) -> Template:
        """Parse `source`; `{{` and `}}` stand for literal braces."""
        parts: list[str | tuple[str, str]] = []
        literal = ""
        for token in _TOKEN.finditer(source):
            text = token.group(0)
            if text in ("{{", "}}"):
                literal += text[0]
            elif token.group(1) is not None:
                name = _NAME.match(token.group(1).strip())
                if name is None:
                    raise TemplateSyntaxError(
                        f"{text} is not a name: write {{event.FIELD}}, {{case.NAME}}"
                        " or {rule.id}",
                        token.start(),
                    )
                if literal:
                    parts.append(literal)
                    literal = ""
                parts.append((name.group(1), name.group(2)))
            elif text in ("{", "}"):
                raise TemplateSyntaxError("unmatched brace", token.start())
            else:
                literal += text
        if literal:
            parts.append(literal)
        return cls(source, tuple(parts))

    @property
    def names(self) -> tuple[tuple[str, str], ...]:
        """Every `(namespace, name)` the template refers to."""
        return tuple(part for part in self.parts if isinstance(part, tuple))

    def render(self, values: Mapping[str, Mapping[str, object]]) -> str:
        """The text with each reference replaced by its value from `values[namespace][name]`."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                namespace, name = part
                out.append(render_value(values.get(namespace, {}).get(name)))
        return "".join(out)


def render_value(value: object) -> str:
    """A value as a practitioner would read it."""
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | list | frozenset | set):
        return ", ".join(str(v) for v in sorted(value, key=str)) or "none"
    return str(value)
