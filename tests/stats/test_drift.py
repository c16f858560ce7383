"""compare(): drift and skew between two Statistics, thresholds and anomalies."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pyarrow as pa
import pytest

from tensorbridge.errors import ConfigError
from tensorbridge.stats import compute
from tensorbridge.stats.distance import categorical_jsd
from tensorbridge.stats.drift import compare
from tensorbridge.stats.model import (
    DEFAULT_SLICE,
    CommonStatistics,
    DatasetStatistics,
    FeatureStatistics,
    FeatureType,
    RankBucket,
    Statistics,
    StringStatistics,
)
from tensorbridge.stats.thresholds import DEFAULT_THRESHOLDS, ComparatorThresholds

# --- compact builders ----------------------------------------------------------------------


def _common(n: int) -> CommonStatistics:
    return CommonStatistics(n, 0, 1, 1, 1.0, n)


def cat(name: str, counts: dict[str, float], type: FeatureType = "STRING") -> FeatureStatistics:
    ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    rank = tuple(RankBucket(i, i, v, c) for i, (v, c) in enumerate(ranked))
    total = int(sum(counts.values()))
    string = StringStatistics(len(counts), (), 1.0, rank, total)
    return FeatureStatistics(name, type, "string", _common(total), string=string)


def num(name: str, values: Sequence[float], *, type: FeatureType = "FLOAT") -> FeatureStatistics:
    """A numeric feature's statistics, computed from real values (exact quantiles)."""
    arrow_type = pa.float64() if type == "FLOAT" else pa.int64()
    feature = compute(pa.table({name: pa.array(values, arrow_type)})).default[name]
    assert feature.type == type and feature.numeric is not None
    return feature


def stats(*features: FeatureStatistics, n: int = 100) -> Statistics:
    return Statistics((DatasetStatistics(DEFAULT_SLICE, n, {f.name: f for f in features}),))


# 100 values 0.0, 0.1, ..., 9.9 and the same moved up by 3. With 100 values the exact
# percentiles are the values themselves (q_i = v[i]) and q_100 = v[99]: the maximum is at
# two percentiles, so align_quantiles gives it a 1% point bucket ("[9.9]", "[12.9]").
UNIFORM = [i / 10 for i in range(100)]
SHIFTED = [(i + 30) / 10 for i in range(100)]

BASE_PAYMENT = {"Cash": 50, "Card": 50}
CURRENT_PAYMENT = {"Cash": 70, "Card": 25, "Other": 5}  # L-inf .25 on Card


def metrics(report: object) -> list[tuple[str, str]]:
    return [(f.feature, f.metric) for f in report.features]  # type: ignore[attr-defined]


# --- tests ---------------------------------------------------------------------------------


def test_identical_statistics_have_no_drift() -> None:
    s = stats(cat("payment_type", BASE_PAYMENT), num("fare", UNIFORM))
    report = compare(s, s)
    assert report.ok and report.anomalies == ()
    assert metrics(report) == [
        ("payment_type", "L_INFTY"),
        ("payment_type", "JENSEN_SHANNON_DIVERGENCE"),
        ("fare", "JENSEN_SHANNON_DIVERGENCE"),
    ]
    assert [f.value for f in report.features] == [0.0, 0.0, 0.0]
    assert [f.threshold for f in report.features] == [0.1, 0.05, 0.05]
    assert all(f.moved == () for f in report.features)
    assert (report.kind, report.base_examples, report.current_examples) == ("drift", 100, 100)


def test_features_follow_base_column_order_and_one_sided_are_skipped() -> None:
    base = stats(num("b", UNIFORM), cat("a", BASE_PAYMENT), num("only_base", UNIFORM))
    current = stats(cat("a", BASE_PAYMENT), num("only_current", UNIFORM), num("b", UNIFORM))
    assert [f for f, _ in metrics(compare(base, current))] == ["b", "a", "a"]


def test_l_infinity_exceeded_names_value_and_fix() -> None:
    report = compare(
        stats(cat("payment_type", BASE_PAYMENT)), stats(cat("payment_type", CURRENT_PAYMENT))
    )
    linf = report.features[0]
    assert linf.metric == "L_INFTY"
    assert linf.value == pytest.approx(0.25) and linf.exceeded
    assert [m.label for m in linf.moved] == ["Card", "Cash", "Other"]
    anomaly = next(a for a in report.anomalies if a.type == "COMPARATOR_L_INFTY_HIGH")
    assert anomaly.feature == "payment_type"
    assert anomaly.severity == "ERROR"
    assert anomaly.short_description == "High L-infinity distance between current and previous"
    assert anomaly.description.startswith(
        "The L-infinity distance between current and previous is 0.25 (up to six significant "
        "digits), above the threshold 0.1. The feature value with maximum difference is: Card."
    )
    assert "50% of previous values, 25% of current values" in anomaly.description
    assert "drift_comparator.infinity_norm.threshold" in anomaly.description
    assert "'payment_type'" in anomaly.description
    assert anomaly.details["max_difference_value"] == "Card"
    assert anomaly.details["threshold"] == 0.1
    json.dumps(report.to_dict(), allow_nan=False)  # JSON-ready


def test_skew_wording() -> None:
    report = compare(
        stats(cat("payment_type", BASE_PAYMENT)),
        stats(cat("payment_type", CURRENT_PAYMENT)),
        kind="skew",
    )
    assert report.kind == "skew"
    short = {a.type: a.short_description for a in report.anomalies}
    assert short["COMPARATOR_L_INFTY_HIGH"] == (
        "High L-infinity distance between serving and training"
    )
    jsd = categorical_jsd(BASE_PAYMENT, CURRENT_PAYMENT)
    assert jsd > 0.05  # so the JSD check fires too
    assert short["COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"] == (
        "High approximate Jensen-Shannon divergence between serving and training"
    )
    assert all("skew_comparator." in a.description for a in report.anomalies)


def test_categorical_jsd_value_matches_distance_module() -> None:
    report = compare(stats(cat("p", BASE_PAYMENT)), stats(cat("p", CURRENT_PAYMENT)))
    assert report.features[1].value == pytest.approx(categorical_jsd(BASE_PAYMENT, CURRENT_PAYMENT))


def test_threshold_not_exceeded() -> None:
    # Cash 50 -> 55 of 100: L-inf .05 < .1; JSD tiny.
    report = compare(stats(cat("p", BASE_PAYMENT)), stats(cat("p", {"Cash": 55, "Card": 45})))
    assert report.ok
    assert report.features[0].value == pytest.approx(0.05)
    assert not report.features[0].exceeded
    assert report.features[0].moved[0].label == "Cash"  # tie .05: the larger label


def test_threshold_equal_to_value_is_not_exceeded() -> None:
    report = compare(
        stats(cat("p", {"a": 1, "b": 1})),
        stats(cat("p", {"a": 3, "b": 1})),
        defaults=ComparatorThresholds(infinity_norm=0.25, jensen_shannon_divergence=None),
    )
    assert report.features[0].value == 0.25 and report.ok


def test_defaults_none_switches_checks_off_but_reports_values() -> None:
    report = compare(stats(cat("p", BASE_PAYMENT)), stats(cat("p", CURRENT_PAYMENT)), defaults=None)
    assert report.ok
    assert [f.threshold for f in report.features] == [None, None]
    assert report.features[0].value == pytest.approx(0.25)


def test_threshold_none_switches_one_metric_off() -> None:
    report = compare(
        stats(cat("p", BASE_PAYMENT)),
        stats(cat("p", CURRENT_PAYMENT)),
        defaults=ComparatorThresholds(infinity_norm=None, jensen_shannon_divergence=0.05),
    )
    assert [a.type for a in report.anomalies] == ["COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"]


def test_per_feature_thresholds_override_defaults() -> None:
    base = stats(cat("p", BASE_PAYMENT), cat("q", BASE_PAYMENT))
    current = stats(cat("p", CURRENT_PAYMENT), cat("q", CURRENT_PAYMENT))
    report = compare(base, current, thresholds={"p": ComparatorThresholds(infinity_norm=0.3)})
    assert {(a.feature, a.type) for a in report.anomalies} == {
        ("q", "COMPARATOR_L_INFTY_HIGH"),
        ("q", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"),
    }
    thresholds = {(f.feature, f.metric): f.threshold for f in report.features}
    assert thresholds[("p", "L_INFTY")] == 0.3
    assert thresholds[("p", "JENSEN_SHANNON_DIVERGENCE")] is None  # override sets it unset
    assert thresholds[("q", "L_INFTY")] == DEFAULT_THRESHOLDS.infinity_norm


def test_numeric_jsd_exceeded_names_the_range() -> None:
    report = compare(stats(num("fare", UNIFORM)), stats(num("fare", SHIFTED)))
    (drift,) = report.features
    # Buckets cut at both sides' deciles 0, 1, ..., 12 and the maxima 9.9 and 12.9 (1% point
    # buckets, see UNIFORM). Shares, previous / current:
    #   (0, 1) (1, 2) (2, 3): 10% / 0% each      (10, 11) (11, 12): 0% / 10% each
    #   (3, 4) ... (8, 9):    10% / 10% each     (12, 12.9): 0% / 9%
    #   (9, 9.9): 9% / 9% (previous 0.99 - 0.90; current q60 = 9, q69 = 9.9)
    #   [9.9]: 1% / 0%    (9.9, 10): 0% / 1% (current's CDF is linear from q69 to q70)
    #   [12.9]: 0% / 1%
    # A bucket with share p on one side and 0 on the other adds p * log2(p / (p/2)) / 2
    # = p / 2; equal buckets add 0. So JSD = (31% + 31%) / 2 = 0.31.
    assert drift.value == pytest.approx(0.31)
    (anomaly,) = report.anomalies
    assert anomaly.type == "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"
    # Five buckets moved by 10%; on ties the larger label comes first: "(2, 3)".
    assert [m.label for m in drift.moved] == ["(2, 3)", "(11, 12)", "(10, 11)", "(1, 2)", "(0, 1)"]
    assert anomaly.description.startswith(
        "The approximate Jensen-Shannon divergence between current and previous is 0.31 "
        "(up to six significant digits), above the threshold 0.05. The range that moved most "
        "is (2, 3): 10% of previous values, 0% of current values."
    )
    assert "drift_comparator.jensen_shannon_divergence.threshold" in anomaly.description
    assert len(drift.moved) == 5


def test_numeric_infinities_and_nans_are_compared() -> None:
    with_specials = [*UNIFORM, *[math.nan] * 10, *[math.inf] * 5, -math.inf]
    same = compare(stats(num("x", with_specials)), stats(num("x", with_specials)))
    assert same.features[0].value == 0.0

    # 5 -inf values in place of 0.0 ... 0.4. Previous percentiles: q0..q4 = -inf,
    # q_i = i/10 from q5 = 0.5 on. "[-inf]" holds 4% (q0 to q4; the 1% between q4 = -inf
    # and q5 = 0.5 can only sit at 0.5), "(0, 1)" 10% - 4% = 6%; current: 0% and 10%.
    # Every other bucket is equal. JSD = (0.04 * log2(0.04 / 0.02) + 0.06 * log2(0.06 / 0.08)
    # + 0.10 * log2(0.10 / 0.08)) / 2 = (0.04 - 0.0249022 + 0.0321928) / 2 = 0.0236453.
    report = compare(
        stats(num("x", [-math.inf] * 5 + UNIFORM[5:])), stats(num("x", UNIFORM)), defaults=None
    )
    (drift,) = report.features
    assert drift.value == pytest.approx(0.0236453, abs=1e-7)
    moved = [(m.label, round(m.base_share, 9), round(m.current_share, 9)) for m in drift.moved]
    assert moved == [("[-inf]", 0.04, 0.0), ("(0, 1)", 0.06, 0.1)]  # tie: the larger label

    # 5 +inf values in place of 9.5 ... 9.9: they moved most, as their own "[inf]" bucket.
    report = compare(stats(num("x", UNIFORM[:95] + [math.inf] * 5)), stats(num("x", UNIFORM)))
    top = report.features[0].moved[0]
    assert top.label == "[inf]" and top.current_share == 0.0
    assert top.base_share == pytest.approx(0.05, abs=0.011)

    # 25 NaNs on one side: NaN holds 25 / 125 = 20% vs 0%, every other bucket 0.8x its share.
    # JSD = (0.8 * log2(0.8 / 0.9) + 1 * log2(1 / 0.9) + 0.2 * log2(0.2 / 0.1)) / 2
    #     = (-0.1359400 + 0.1520031 + 0.2) / 2 = 0.1080316.
    report = compare(stats(num("x", UNIFORM + [math.nan] * 25)), stats(num("x", UNIFORM)))
    (drift,) = report.features
    assert drift.value == pytest.approx(0.1080316, abs=1e-7)
    assert (drift.moved[0].label, drift.moved[0].base_share) == ("NaN", pytest.approx(0.2))
    assert drift.moved[0].current_share == 0.0


def test_int_with_string_stats_is_categorical() -> None:
    report = compare(
        stats(cat("hour", {"1": 5, "2": 5}, type="INT")),
        stats(cat("hour", {"1": 9, "2": 1}, type="INT")),
    )
    assert metrics(report) == [("hour", "L_INFTY"), ("hour", "JENSEN_SHANNON_DIVERGENCE")]
    assert report.features[0].value == pytest.approx(0.4)


def test_int_numeric_feature() -> None:
    counts = [i // 10 for i in range(100)]  # 0 ... 9, ten of each
    report = compare(stats(num("n", counts, type="INT")), stats(num("n", counts, type="INT")))
    assert metrics(report) == [("n", "JENSEN_SHANNON_DIVERGENCE")]
    assert report.features[0].value == 0.0
    # Each value is a point bucket "[k]"; 3 moved up to 13: no overlap of 0 ... 2 and 10 ... 12.
    shifted = compare(
        stats(num("n", counts, type="INT")),
        stats(num("n", [c + 3 for c in counts], type="INT")),
    )
    (drift,) = shifted.features
    assert drift.exceeded
    assert all(m.label.startswith("[") for m in drift.moved)


def test_one_side_empty_is_maximal_jsd() -> None:
    report = compare(stats(cat("p", {})), stats(cat("p", {"a": 1, "b": 3})))
    linf, jsd = report.features
    assert jsd.value == 1.0
    assert linf.value == 0.75 and linf.moved[0].label == "b"
    described = next(a for a in report.anomalies if a.type.startswith("COMPARATOR_JENSEN"))
    assert "The previous data has no values of this feature." in described.description
    numeric = compare(stats(num("x", UNIFORM)), stats(num("x", [])))
    assert numeric.features[0].value == 1.0


def test_both_sides_empty_are_skipped() -> None:
    report = compare(stats(cat("p", {}), num("x", [])), stats(cat("p", {}), num("x", [])))
    assert report.features == () and report.ok


def test_type_change_between_categorical_and_numeric_is_skipped() -> None:
    report = compare(stats(cat("x", BASE_PAYMENT)), stats(num("x", UNIFORM)))
    assert report.features == ()


def test_features_limits_the_check() -> None:
    base = stats(cat("p", BASE_PAYMENT), num("x", UNIFORM))
    current = stats(cat("p", CURRENT_PAYMENT), num("x", SHIFTED))
    report = compare(base, current, features=["x"])
    assert metrics(report) == [("x", "JENSEN_SHANNON_DIVERGENCE")]
    assert {a.feature for a in report.anomalies} == {"x"}


def test_unknown_feature_is_an_error() -> None:
    s = stats(cat("p", BASE_PAYMENT))
    with pytest.raises(ConfigError, match="'nope'"):
        compare(s, s, features=["p", "nope"])
    with pytest.raises(ConfigError, match=r"features=\['p'\]"):
        compare(s, s, features="p")


def test_bad_kind_is_an_error() -> None:
    s = stats(cat("p", BASE_PAYMENT))
    with pytest.raises(ConfigError, match="drift' or 'skew"):
        compare(s, s, kind="shift")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("current_n", "expected"),
    [
        (40, ["COMPARATOR_LOW_NUM_EXAMPLES"]),
        (50, []),
        (100, []),
        (200, []),
        (250, ["COMPARATOR_HIGH_NUM_EXAMPLES"]),
    ],
)
def test_num_examples_comparator(current_n: int, expected: list[str]) -> None:
    base = stats(num("x", UNIFORM), n=100)
    current = stats(num("x", UNIFORM), n=current_n)
    report = compare(base, current, num_examples=(0.5, 2.0))
    assert [a.type for a in report.anomalies] == expected
    for anomaly in report.anomalies:
        assert anomaly.feature is None
        assert f"{current_n / 100:g}" in anomaly.description
        assert "num_examples_drift_comparator" in anomaly.description


def test_num_examples_messages_and_zero_base() -> None:
    report = compare(stats(n=100), stats(n=40), num_examples=(0.5, None))
    (low,) = report.anomalies
    assert low.short_description == "Low num examples in current dataset versus the previous span."
    assert low.description.startswith(
        "The ratio of num examples in the current dataset versus the previous span is 0.4 "
        "(up to six significant digits), which is below the threshold 0.5"
    )
    # Only the bound that is set is checked.
    assert compare(stats(n=100), stats(n=400), num_examples=(0.5, None)).ok
    # A base with 0 examples: high (when current has examples), never low.
    zero = compare(stats(n=0), stats(n=5), num_examples=(0.5, 2.0))
    assert [a.type for a in zero.anomalies] == ["COMPARATOR_HIGH_NUM_EXAMPLES"]
    assert compare(stats(n=0), stats(n=0), num_examples=(0.5, 2.0)).ok


def test_num_examples_bad_bounds() -> None:
    s = stats(n=1)
    with pytest.raises(ConfigError, match="swap"):
        compare(s, s, num_examples=(2.0, 1.0))
    with pytest.raises(ConfigError, match="max_fraction"):
        compare(s, s, num_examples=(None, -1.0))
