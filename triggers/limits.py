"""The limits on every input, in one place; README "Limits on input" gives the reasons.

Each is checked before any work that could grow with it starts: a file's size
before it is read, a YAML document's nesting and expanded size while it is
built, a case's events before they are validated, and every text and date by
the models' own types, so that data from Python meets the same limits as files.
What reaches the store from elsewhere (actors, notes, reasons, case ids given on
the command line) is checked against the same limits before anything is written
(`triggers.store.limits`), so that SQLite and PostgreSQL accept exactly the same.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_COLUMNS",
    "MAX_DEPTH",
    "MAX_EVENTS_PER_CASE",
    "MAX_EVENTS_PER_FILE",
    "MAX_FILE_BYTES",
    "MAX_ID_LENGTH",
    "MAX_LIST_ITEMS",
    "MAX_NOTE_LENGTH",
    "MAX_OUTCOMES_PER_CASE",
    "MAX_SUGGESTED_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_YAML_VALUES",
    "MIN_DECIMAL",
    "check_text",
]

#: Bytes in one input file (chronology, rule file or rule test file).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Characters in an id or name: case id, subject, event id, source.
MAX_ID_LENGTH = 200
#: Characters in a title or an event's other text fields (offence, area, child, ...).
MAX_TEXT_LENGTH = 1_000
#: Characters in a note (an event's, an outcome's, or one given to ack, resolve or
#: dismiss an alert) and in a reason given for an operation (--reason).
MAX_NOTE_LENGTH = 10_000
#: Items in a list inside an event (bail conditions).
MAX_LIST_ITEMS = 100
#: Events in one case.
MAX_EVENTS_PER_CASE = 10_000
#: Events in one file (a JSONL feed holds many cases).
MAX_EVENTS_PER_FILE = 100_000
#: Columns in a CSV chronology (the contract has about 60; the rest are left out).
MAX_COLUMNS = 1_000
#: Outcomes in one case.
MAX_OUTCOMES_PER_CASE = 1_000
#: Levels of nested mappings and lists in a YAML or JSON document.
MAX_DEPTH = 64
#: Values (scalars, mappings, lists) in a YAML document with every alias expanded.
MAX_YAML_VALUES = 1_000_000
#: The first and last moments an event, its recording or an outcome may have (UTC).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
#: Smallest size of a decimal number other than 0: below it Python writes numbers with an
#: exponent (1e-05), which durable_rules cannot read (error 204). Rule files and events alike.
MIN_DECIMAL = 0.0001
#: Longest unknown word for which "did you mean" looks for a close match.
MAX_SUGGESTED_LENGTH = 64


#: C0 and C1 control characters other than tab and newline, and lone surrogates
#: (which JSON's \ud800 escapes can make, and no encoder can write out).
_BAD_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def check_text(value: str, limit: int) -> None:
    """Raise `ValueError` for text longer than `limit` or holding a character it may not."""
    if len(value) > limit:
        raise ValueError(f"too long: {len(value):,} characters, at most {limit:,} are allowed")
    bad = _BAD_CHARACTER.search(value)
    if bad is None:
        return
    code, at = ord(bad.group()), bad.start() + 1
    if 0xD800 <= code <= 0xDFFF:
        raise ValueError(
            f"contains U+{code:04X} (character {at:,}), a lone surrogate, which is not"
            " valid Unicode: remove it"
        )
    raise ValueError(
        f"contains the control character U+{code:04X} (character {at:,}): remove it;"
        " tab and newline are the only control characters allowed"
    )
