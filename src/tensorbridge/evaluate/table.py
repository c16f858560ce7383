"""The console view of an evaluation: a rich table of metrics per slice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tensorbridge.errors import ConfigError
from tensorbridge.evaluate.formatting import METRIC_TITLES, failed_cells, format_metric
from tensorbridge.evaluate.slicing import format_value

if TYPE_CHECKING:
    from rich.console import Console

    from tensorbridge.evaluate.result import EvalResult

__all__ = ["TABLE_METRICS", "print_table"]

#: The metrics shown by default (the others are in the files and the report).
TABLE_METRICS = {
    "binary": ("auc", "pr_auc", "accuracy", "precision", "recall", "log_loss", "calibration"),
    "regression": ("mse", "rmse", "mae", "r2"),
}
SHORT_TITLES = {"accuracy": "Acc.", "precision": "Prec.", "calibration": "Calib."}


def print_table(
    result: EvalResult, console: Console | None = None, *, metrics: Sequence[str] | None = None
) -> None:
    """Print metrics per slice (failed checks in red) and the blessing line.

    Parameters
    ----------
    result : EvalResult
        The evaluation.
    console : rich.console.Console, optional
        Where to print; a new console on standard output by default.
    metrics : sequence of str, optional
        The metric columns; by default the main ones of the task (see
        :data:`TABLE_METRICS`).
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    failed = failed_cells(result.checks)
    names = list(metrics) if metrics is not None else list(TABLE_METRICS[result.task])
    unknown = [name for name in names if name not in result.metric_names]
    if unknown:
        raise ConfigError(
            f"print_table(metrics=...) got {unknown}, which are not {result.task} metrics; "
            f"choose from {list(result.metric_names)}."
        )
    table = Table(
        title=f"Evaluation of {result.model_name} ({result.example_count:,} examples)",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("Slice", overflow="fold", min_width=16)
    table.add_column("Count", justify="right", no_wrap=True)
    for name in names:
        title = SHORT_TITLES.get(name, METRIC_TITLES.get(name, name))
        table.add_column(title, justify="right", no_wrap=True)
    for spec in result.slicing_specs:
        members = [item for item in result.slices if spec.matches(item.key)]
        if not spec.is_overall:
            table.add_section()
            table.add_row(Text(spec.name, style="bold cyan"))
        for item in members:
            slice_failed = any(s == item.name for s, _ in failed)
            label = " · ".join(format_value(value) for _, value in item.key) or "Overall"
            cells: list[Text] = [
                Text(label if spec.is_overall else f"  {label}"),
                Text(f"{item.count:,}"),
            ]
            if slice_failed:
                cells[0].stylize("bold red")
            for name in names:
                if not item.reported:
                    cells.append(Text("—", style="dim"))
                    continue
                style = "bold white on red" if (item.name, name) in failed else ""
                value = format_metric(name, item.metrics.get(name), digits=3)
                cells.append(Text(value, style=style))
            table.add_row(*cells)
    console.print(table)
    if result.min_slice_size > 1 and any(not s.reported for s in result.slices):
        console.print(
            Text(
                f"— : fewer than min_slice_size={result.min_slice_size} examples; "
                "metrics not reported.",
                style="dim",
            )
        )
    style = {True: "bold green", False: "bold red", None: "bold yellow"}[result.blessed]
    console.print(Text(result.summary, style=style))
    for check in result.failures:
        console.print(Text(f"  ✗ {check.metric} on {check.slice}: {check.message}", style="red"))
    for note in result.notes:
        console.print(Text(f"  • {note}", style="dim"))
