"""The `triggers` command: a thin layer of click and rich over the library.

`app` holds the command group and its one error boundary, `render` what the
commands show, `options` the options they share; `rules`, `replay`, `alerts`,
`audit`, `backtest` (with `backtest_html`), `db`, `generate`, `report` and `summary` the
commands themselves.
"""

# The command modules register their commands with the group as they are imported.
from triggers.cli import (  # noqa: F401
    alerts,
    audit,
    backtest,
    db,
    generate,
    replay,
    report,
    rules,
    summary,
)
from triggers.cli.app import cli, main

__all__ = ["cli", "main"]
