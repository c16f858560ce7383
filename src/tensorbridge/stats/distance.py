"""Distances between two distributions, as TFDV's drift and skew comparators compute them.

Pure functions on value counts and :class:`~tensorbridge.stats.model.Histogram` objects
(TFDV's ``anomalies/metrics.cc``):

- :func:`l_infinity`: the largest change in any one value's share (categorical features).
- :func:`jensen_shannon_divergence`: JSD with log base 2, in [0, 1].
- :func:`align_histograms`: re-bucket two numeric histograms onto common buckets
  (TFDV's ``AlignHistograms``), so :func:`numeric_jsd` can compare them.
- :func:`moved_values`: the values (or numeric ranges) whose share changed most.

Every function normalizes each side by its own total, so two data sets of different sizes
compare by their shares.

Examples
--------
>>> round(jensen_shannon_divergence([1, 1], [1, 0]), 6)
0.311278
>>> l_infinity({"a": 3, "b": 1}, {"a": 1, "b": 1})
(0.25, 'b')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tensorbridge.errors import ConfigError
from tensorbridge.stats.model import Bucket, Histogram
from tensorbridge.stats.results import MovedValue

__all__ = [
    "align_counts",
    "align_histograms",
    "categorical_jsd",
    "jensen_shannon_divergence",
    "l_infinity",
    "moved_values",
    "numeric_jsd",
    "separate_infinities",
]

FloatArray = npt.NDArray[np.float64]

#: Differences are compared after rounding to this many decimals, so that ties broken by
#: label do not depend on the last bit of a floating-point subtraction.
_TIE_DECIMALS = 12


def _shares(counts: FloatArray) -> FloatArray:
    """``counts / counts.sum()``; all zeros when the total is 0 (an empty side)."""
    total = float(counts.sum())
    if total == 0.0:
        return np.zeros_like(counts)
    return counts / total


def _check_counts(counts: FloatArray, what: str) -> None:
    if counts.ndim != 1:
        raise ConfigError(f"{what} must be a 1-D sequence of counts; got shape {counts.shape}.")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ConfigError(
            f"{what} must hold finite counts >= 0; got {counts.tolist()[:10]}. "
            "Pass value counts (e.g. a rank histogram's sample_count), not shares or logs."
        )


def align_counts(
    base_counts: Mapping[str, float], current_counts: Mapping[str, float]
) -> tuple[list[str], FloatArray, FloatArray]:
    """Both sides' counts over the union of their values, values sorted.

    Parameters
    ----------
    base_counts, current_counts : mapping of str to float
        ``{value: count}`` on each side; a value missing on one side counts 0 there.

    Returns
    -------
    labels : list of str
        The union of the values, sorted.
    base, current : ndarray
        The counts of each label on each side.
    """
    labels = sorted(set(base_counts) | set(current_counts))
    base = np.array([float(base_counts.get(v, 0.0)) for v in labels], dtype=np.float64)
    current = np.array([float(current_counts.get(v, 0.0)) for v in labels], dtype=np.float64)
    _check_counts(base, "base_counts")
    _check_counts(current, "current_counts")
    return labels, base, current


def l_infinity(
    base_counts: Mapping[str, float], current_counts: Mapping[str, float]
) -> tuple[float, str | None]:
    """L-infinity distance between two normalized value-count vectors (TFDV's ``Linfty``).

    Each side is divided by its own total; the distance is the largest absolute
    difference of any value's share, over the union of the values.

    Parameters
    ----------
    base_counts, current_counts : mapping of str to float
        ``{value: count}``, e.g. :meth:`StringStatistics.value_counts`.

    Returns
    -------
    distance : float
        In [0, 1].
    value : str or None
        The value whose share changed most (TFDV's anomaly message names it). On ties the
        larger value wins, as in TFDV (which scans values in ascending order and keeps the
        last maximum). None when both sides are empty.

    Notes
    -----
    An empty side (no values, or all counts 0) has every share 0, so the distance is the
    largest share on the other side and the value named is the most common one there.
    Both sides empty gives ``(0.0, None)``. Use :func:`categorical_jsd`, which gives 1.0
    for an empty side, to flag a feature that lost all its values.
    """
    labels, base, current = align_counts(base_counts, current_counts)
    if not labels:
        return 0.0, None
    diff = np.abs(_shares(current) - _shares(base))
    rounded = np.round(diff, _TIE_DECIMALS)
    best = max(range(len(labels)), key=lambda i: (rounded[i], labels[i]))
    return float(diff[best]), labels[best]


def jensen_shannon_divergence(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Jensen-Shannon divergence of two count vectors over the same buckets, log base 2.

    ``JSD(P, Q) = (KL(P || M) + KL(Q || M)) / 2`` with ``M = (P + Q) / 2``, after dividing
    each side by its own total. Buckets with 0 count contribute nothing (0 log 0 = 0).

    Parameters
    ----------
    p, q : array-like of float
        Unnormalized counts (>= 0, finite), same length.

    Returns
    -------
    float
        In [0, 1]: 0 for identical shares, 1 for disjoint supports. Rounding is clipped
        into [0, 1] (TFDV caps at 1.0 too).

    Notes
    -----
    Both sides empty (total 0) gives 0.0 (nothing differs); exactly one side empty gives
    1.0 (maximally different: all the mass is where the other side has none).

    Examples
    --------
    >>> jensen_shannon_divergence([5, 5], [1, 1])
    0.0
    >>> jensen_shannon_divergence([1, 0], [0, 3])
    1.0
    """
    p_arr = np.asarray(p, dtype=np.float64)
    q_arr = np.asarray(q, dtype=np.float64)
    _check_counts(p_arr, "p")
    _check_counts(q_arr, "q")
    if p_arr.shape != q_arr.shape:
        raise ConfigError(
            f"p and q must count the same buckets; got {p_arr.size} and {q_arr.size} counts. "
            "Align them first (align_counts or align_histograms)."
        )
    p_total, q_total = float(p_arr.sum()), float(q_arr.sum())
    if p_total == 0.0 and q_total == 0.0:
        return 0.0
    if p_total == 0.0 or q_total == 0.0:
        return 1.0
    p_arr, q_arr = p_arr / p_total, q_arr / q_total
    m = (p_arr + q_arr) / 2.0
    result = (_kl(p_arr, m) + _kl(q_arr, m)) / 2.0
    return float(min(1.0, max(0.0, result)))


def _kl(p: FloatArray, m: FloatArray) -> float:
    """KL(p || m) in bits over the buckets where p > 0 (there m > 0 too)."""
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / m[mask])))


def categorical_jsd(base_counts: Mapping[str, float], current_counts: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence (log 2) of two ``{value: count}`` maps over their union.

    An empty side gives 1.0, both empty 0.0 (see :func:`jensen_shannon_divergence`).
    """
    _, base, current = align_counts(base_counts, current_counts)
    return jensen_shannon_divergence(base, current)


def separate_infinities(histogram: Histogram, num_neg_inf: int, num_pos_inf: int) -> Histogram:
    """Move -inf and +inf values out of the first and last bucket into point buckets.

    tensorbridge's ``STANDARD`` histograms count -inf values in the first bucket and +inf
    values in the last (their bounds stay finite). This returns a histogram where those
    counts are taken out of those buckets (at most their count) and put in point buckets
    ``[-inf, -inf]`` and ``[inf, inf]``, which :func:`align_histograms` keeps as their own
    ``"-inf"`` / ``"+inf"`` buckets instead of spreading them over a finite range.

    Parameters
    ----------
    histogram : Histogram
    num_neg_inf, num_pos_inf : int
        ``NumericStatistics.num_neg_inf`` / ``num_pos_inf`` of the same feature.
    """
    buckets = list(histogram.buckets)
    extra: list[Bucket] = []
    for count, index, bound in ((num_neg_inf, 0, -math.inf), (num_pos_inf, -1, math.inf)):
        if count <= 0:
            continue
        if (
            buckets
            and math.isfinite(buckets[index].low_value)
            and math.isfinite(buckets[index].high_value)
        ):
            bucket = buckets[index]
            taken = min(float(count), bucket.sample_count)
            buckets[index] = Bucket(
                bucket.low_value, bucket.high_value, bucket.sample_count - taken
            )
        extra.append(Bucket(bound, bound, float(count)))
    if not extra:
        return histogram
    return Histogram(histogram.type, tuple(buckets + extra), histogram.num_nan)


@dataclass
class _Parts:
    """A histogram taken apart: finite ranges, point masses, infinite masses and NaNs."""

    ranges: list[tuple[float, float, float]] = field(default_factory=list)
    points: dict[float, float] = field(default_factory=dict)
    neg_inf: float = 0.0
    pos_inf: float = 0.0
    nan: float = 0.0


def _split(histogram: Histogram, side: str) -> _Parts:
    parts = _Parts(nan=float(histogram.num_nan))
    if parts.nan < 0:
        raise ConfigError(f"The {side} histogram has num_nan={histogram.num_nan}; must be >= 0.")
    for bucket in histogram.buckets:
        low, high, count = bucket.low_value, bucket.high_value, bucket.sample_count
        if math.isnan(low) or math.isnan(high) or low > high:
            raise ConfigError(
                f"The {side} histogram has a bucket [{low}, {high}]: bounds must be numbers "
                "with low_value <= high_value. Recompute the statistics."
            )
        if not math.isfinite(count) or count < 0:
            raise ConfigError(
                f"The {side} histogram has a bucket [{low}, {high}] with sample_count "
                f"{count}; counts must be finite and >= 0. Recompute the statistics."
            )
        if low == -math.inf and high == math.inf:
            parts.neg_inf += count / 2.0
            parts.pos_inf += count / 2.0
        elif low == -math.inf:
            parts.neg_inf += count
        elif high == math.inf:
            parts.pos_inf += count
        elif low == high:
            parts.points[low] = parts.points.get(low, 0.0) + count
        else:
            parts.ranges.append((low, high, count))
    return parts


def _spread(ranges: Iterable[tuple[float, float, float]], grid: FloatArray) -> FloatArray:
    """Counts on the ``grid`` intervals, each range's count spread uniformly over its width."""
    out = np.zeros(max(grid.size - 1, 0), dtype=np.float64)
    for low, high, count in ranges:
        start = int(np.searchsorted(grid, low))
        stop = int(np.searchsorted(grid, high))
        cuts = grid[start : stop + 1]
        if not math.isfinite(high - low):  # bounds near +-1.8e308: scale to keep widths finite
            cuts = cuts / max(abs(low), abs(high))
        widths = np.diff(cuts)
        out[start:stop] += count * widths / widths.sum()
    return out


def _format_numbers(values: Iterable[float]) -> dict[float, str]:
    """Short labels for bucket bounds: 6 significant digits, more where needed to differ."""
    distinct = sorted(set(values))
    texts: list[str] = []
    for digits in range(6, 18):
        texts = ["0" if v == 0 else f"{v:.{digits}g}" for v in distinct]
        if len(set(texts)) == len(texts):
            break
    return dict(zip(distinct, texts, strict=True))


def align_histograms(
    base: Histogram, current: Histogram
) -> tuple[list[str], FloatArray, FloatArray]:
    """Re-bucket two histograms onto common buckets (TFDV's ``AlignHistograms``).

    The finite-width buckets of both sides are cut at the union of their boundaries, each
    bucket's count spread over the new pieces in proportion to their width (uniform mass
    within a bucket), so each side's total is conserved. The other masses become buckets
    of their own, shared by both sides:

    - a zero-width bucket ``[v, v]`` is a point mass at ``v``, labelled ``"[v, v]"``
      (TFDV keeps point buckets out of the re-bucketing the same way);
    - mass in a bucket with an infinite bound goes to a ``"-inf"`` or ``"+inf"`` bucket (a
      point mass at that bound; a ``[-inf, inf]`` bucket is split evenly between them).
      tensorbridge's histograms keep +-inf values inside finite first/last buckets: call
      :func:`separate_infinities` first to move them out;
    - NaN values (``num_nan``) are a ``"NaN"`` bucket.

    Unlike TFDV, which appends each side's infinite and NaN masses as buckets the other
    side always has 0 in, the ``"-inf"``, ``"+inf"`` and ``"NaN"`` buckets are matched, so
    two data sets with the same share of NaNs do not differ on them. Point, infinite and
    NaN buckets appear only when either side has mass there.

    Parameters
    ----------
    base, current : Histogram
        Histograms of the same type (``STANDARD`` in the drift check).

    Returns
    -------
    labels : list of str
        ``"-inf"``, then the finite buckets in value order (ranges as ``"[1.5, 3)"``, the
        last range closed, ``"[lo, hi]"``; points as ``"[2, 2]"``), then ``"+inf"``,
        ``"NaN"``.
    base_counts, current_counts : ndarray
        Each side's (fractional) counts in those buckets.

    Examples
    --------
    >>> a = Histogram("STANDARD", (Bucket(0.0, 2.0, 4.0),))
    >>> b = Histogram("STANDARD", (Bucket(1.0, 3.0, 2.0),))
    >>> labels, x, y = align_histograms(a, b)
    >>> labels, x.tolist(), y.tolist()
    (['[0, 1)', '[1, 2)', '[2, 3]'], [2.0, 2.0, 0.0], [0.0, 1.0, 1.0])
    """
    if base.type != current.type:
        raise ConfigError(
            f"Cannot align a {base.type} histogram with a {current.type} one; compare "
            "histograms of the same type (the drift check uses STANDARD)."
        )
    b, c = _split(base, "base"), _split(current, "current")
    grid = np.array(
        sorted({x for low, high, _ in b.ranges + c.ranges for x in (low, high)}),
        dtype=np.float64,
    )
    b_ranges, c_ranges = _spread(b.ranges, grid), _spread(c.ranges, grid)
    names = _format_numbers([*grid.tolist(), *b.points, *c.points])

    # (sort key, label, base count, current count); points sort before ranges starting there.
    rows: list[tuple[tuple[float, float], str, float, float]] = []
    last = grid.size - 2
    for i in range(grid.size - 1):
        low, high = float(grid[i]), float(grid[i + 1])
        close = "]" if i == last else ")"
        label = f"[{names[low]}, {names[high]}{close}"
        rows.append(((low, high), label, float(b_ranges[i]), float(c_ranges[i])))
    for point in sorted(set(b.points) | set(c.points)):
        label = f"[{names[point]}, {names[point]}]"
        rows.append(((point, point), label, b.points.get(point, 0.0), c.points.get(point, 0.0)))
    rows.sort(key=lambda row: row[0])
    if b.neg_inf or c.neg_inf:
        rows.insert(0, ((-math.inf, -math.inf), "-inf", b.neg_inf, c.neg_inf))
    if b.pos_inf or c.pos_inf:
        rows.append(((math.inf, math.inf), "+inf", b.pos_inf, c.pos_inf))
    if b.nan or c.nan:
        rows.append(((math.nan, math.nan), "NaN", b.nan, c.nan))
    labels = [row[1] for row in rows]
    base_counts = np.array([row[2] for row in rows], dtype=np.float64)
    current_counts = np.array([row[3] for row in rows], dtype=np.float64)
    return labels, base_counts, current_counts


def numeric_jsd(base_hist: Histogram, current_hist: Histogram) -> float:
    """Jensen-Shannon divergence (log 2) of two histograms after :func:`align_histograms`.

    An empty side (no counts, no NaNs) gives 1.0, both empty 0.0.
    """
    _, base, current = align_histograms(base_hist, current_hist)
    return jensen_shannon_divergence(base, current)


def moved_values(
    labels: Sequence[str],
    base_counts: npt.ArrayLike,
    current_counts: npt.ArrayLike,
    limit: int = 5,
) -> tuple[MovedValue, ...]:
    """The values (or buckets) whose share changed most, largest absolute change first.

    Parameters
    ----------
    labels : sequence of str
        One label per bucket (e.g. from :func:`align_counts` or :func:`align_histograms`).
    base_counts, current_counts : array-like of float
        Counts per label on each side; each side is divided by its own total (an empty
        side has every share 0).
    limit : int
        At most this many values are returned.

    Returns
    -------
    tuple of MovedValue
        Ordered by absolute change, descending; ties go to the larger label first, the
        same rule :func:`l_infinity` uses, so the first entry is the value it names.
        Values whose share did not change are left out.
    """
    base = np.asarray(base_counts, dtype=np.float64)
    current = np.asarray(current_counts, dtype=np.float64)
    _check_counts(base, "base_counts")
    _check_counts(current, "current_counts")
    if not len(labels) == base.size == current.size:
        raise ConfigError(
            f"moved_values needs one count per label on each side; got {len(labels)} labels, "
            f"{base.size} base and {current.size} current counts."
        )
    if limit < 0:
        raise ConfigError(f"limit must be >= 0; got {limit}.")
    base_shares, current_shares = _shares(base), _shares(current)
    change = np.round(np.abs(current_shares - base_shares), _TIE_DECIMALS)
    order = sorted(
        (i for i in range(len(labels)) if change[i] > 0),
        key=lambda i: (change[i], labels[i]),
        reverse=True,
    )
    return tuple(
        MovedValue(labels[i], float(base_shares[i]), float(current_shares[i]))
        for i in order[:limit]
    )
