"""ServingFeatureStats: running statistics, unseen values and drift against real baselines."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import tensorbridge as tb
from tensorbridge.serve import feature_stats
from tensorbridge.serve.feature_stats import ServingFeatureStats
from tensorbridge.serve.model import InputSpec
from tensorbridge.stats.serving_baseline import serving_baseline


def spec(name: str, dtype: str, optional: bool = True) -> InputSpec:
    missing = None if not optional else ('""' if dtype == "string" else "NaN")
    return InputSpec(
        name=name, dtype=dtype, optional=optional, missing_value=missing, raw_dtype=dtype
    )


INPUTS = {
    "fare": spec("fare", "float32"),
    "trips": spec("trips", "int64", optional=False),
    "payment": spec("payment", "string"),
}


def batch(fare: list[float], trips: list[int], payment: list[str]) -> dict[str, np.ndarray]:
    return {
        "fare": np.array(fare, dtype=np.float32),
        "trips": np.array(trips, dtype=np.int64),
        "payment": np.array(payment, dtype=object),
    }


def test_counts_mean_std_missing_are_exact() -> None:
    stats = ServingFeatureStats(INPUTS, None)
    nan = float("nan")
    parts = [
        batch([1.5, nan, 3.0], [1, 2, 3], ["Cash", "", "Card"]),
        batch([10.25], [40], ["Cash"]),
        batch([nan, nan, -2.0, 7.0], [5, 6, 7, 8], ["Cash", "Mobile", "", "Card"]),
    ]
    for part in parts:
        assert stats.update(part) == {}
    report = stats.report()
    json.dumps(report, allow_nan=False)
    assert report["rows"] == 8
    fares = np.array([1.5, 3.0, 10.25, -2.0, 7.0])
    fare = report["features"]["fare"]
    assert (fare["kind"], fare["count"], fare["missing"]) == ("numeric", 8, 3)
    assert fare["mean"] == pytest.approx(fares.mean(), abs=1e-12)
    assert fare["std"] == pytest.approx(fares.std(), abs=1e-12)
    assert fare["baseline"] is None and fare["drift"] is None and fare["buckets"] is None
    trips = report["features"]["trips"]
    values = np.array([1, 2, 3, 40, 5, 6, 7, 8], dtype=np.float64)
    assert (trips["count"], trips["missing"]) == (8, 0)
    assert trips["mean"] == pytest.approx(values.mean())
    assert trips["std"] == pytest.approx(values.std())
    payment = report["features"]["payment"]
    assert (payment["kind"], payment["count"], payment["missing"]) == ("categorical", 8, 2)
    assert payment["top_values"] == [["Cash", 0.5], ["Card", 2 / 6], ["Mobile", 1 / 6]]
    assert payment["unseen"] is None and payment["drift"] is None


def test_large_offset_keeps_std_precise() -> None:
    stats = ServingFeatureStats({"x": spec("x", "float64")}, None)
    rng = np.random.default_rng(0)
    data = 1e9 + rng.normal(0, 1, size=10_000)
    for chunk in np.array_split(data, 37):
        stats.update({"x": chunk})
    x = stats.report()["features"]["x"]
    assert x["mean"] == pytest.approx(data.mean(), rel=1e-15)
    assert x["std"] == pytest.approx(data.std(), rel=1e-9)


def baseline_of(columns: dict[str, Any], features: list[str]) -> dict[str, Any]:
    return serving_baseline(tb.stats.compute(pa.table(columns)), features)


def draw(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    """Zero-inflated tips, lognormal fares, whole hours: like the taxi data."""
    tips = np.where(rng.random(n) < 0.6, 0.0, rng.exponential(3.0, n))
    return {
        "fare": rng.lognormal(2.0 + shift, 0.7, n),
        "tips": tips + shift * 5,
        "hour": rng.integers(0, 24, n).astype(np.float64) + np.round(shift * 6),
    }


def test_numeric_drift_is_small_for_the_training_distribution_and_large_when_shifted() -> None:
    rng = np.random.default_rng(1)
    train = draw(rng, 20_000)
    baseline = baseline_of(
        {"fare": train["fare"], "tips": train["tips"], "hour": train["hour"].astype(np.int64)},
        ["fare", "tips", "hour"],
    )
    assert baseline["features"]["tips"]["boundaries"][:6] == [0.0] * 6  # repeated deciles
    inputs = {name: spec(name, "float64") for name in ("fare", "tips", "hour")}
    same = ServingFeatureStats(inputs, baseline)
    shifted = ServingFeatureStats(inputs, baseline)
    for _ in range(5):
        same.update(draw(rng, 1000))
        shifted.update(draw(rng, 1000, shift=1.0))
    for name in inputs:
        drift = same.report()["features"][name]["drift"]
        assert drift["metric"] == "jensen_shannon"
        assert drift["value"] < 0.01, (name, drift)
        assert shifted.report()["features"][name]["drift"]["value"] > 0.1, name
    tips = same.report()["features"]["tips"]
    # The six 0.0 deciles (60% zero tips) merge with the bucket above into one: < q70.
    assert len(tips["buckets"]["edges"]) == 3
    assert tips["buckets"]["baseline_fractions"][0] == pytest.approx(0.7)
    assert same.drift().keys() == set(inputs)
    json.dumps(same.report(), allow_nan=False)


def test_explicit_bucket_fractions() -> None:
    baseline = {
        "rows": 100,
        "features": {
            "x": {
                "kind": "numeric",
                "boundaries": [0.0, 10.0],
                "bucket_fractions": [0.25, 0.5, 0.25],
            }
        },
    }
    stats = ServingFeatureStats({"x": spec("x", "float32")}, baseline)
    stats.update({"x": np.array([-1.0, 0.0, 5.0, 10.0], dtype=np.float32)})  # 1, 2, 1
    x = stats.report()["features"]["x"]
    assert x["buckets"]["serving_fractions"] == [0.25, 0.5, 0.25]
    assert x["drift"]["value"] == pytest.approx(0.0, abs=1e-12)


def test_unseen_values_are_counted_only_against_complete_baselines() -> None:
    rng = np.random.default_rng(2)
    kinds = rng.choice(["Cash", "Card", "Mobile"], p=[0.5, 0.3, 0.2], size=2000)
    complete = baseline_of({"payment": kinds}, ["payment"])
    entry = complete["features"]["payment"]
    assert entry["complete"] is True
    partial = {"rows": 2000, "features": {"payment": {**entry, "complete": False}}}
    inputs = {"payment": spec("payment", "string")}
    counted = ServingFeatureStats(inputs, complete)
    uncounted = ServingFeatureStats(inputs, partial)
    served = np.array(["Cash", "Bitcoin", "", "Card", "Bitcoin", "Barter"], dtype=object)
    assert counted.update({"payment": served}) == {"payment": 3}
    assert counted.update({"payment": np.array(["Cash"], dtype=object)}) == {}
    assert uncounted.update({"payment": served}) == {}
    report = counted.report()["features"]["payment"]
    assert report["unseen"] == 3
    assert report["missing"] == 1
    assert uncounted.report()["features"]["payment"]["unseen"] is None
    base = report["baseline"]
    assert "values" not in base
    assert [v for v, _ in base["top_values"]] == ["Cash", "Card", "Mobile"]


def test_categorical_drift_is_l_infinity_of_value_shares() -> None:
    inputs = {"kind": spec("kind", "string")}
    complete = {
        "rows": 4,
        "features": {
            "kind": {"kind": "categorical", "complete": True, "values": {"a": 0.5, "b": 0.5}}
        },
    }
    stats = ServingFeatureStats(inputs, complete)
    stats.update({"kind": np.array(["a", "a", "a", "b"], dtype=object)})
    drift = stats.report()["features"]["kind"]["drift"]
    assert drift == {"metric": "l_infinity", "value": 0.25}
    # A top-k baseline pools the values it does not list into one "__other__" share.
    top_k = {
        "rows": 10,
        "features": {
            "kind": {"kind": "categorical", "complete": False, "values": {"a": 0.6, "b": 0.2}}
        },
    }
    stats = ServingFeatureStats(inputs, top_k)
    served = ["a"] * 6 + ["b"] * 2 + ["c", "d"]
    stats.update({"kind": np.array(served, dtype=object)})
    assert stats.report()["features"]["kind"]["drift"]["value"] == pytest.approx(0.0, abs=1e-12)
    stats.update({"kind": np.array(["c"] * 10, dtype=object)})  # "other" is now 12/20
    assert stats.report()["features"]["kind"]["drift"]["value"] == pytest.approx(0.4)


def test_distinct_values_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feature_stats, "MAX_DISTINCT_VALUES", 3)
    stats = ServingFeatureStats({"kind": spec("kind", "string")}, None)
    stats.update({"kind": np.array(["a", "b", "c", "d", "e", "a"], dtype=object)})
    report = stats.report()["features"]["kind"]
    assert sorted(report["top_values"]) == [
        ["__other__", 2 / 6],
        ["a", 2 / 6],
        ["b", 1 / 6],
        ["c", 1 / 6],
    ]
    assert report["distinct"] == 4  # a, b, c and the pooled "__other__"


def test_updates_from_many_threads_add_up() -> None:
    stats = ServingFeatureStats(INPUTS, None)
    part = batch([1.0, 2.0, float("nan")], [1, 2, 3], ["x", "y", ""])

    def work() -> None:
        for _ in range(200):
            stats.update(part)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = stats.report()
    assert report["rows"] == 8 * 200 * 3
    assert report["features"]["fare"]["missing"] == 8 * 200
    assert report["features"]["fare"]["mean"] == pytest.approx(1.5)
    assert report["features"]["payment"]["top_values"] == [["x", 0.5], ["y", 0.5]]
