"""The `triggers` command: a thin layer of click and rich over the library.

`app` holds the command group and its one error boundary, `render` what the
commands show, `options` the options they share; `rules`, `replay`, `alerts`,
`audit`, `db`, `generate`, `report` and `summary` the commands themselves.
"""

# The command modules register their commands with the group as they are imported.
from triggers.cli import alerts, audit, db, generate, replay, report, rules, summary  # noqa: F401
from triggers.cli.app import cli, main

__all__ = ["cli", "main"]
