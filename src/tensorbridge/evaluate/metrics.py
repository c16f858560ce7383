"""Exact metrics from labels and predictions (numpy only; no TensorFlow).

Binary classification (labels 0/1, predictions = probability of class 1):

- ``example_count``: the number of examples.
- ``accuracy``: the share of examples with ``(prediction > 0.5) == label`` (TFMA's
  BinaryAccuracy).
- ``auc``: ROC AUC from the rank-sum (Mann-Whitney) statistic, ties counted half, as
  scikit-learn's ``roc_auc_score``; NaN when the slice holds one class only.
- ``pr_auc``: average precision, as scikit-learn's ``average_precision_score`` (exact;
  TFMA's AUC-PR interpolates over 10,000 thresholds).
- ``precision``: TP / (TP + FP) at threshold 0.5; 0 when nothing is predicted positive.
- ``recall``: TP / (TP + FN) at threshold 0.5; 0 when there are no positive labels.
- ``log_loss``: the mean binary cross-entropy with probabilities clipped to
  [eps, 1 - eps], ``eps = np.finfo(np.float64).eps``, as scikit-learn's ``log_loss``.
- ``mean_label``, ``mean_prediction``: the means of labels and predictions.
- ``calibration``: mean_prediction / mean_label (TFMA); NaN without positive labels.

Regression: ``example_count``, ``mse``, ``rmse``, ``mae`` and ``r2`` (as scikit-learn's
``r2_score``: 1.0 for a perfect fit of a constant label, 0.0 otherwise; NaN below two
examples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tensorbridge.errors import BadInputError
from tensorbridge.evaluate.inputs import Task, check_labels, check_predictions, check_task

__all__ = [
    "BINARY_METRICS",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "METRICS",
    "REGRESSION_METRICS",
    "ThresholdCounts",
    "compute_metrics",
    "metric_values",
    "threshold_counts",
]

BINARY_METRICS = (
    "example_count",
    "accuracy",
    "auc",
    "pr_auc",
    "precision",
    "recall",
    "log_loss",
    "mean_label",
    "mean_prediction",
    "calibration",
)
REGRESSION_METRICS = ("example_count", "mse", "rmse", "mae", "r2")
METRICS: dict[str, tuple[str, ...]] = {"binary": BINARY_METRICS, "regression": REGRESSION_METRICS}

#: Metrics where a larger value is a better model (used to infer a change direction).
HIGHER_IS_BETTER = frozenset({"accuracy", "auc", "pr_auc", "precision", "recall", "r2"})
#: Metrics where a smaller value is a better model.
LOWER_IS_BETTER = frozenset({"log_loss", "mse", "rmse", "mae"})

#: The decision threshold of accuracy, precision and recall (a prediction above it is 1).
DECISION_THRESHOLD = 0.5
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class ThresholdCounts:
    """Cumulative confusion counts at every distinct prediction, highest first.

    ``tps[i]`` and ``fps[i]`` count the positive and negative examples whose prediction
    is ``>= thresholds[i]``.
    """

    thresholds: np.ndarray
    tps: np.ndarray
    fps: np.ndarray

    @property
    def positives(self) -> int:
        """The number of positive labels."""
        return int(self.tps[-1]) if len(self.tps) else 0

    @property
    def negatives(self) -> int:
        """The number of negative labels."""
        return int(self.fps[-1]) if len(self.fps) else 0


def threshold_counts(labels: np.ndarray, predictions: np.ndarray) -> ThresholdCounts:
    """Count true and false positives at every distinct prediction value.

    Parameters
    ----------
    labels : numpy.ndarray
        0/1 labels.
    predictions : numpy.ndarray
        Scores; only their order matters.

    Returns
    -------
    ThresholdCounts
        Distinct predictions in descending order with cumulative TP and FP counts.
    """
    order = np.argsort(-predictions, kind="stable")
    scores = predictions[order]
    positive = labels[order] == 1.0
    last_of_group = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])
    tps = np.cumsum(positive, dtype=np.int64)[last_of_group]
    fps = (last_of_group + 1).astype(np.int64) - tps
    return ThresholdCounts(scores[last_of_group], tps, fps)


def _roc_auc(counts: ThresholdCounts) -> float:
    """Mann-Whitney U / (P * N), ties counted half, in exact integer arithmetic."""
    positives, negatives = counts.positives, counts.negatives
    tp_group = np.diff(counts.tps, prepend=0)
    fp_group = np.diff(counts.fps, prepend=0)
    negatives_below = negatives - counts.fps
    twice_u = int(np.sum(tp_group * (2 * negatives_below + fp_group), dtype=np.int64))
    return twice_u / (2.0 * positives * negatives)


def _average_precision(counts: ThresholdCounts) -> float:
    """Sum over distinct thresholds of (R_k - R_{k-1}) * P_k (scikit-learn's formula)."""
    precision = counts.tps / (counts.tps + counts.fps)
    recall_step = np.diff(counts.tps, prepend=0) / counts.positives
    return float(np.sum(recall_step * precision))


def _binary(labels: np.ndarray, predictions: np.ndarray) -> tuple[dict[str, float], list[str]]:
    notes: list[str] = []
    n = len(labels)
    positives = int(labels.sum())
    negatives = n - positives
    predicted = predictions > DECISION_THRESHOLD
    tp = int(np.count_nonzero(predicted & (labels == 1.0)))
    fp = int(np.count_nonzero(predicted)) - tp
    tn = negatives - fp
    counts = threshold_counts(labels, predictions)
    one_class = "0" if positives == 0 else "1"
    if positives and negatives:
        auc = _roc_auc(counts)
    else:
        auc = float("nan")
        notes.append(
            f"auc is undefined (NaN): all {n} labels are {one_class}, and ROC AUC needs "
            "both classes."
        )
    if positives:
        pr_auc = _average_precision(counts)
        recall = tp / positives
    else:
        pr_auc = 0.0
        recall = 0.0
        notes.append(
            "pr_auc and recall are 0: there are no positive labels (scikit-learn's "
            "convention, zero_division=0)."
        )
    if tp + fp:
        precision = tp / (tp + fp)
    else:
        precision = 0.0
        notes.append("precision is 0: no prediction is above 0.5 (zero_division=0).")
    clipped = np.clip(predictions, _EPS, 1.0 - _EPS)
    clipped_negative = np.clip(1.0 - predictions, _EPS, 1.0 - _EPS)
    losses = np.where(labels == 1.0, -np.log(clipped), -np.log(clipped_negative))
    mean_label = positives / n
    mean_prediction = float(np.mean(predictions))
    if positives:
        calibration = mean_prediction / mean_label
    else:
        calibration = float("nan")
        notes.append("calibration is undefined (NaN): mean_label is 0.")
    values = {
        "example_count": float(n),
        "accuracy": (tp + tn) / n,
        "auc": auc,
        "pr_auc": pr_auc,
        "precision": precision,
        "recall": recall,
        "log_loss": float(np.mean(losses)),
        "mean_label": mean_label,
        "mean_prediction": mean_prediction,
        "calibration": calibration,
    }
    return values, notes


def _regression(labels: np.ndarray, predictions: np.ndarray) -> tuple[dict[str, float], list[str]]:
    notes: list[str] = []
    n = len(labels)
    errors = labels - predictions
    mse = float(np.mean(errors**2))
    if n < 2:
        r2 = float("nan")
        notes.append("r2 is undefined (NaN) with fewer than two examples.")
    else:
        residual = float(np.sum(errors**2))
        total = float(np.sum((labels - np.mean(labels)) ** 2))
        if total != 0.0:
            r2 = 1.0 - residual / total
        else:
            r2 = 1.0 if residual == 0.0 else 0.0
            notes.append(
                f"r2 is {r2:g} by scikit-learn's convention: every label is the same, so "
                "the variance to explain is 0."
            )
    values = {
        "example_count": float(n),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(errors))),
        "r2": r2,
    }
    return values, notes


def metric_values(
    labels: np.ndarray, predictions: np.ndarray, task: Task
) -> tuple[dict[str, float], list[str]]:
    """Metrics and notes on undefined values, for arrays already checked (non-empty).

    Parameters
    ----------
    labels, predictions : numpy.ndarray
        Checked float64 arrays of the same, non-zero length.
    task : {"binary", "regression"}
        The task type.

    Returns
    -------
    (dict of str to float, list of str)
        The metrics (in the order of :data:`METRICS`) and notes explaining NaN or
        conventional values.
    """
    if task == "binary":
        return _binary(labels, predictions)
    return _regression(labels, predictions)


def compute_metrics(
    labels: npt.ArrayLike, predictions: npt.ArrayLike, *, task: Task = "binary"
) -> dict[str, float]:
    """Compute every metric of a task from labels and predictions.

    Parameters
    ----------
    labels : array-like
        One label per example: 0/1 (or bool) for ``task="binary"``.
    predictions : array-like
        One prediction per example: the probability of class 1 for ``task="binary"``.
    task : {"binary", "regression"}, default "binary"
        The task type.

    Returns
    -------
    dict of str to float
        Metric name to value; undefined values are NaN.

    Examples
    --------
    >>> m = compute_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> m["auc"], m["accuracy"], m["precision"]
    (0.75, 0.5, 0.5)
    >>> compute_metrics([1.0, 2.0, 4.0], [1.5, 2.0, 3.0], task="regression")["mae"]
    0.5
    """
    kind = check_task(task)
    checked_labels = check_labels(labels, kind)
    checked = check_predictions(predictions, kind, expected=len(checked_labels))
    if len(checked_labels) == 0:
        raise BadInputError("No examples: labels and predictions are empty; pass at least one.")
    return metric_values(checked_labels, checked, kind)[0]
