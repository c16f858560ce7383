"""Distances between distributions: L-infinity, JSD, histogram alignment, moved values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensorbridge.errors import ConfigError
from tensorbridge.stats.distance import (
    align_counts,
    align_histograms,
    categorical_jsd,
    jensen_shannon_divergence,
    l_infinity,
    moved_values,
    numeric_jsd,
    separate_infinities,
)
from tensorbridge.stats.model import Bucket, Histogram

INF = math.inf


def hist(*buckets: tuple[float, float, float], num_nan: int = 0) -> Histogram:
    return Histogram("STANDARD", tuple(Bucket(*b) for b in buckets), num_nan)


# --- Jensen-Shannon divergence -------------------------------------------------------------


def test_jsd_identical_distributions_is_zero() -> None:
    assert jensen_shannon_divergence([1, 2, 3], [1, 2, 3]) == 0.0
    # Each side is normalized by its own total: scaled counts are the same distribution.
    assert jensen_shannon_divergence([1, 2, 3, 0], [10, 20, 30, 0]) == pytest.approx(0.0, abs=1e-15)


def test_jsd_disjoint_distributions_is_one() -> None:
    assert jensen_shannon_divergence([1, 0], [0, 3]) == 1.0
    assert jensen_shannon_divergence([5, 5, 0, 0, 0], [0, 0, 1, 1, 1]) == 1.0


def test_jsd_hand_computed() -> None:
    # M = [0.75, 0.25]; KL(P||M) = 0.5 log2(2/3) + 0.5 log2(2); KL(Q||M) = log2(4/3).
    expected = (0.5 * math.log2(0.5 / 0.75) + 0.5 * 1.0 + math.log2(1 / 0.75)) / 2
    assert expected == pytest.approx(0.311278124459, abs=1e-12)
    assert jensen_shannon_divergence([0.5, 0.5], [1, 0]) == pytest.approx(expected, abs=1e-15)
    assert jensen_shannon_divergence([7, 7], [3, 0]) == pytest.approx(expected, abs=1e-15)


def test_jsd_is_symmetric() -> None:
    p, q = [1, 4, 0, 2], [3, 1, 1, 0]
    assert jensen_shannon_divergence(p, q) == pytest.approx(jensen_shannon_divergence(q, p))


def test_jsd_matches_scipy() -> None:
    distance = pytest.importorskip("scipy.spatial.distance")
    rng = np.random.default_rng(7)
    for _ in range(20):
        p = rng.integers(0, 5, size=8).astype(float)
        q = rng.integers(0, 5, size=8).astype(float)
        p[0] += 1  # never an all-zero side
        q[1] += 1
        expected = distance.jensenshannon(p, q, base=2) ** 2
        assert jensen_shannon_divergence(p, q) == pytest.approx(expected, abs=1e-12)


def test_jsd_empty_sides() -> None:
    assert jensen_shannon_divergence([0, 0], [0, 0]) == 0.0
    assert jensen_shannon_divergence([0, 0], [1, 2]) == 1.0
    assert jensen_shannon_divergence([3, 0], [0, 0]) == 1.0
    assert jensen_shannon_divergence([], []) == 0.0


def test_jsd_rejects_bad_counts() -> None:
    with pytest.raises(ConfigError, match="same buckets"):
        jensen_shannon_divergence([1, 2], [1, 2, 3])
    with pytest.raises(ConfigError, match=">= 0"):
        jensen_shannon_divergence([1, -2], [1, 2])
    with pytest.raises(ConfigError, match=">= 0"):
        jensen_shannon_divergence([1, math.nan], [1, 2])


def test_categorical_jsd_uses_union_of_values() -> None:
    assert categorical_jsd({"a": 1, "b": 1}, {"a": 2}) == pytest.approx(0.311278124459)
    assert categorical_jsd({"a": 1}, {"b": 1}) == 1.0
    assert categorical_jsd({}, {"b": 1}) == 1.0
    assert categorical_jsd({"a": 2, "b": 6}, {"b": 3, "a": 1}) == 0.0


# --- L-infinity ----------------------------------------------------------------------------


def test_l_infinity_names_the_value_with_max_difference() -> None:
    # shares: Cash .5 -> .7, Card .5 -> .25, Other 0 -> .05
    distance, value = l_infinity({"Cash": 50, "Card": 50}, {"Cash": 70, "Card": 25, "Other": 5})
    assert distance == pytest.approx(0.25)
    assert value == "Card"


def test_l_infinity_normalizes_each_side_by_its_own_total() -> None:
    distance, _ = l_infinity({"a": 1, "b": 1}, {"a": 1000, "b": 1000})
    assert distance == 0.0


def test_l_infinity_tie_goes_to_the_larger_value() -> None:
    # a: .75 -> .5, b: .25 -> .5, both move by .25
    assert l_infinity({"a": 3, "b": 1}, {"a": 1, "b": 1}) == (0.25, "b")
    assert l_infinity({"b": 3, "a": 1}, {"a": 1, "b": 1}) == (0.25, "b")


def test_l_infinity_empty_sides() -> None:
    # An empty side has every share 0: the distance is the other side's largest share.
    assert l_infinity({}, {"a": 1, "b": 3}) == (0.75, "b")
    assert l_infinity({"a": 2}, {}) == (1.0, "a")
    assert l_infinity({}, {}) == (0.0, None)


def test_align_counts_sorted_union() -> None:
    labels, base, current = align_counts({"b": 2, "a": 1}, {"c": 5, "a": 4})
    assert labels == ["a", "b", "c"]
    assert base.tolist() == [1.0, 2.0, 0.0]
    assert current.tolist() == [4.0, 0.0, 5.0]


# --- Histogram alignment -------------------------------------------------------------------


def test_align_histograms_rebuckets_to_union_of_boundaries() -> None:
    base = hist((0, 2, 4), (2, 4, 2))
    current = hist((1, 3, 6))
    labels, b, c = align_histograms(base, current)
    assert labels == ["[0, 1)", "[1, 2)", "[2, 3)", "[3, 4]"]
    assert b.tolist() == pytest.approx([2, 2, 1, 1])
    assert c.tolist() == pytest.approx([0, 3, 3, 0])
    assert b.sum() == pytest.approx(6) and c.sum() == pytest.approx(6)


def test_align_histograms_uneven_cuts() -> None:
    base = hist((0, 1.5, 3), (1.5, 3, 3))
    current = hist((0, 1, 2), (1, 3, 4))
    labels, b, c = align_histograms(base, current)
    assert labels == ["[0, 1)", "[1, 1.5)", "[1.5, 3]"]
    # base [0, 1.5) holds 3: 2/3 of it in [0, 1); current [1, 3) holds 4: 1/4 in [1, 1.5).
    assert b.tolist() == pytest.approx([2, 1, 3])
    assert c.tolist() == pytest.approx([2, 1, 3])
    assert numeric_jsd(base, current) == pytest.approx(0.0, abs=1e-12)


def test_align_histograms_conserves_mass_on_ten_bucket_histograms() -> None:
    edges_a = np.linspace(0.0, 10.0, 11)
    edges_b = np.linspace(2.5, 17.5, 11)
    counts_a = np.arange(1, 11, dtype=float)
    counts_b = np.arange(10, 0, -1, dtype=float) * 3.7
    base = hist(
        *((lo, hi, n) for lo, hi, n in zip(edges_a[:-1], edges_a[1:], counts_a, strict=True))
    )
    current = hist(
        *((lo, hi, n) for lo, hi, n in zip(edges_b[:-1], edges_b[1:], counts_b, strict=True))
    )
    labels, b, c = align_histograms(base, current)
    assert len(labels) == len(set(labels)) == 18  # 11 + 11 boundaries, 4, 7, 10 shared
    assert b.sum() == pytest.approx(counts_a.sum(), rel=1e-12)
    assert c.sum() == pytest.approx(counts_b.sum(), rel=1e-12)
    assert labels[0] == "[0, 1)" and labels[-1] == "[16, 17.5]"


def test_identical_histograms_align_to_themselves() -> None:
    base = hist((0, 1, 3), (1, 2, 5), num_nan=2)
    labels, b, c = align_histograms(base, base)
    assert labels == ["[0, 1)", "[1, 2]", "NaN"]
    assert b.tolist() == c.tolist() == [3, 5, 2]
    assert numeric_jsd(base, base) == 0.0


def test_point_buckets_are_their_own_buckets() -> None:
    base = hist((5, 5, 10))
    current = hist((0, 10, 10))
    labels, b, c = align_histograms(base, current)
    assert labels == ["[0, 10]", "[5, 5]"]
    assert b.tolist() == [0, 10]
    assert c.tolist() == [10, 0]
    assert numeric_jsd(base, current) == 1.0
    # The same point on both sides matches.
    assert numeric_jsd(hist((5, 5, 10)), hist((5, 5, 3))) == 0.0


def test_point_bucket_sorts_between_ranges() -> None:
    labels, b, c = align_histograms(hist((0, 2, 4)), hist((2, 2, 1), (2, 4, 1)))
    assert labels == ["[0, 2)", "[2, 2]", "[2, 4]"]
    assert b.tolist() == [4, 0, 0]
    assert c.tolist() == [0, 1, 1]


def test_nan_counts_are_a_matched_bucket() -> None:
    base = hist((0, 1, 4), num_nan=4)
    current = hist((0, 1, 8))
    labels, b, c = align_histograms(base, current)
    assert labels == ["[0, 1]", "NaN"]
    assert b.tolist() == [4, 4]
    assert c.tolist() == [8, 0]
    assert numeric_jsd(base, current) == pytest.approx(0.311278124459)


def test_infinite_bounds_are_point_masses() -> None:
    base = hist((-INF, 0, 3), (0, 5, 4), (5, INF, 2))
    current = hist((0, 5, 4))
    labels, b, c = align_histograms(base, current)
    assert labels == ["-inf", "[0, 5]", "+inf"]
    assert b.tolist() == [3, 4, 2]
    assert c.tolist() == [0, 4, 0]
    # A [-inf, inf] bucket is split evenly.
    labels, b, _ = align_histograms(hist((-INF, INF, 6)), hist((0, 1, 1)))
    assert labels == ["-inf", "[0, 1]", "+inf"]
    assert b.tolist() == [3, 0, 3]


def test_separate_infinities_moves_inf_counts_out_of_edge_buckets() -> None:
    base = separate_infinities(hist((0, 5, 3), (5, 10, 4)), num_neg_inf=1, num_pos_inf=2)
    assert base.buckets == (
        Bucket(0, 5, 2),
        Bucket(5, 10, 2),
        Bucket(-INF, -INF, 1),
        Bucket(INF, INF, 2),
    )
    labels, b, c = align_histograms(base, hist((0, 5, 2), (5, 10, 2)))
    assert labels == ["-inf", "[0, 5)", "[5, 10]", "+inf"]
    assert b.tolist() == [1, 2, 2, 2]
    assert c.tolist() == [0, 2, 2, 0]
    unchanged = hist((0, 1, 1))
    assert separate_infinities(unchanged, 0, 0) is unchanged


def test_labels_get_more_digits_when_bounds_are_close() -> None:
    labels, _, _ = align_histograms(hist((1.0, 1.0000001, 1)), hist((1.0000001, 1.0000002, 1)))
    assert labels == ["[1, 1.0000001)", "[1.0000001, 1.0000002]"]


def test_align_histograms_rejects_bad_input() -> None:
    quantiles = Histogram("QUANTILES", (Bucket(0, 1, 1),))
    with pytest.raises(ConfigError, match="same type"):
        align_histograms(hist((0, 1, 1)), quantiles)
    with pytest.raises(ConfigError, match="low_value <= high_value"):
        align_histograms(hist((2, 1, 1)), hist((0, 1, 1)))
    with pytest.raises(ConfigError, match="sample_count"):
        align_histograms(hist((0, 1, -1)), hist((0, 1, 1)))


def test_numeric_jsd_empty_sides() -> None:
    assert numeric_jsd(hist(), hist((0, 1, 3))) == 1.0
    assert numeric_jsd(hist(), hist()) == 0.0


# --- Moved values --------------------------------------------------------------------------


def test_moved_values_largest_change_first_ties_by_larger_label() -> None:
    labels = ["a", "b", "c", "d", "e"]
    # shares: a .4 -> .1, b .3 -> .3, c .2 -> .25, d .1 -> .05, e 0 -> .3
    moved = moved_values(labels, [40, 30, 20, 10, 0], [10, 30, 25, 5, 30])
    assert [m.label for m in moved] == ["e", "a", "d", "c"]  # b did not move: left out
    assert moved[0].base_share == 0.0 and moved[0].current_share == pytest.approx(0.3)
    assert moved[1].change == pytest.approx(-0.3)
    assert [m.label for m in moved_values(labels, [40, 30, 20, 10, 0], [10, 30, 25, 5, 30], 2)] == [
        "e",
        "a",
    ]


def test_moved_values_normalizes_each_side() -> None:
    moved = moved_values(["x", "y"], [1, 3], [200, 200])
    assert [(m.label, m.base_share, m.current_share) for m in moved] == [
        ("y", 0.75, 0.5),
        ("x", 0.25, 0.5),
    ]
    assert moved_values(["x", "y"], [1, 3], [2, 6]) == ()


def test_moved_values_first_entry_is_the_l_infinity_value() -> None:
    base, current = {"a": 3, "b": 1}, {"a": 1, "b": 1}
    labels, b, c = align_counts(base, current)
    assert moved_values(labels, b, c)[0].label == l_infinity(base, current)[1] == "b"


def test_moved_values_rejects_mismatched_lengths() -> None:
    with pytest.raises(ConfigError, match="one count per label"):
        moved_values(["a"], [1, 2], [1, 2])
