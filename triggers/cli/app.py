"""The `triggers` command group and its one error boundary.

Every command lets the project's errors rise; here, and only here, a
`TriggersError` becomes its message on standard error and its exit status.
Exit status: 0 success, 1 bad rules or data (or a store failure), 2 bad usage.
"""

from __future__ import annotations

import gc
from importlib.metadata import version
from typing import Any

import click

from triggers.cli.render import report_error, stderr
from triggers.errors import TriggersError

__all__ = ["cli", "main"]


class _Group(click.Group):
    """A command group that reports the project's errors and exits with their status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TriggersError as error:
            report_error(error, stderr())
            ctx.exit(error.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("risk-triggers"), prog_name="triggers")
def cli() -> None:
    """Raise safeguarding alerts when a case's circumstances change.

    Case chronologies (YAML, JSON or JSONL events) are evaluated in event time
    against YAML rules; the alerts raised are stored with their reasons.
    """


def main() -> None:
    """Entry point of the `triggers` console script."""
    # What the imports made lives as long as the process: leaving it out of the
    # collector's scans saves a few percent of a long replay.
    gc.freeze()
    cli.main(prog_name="triggers")
