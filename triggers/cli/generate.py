"""`triggers generate`: write a synthetic corpus of chronologies for benchmarks and tests."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from triggers.cli.app import cli
from triggers.cli.render import stderr
from triggers.generate import FORMATS, generate_corpus, write_corpus

__all__ = ["generate"]


@cli.command()
@click.option(
    "--cases", type=click.IntRange(min=1), default=100, show_default=True, help="How many cases."
)
@click.option(
    "--events",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="How many events in each case.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Same seed, same files, byte for byte."
)
@click.option(
    "--out",
    "out",
    metavar="DIR",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write into (created if missing).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="yaml",
    show_default=True,
    help="A file per case (yaml, json: case-00001.yaml, ...) or one feed (jsonl: corpus.jsonl).",
)
@click.option(
    "--force", is_flag=True, help="Write even where chronology files already are (overwriting)."
)
def generate(*, cases: int, events: int, seed: int, out: Path, fmt: str, force: bool) -> None:
    """Write CASES synthetic chronologies of EVENTS events each into DIR.

    Each case is a subject's timeline over 2 to 10 years (starting 2005-2020) made of
    typical storylines: convictions, registration and MAPPA, relationships, pregnancies,
    moves, missing episodes, plans, concerns, bail and monitoring. The same arguments
    write byte-identical files. Refuses to write into a directory that already holds
    chronology files unless --force. Exits 0 on success, 1 when DIR cannot be written
    to, 2 for a usage error.
    """
    files = write_corpus(generate_corpus(cases, events, seed), cases, out, fmt, force=force)
    summary = f"{cases} case(s), {cases * events} event(s), {len(files)} file(s) in {out}"
    stderr().print(escape(summary))
