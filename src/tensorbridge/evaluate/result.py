"""``EvalResult``: metrics per slice, threshold checks, the blessing, and its outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tensorbridge.errors import ConfigError
from tensorbridge.evaluate.inputs import Task
from tensorbridge.evaluate.metrics import METRICS
from tensorbridge.evaluate.records import SliceMetrics, ThresholdCheck
from tensorbridge.evaluate.slicing import Slice
from tensorbridge.evaluate.thresholds import Rule
from tensorbridge.io.paths import PathLike

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["EvalResult"]


@dataclass(frozen=True)
class EvalResult:
    """The outcome of :func:`tensorbridge.evaluate.evaluate`.

    Attributes
    ----------
    model_name : str
        The candidate model's name.
    task : {"binary", "regression"}
        The task type.
    label, prediction : str
        The label column and the prediction column (``"(array)"`` when predictions
        were passed as an array).
    baseline_prediction : str or None
        The baseline's prediction column (or ``"(array)"``); ``None`` without a baseline.
    data : str
        A description of the evaluated data.
    example_count : int
        The number of examples.
    min_slice_size : int
        Slices with fewer examples are listed but their metrics are not reported.
    slicing_specs : tuple of Slice
        The slicing specs, the overall slice first.
    slices : tuple of SliceMetrics
        One entry per slice, the overall slice first.
    checks : tuple of ThresholdCheck
        The outcome of every threshold on every slice it applies to.
    blessed : bool or None
        True/False when at least one threshold was configured; None otherwise (as TFX,
        which then writes no blessing and never pushes).
    summary : str
        One line on the blessing, e.g. ``"not blessed: 1 of 4 threshold checks failed"``.
    notes : tuple of str
        Other things to know (rubber stamping, slices not checked).
    rules : tuple of Rule
        The configured thresholds.
    plots : dict
        Plot data of the overall slice: ``{"candidate": {...}, "baseline": {...}}``.
    created_at : str
        When the evaluation ran (UTC, ISO 8601).
    """

    model_name: str
    task: Task
    label: str
    prediction: str
    baseline_prediction: str | None
    data: str
    example_count: int
    min_slice_size: int
    slicing_specs: tuple[Slice, ...]
    slices: tuple[SliceMetrics, ...]
    checks: tuple[ThresholdCheck, ...]
    blessed: bool | None
    summary: str
    notes: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    plots: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""

    @property
    def overall(self) -> SliceMetrics:
        """The metrics of the overall slice."""
        return self.slices[0]

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The metrics of the task, in display order."""
        return METRICS[self.task]

    @property
    def failures(self) -> tuple[ThresholdCheck, ...]:
        """The threshold checks that failed."""
        return tuple(check for check in self.checks if not check.passed)

    def slice(self, name: str) -> SliceMetrics:
        """The metrics of one slice by name (``"Overall"``, ``"company:Flash Cab"``)."""
        for item in self.slices:
            if item.name == name:
                return item
        known = [item.name for item in self.slices[:10]]
        more = ", ..." if len(self.slices) > 10 else ""
        raise ConfigError(
            f"No slice named {name!r}; the slices are {known}{more}. Names look like "
            "'Overall', 'company:Flash Cab' or 'a_X_b:1_X_2'."
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything as a JSON-ready dict (the content of ``evaluation.json``)."""
        from tensorbridge.evaluate.output import result_to_dict

        return result_to_dict(self)

    def to_table(self) -> pa.Table:
        """One row per slice: slice, slice_key, slice_value, count, every metric."""
        from tensorbridge.evaluate.output import slice_table

        return slice_table(self)

    def to_html(self, *, metric: str | None = None) -> str:
        """The self-contained HTML report (``metric``: the one drawn per slice)."""
        from tensorbridge.evaluate.report import render_report

        return render_report(self, metric=metric)

    def write(
        self, output_dir: PathLike, *, overwrite: bool = False, report_metric: str | None = None
    ) -> Path:
        """Write the evaluation into a directory, atomically.

        The directory receives ``evaluation.json`` (everything, plus plot data),
        ``slice_metrics.parquet`` (one row per slice), ``report.html`` and, when the
        blessing was decided, an empty ``BLESSED`` or ``NOT_BLESSED`` file (as TFX). It
        is written under a temporary name and renamed when complete, so a failure never
        leaves a partial directory.

        Parameters
        ----------
        output_dir : path
            The directory to create.
        overwrite : bool, default False
            Replace an existing directory.
        report_metric : str, optional
            The metric drawn per slice in the report (default ``auc`` or ``rmse``).

        Returns
        -------
        pathlib.Path
            The written directory.
        """
        from tensorbridge.evaluate.output import write_result

        return write_result(self, output_dir, overwrite=overwrite, report_metric=report_metric)

    def print_table(
        self, console: Console | None = None, *, metrics: Sequence[str] | None = None
    ) -> None:
        """Print the metrics per slice as a rich table, failed checks highlighted.

        Parameters
        ----------
        console : rich.console.Console, optional
            Where to print; a new console on standard output by default.
        metrics : sequence of str, optional
            The metric columns; by default the main ones of the task.
        """
        from tensorbridge.evaluate.table import print_table

        print_table(self, console, metrics=metrics)

    def __repr__(self) -> str:
        blessing = {True: "blessed", False: "not blessed", None: "no blessing"}[self.blessed]
        return (
            f"<EvalResult {self.model_name!r}: {self.task}, {self.example_count} examples, "
            f"{len(self.slices)} slices, {len(self.checks)} checks, {blessing}>"
        )
