"""Plain result records: the metrics of one slice and the outcome of one threshold check."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from tensorbridge.evaluate.slicing import SliceKey, format_value, slice_name

__all__ = ["SliceMetrics", "ThresholdCheck"]


@dataclass(frozen=True)
class SliceMetrics:
    """The metrics of one slice.

    Attributes
    ----------
    key : SliceKey
        ``((column, value), ...)``; ``()`` for the overall slice, ``None`` for a null.
    count : int
        The number of examples in the slice.
    metrics : dict of str to float
        The candidate's metrics; empty when ``count < min_slice_size`` (not reported).
    baseline_metrics : dict of str to float
        The baseline's metrics on the same rows; empty without a baseline.
    notes : tuple of str
        Why a value is NaN or conventional (one class only, no positives, ...).
    """

    key: SliceKey
    count: int
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """TFMA's text for the slice: ``Overall``, ``company:Flash Cab``, ``a_X_b:1_X_2``."""
        return slice_name(self.key)

    @property
    def slice_key(self) -> str:
        """The slice columns: ``""`` for the overall slice, ``a`` or ``a_X_b``."""
        return "_X_".join(column for column, _ in self.key)

    @property
    def slice_value(self) -> str:
        """The slice values: ``""`` for the overall slice, ``(missing)`` for a null."""
        return "_X_".join(format_value(value) for _, value in self.key)

    @property
    def reported(self) -> bool:
        """Whether the metrics were computed (the slice has ``min_slice_size`` examples)."""
        return bool(self.metrics)

    @property
    def diff(self) -> dict[str, float]:
        """Candidate minus baseline, per metric (empty without a baseline)."""
        return {
            name: value - self.baseline_metrics[name]
            for name, value in self.metrics.items()
            if name in self.baseline_metrics
        }


@dataclass(frozen=True)
class ThresholdCheck:
    """The outcome of one threshold on one slice.

    Attributes
    ----------
    metric : str
        The metric name.
    slice : str
        The slice name (``Overall``, ``company:Flash Cab``), or the threshold's slice spec
        when no evaluated slice matched it.
    kind : {"value", "change"}
        A :class:`ValueThreshold` or a :class:`ChangeThreshold`.
    value : float or None
        The candidate's metric value (``None`` when the metric was not found).
    baseline : float or None
        The baseline's metric value (change thresholds only).
    bound : str
        The rule, e.g. ``">= 0.7"`` or ``"diff >= -0.01 (higher is better)"``.
    passed : bool
        Whether the check passed.
    message : str
        A sentence saying what was compared and why it passed or failed.
    """

    metric: str
    slice: str
    kind: Literal["value", "change"]
    value: float | None
    baseline: float | None
    bound: str
    passed: bool
    message: str

    @property
    def diff(self) -> float | None:
        """Candidate minus baseline for a change check."""
        if self.value is None or self.baseline is None:
            return None
        return self.value - self.baseline

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes ``None``)."""
        return {
            "metric": self.metric,
            "slice": self.slice,
            "kind": self.kind,
            "value": _json_float(self.value),
            "baseline": _json_float(self.baseline),
            "diff": _json_float(self.diff),
            "bound": self.bound,
            "passed": self.passed,
            "message": self.message,
        }


def _json_float(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return float(value)
