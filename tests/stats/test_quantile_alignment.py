"""align_quantiles(): numeric distributions on common buckets, from each side's percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pytest

from tensorbridge.stats import compute
from tensorbridge.stats.distance import (
    jensen_shannon_divergence,
    numeric_jsd,
    separate_infinities,
)
from tensorbridge.stats.model import NumericStatistics
from tensorbridge.stats.quantile_alignment import align_quantiles


def numeric(values: Sequence[float] | np.ndarray) -> NumericStatistics:
    """Exact numeric statistics of ``values`` (quantiles and histograms from compute)."""
    feature = compute(pa.table({"x": pa.array(np.asarray(values, np.float64))})).default["x"]
    assert feature.numeric is not None
    return feature.numeric


def jsd(base: NumericStatistics | None, current: NumericStatistics | None) -> float:
    _, b, c = align_quantiles(base, current)
    return jensen_shannon_divergence(b, c)


def shares(labels: list[str], counts: np.ndarray) -> dict[str, float]:
    return dict(zip(labels, (counts / counts.sum()).tolist(), strict=True))


RNG_SEED = 20240611


def test_identical_sides_have_identical_counts() -> None:
    rng = np.random.default_rng(RNG_SEED)
    stats = numeric(rng.exponential(size=1000))
    labels, base, current = align_quantiles(stats, stats)
    assert labels and labels[-1] != "NaN"  # no NaN bucket when neither side has NaNs
    np.testing.assert_array_equal(base, current)
    assert jensen_shannon_divergence(base, current) == 0.0


def test_labels_of_ranges_points_and_nan() -> None:
    # 0, 0, 0, 1, 2, ..., 97 and two NaNs: the percentiles are q_i = v[i] (q_100 = v[99]),
    # so 0 is at q0..q2 (a point), the deciles are 0, 8, 18, ..., 88 and the maximum 97 is
    # at q99 and q100 (a point).
    values = [0.0, 0.0, 0.0, *range(1, 98), math.nan, math.nan]
    labels, base, _ = align_quantiles(numeric(values), None)
    ranges = [f"({a}, {a + 10})" for a in range(8, 88, 10)]
    assert labels == ["[0]", "(0, 8)", *ranges, "(88, 97)", "[97]", "NaN"]
    assert base[-1] == 2.0


DATA: dict[str, list[float]] = {
    "uniform": [i / 7 for i in range(500)],
    "ties": [float(i % 4) for i in range(333)],
    "nan": [*range(50), *[math.nan] * 9],
    "inf": [-math.inf, *range(200), *[math.inf] * 7],
    "one value": [3.0] * 10,
    "single": [42.0],
}


@pytest.mark.parametrize("base_name", list(DATA))
@pytest.mark.parametrize("current_name", list(DATA))
def test_mass_is_conserved(base_name: str, current_name: str) -> None:
    base_values, current_values = DATA[base_name], DATA[current_name]
    labels, base, current = align_quantiles(numeric(base_values), numeric(current_values))
    assert len(labels) == len(set(labels)) == base.size == current.size
    assert np.all(np.isfinite(base)) and np.all(base >= 0)
    assert np.all(np.isfinite(current)) and np.all(current >= 0)
    assert np.all((base > 0) | (current > 0))  # buckets empty on both sides are dropped
    # Each side: its non-NaN values plus its NaNs.
    assert base.sum() == pytest.approx(len(base_values))
    assert current.sum() == pytest.approx(len(current_values))


def test_point_mass_becomes_its_own_bucket() -> None:
    # Like taxi tips: 70% zeros, the rest spread out.
    rng = np.random.default_rng(RNG_SEED)
    tips = np.where(rng.random(10_000) < 0.7, 0.0, rng.exponential(3.0, 10_000))
    fares = rng.exponential(3.0, 10_000) + 0.5  # no zeros
    zeros = float(np.mean(tips == 0))
    labels, base, current = align_quantiles(numeric(tips), numeric(fares))
    base_shares, current_shares = shares(labels, base), shares(labels, current)
    # 0 is at ~70 percentiles; the point bucket spans them (within the 1% resolution).
    assert base_shares["[0]"] == pytest.approx(zeros, abs=0.015)
    assert current_shares["[0]"] == 0.0
    assert jensen_shannon_divergence(base, current) > 0.5


@pytest.mark.parametrize(("shift", "analytic"), [(0.5, 0.0437), (1.0, 0.1607)])
def test_normal_shift_matches_analytic_jsd(shift: float, analytic: float) -> None:
    # JSD (log 2) of N(0, 1) and N(shift, 1), by numerical integration: 0.04373 and 0.16075.
    rng = np.random.default_rng(RNG_SEED)
    base = numeric(rng.normal(size=10_000))
    current = numeric(rng.normal(size=10_000) + shift)
    assert jsd(base, current) == pytest.approx(analytic, abs=0.01)


def test_random_halves_of_heavy_tailed_data_agree() -> None:
    """The reason for the design: TFDV's equal-width histograms raise false alarms here."""
    rng = np.random.default_rng(2)
    values = rng.lognormal(0.0, 2.0, 20_000)
    outliers = rng.choice(values.size, 10, replace=False)
    values[outliers] = 10 ** rng.uniform(5, 8, 10)  # a few huge values, like taxi trip_miles
    rng.shuffle(values)
    base, current = numeric(values[:10_000]), numeric(values[10_000:])
    assert base.max != current.max  # so the two STANDARD histograms have different widths

    assert jsd(base, current) < 0.02

    # TFDV's method: the STANDARD (equal-width) histograms, re-bucketed onto common bounds.
    histograms = []
    for side in (base, current):
        standard = side.histogram("STANDARD")
        assert standard is not None
        histograms.append(separate_infinities(standard, side.num_neg_inf, side.num_pos_inf))
    tfdv = numeric_jsd(*histograms)
    assert tfdv > 0.2  # above any useful threshold (the default is 0.05)


def test_nan_only_side() -> None:
    base = numeric([1.0, 2.0, 3.0, 4.0])
    only_nan = numeric([math.nan] * 6)
    labels, b, c = align_quantiles(base, only_nan)
    assert labels[-1] == "NaN"
    assert b.tolist()[-1] == 0.0 and b.sum() == pytest.approx(4.0)
    assert c.tolist() == [0.0] * (len(labels) - 1) + [6.0]
    assert jensen_shannon_divergence(b, c) == 1.0
    assert align_quantiles(only_nan, only_nan) == (
        ["NaN"],
        pytest.approx([6.0]),
        pytest.approx([6.0]),
    )


def test_side_without_values() -> None:
    stats = numeric([1.0, 2.0, 2.0, 5.0, math.nan])
    labels, b, c = align_quantiles(stats, None)
    assert b.sum() == pytest.approx(5.0) and c.tolist() == [0.0] * len(labels)
    assert jensen_shannon_divergence(b, c) == 1.0
    labels_swapped, b_swapped, c_swapped = align_quantiles(None, stats)
    assert labels_swapped == labels
    np.testing.assert_array_equal(b_swapped, c)
    np.testing.assert_array_equal(c_swapped, b)
    empty = numeric([])
    assert align_quantiles(empty, stats)[0] == labels
    labels, b, c = align_quantiles(None, None)
    assert labels == [] and b.size == 0 and c.size == 0


def test_infinities_give_finite_counts_and_no_nan() -> None:
    finite = [float(i) for i in range(100)]
    with_inf = [*[-math.inf] * 5, *finite[5:95], *[math.inf] * 5]
    one_inf = [*finite[:-1], math.inf]  # a single +inf: the maximum, not a point
    for base_values, current_values in [
        (with_inf, finite),
        (finite, with_inf),
        (with_inf, with_inf),
        (one_inf, finite),
        ([math.inf] * 3, [-math.inf] * 3),
    ]:
        labels, base, current = align_quantiles(numeric(base_values), numeric(current_values))
        assert np.all(np.isfinite(base)) and np.all(np.isfinite(current))
        assert "NaN" not in labels
        assert base.sum() == pytest.approx(len(base_values))
        assert current.sum() == pytest.approx(len(current_values))
    labels, base, current = align_quantiles(numeric(with_inf), numeric(finite))
    assert {"[-inf]", "[inf]"} <= set(labels)
    assert current[labels.index("[-inf]")] == 0.0 and current[labels.index("[inf]")] == 0.0
    # ~5% each (the percentiles resolve 1%).
    assert shares(labels, base)["[-inf]"] == pytest.approx(0.05, abs=0.011)
    assert shares(labels, base)["[inf]"] == pytest.approx(0.05, abs=0.011)
    labels, base, current = align_quantiles(numeric([math.inf] * 3), numeric([-math.inf] * 3))
    assert labels == ["[-inf]", "[inf]"]
    assert base.tolist() == pytest.approx([0.0, 3.0])
    assert current.tolist() == pytest.approx([3.0, 0.0])
