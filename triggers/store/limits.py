"""What the store is given is checked against `triggers.limits` before anything is written.

SQLite keeps any text in any column; PostgreSQL refuses text longer than a
`varchar(200)` and any NUL character, and neither can encode a lone surrogate
(which a command line that is not UTF-8 gives). Checking every value here first,
whichever the backend, means both accept exactly the same data and refuse the rest
with the same message, naming the value, before a transaction starts.
"""

from __future__ import annotations

import sys

from triggers.errors import StoreError, shown
from triggers.limits import MAX_ID_LENGTH, MAX_NOTE_LENGTH, check_text

__all__ = ["STORED_LIMITS", "check_values"]

#: Each kind of value the store is given, as messages name it, and its longest length:
#: ids and names are kept in `varchar(200)` columns; a reason an alert was raised for is
#: written by its rule (its template is bounded by the rule file's limits).
STORED_LIMITS: dict[str, int] = {
    "case id": MAX_ID_LENGTH,
    "actor": MAX_ID_LENGTH,
    "rule id": MAX_ID_LENGTH,
    "note": MAX_NOTE_LENGTH,
    "reason": MAX_NOTE_LENGTH,
    "alert reason": sys.maxsize,
}


def check_values(**values: str | None) -> None:
    """Raise `StoreError` for the first value that breaks its kind's limit.

    Each keyword is a kind of `STORED_LIMITS`, spaces written as underscores
    (`case_id=...`); a value of None is not given, and passes.
    """
    for name, value in values.items():
        if value is None:
            continue
        kind = name.replace("_", " ")
        try:
            check_text(value, STORED_LIMITS[kind])
        except ValueError as error:
            raise StoreError(f"{kind} {shown(value)}: {error}") from None
