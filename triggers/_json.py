"""JSON read strictly, and where each key path of a document starts, for the lines and
columns of problems.

Python's json module keeps no positions; a file with problems is scanned once more,
token by token, only when a problem needs a position. A key given twice in one object
is a problem, as in YAML: Python's json module would silently keep the last.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

from triggers._yaml import KeyPath, Located, Position

__all__ = ["JsonLocated", "load_json"]

#: A string, a punctuation mark, or any other run of characters (numbers, literals).
#: (A string's body as runs between escapes: one step a character would take seconds
#: on a string of megabytes.)
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)


@dataclass
class JsonLocated(Located):
    """JSON data and its text; positions found by scanning the text once, when asked."""

    text: str = ""
    _values: dict[KeyPath, int] | None = field(default=None, repr=False)
    _keys: dict[KeyPath, int] = field(default_factory=dict, repr=False)
    _lines: list[int] = field(default_factory=list, repr=False)
    #: Each key given again in its object: its key path, where it is repeated, where first.
    _repeated: list[tuple[KeyPath, int, int]] = field(default_factory=list, repr=False)

    def position(self, path: KeyPath, *, key: bool = False) -> Position | None:
        """Where `path` (or its key) starts, or its nearest ancestor that has a position."""
        if self._values is None:
            self._scan()
        assert self._values is not None
        if key and path in self._keys:
            return self._at(self._keys[path])
        for end in range(len(path), -1, -1):
            if path[:end] in self._values:
                return self._at(self._values[path[:end]])
        return None

    def duplicate_keys(self) -> list[tuple[KeyPath, Position, str]]:
        """Each key given twice in one object: its key path, where it is given again, and
        the message for it (as YAML's reader words it)."""
        if self._values is None:
            self._scan()
        found = []
        for path, offset, first_offset in self._repeated:
            at, first = self._at(offset), self._at(first_offset)
            where = f"line {first.line}" if first.line != at.line else f"column {first.column}"
            found.append((path, at, f"duplicate key {path[-1]!r} (first at {where})"))
        return found

    def _at(self, offset: int) -> Position:
        line = bisect.bisect_right(self._lines, offset)
        return Position(line, offset - self._lines[line - 1] + 1)

    def _scan(self) -> None:
        self._lines = [0, *(m.end() for m in re.finditer("\n", self.text))]
        values: dict[KeyPath, int] = {}
        # Each open container: its path, whether it is an object, the key or index of
        # the value to come, and (an object's) where each of its keys was first given.
        stack: list[list[Any]] = []
        expect_key = False
        for match in _TOKEN.finditer(self.text):
            token, start = match.group(), match.start()
            if token in ":,":
                if token == "," and stack:
                    frame = stack[-1]
                    if frame[1]:
                        expect_key = True
                    else:
                        frame[2] += 1
                continue
            if token in "]}":
                if stack:
                    stack.pop()
                expect_key = False
                continue
            if expect_key and stack:
                key = _string(token)
                stack[-1][2] = key
                self._keys.setdefault((*stack[-1][0], key), start)
                first = stack[-1][3].setdefault(key, start)
                if first != start:
                    self._repeated.append(((*stack[-1][0], key), start, first))
                expect_key = False
                continue
            path: KeyPath = (*stack[-1][0], stack[-1][2]) if stack else ()
            values.setdefault(path, start)
            if token in "[{":
                stack.append([path, token == "{", 0, {}])
                expect_key = token == "{"
        self._values = values


def _string(token: str) -> str:
    try:
        value = json.loads(token)
    except ValueError:
        return token
    return value if isinstance(value, str) else token


def load_json(text: str) -> tuple[Any, JsonLocated | None]:
    """The data of a JSON text, and, if a key is given twice in one object, the text
    located to say where (`JsonLocated.duplicate_keys`); None when no key is.

    Raises what `json.loads` raises for text that is not JSON.
    """
    repeated = False

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        built = dict(pairs)
        if len(built) != len(pairs):
            repeated = True
        return built

    data = json.loads(text, object_pairs_hook=unique)
    return data, (JsonLocated(data, text=text) if repeated else None)
