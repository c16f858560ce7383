"""Plot data for the report: ROC and PR curves, calibration histogram.

The curves are exact at every distinct prediction value; for display they are thinned to
at most ``max_points`` points (evenly spaced along the curve, both ends kept). The metric
values never come from the thinned curves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.evaluate.inputs import Task
from tensorbridge.evaluate.metrics import threshold_counts

__all__ = ["calibration_histogram", "compute_plots", "pr_curve", "roc_curve"]

#: The most points a curve keeps for display.
MAX_POINTS = 1000
#: Equal-width prediction buckets of the calibration histogram (as TFMA's plot).
CALIBRATION_BUCKETS = 10


def _thin(length: int, max_points: int) -> np.ndarray:
    if length <= max_points:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, max_points).round().astype(np.int64))


def _floats(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]


def _thresholds(thresholds: np.ndarray, keep: np.ndarray) -> list[float | None]:
    """The thresholds of the kept points; point 0 is the curve's start (no threshold)."""
    return [None if i == 0 else round(float(thresholds[i - 1]), 6) for i in keep]


def roc_curve(
    labels: np.ndarray, predictions: np.ndarray, *, max_points: int = MAX_POINTS
) -> dict[str, list[Any]]:
    """ROC curve points (false and true positive rate), from (0, 0) to (1, 1).

    Returns
    -------
    dict
        ``fpr``, ``tpr`` and ``thresholds`` (``None`` for the (0, 0) start); empty lists
        when the labels hold one class only (the curve is undefined).
    """
    counts = threshold_counts(labels, predictions)
    if counts.positives == 0 or counts.negatives == 0:
        return {"fpr": [], "tpr": [], "thresholds": []}
    fpr = np.r_[0.0, counts.fps / counts.negatives]
    tpr = np.r_[0.0, counts.tps / counts.positives]
    keep = _thin(len(fpr), max_points)
    return {
        "fpr": _floats(fpr[keep]),
        "tpr": _floats(tpr[keep]),
        "thresholds": _thresholds(counts.thresholds, keep),
    }


def pr_curve(
    labels: np.ndarray, predictions: np.ndarray, *, max_points: int = MAX_POINTS
) -> dict[str, list[Any]]:
    """Precision-recall curve points, from (recall 0, precision 1) as scikit-learn.

    Returns
    -------
    dict
        ``recall``, ``precision`` and ``thresholds``; empty lists without positive labels.
    """
    counts = threshold_counts(labels, predictions)
    if counts.positives == 0:
        return {"recall": [], "precision": [], "thresholds": []}
    recall = np.r_[0.0, counts.tps / counts.positives]
    precision = np.r_[1.0, counts.tps / (counts.tps + counts.fps)]
    keep = _thin(len(recall), max_points)
    return {
        "recall": _floats(recall[keep]),
        "precision": _floats(precision[keep]),
        "thresholds": _thresholds(counts.thresholds, keep),
    }


def calibration_histogram(
    labels: np.ndarray,
    predictions: np.ndarray,
    *,
    buckets: int = CALIBRATION_BUCKETS,
    low: float = 0.0,
    high: float = 1.0,
) -> list[dict[str, Any]]:
    """Mean prediction, mean label and count in equal-width prediction buckets.

    Parameters
    ----------
    labels, predictions : numpy.ndarray
        Checked arrays of the same length.
    buckets : int, default 10
        The number of buckets between ``low`` and ``high`` (the last one includes
        ``high``).
    low, high : float
        The prediction range; [0, 1] for probabilities.

    Returns
    -------
    list of dict
        One dict per bucket: ``lower``, ``upper``, ``count``, ``mean_prediction`` and
        ``mean_label`` (``None`` for an empty bucket).
    """
    width = (high - low) / buckets if high > low else 1.0
    index = np.clip(np.floor((predictions - low) / width).astype(np.int64), 0, buckets - 1)
    counts = np.bincount(index, minlength=buckets)
    prediction_sums = np.bincount(index, weights=predictions, minlength=buckets)
    label_sums = np.bincount(index, weights=labels, minlength=buckets)
    result = []
    for i in range(buckets):
        count = int(counts[i])
        result.append(
            {
                "lower": round(low + i * width, 12),
                "upper": round(low + (i + 1) * width, 12),
                "count": count,
                "mean_prediction": float(prediction_sums[i] / count) if count else None,
                "mean_label": float(label_sums[i] / count) if count else None,
            }
        )
    return result


def compute_plots(labels: np.ndarray, predictions: np.ndarray, task: Task) -> dict[str, Any]:
    """The plot data of one model on one slice.

    Returns
    -------
    dict
        For ``binary``: ``roc_curve``, ``pr_curve`` and ``calibration`` (10 buckets over
        [0, 1]). For ``regression``: ``calibration`` (predicted vs. actual means in 10
        buckets over the prediction range).
    """
    if task == "binary":
        return {
            "roc_curve": roc_curve(labels, predictions),
            "pr_curve": pr_curve(labels, predictions),
            "calibration": calibration_histogram(labels, predictions),
        }
    low, high = float(np.min(predictions)), float(np.max(predictions))
    return {"calibration": calibration_histogram(labels, predictions, low=low, high=high)}
