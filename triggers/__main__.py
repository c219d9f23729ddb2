"""`python -m triggers`: the `triggers` command, for environments without its script."""

from triggers.cli import main

main()
