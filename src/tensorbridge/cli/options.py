"""Options and consoles shared by the ``tensorbridge`` commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from tensorbridge.cli.sources import FORMATS

__all__ = ["console", "errors", "input_options", "input_options_with", "print_bad_rows"]

F = TypeVar("F", bound=Callable[..., Any])
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

_INPUT_KEYS = ("fmt", "engine", "on_bad_rows", "delimiter", "na_values")
_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Input format; default: from the file names.",
)
_engine_option = click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default=None,
    help="Where to run: local (default, or $TENSORBRIDGE_ENGINE) or spark.",
)
_bad_rows_option = click.option(
    "--on-bad-rows",
    type=click.Choice(["raise", "skip"]),
    default="raise",
    show_default=True,
    help="Stop at the first malformed row, or skip and report such rows.",
)


_csv_options = [
    click.option("--delimiter", default=",", show_default=True, help="CSV field delimiter."),
    click.option(
        "--na-value",
        "na_values",
        multiple=True,
        metavar="TEXT",
        help="A CSV cell text that means missing (repeatable; empty cells always do).",
    ),
]


def input_options_with(types_flag: str) -> Callable[[F], F]:
    """Like :func:`input_options`, with the column-type option spelled ``types_flag``.

    ``validate`` and ``drift`` take ``--schema FILE`` (a tensorbridge schema), so there
    the CSV column types are declared with ``--column-type`` instead.
    """
    types_option = click.option(
        types_flag,
        "column_types",
        multiple=True,
        metavar="COLUMN=TYPE",
        help=f"Declare a column's type, e.g. {types_flag} fare=float64 (repeatable).",
    )

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            source = {key: kwargs.pop(key) for key in _INPUT_KEYS}
            source["schema"] = kwargs.pop("column_types")
            return command(source=source, **kwargs)

        decorated: Any = wrapper
        options = [_format_option, _engine_option, _bad_rows_option, *_csv_options, types_option]
        for option in reversed(options):
            decorated = option(decorated)
        return decorated

    return decorate


#: Add the options that say how to read DATA; the command gets them as ``source``.
input_options = input_options_with("--schema")


def print_bad_rows(report: Any) -> None:
    """Print the skipped-rows summary of a dataset read with --on-bad-rows skip."""
    if report.count:
        errors.print(f"[yellow]{escape(report.summary())}[/yellow]")
