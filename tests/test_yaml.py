"""YAML with positions: libyaml's fast reader and PyYAML's precise one agree on every file."""

from __future__ import annotations

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
    fast = yamlmap._load_with_libyaml(text, "f.yaml")
    slow, problems = _precise(text, monkeypatch)
    assert problems == []
    if yamlmap._NOT_FOR_LIBYAML.search(text):
        assert fast is None  # tabs and explicit keys are always read precisely
        return
    assert fast is not None, "libyaml refused a file the precise reader reads"
    assert fast.data == slow.data
    assert fast.positions == slow.positions
    assert fast.key_positions == slow.key_positions


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
    assert (fast.data, fast.positions, fast.key_positions) == (
        slow.data,
        slow.positions,
        slow.key_positions,
    )


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
