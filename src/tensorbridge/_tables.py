"""Printing rich tables so they stay readable in logs and CI output, not only terminals."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

__all__ = ["MAX_PIPE_WIDTH", "print_table"]

#: Widest a table gets when printed to a pipe or a file.
MAX_PIPE_WIDTH = 160


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` at its natural width when the output is not a terminal.

    Rich squeezes tables to 80 columns when writing to a pipe or file; these tables are
    meant to be read whole there (logs, CI output), so they keep their width, up to
    :data:`MAX_PIPE_WIDTH` columns (long descriptions wrap).
    """
    if console.is_terminal:
        console.print(table)
        return
    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    natural = min(natural, MAX_PIPE_WIDTH)
    if natural <= console.width:
        console.print(table)
        return
    width = console.width
    console.width = natural
    try:
        console.print(table)
    finally:
        console.width = width
