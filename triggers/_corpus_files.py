"""Writing a generated corpus: a file per case (YAML or JSON) or one JSONL feed.

YAML is written by hand, one event a line per field, so that files read like those
analysts write and load with the project's strict reader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from triggers.errors import InputError, Problem
from triggers.reading import CHRONOLOGY_SUFFIXES

__all__ = ["FORMATS", "case_file_name", "write_corpus"]

#: The formats `write_corpus` writes: a file per case (yaml, json) or one feed (jsonl).
FORMATS = ("yaml", "json", "jsonl")

_PLAIN = re.compile(r"[a-z][a-z0-9_-]*")
_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n", "~"}


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(item) for item in value) + "]"
    text = str(value)
    if re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?", text):
        return text
    if _PLAIN.fullmatch(text) and text not in _WORDS:
        return text
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _yaml(case: dict[str, Any]) -> str:
    lines = [f"{key}: {_yaml_value(case[key])}" for key in ("case", "title", "subject")]
    lines.append("events:" if case["events"] else "events: []")
    for event in case["events"]:
        for number, (key, value) in enumerate(event.items()):
            lines.append(f"{'    ' if number else '  - '}{key}: {_yaml_value(value)}")
    return "\n".join(lines) + "\n"


def case_file_name(index: int, cases: int, fmt: str) -> str:
    """The file of case `index` of `cases`: numbered so that sorting gives case order."""
    return f"case-{index:0{max(5, len(str(cases)))}d}.{fmt}"


def write_corpus(
    corpus: Iterable[dict[str, Any]], cases: int, out: Path, fmt: str, *, force: bool = False
) -> list[Path]:
    """Write `cases` cases of `corpus` into directory `out` in `fmt`; returns the files.

    Unless `force`, refuses (`InputError`) to write where chronology files already are.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if out.exists() and not out.is_dir():
        raise InputError([Problem(str(out), "", "is not a directory")])
    if not force and out.is_dir():
        existing = sorted(p for p in out.iterdir() if p.suffix in CHRONOLOGY_SUFFIXES)
        planned = (
            {"corpus.jsonl"}
            if fmt == "jsonl"
            else {case_file_name(i, cases, fmt) for i in range(1, cases + 1)}
        )
        clashes = [p for p in existing if p.name in planned] or existing
        if clashes:
            what = "would be overwritten" if clashes[0].name in planned else "is in the way"
            message = (
                f"{what}: {out} already holds {len(existing)} chronology file(s);"
                " use --force to write anyway"
            )
            raise InputError([Problem(str(clashes[0]), "", message)])
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        path = out / "corpus.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as feed:
            for case in corpus:
                for event in case["events"]:
                    feed.write(json.dumps({"case": case["case"], **event}) + "\n")
        return [path]
    files = []
    for index, case in enumerate(corpus, start=1):
        path = out / case_file_name(index, cases, fmt)
        text = _yaml(case) if fmt == "yaml" else json.dumps(case, indent=2) + "\n"
        path.write_text(text, encoding="utf-8", newline="\n")
        files.append(path)
    return files
