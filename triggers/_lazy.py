"""Names a package exports but loads only when first asked for (PEP 562).

Used where loading a name means loading a heavy library (SQLAlchemy, Alembic),
so that importing the package, or running a command that never needs the name,
stays quick.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, sources: Mapping[str, str], exported: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`, loading each of `sources`' names
    from its module (absolute) on first use and keeping it in the package."""

    def getattr_(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(sources[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exported})

    return getattr_, dir_
