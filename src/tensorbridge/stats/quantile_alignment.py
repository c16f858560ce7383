"""Numeric distributions on common buckets, from each side's percentiles.

TFDV compares numeric features by re-bucketing their equal-width histograms onto the
union of the bucket boundaries, assuming uniform mass inside each bucket
(:func:`~tensorbridge.stats.distance.align_histograms`). On skewed data that assumption
fails: one outlier sets the width of every bucket, and two random halves of the taxi data
score a Jensen-Shannon divergence of 0.25 on ``trip_miles`` (10,000 rows each), so no
useful default threshold exists. tensorbridge's drift and skew checks therefore compare
numeric features on buckets cut at both sides' deciles, each side's mass in a bucket read
from its own 101 percentiles (a piecewise-linear CDF, exact at every percentile):

- a value that holds at least 1% of either side (several equal percentiles, e.g. the
  68% of zero tips) is a bucket of its own, ``[0]``;
- the ranges between consecutive edges are buckets ``(a, b)``, plus anything below the
  lowest or above the highest edge;
- NaN is one more bucket.

The same two random halves then score at most 0.02 (see docs/stats.md). A value found
at ``c`` of the percentiles gets ``(c - 1)%`` of its side's mass (1% resolution, the same
on both sides, so distances are not biased by it).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tensorbridge.stats.distance import _format_numbers
from tensorbridge.stats.model import NumericStatistics

__all__ = ["align_quantiles"]

FloatArray = npt.NDArray[np.float64]
_DECILE_STEP = 10


def _cdf(q: FloatArray, x: float, *, inclusive: bool) -> float:
    """Share of values ``<= x`` (inclusive) or ``< x``, interpolated between percentiles."""
    steps = len(q) - 1
    k = int(np.searchsorted(q, x, side="right" if inclusive else "left"))
    if k == 0:
        return 0.0
    if k > steps:
        return 1.0
    low, high = float(q[k - 1]), float(q[k])
    fraction = 0.0
    if x == high:  # x is the next percentile itself (also when it is +inf)
        fraction = 1.0
    elif np.isfinite(low) and np.isfinite(high) and high > low:
        fraction = (x - low) / (high - low)
    return (k - 1 + fraction) / steps


def _masses(
    numeric: NumericStatistics | None, edges: list[float], points: set[float]
) -> tuple[list[str], list[float]]:
    """Bucket labels and this side's share in each (non-NaN part, summing to 1)."""
    text = _format_numbers(edges)
    labels: list[str] = []
    shares: list[float] = []
    q = np.asarray(numeric.quantiles if numeric is not None else (), np.float64)
    empty = q.size == 0

    def below(x: float) -> float:
        return 0.0 if empty else _cdf(q, x, inclusive=False)

    def at_most(x: float) -> float:
        return 0.0 if empty else _cdf(q, x, inclusive=True)

    def _text(value: float) -> str:
        return text[value]

    labels.append(f"< {_text(edges[0])}")
    shares.append(below(edges[0]))
    for i, edge in enumerate(edges):
        if edge in points:
            labels.append(f"[{_text(edge)}]")
            shares.append(at_most(edge) - below(edge))
            start = at_most(edge)
        else:
            start = below(edge)
        if i + 1 < len(edges):
            labels.append(f"({_text(edge)}, {_text(edges[i + 1])})")
            shares.append(below(edges[i + 1]) - start)
        else:
            labels.append(f"> {_text(edge)}" if edge in points else f">= {_text(edge)}")
            shares.append((0.0 if empty else 1.0) - start)
    return labels, shares


def _points(numeric: NumericStatistics | None) -> set[float]:
    """Values at two or more percentiles: at least ~1% of this side's values."""
    if numeric is None or not numeric.quantiles:
        return set()
    values, counts = np.unique(np.asarray(numeric.quantiles), return_counts=True)
    return {float(v) for v in values[counts >= 2]}


def _deciles(numeric: NumericStatistics | None) -> list[float]:
    if numeric is None or not numeric.quantiles:
        return []
    return [float(v) for v in numeric.quantiles[::_DECILE_STEP]]


def align_quantiles(
    base: NumericStatistics | None, current: NumericStatistics | None
) -> tuple[list[str], FloatArray, FloatArray]:
    """Both sides' counts on common buckets (see the module notes).

    Parameters
    ----------
    base, current : NumericStatistics or None
        The two sides' numeric statistics (None: no values at all).

    Returns
    -------
    labels : list of str
        ``"< a"``, ``"[a]"`` (a point), ``"(a, b)"``, ``">= b"``, ``"NaN"``; buckets empty
        on both sides are left out.
    base_counts, current_counts : numpy.ndarray
        Estimated number of values of each side in each bucket (they sum to the side's
        non-NaN count plus its NaN count).
    """
    edges = sorted(set(_deciles(base)) | set(_deciles(current)))
    points = _points(base) | _points(current)
    result: list[tuple[list[str], list[float]]] = []
    for side in (base, current):
        count = _total(side) if side is not None and side.quantiles else 0.0
        nan = side.num_nan if side is not None else 0
        if edges:
            labels, shares = _masses(side, edges, points)
        else:
            labels, shares = [], []
        counts = [max(0.0, s) * count for s in shares] + [float(nan)]
        result.append(([*labels, "NaN"], counts))
    labels = result[0][0]
    base_counts = np.asarray(result[0][1], np.float64)
    current_counts = np.asarray(result[1][1], np.float64)
    keep = (base_counts > 0) | (current_counts > 0)
    return (
        [label for label, kept in zip(labels, keep, strict=True) if kept],
        base_counts[keep],
        current_counts[keep],
    )


def _total(numeric: NumericStatistics) -> float:
    """Number of non-NaN values: the sum of the equi-depth histogram's counts."""
    histogram = numeric.histogram("QUANTILES")
    if histogram is None:
        return 0.0
    return float(sum(b.sample_count for b in histogram.buckets))
