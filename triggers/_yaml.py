"""YAML read safely, with the line and column of every node kept beside the data.

Chronologies and rule files are written by hand; an error has to point at the
line a person typed. PyYAML's composer gives marks for each node; we construct
plain Python values from the node tree ourselves and remember where each key
path came from.

`ProblemCollector` is how the readers of chronologies, rule files and rule tests
gather every problem in a file before giving up, each placed at its line and
column when the file's positions are known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

import yaml

from triggers.errors import InputError, Problem
from triggers.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_YAML_VALUES

__all__ = [
    "BOOLEANS",
    "KeyPath",
    "Located",
    "Position",
    "ProblemCollector",
    "format_key_path",
    "load_yaml",
    "read_text",
    "read_yaml_file",
    "too_big",
]

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass
class Located:
    """Data loaded from YAML, and the node tree it was built from: where a key path
    starts is looked up in the tree only when a problem needs it (most files have none).

    `position(path)` is where the value at `path` starts; `position(path, key=True)`
    where the mapping key that leads to it starts (for "unknown key" errors).
    """

    data: Any
    root: yaml.Node | None = None

    def problem(
        self,
        file: str,
        path: KeyPath,
        message: str,
        *,
        key: bool = False,
        suggestion: str | None = None,
    ) -> Problem:
        """A problem at `path` (at its key, if `key`), placed at its line and column."""
        position = self.position(path, key=key)
        return Problem(
            file,
            format_key_path(path),
            message,
            position.line if position else None,
            position.column if position else None,
            suggestion,
        )

    def position(self, path: KeyPath, *, key: bool = False) -> Position | None:
        """The position of `path`, or of its nearest ancestor that has one."""
        if self.root is None:
            return None
        node, key_node = self.root, None
        for part in path:
            found = _child(node, part)
            if found is None:
                break
            key_node, node = found
        else:
            if key and key_node is not None:
                return _mark(key_node)
        return _mark(node)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    """The key node (None in a list) and value node at `part` below `node`, if any."""
    if isinstance(node, yaml.SequenceNode):
        if isinstance(part, int) and 0 <= part < len(node.value):
            return None, node.value[part]
        return None
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:  # the first of duplicate keys
            if isinstance(key_node, yaml.ScalarNode) and _key_value(key_node) == part:
                return key_node, value_node
    return None


def _key_value(node: yaml.ScalarNode) -> Any:
    if node.tag == _STR:
        return node.value
    if node.tag == _BOOL:
        return BOOLEANS.get(node.value, node.value)
    try:
        return yaml.SafeLoader("").construct_object(node)
    except Exception:  # a key that cannot be built names no path
        return None


class ProblemCollector:
    """Every problem found in one file, so that a reader reports them all at once.

    `located` gives problems their line and column (None for input without YAML
    positions, such as JSON); `at` is where the part being read sits in the file's
    data (empty for a whole file), so problems carry their full key path.
    """

    def __init__(self, file: str, located: Located | None = None, at: KeyPath = ()) -> None:
        self.file = file
        self.located = located
        self.at = at
        self.problems: list[Problem] = []

    def add(
        self,
        path: KeyPath,
        message: str,
        *,
        key: bool = False,
        suggestion: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        """A problem at `path` below `at` (at its key, if `key`).

        Given a `line` (and `column`), as for a JSONL record, the problem is placed
        there; otherwise at the path's position in `located`, if there is one.
        """
        path = (*self.at, *path)
        if self.located is not None and line is None:
            problem = self.located.problem(self.file, path, message, key=key, suggestion=suggestion)
        else:
            problem = Problem(self.file, self.where(path), message, line, column, suggestion)
        self.problems.append(problem)

    def where(self, path: KeyPath) -> str:
        """How a problem without a position in `located` names `path` (`events[3].at`)."""
        return format_key_path(path)

    def extend(self, problems: Iterable[Problem]) -> None:
        """Problems found elsewhere, such as by a nested reader, kept as they are."""
        self.problems.extend(problems)

    def in_file_order(self) -> list[Problem]:
        """The problems sorted by line and column (problems without a line first)."""
        return sorted(self.problems, key=lambda p: (p.line or 0, p.column or 0))

    def raise_if_any(self, error: type[InputError]) -> None:
        """Raise `error` with every problem, in the order found, if there are any."""
        if self.problems:
            raise error(self.problems)


def format_key_path(path: KeyPath) -> str:
    """`('events', 3, 'at')` as `events[3].at`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if len(part) <= _LONGEST_KEY else f"{part[:_LONGEST_KEY]}…"
            text += f".{name}" if text else name
    return text


#: Characters of a key shown in a key path: a hostile key may be megabytes long.
_LONGEST_KEY = 60


def _mark(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"
#: The booleans of YAML 1.2's core schema. YAML 1.1 (PyYAML's) also reads yes, no, on,
#: off and their capitals as booleans: `from_area: no` would silently be False.
BOOLEANS = {
    word: word.lower() == "true" for word in ("true", "True", "TRUE", "false", "False", "FALSE")
}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _TooLarge(Exception):  # noqa: N818 -- a signal inside the builder, never raised out of it
    """The document, built so far, holds more than `MAX_YAML_VALUES` values."""

    def __init__(self, node: yaml.Node) -> None:
        self.node = node


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep: a chronology or rule file needs only a few"


class _Builder:
    """Plain values from a node tree, with a problem for whatever a person should not
    have written (duplicate keys, tags, an alias inside itself, nesting deeper than
    `MAX_DEPTH`, more than `MAX_YAML_VALUES` values once aliases are expanded)."""

    def __init__(self, loader: yaml.SafeLoader | yaml.CSafeLoader, file: str) -> None:
        self.loader = loader
        self.constructors = loader.yaml_constructors
        self.file = file
        self.problems: list[Problem] = []
        # Aliases share the node they name: build each node once (an alias bomb
        # would otherwise take exponential time) and refuse an alias inside itself.
        self._built: dict[int, Any] = {}
        self._open: set[int] = set()
        # Values below each built mapping or list, its aliases expanded: what code
        # walking the data would meet, counted once per node.
        self._sizes: dict[int, int] = {}

    def problem(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.file, format_key_path(path), message, *_line_col(node)))

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == _STR else self._scalar(node, path)
        if id(node) in self._built:
            return self._built[id(node)]
        if id(node) in self._open:
            self.problem(node, path, "an alias refers to the mapping or list that contains it")
            return None
        if len(path) > MAX_DEPTH:
            self.problem(node, path, _TOO_DEEP)
            return None
        self._open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            value: Any = self._mapping(node, path)
            children = [n for pair in node.value for n in pair]
        else:
            value = [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            children = node.value
        self._open.discard(id(node))
        self._built[id(node)] = value
        size = 1 + sum(self._sizes.get(id(child), 1) for child in children)
        if size > MAX_YAML_VALUES:
            raise _TooLarge(node)
        self._sizes[id(node)] = size
        return value

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        if node.tag == _TIMESTAMP:
            # Dates stay text, read by `triggers.models.times.parse_time` as they are in
            # every other format: YAML's own timestamps also take forms the chronology
            # contract does not (2011-6-2, a space before the offset, nanoseconds cut off).
            return node.value
        if node.tag == _BOOL:
            # YAML 1.2: only true and false are booleans; yes, no, on, off are the words
            # written (a text field takes them as text, a boolean one refuses them).
            return BOOLEANS.get(node.value, node.value)
        # The loader's own constructor for the tag, without its bookkeeping for
        # nested objects (a scalar has none).
        constructor = self.constructors.get(node.tag)
        if constructor is None:
            self.problem(node, path, f"unsupported YAML tag {node.tag!r}: write plain values")
            return None
        try:
            return constructor(self.loader, node)
        except yaml.constructor.ConstructorError:
            self.problem(node, path, f"unsupported YAML tag {node.tag!r}: write plain values")
            return None
        except (ValueError, OverflowError):
            # A value that matches its tag's pattern but cannot be built: kept as
            # text, so that validation reports it with its position.
            return node.value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        try:
            self.loader.flatten_mapping(node)
        except yaml.constructor.ConstructorError as error:
            self.problem(node, path, f"bad merge key: {error.problem}")
            return {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            # `on` is a word here, as in YAML 1.2 (`released` has a field `on`).
            key = self.build(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int) or isinstance(key, bool):
                self.problem(key_node, path, "mapping keys must be plain words")
                continue
            child = (*path, key)
            if key in result:
                first = _child(node, key)
                where = f" (first at line {_mark(first[0]).line})" if first and first[0] else ""
                self.problem(key_node, child, f"duplicate key {key!r}{where}")
                continue
            result[key] = self.build(value_node, child)
        return result


def _line_col(node: yaml.Node) -> tuple[int, int]:
    mark = _mark(node)
    return mark.line, mark.column


def load_yaml(text: str, file: str) -> tuple[Located, list[Problem]]:
    """Parse one YAML document safely; returns the data with positions and any problems.

    A syntax error is returned as a single problem at its position, with no data.
    libyaml's parser reads a file first; a file it finds any problem in is read
    again by PyYAML's own, whose messages and positions the problems report.
    """
    try:
        fast = _load_with_libyaml(text, file)
    except _TooLarge as error:
        return Located(None), [_too_large(error, file)]
    if fast is not None:
        return fast
    try:
        loader = _PreciseLoader(text)
    except yaml.reader.ReaderError as error:
        return Located(None), [_reader_problem(error, text, file)]
    try:
        try:
            node = loader.get_single_node()
        except _TooDeep as error:
            return Located(None), [Problem(file, "", _TOO_DEEP, *_line_col(error.node))]
        except yaml.MarkedYAMLError as error:
            return Located(None), [_syntax_problem(error, text, file)]
        except yaml.YAMLError as error:
            return Located(None), [Problem(file, "", f"YAML syntax error: {error}")]
        return _located(node, loader, file)
    except _TooLarge as error:
        return Located(None), [_too_large(error, file)]
    except RecursionError:  # MAX_DEPTH keeps well within Python's; kept as a safety net
        return Located(None), [Problem(file, "", "the YAML is nested too deeply to read")]
    finally:
        loader.dispose()


class _TooDeep(Exception):  # noqa: N818 -- a signal inside the composer
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _PreciseLoader(yaml.SafeLoader):
    """PyYAML's own loader, refusing nesting deeper than `MAX_DEPTH` as it composes the
    node tree (its composer recurses, and would meet Python's recursion limit)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:  # the root is at depth 1, its key path empty
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _TooDeep(yaml.ScalarNode("", "", event.start_mark, event.end_mark))
            return cast(yaml.Node, super().compose_node(parent, index))
        finally:
            self._depth -= 1


#: What libyaml reads differently from PyYAML's own reader: tabs (it accepts some that
#: PyYAML refuses) and explicit keys (`? key`, placed elsewhere when they have no value).
_NOT_FOR_LIBYAML = re.compile(r"\t|^\s*\?(\s|$)", re.MULTILINE)


class _CachingLoader(yaml.CSafeLoader):
    """libyaml's loader, remembering the tag each plain scalar resolves to: keys, event
    types and values repeat from event to event, and resolving is regular expressions."""

    _tags: ClassVar[dict[str, str]] = {}

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is not yaml.ScalarNode or not implicit[0]:
            return cast(str, super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        tag = self._tags.get(value)
        if tag is None:
            tag = cast(str, super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
            if len(self._tags) >= _CACHED_TAGS:
                self._tags.clear()
            self._tags[value] = tag
        return tag


#: How many plain scalars' tags are remembered (then forgotten all at once).
_CACHED_TAGS = 4096


#: Texts longer than this are reported with libyaml's own problems, not read again by
#: PyYAML's pure-Python reader (seconds for a few megabytes).
_PRECISE_UP_TO = 1024 * 1024


def _load_with_libyaml(text: str, file: str) -> tuple[Located, list[Problem]] | None:
    """The data with positions, read by libyaml's C parser; None if it meets any problem,
    or if the text has what libyaml reads differently (then the precise reader reads it).

    A document too large once its aliases are expanded raises `_TooLarge`, and a text
    longer than `_PRECISE_UP_TO` gets libyaml's problems: reading either again
    precisely would only take longer to say so.
    """
    if not yaml.__with_libyaml__ or _NOT_FOR_LIBYAML.search(text):
        return None
    large = len(text) > _PRECISE_UP_TO
    try:
        loader = _CachingLoader(text)
    except Exception:  # whatever it is, the precise reader reports it
        return None
    try:
        located, problems = _located(loader.get_single_node(), loader, file)
    except _TooLarge:
        raise
    except yaml.MarkedYAMLError as error:
        return (Located(None), [_syntax_problem(error, text, file)]) if large else None
    except Exception:  # as above
        return None
    finally:
        loader.dispose()
    return (located, problems) if large or not problems else None


def _located(
    node: yaml.Node | None, loader: yaml.SafeLoader | yaml.CSafeLoader, file: str
) -> tuple[Located, list[Problem]]:
    """The data built from a document's node, with the position of every key path."""
    if node is None:
        return Located(None), []
    builder = _Builder(loader, file)
    data = builder.build(node, ())
    return Located(data, node), builder.problems


def _too_large(error: _TooLarge, file: str) -> Problem:
    message = (
        f"this document holds more than {MAX_YAML_VALUES:,} values once its aliases"
        " (*name) are expanded: write the values out, or use fewer aliases"
    )
    return Problem(file, "", message, *_line_col(error.node))


def read_yaml_file(path: str | Path, kind: str) -> tuple[str, Located, list[Problem]]:
    """Read and parse a YAML file: its text, the data with positions, and any problems.

    A file that cannot be read is one problem, naming it as a `kind` ("rule file").
    """
    text = read_text(path, kind)
    if isinstance(text, Problem):
        return "", Located(None), [text]
    located, problems = load_yaml(text, str(path))
    return text, located, problems


def read_text(path: str | Path, kind: str) -> str | Problem:
    """A file's text, or the problem that stops it being read: missing, larger than
    `MAX_FILE_BYTES` (found before reading it), not UTF-8 (at the line and column of
    the first bad byte). `kind` names the file in messages ("chronology file")."""
    file = str(path)
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return Problem(file, "", "file not found")
    except IsADirectoryError:
        return Problem(file, "", f"is a directory, not a {kind}")
    except OSError as error:
        return Problem(file, "", f"cannot read the {kind}: {error.strerror}")
    if len(data) > MAX_FILE_BYTES:
        return Problem(file, "", too_big(Path(path).stat().st_size, "bytes"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        return _not_utf8(error, data, file)


def too_big(size: int, unit: str) -> str:
    """The message for input of `size` `unit` (bytes, characters), over `MAX_FILE_BYTES`."""
    return (
        f"too large: {size:,} {unit}; a file may hold at most {MAX_FILE_BYTES:,} bytes"
        f" ({MAX_FILE_BYTES // 2**20} MiB): split it"
    )


def _not_utf8(error: UnicodeDecodeError, data: bytes, file: str) -> Problem:
    """Where the first byte that is not UTF-8 is, by line and column (in characters)."""
    start = data.rfind(b"\n", 0, error.start) + 1
    line = data.count(b"\n", 0, error.start) + 1
    column = len(data[start : error.start].decode("utf-8", errors="replace")) + 1
    return Problem(
        file,
        "",
        f"not UTF-8 text: byte 0x{data[error.start]:02X} at byte offset {error.start:,}"
        f" ({error.reason}): save the file as UTF-8",
        line,
        column,
    )


def _reader_problem(error: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    """A character YAML does not allow, at its line and column."""
    line = text.count("\n", 0, error.position) + 1
    column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
    character = f"U+{error.character:04X}" if isinstance(error.character, int) else "a byte"
    return Problem(
        file,
        "",
        f"YAML does not allow the control character {character} here: remove it, or write"
        " it as an escape such as \\x1b inside double quotes",
        line,
        column,
    )


def _syntax_problem(error: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    mark = error.problem_mark or error.context_mark
    message = (error.problem or error.context or "invalid YAML").strip()
    if "\t" in text and "cannot start any token" in message:
        message = "tabs are not allowed in YAML indentation; use spaces"
    if mark is None:
        return Problem(file, "", f"YAML syntax error: {message}")
    return Problem(file, "", f"YAML syntax error: {message}", mark.line + 1, mark.column + 1)
