"""YAML with positions: libyaml's fast reader and PyYAML's precise one agree on every file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import triggers._yaml as yamlmap
from tests.conftest import EXAMPLES, RULES
from triggers._yaml import Located, load_yaml


def _precise(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Located, list[Any]]:
    with monkeypatch.context() as patched:
        patched.setattr(yamlmap, "_load_with_libyaml", lambda *_: None)
        return load_yaml(text, "f.yaml")


def _same(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    read = yamlmap._load_with_libyaml(text, "f.yaml")
    fast = None if read is None else read[0]
    slow, problems = _precise(text, monkeypatch)
    assert problems == []
    if yamlmap._NOT_FOR_LIBYAML.search(text):
        assert fast is None  # tabs and explicit keys are always read precisely
        return
    assert fast is not None, "libyaml refused a file the precise reader reads"
    assert fast.data == slow.data
    assert _positions(fast) == _positions(slow)


def _paths(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every key path in the data, and one below each that is not there."""
    yield path
    yield (*path, "missing")
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        yield from _paths(value, (*path, key))


def _positions(located: Located) -> list[Any]:
    """Where each key path of the data starts, and where its key starts."""
    return [
        (path, located.position(path), located.position(path, key=True))
        for path in _paths(located.data)
    ]


FILES = sorted([*EXAMPLES.glob("*.yaml"), *RULES.glob("*.yaml")])


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_the_fast_reader_gives_the_same_data_and_positions(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _same(path.read_text(), monkeypatch)


TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff\x85\u2028\u2029"),
    max_size=12,
)
DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


def test_explicit_keys_are_placed_as_the_precise_reader_places_them() -> None:
    text = "? a\n? b\n: 1\n"
    with pytest.MonkeyPatch.context() as monkeypatch:
        slow, _ = _precise(text, monkeypatch)
    fast, _ = load_yaml(text, "f.yaml")
    assert (fast.data, _positions(fast)) == (slow.data, _positions(slow))


@settings(max_examples=150, deadline=None)
@given(document=DOCUMENTS, flow=st.booleans())
def test_the_fast_reader_agrees_on_any_document(document: Any, flow: bool) -> None:
    text = yaml.safe_dump(document, allow_unicode=True, default_flow_style=flow)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _same(text, monkeypatch)


@pytest.mark.parametrize(
    "text",
    [
        "case: a\nevents: [\n",
        "case: a\ncase: b\nevents: []\n",
        "case: a\x1b\nevents: []\n",
        "a: &x [*x]\n",
        "a: !!python/object:os.system x\n",
        "case: a\nevents: []\nnote: a\tb\n",
        "case: other\t\n",
        "a:\t1\n",
        "k: v\t# comment\n",
    ],
)
def test_a_file_with_a_problem_is_reported_by_the_precise_reader(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_yaml(text, "f.yaml")[1] == _precise(text, monkeypatch)[1] != []


def test_positions_are_found_below_aliases_and_merges() -> None:
    text = "base: &b\n  x: 1\n  y: [a, b]\nuse: *b\nmerged:\n  <<: *b\n  z: 2\n"
    located, problems = load_yaml(text, "f.yaml")
    assert problems == []
    assert located.data["merged"] == {"x": 1, "y": ["a", "b"], "z": 2}
    position = located.position
    assert (position(("use", "y", 1)).line, position(("use", "y", 1)).column) == (3, 10)  # type: ignore[union-attr]
    assert position(("merged", "z"), key=True).line == 7  # type: ignore[union-attr]
    assert position(("merged", "x")).line == 2  # type: ignore[union-attr]
    assert position(("nowhere", 3)) == position(())


def test_a_duplicate_key_names_the_line_of_the_first() -> None:
    _, problems = load_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert [(p.line, p.message) for p in problems] == [(3, "duplicate key 'a' (first at line 1)")]


def test_a_large_file_with_a_problem_is_reported_as_libyaml_finds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past `_PRECISE_UP_TO` the precise reader would take seconds: libyaml's problems are
    reported, at the same positions (a syntax error in libyaml's words)."""
    padding = "# " + "x" * 200 + "\n"
    for text in ("case: a\nevents: [\n", "case: a\ncase: b\nevents: []\n"):
        small = load_yaml(text, "f.yaml")[1]
        monkeypatch.setattr(yamlmap, "_PRECISE_UP_TO", 10)
        large = load_yaml(padding + text, "f.yaml")[1]
        monkeypatch.undo()
        assert [((p.line or 0) - 1, p.column) for p in large] == [(p.line, p.column) for p in small]
        assert len(large) == len(small) == 1
        assert large[0].message.split(":")[0][:20] == small[0].message.split(":")[0][:20]
