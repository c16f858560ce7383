"""Number and label formatting shared by the console table and the HTML report."""

from __future__ import annotations

import math
from collections.abc import Iterable

from tensorbridge.evaluate.records import ThresholdCheck

__all__ = ["METRIC_TITLES", "failed_cells", "format_diff", "format_metric"]

#: How metrics are titled in tables and charts.
METRIC_TITLES = {
    "example_count": "Examples",
    "accuracy": "Accuracy",
    "auc": "AUC",
    "pr_auc": "PR AUC",
    "precision": "Precision",
    "recall": "Recall",
    "log_loss": "Log loss",
    "mean_label": "Mean label",
    "mean_prediction": "Mean prediction",
    "calibration": "Calibration",
    "mse": "MSE",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
}


def format_metric(name: str, value: float | None, *, digits: int = 4) -> str:
    """A metric value for display: counts with separators, others with ``digits`` decimals."""
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if name == "example_count":
        return f"{int(value):,}"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def format_diff(value: float) -> str:
    """A signed difference for display."""
    if math.isnan(value):
        return "NaN"
    return f"{value:+.4f}"


def failed_cells(checks: Iterable[ThresholdCheck]) -> set[tuple[str, str]]:
    """The (slice name, metric) pairs with a failed check."""
    return {(check.slice, check.metric) for check in checks if not check.passed}
