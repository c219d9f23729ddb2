"""Writing a report's file whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from triggers.errors import ReportError

__all__ = ["write_atomically"]


def write_atomically(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Call `write` on a new file beside `path`, then put it in `path`'s place: a reader
    never sees half a report. Raises `ReportError` naming `path` if it cannot be written."""
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
    except OSError as error:
        raise ReportError(f"{path}: cannot write the report: {error.strerror}", path=path) from None
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise ReportError(f"{path}: cannot write the report: {error.strerror}", path=path) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
