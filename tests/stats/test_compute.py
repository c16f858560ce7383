"""tensorbridge.stats.compute: the numbers, against numpy and against TFDV 1.16.1."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import tensorbridge as tb
from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.stats import Statistics

# TFDV decodes CSV floats as float32, so the float columns are read as float32 to compare.
FLOAT32 = {"fare": "float32", "tips": "float32", "dropoff_latitude": "float32"}


@pytest.fixture(scope="module")
def taxi_stats(taxi_csv: Path) -> Statistics:
    return tb.stats.compute(tb.read_csv(taxi_csv, schema=FLOAT32))


# Values printed by TFDV 1.16.1 (benchmarks/peers/tfdv/run_tfdv.py) for the same file.
TFDV_NUMERIC = {
    # name: (mean, std_dev, min, max, num_zeros, median, num_missing)
    "fare": (11.768216239306826, 11.53846592401317, 0.0, 700.0700073242188, 27, 7.85, 0),
    "trip_seconds": (777.6275006668445, 977.506174660966, 0.0, 72120.0, 484, 540.0, 6),
    "tips": (1.0766744436282722, 2.1582684872064695, 0.0, 47.0, 10259, 0.0, 0),
    "dropoff_latitude": (41.902671497627935, 0.03847679400381957, 41.66366958618164,
                         42.02122497558594, 0, 41.89321517944336, 483),
    "pickup_community_area": (22.250266666666665, 19.414181241098532, 1.0, 77.0, 0, 8.0, 2),
    "trip_start_timestamp": (1408495048.020264, 29159455.991009742, 1357000200.0,
                             1483116300.0, 0, 1407259800.0, 0),
}  # fmt: skip

# TFDV's QUANTILES histograms (sample counts per decile bucket) for the same file.
TFDV_QUANTILE_COUNTS = {
    "fare": [1553, 1485, 1731, 1547, 1253, 1636, 1329, 1500, 1469, 1499],
    "trip_seconds": [1564, 1903, 1044, 2096, 961, 1575, 1647, 1359, 1357, 1490],
    "tips": [10259 / 6] * 6 + [493, 1773, 977, 1500],
    "dropoff_latitude": [1568, 2388, 726, 1602, 1288, 1413, 1198, 1440, 1448, 1448],
}


@pytest.mark.parametrize("name", sorted(TFDV_NUMERIC))
def test_numeric_statistics_match_tfdv(taxi_stats: Statistics, name: str) -> None:
    mean, std, low, high, zeros, median, missing = TFDV_NUMERIC[name]
    feature = taxi_stats[name]
    numeric = feature.numeric
    assert numeric is not None
    # float64 sums in a different order: equal to ~1e-14, far below any printed digit.
    assert numeric.mean == pytest.approx(mean, rel=1e-12)
    assert numeric.std_dev == pytest.approx(std, rel=1e-12)
    assert numeric.min == pytest.approx(low, rel=1e-7)  # TFDV reports float32 bounds
    assert numeric.max == pytest.approx(high, rel=1e-7)
    assert numeric.num_zeros == zeros
    assert numeric.median == pytest.approx(median, rel=1e-6)
    assert feature.common.num_missing == missing
    assert feature.common.num_non_missing == 15_002 - missing


@pytest.mark.parametrize("name", sorted(TFDV_QUANTILE_COUNTS))
def test_quantiles_histogram_matches_tfdv(taxi_stats: Statistics, name: str) -> None:
    numeric = taxi_stats[name].numeric
    assert numeric is not None
    histogram = numeric.histogram("QUANTILES")
    assert histogram is not None
    counts = [b.sample_count for b in histogram.buckets]
    assert counts == pytest.approx(TFDV_QUANTILE_COUNTS[name])


def test_string_statistics_match_tfdv(taxi_stats: Statistics) -> None:
    payment = taxi_stats["payment_type"]
    assert payment.type == "STRING"
    assert payment.string is not None
    assert payment.string.unique == 7
    assert payment.string.avg_length == pytest.approx(6.355286, abs=1e-6)
    assert [(v.value, v.frequency) for v in payment.string.top_values] == [
        ("Cash", 9909), ("Credit Card", 4975), ("No Charge", 81), ("Unknown", 29),
        ("Dispute", 4), ("Pcard", 3), ("Prcard", 1),
    ]  # fmt: skip
    company = taxi_stats["company"]
    assert company.string is not None
    assert company.common.num_non_missing == 9_862
    assert company.string.unique == 61
    assert company.string.avg_length == pytest.approx(25.511864, abs=1e-6)
    assert [v.value for v in company.string.top_values[:3]] == [
        "Taxi Affiliation Services", "Dispatch Taxi Affiliation",
        "Blue Ribbon Taxi Association Inc.",
    ]  # fmt: skip
    assert len(company.string.top_values) == 20
    assert len(company.string.rank_histogram) == 61


def test_types_and_examples(taxi_stats: Statistics) -> None:
    assert taxi_stats.num_examples == 15_002
    assert [s.name for s in taxi_stats.slices] == ["All Examples"]
    assert taxi_stats["trip_start_hour"].type == "INT"
    assert taxi_stats["fare"].type == "FLOAT"
    assert taxi_stats["pickup_census_tract"].common.num_non_missing == 1


def test_numeric_against_numpy_with_nan_inf_and_nulls() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 2.0, 5_000)
    x[::97] = 0.0
    x[5] = np.nan
    x[6] = np.inf
    x[7] = -np.inf
    x[8] = np.nan
    mask = np.zeros(x.size, bool)
    mask[10:20] = True
    table = pa.table({"x": pa.array(x, mask=mask)})
    stats = tb.stats.compute(tb.from_arrow(table, batch_size=333))
    feature = stats["x"]
    numeric = feature.numeric
    assert numeric is not None
    assert feature.common.num_missing == 10
    assert feature.common.num_non_missing == 4_990
    assert numeric.num_nan == 2
    assert numeric.num_pos_inf == 1 and numeric.num_neg_inf == 1
    assert numeric.min == -np.inf and numeric.max == np.inf
    assert math.isnan(numeric.mean)  # +inf and -inf both in: as in TFDV
    finite = x[~mask & np.isfinite(x)]
    assert numeric.num_zeros == int((finite == 0).sum())
    standard = numeric.histogram("STANDARD")
    assert standard is not None and standard.num_nan == 2
    counts = [b.sample_count for b in standard.buckets]
    assert sum(counts) == 4_988  # every non-NaN value, the infs in the end buckets
    edges = np.linspace(finite.min(), finite.max(), 11)
    reference, _ = np.histogram(finite, edges)
    # numpy's buckets are [low, high); ours (low, high]: only values on an edge differ.
    assert (
        np.abs(np.array(counts) - np.r_[reference[0] + 1, reference[1:-1], reference[-1] + 1]).sum()
        <= 2
    )


def test_mean_and_std_exact_against_numpy() -> None:
    rng = np.random.default_rng(3)
    x = rng.exponential(5.0, 20_000)
    stats = tb.stats.compute(tb.from_arrow(pa.table({"x": x}), batch_size=1_000))
    numeric = stats["x"].numeric
    assert numeric is not None
    assert numeric.mean == pytest.approx(float(np.mean(x)), rel=1e-13)
    assert numeric.std_dev == pytest.approx(float(np.std(x)), rel=1e-12)
    sorted_x = np.sort(x)
    assert numeric.quantiles[0] == sorted_x[0] and numeric.quantiles[100] == sorted_x[-1]
    assert numeric.quantiles[25] == sorted_x[25 * 20_000 // 100]
    assert numeric.median == sorted_x[10_000]
    assert numeric.exact_quantiles


def test_sketch_quantiles_within_rank_error() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=200_000)
    stats = tb.stats.compute(
        tb.from_arrow(pa.table({"x": x}), batch_size=10_000), max_exact_values=50_000
    )
    numeric = stats["x"].numeric
    assert numeric is not None
    assert not numeric.exact_quantiles
    sorted_x = np.sort(x)
    for i in (10, 25, 50, 75, 90):
        rank = np.searchsorted(sorted_x, numeric.quantiles[i]) / x.size
        assert abs(rank - i / 100) <= 0.005  # epsilon 0.01 -> rank error <= 0.5%
    histogram = numeric.histogram("STANDARD")
    assert histogram is not None
    assert sum(b.sample_count for b in histogram.buckets) == pytest.approx(200_000)
    assert numeric.mean == pytest.approx(float(np.mean(x)), rel=1e-12)


def test_strings_tie_rule_lengths_and_lists() -> None:
    table = pa.table(
        {
            "s": ["b", "a", "c", "a", "b", None, "é", "c"],
            "tags": pa.array([["x", "y"], [], None, ["y"], ["x", None], ["z"], [], ["y"]]),
        }
    )
    stats = tb.stats.compute(tb.from_arrow(table, batch_size=3))
    s = stats["s"]
    assert s.string is not None
    # a, b and c all have 2: larger value first (TFDV's and TF.Transform's rule).
    assert [v.value for v in s.string.top_values] == ["c", "b", "a", "é"]
    assert s.string.avg_length == pytest.approx(8 / 7)  # "é" is two UTF-8 bytes
    assert s.common.num_missing == 1
    tags = stats["tags"]
    assert tags.common.num_missing == 1  # an empty list is present, a null is missing
    assert (tags.common.min_num_values, tags.common.max_num_values) == (0, 2)
    assert tags.common.tot_num_values == 6
    assert tags.common.avg_num_values == pytest.approx(6 / 7)
    assert tags.string is not None
    assert [(v.value, v.frequency) for v in tags.string.top_values] == [
        ("y", 3), ("x", 2), ("z", 1)
    ]  # fmt: skip


def test_slices_and_label_classes(taxi_csv: Path) -> None:
    stats = tb.stats.compute(tb.read_csv(taxi_csv), slice_by="payment_type", label="trip_start_day")
    names = [s.name for s in stats.slices]
    assert names[0] == "All Examples"
    assert names[1:8] == [
        "payment_type=Cash", "payment_type=Credit Card", "payment_type=Dispute",
        "payment_type=No Charge", "payment_type=Pcard", "payment_type=Prcard",
        "payment_type=Unknown",
    ]  # fmt: skip
    assert names[8:] == [f"trip_start_day={d}" for d in range(1, 8)]
    cash = stats.slice("payment_type=Cash")
    assert cash.num_examples == 9_909
    assert cash["tips"].numeric is not None
    table = tb.read_csv(taxi_csv).to_table()
    tips = table.column("tips").to_numpy()
    is_cash = np.array(table.column("payment_type").to_pylist()) == "Cash"
    assert cash["tips"].numeric.mean == pytest.approx(tips[is_cash].mean(), rel=1e-12)
    assert sum(stats.slice(f"trip_start_day={d}").num_examples for d in range(1, 8)) == 15_002


def test_bad_arguments_name_the_problem(taxi_csv: Path) -> None:
    data = tb.read_csv(taxi_csv)
    with pytest.raises(ConfigError, match=r"\['nope'\] are not in the data"):
        tb.stats.compute(data, slice_by="nope")
    with pytest.raises(ConfigError, match="more than 100 distinct values"):
        tb.stats.compute(data, slice_by="fare")
    with pytest.raises(SchemaError, match="Column 's' has type struct"):
        tb.stats.compute(pa.table({"s": [{"a": 1}]}))
    with pytest.raises(ConfigError, match=r"tb\.from_pandas"):
        import pandas as pd

        tb.stats.compute(pd.DataFrame({"x": [1]}))  # type: ignore[arg-type]


def test_features_subset_and_empty_data() -> None:
    table = pa.table({"a": pa.array([], pa.float64()), "b": pa.array([], pa.string())})
    stats = tb.stats.compute(table, features=["a"])
    assert list(stats.default.features) == ["a"]
    assert stats.num_examples == 0
    assert stats["a"].numeric is not None and math.isnan(stats["a"].numeric.mean)


def test_json_round_trip(taxi_stats: Statistics, tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    taxi_stats.save(path)
    assert Statistics.load(path) == taxi_stats
    with_inf = tb.stats.compute(pa.table({"x": [1.0, np.inf, np.nan]}))
    with_inf.save(path)
    assert Statistics.load(path).to_dict() == with_inf.to_dict()
    assert "Infinity" in path.read_text()
