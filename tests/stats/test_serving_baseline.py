"""The serving baseline an export records: numbers straight from the training statistics."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

import tensorbridge as tb
from tensorbridge.stats.serving_baseline import sample_rows, serving_baseline


def test_numeric_and_categorical_entries() -> None:
    fare = [float(v) for v in range(1, 101)] + [None] * 25
    kind = ["a"] * 50 + ["b"] * 30 + ["c"] * 20 + [None] * 25
    table = pa.table({"fare": fare, "kind": kind, "unused": list(range(125))})
    baseline = serving_baseline(tb.stats.compute(table), ["fare", "kind", "absent"])
    assert baseline["rows"] == 125 and sorted(baseline["features"]) == ["fare", "kind"]

    numeric = baseline["features"]["fare"]
    values = np.arange(1, 101, dtype=float)
    assert numeric["kind"] == "numeric" and numeric["missing_fraction"] == pytest.approx(0.2)
    assert numeric["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert numeric["std"] == pytest.approx(values.std(), rel=1e-12)  # population
    assert len(numeric["boundaries"]) == 9
    assert numeric["boundaries"] == sorted(numeric["boundaries"])
    assert numeric["boundaries"][4] == pytest.approx(np.median(values), abs=1.0)

    categorical = baseline["features"]["kind"]
    assert categorical["kind"] == "categorical" and categorical["complete"] is True
    assert categorical["unique"] == 3 and categorical["missing_fraction"] == pytest.approx(0.2)
    assert categorical["values"] == pytest.approx({"a": 0.5, "b": 0.3, "c": 0.2})
    json.dumps(baseline, allow_nan=False)  # plain JSON, no NaN


def test_many_values_are_marked_incomplete() -> None:
    table = pa.table({"id": [f"v{i}" for i in range(1500)]})
    entry = serving_baseline(tb.stats.compute(table), ["id"])["features"]["id"]
    assert entry["unique"] == 1500 and entry["complete"] is False
    assert len(entry["values"]) == 1000


def test_sample_rows_are_json_ready() -> None:
    rows = [{"fare": math.nan, "kind": "a", "tips": 1.0}, {"fare": 2.5, "kind": None}]
    assert sample_rows(rows, ["fare", "kind"], count=8) == [
        {"fare": None, "kind": "a"},
        {"fare": 2.5, "kind": None},
    ]
