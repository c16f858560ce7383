"""Numeric feature statistics: moments, extremes, special values, quantiles, histograms.

Mean and variance are float64 and merged with the pairwise (Chan et al.) formula TFDV
uses (``utils/variance_util.py``), over the non-NaN values with +-inf included, so they
match TFDV to float64 rounding. Quantiles reuse TF.Transform's quantiles accumulator
(:class:`~tensorbridge.transform.combiners.quantiles.QuantilesCombiner`): exact values up
to a limit, then an Apache DataSketches KLL sketch. Both histograms come from the same
values (or sketch), so they merge across partitions like everything else.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from tensorbridge.stats.model import Bucket, Histogram, NumericStatistics
from tensorbridge.transform.combiners.quantiles import QuantilesCombiner, _QuantilesAcc

__all__ = ["NUM_HISTOGRAM_BUCKETS", "NumericAccumulator", "NumericState"]

#: Buckets in both histograms (TFDV's num_histogram_buckets and
#: num_quantiles_histogram_buckets).
NUM_HISTOGRAM_BUCKETS = 10
#: Quantiles are reported at ranks 0%, 1%, ..., 100%.
_NUM_QUANTILE_STEPS = 100


@dataclass
class NumericState:
    """Mergeable state of one numeric feature (float64 moments, counts, quantiles)."""

    count: int = 0
    mean: float = 0.0
    var: float = 0.0
    min: float = np.inf
    max: float = -np.inf
    num_zeros: int = 0
    num_nan: int = 0
    num_pos_inf: int = 0
    num_neg_inf: int = 0
    quantiles: _QuantilesAcc = field(default_factory=_QuantilesAcc)


def _merge_moments(state: NumericState, count: int, mean: float, var: float) -> None:
    """Fold ``(count, mean, var)`` into ``state`` with the pairwise formula."""
    if count == 0:
        return
    if state.count == 0:
        state.count, state.mean, state.var = count, mean, var
        return
    total = state.count + count
    with np.errstate(invalid="ignore", over="ignore"):
        delta = mean - state.mean
        new_mean = state.mean + delta * (count / total)
        new_var = (state.count * state.var + count * var) / total + delta * delta * (
            state.count / total
        ) * (count / total)
    state.count, state.mean, state.var = total, float(new_mean), float(new_var)


class NumericAccumulator:
    """Adds batches of values to a :class:`NumericState` and turns it into statistics.

    Parameters
    ----------
    max_exact_values : int
        Values kept exactly for the quantiles and histograms; beyond that a KLL sketch
        with a rank error of at most 0.5% (TFDV's ``epsilon=0.01``) takes over.
    """

    def __init__(self, max_exact_values: int) -> None:
        self._quantiles = QuantilesCombiner(
            _NUM_QUANTILE_STEPS, epsilon=0.01, max_exact_values=max_exact_values
        )

    def create(self) -> NumericState:
        """An empty state."""
        return NumericState(quantiles=self._quantiles.create())

    def add(self, state: NumericState, values: pa.Array) -> NumericState:
        """Fold a flat Arrow array of numbers (no nulls) into ``state``."""
        if len(values) == 0:
            return state
        if pa.types.is_boolean(values.type):
            x = values.to_numpy(zero_copy_only=False).astype(np.float64)
        elif pa.types.is_temporal(values.type):
            x = values.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            x = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        nan = np.isnan(x)
        num_nan = int(nan.sum())
        if num_nan:
            x = x[~nan]
        state.num_nan += num_nan
        if x.size == 0:
            return state
        with np.errstate(invalid="ignore", over="ignore"):
            _merge_moments(state, int(x.size), float(x.mean()), float(x.var()))
        state.min = min(state.min, float(x.min()))
        state.max = max(state.max, float(x.max()))
        state.num_zeros += int(np.count_nonzero(x == 0))
        inf = np.isinf(x)
        if inf.any():
            state.num_pos_inf += int(np.count_nonzero(x[inf] > 0))
            state.num_neg_inf += int(np.count_nonzero(x[inf] < 0))
        state.quantiles = self._quantiles.add_input(state.quantiles, [x])
        return state

    def merge(self, states: list[NumericState]) -> NumericState:
        """Combine states in order."""
        result = self.create()
        for state in states:
            _merge_moments(result, state.count, state.mean, state.var)
            result.min = min(result.min, state.min)
            result.max = max(result.max, state.max)
            result.num_zeros += state.num_zeros
            result.num_nan += state.num_nan
            result.num_pos_inf += state.num_pos_inf
            result.num_neg_inf += state.num_neg_inf
        result.quantiles = self._quantiles.merge([s.quantiles for s in states])
        return result

    def extract(self, state: NumericState) -> NumericStatistics:
        """The statistics (see :class:`~tensorbridge.stats.model.NumericStatistics`)."""
        if state.count == 0:
            nan = float("nan")
            return NumericStatistics(
                mean=nan,
                std_dev=nan,
                num_zeros=0,
                min=nan,
                max=nan,
                median=nan,
                num_nan=state.num_nan,
                num_pos_inf=0,
                num_neg_inf=0,
                quantiles=(),
                histograms=(),
            )
        acc = state.quantiles
        if acc.exact is not None:
            exact = True
            sorted_values = np.sort(np.concatenate(acc.exact)) if acc.exact else np.zeros(0)
            quantiles = _exact_quantiles(sorted_values)
            standard = _exact_standard_histogram(sorted_values, state)

            def below(x: float) -> float:
                return float(np.searchsorted(sorted_values, x, side="left"))

            def at_most(x: float) -> float:
                return float(np.searchsorted(sorted_values, x, side="right"))

        else:
            assert acc.sketches is not None
            exact = False
            sketch = acc.sketches[0]
            quantiles = _sketch_quantiles(sketch, state)
            standard = _sketch_standard_histogram(sketch, state)

            def below(x: float) -> float:
                return float(sketch.get_rank(x, False)) * state.count

            def at_most(x: float) -> float:
                return float(sketch.get_rank(x, True)) * state.count

        return NumericStatistics(
            mean=state.mean,
            std_dev=float(np.sqrt(max(0.0, state.var))) if not np.isnan(state.var) else np.nan,
            num_zeros=state.num_zeros,
            min=state.min,
            max=state.max,
            median=quantiles[_NUM_QUANTILE_STEPS // 2],
            num_nan=state.num_nan,
            num_pos_inf=state.num_pos_inf,
            num_neg_inf=state.num_neg_inf,
            quantiles=quantiles,
            histograms=(
                Histogram("STANDARD", standard, state.num_nan),
                Histogram(
                    "QUANTILES", _quantiles_histogram(quantiles, below, at_most), state.num_nan
                ),
            ),
            exact_quantiles=exact,
        )


def _exact_quantiles(sorted_values: np.ndarray) -> tuple[float, ...]:
    """Values at ranks ``i / 100``: ``v[floor(i * n / 100)]``, the last one the maximum."""
    n = sorted_values.size
    index = np.minimum(np.arange(_NUM_QUANTILE_STEPS + 1) * n // _NUM_QUANTILE_STEPS, n - 1)
    return tuple(float(v) for v in sorted_values[index])


def _sketch_quantiles(sketch: Any, state: NumericState) -> tuple[float, ...]:
    ranks = np.arange(1, _NUM_QUANTILE_STEPS) / _NUM_QUANTILE_STEPS
    inner = sketch.get_quantiles(np.nextafter(ranks, 2.0).tolist(), False)
    return (state.min, *(float(v) for v in inner), state.max)


def _edges(finite_min: float, finite_max: float) -> np.ndarray:
    width = (finite_max - finite_min) / NUM_HISTOGRAM_BUCKETS
    edges = finite_min + width * np.arange(NUM_HISTOGRAM_BUCKETS + 1)
    edges[-1] = finite_max
    return edges


def _buckets(edges: np.ndarray, counts: np.ndarray) -> tuple[Bucket, ...]:
    return tuple(
        Bucket(float(edges[i]), float(edges[i + 1]), float(counts[i]))
        for i in range(len(edges) - 1)
    )


def _exact_standard_histogram(sorted_values: np.ndarray, state: NumericState) -> tuple[Bucket, ...]:
    """Equal-width buckets over the finite range; -inf counted first, +inf last.

    Bucket ``i`` holds ``edges[i] < v <= edges[i + 1]``, the first bucket also its lower
    edge (the finite minimum), as TFDV's histograms do.
    """
    finite = sorted_values[state.num_neg_inf : sorted_values.size - state.num_pos_inf]
    if finite.size == 0:
        return (Bucket(state.min, state.max, float(state.count)),)
    low, high = float(finite[0]), float(finite[-1])
    if low == high:
        return (Bucket(low, high, float(state.count)),)
    edges = _edges(low, high)
    at_most = np.searchsorted(finite, edges[1:-1], side="right")
    cumulative = np.concatenate([[0], at_most, [finite.size]])
    counts = np.diff(cumulative).astype(np.float64)
    counts[0] += state.num_neg_inf
    counts[-1] += state.num_pos_inf
    return _buckets(edges, counts)


def _sketch_standard_histogram(sketch: Any, state: NumericState) -> tuple[Bucket, ...]:
    """Like the exact histogram, with counts from the sketch's CDF at the bucket edges."""
    inner = np.asarray(_sketch_quantiles(sketch, state))
    finite = inner[np.isfinite(inner)]
    if finite.size == 0:
        return (Bucket(state.min, state.max, float(state.count)),)
    low = state.min if np.isfinite(state.min) else float(finite.min())
    high = state.max if np.isfinite(state.max) else float(finite.max())
    if low == high:
        return (Bucket(low, high, float(state.count)),)
    edges = _edges(low, high)
    cdf = np.asarray(sketch.get_cdf(edges[1:-1].tolist(), True), np.float64)[:-1]
    cumulative = np.concatenate([[0.0], cdf, [1.0]]) * state.count
    return _buckets(edges, np.diff(cumulative))


def _quantiles_histogram(
    quantiles: tuple[float, ...], below: Callable[[float], float], at_most: Callable[[float], float]
) -> tuple[Bucket, ...]:
    """Ten buckets between the deciles, each with the number of values it holds.

    TFDV's convention: bucket ``i`` holds ``edges[i] < v <= edges[i + 1]``, the first one
    also its lower edge (the minimum). Where a value ``x`` is so frequent that several
    deciles equal it, the point buckets ``[x, x]`` share its count equally and the
    neighbouring buckets hold none of it. ``below(x)`` counts values < x, ``at_most(x)``
    values <= x.
    """
    step = _NUM_QUANTILE_STEPS // NUM_HISTOGRAM_BUCKETS
    edges = [quantiles[i * step] for i in range(NUM_HISTOGRAM_BUCKETS + 1)]
    points: dict[float, int] = {}
    for low, high in itertools.pairwise(edges):
        if low == high:
            points[low] = points.get(low, 0) + 1
    buckets = []
    for i, (low, high) in enumerate(itertools.pairwise(edges)):
        if low == high:
            count = (at_most(low) - below(low)) / points[low]
        else:
            start = below(low) if i == 0 and low not in points else at_most(low)
            count = (below(high) if high in points else at_most(high)) - start
        buckets.append(Bucket(low, high, float(count)))
    return tuple(buckets)
