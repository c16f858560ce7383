"""Property tests: every analyzer, end to end, against a numpy reference.

Hypothesis generates Arrow tables with missing values, NaN, infinities, empty data and
a single repeated value; each example runs a real analyze_and_transform.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorbridge.transform as tbt

tf = pytest.importorskip("tensorflow")

floats = st.one_of(
    st.none(),
    st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False, width=32),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1.5]),
)
words = st.one_of(st.none(), st.sampled_from(["", "a", "b", "taxi", "Cash", "z z", "é"]))
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def columns(draw_rows: list[tuple[float | None, str | None]]) -> pa.Table:
    return pa.table(
        {
            "x": pa.array([r[0] for r in draw_rows], pa.float64()),
            "s": pa.array([r[1] for r in draw_rows], pa.string()),
        }
    )


def numeric_fn(inputs):
    x = inputs["x"]
    dense = tbt.fill_missing(x, 0.0) * 0.0
    return {
        "mean": dense + tbt.mean(x, name="m"),
        "var": dense + tbt.var(x, name="v"),
        "min": dense + tbt.min(x, name="lo"),
        "max": dense + tbt.max(x, name="hi"),
        "sum": dense + tbt.sum(x, name="total"),
        "size": tf.cast(dense, tf.int64) + tbt.size(x, name="n"),
        "bucket": tbt.bucketize(tbt.fill_missing(x, 0.0), 4, name="q"),
    }


@SETTINGS
@given(st.lists(st.tuples(floats, words), min_size=0, max_size=60))
def test_numeric_analyzers_match_numpy(transform_run, tmp_path: Path, rows) -> None:
    table = columns(rows)
    present = np.array([r[0] for r in rows if r[0] is not None], np.float32).astype(np.float64)
    finite = present[np.isfinite(present)]
    _, output = transform_run(numeric_fn, table, tmp_path)
    results = output.analyzer_results
    assert float(results["m"]["mean"]) == pytest.approx(
        finite.mean() if len(finite) else 0.0, rel=1e-5, abs=1e-6
    )
    assert float(results["v"]["var"]) == pytest.approx(
        finite.var() if len(finite) else 0.0, rel=1e-4, abs=1e-3
    )
    not_nan = present[~np.isnan(present)]
    low, high = float(results["lo"]["min"]), float(results["hi"]["max"])
    assert low == (not_nan.min() if len(not_nan) else math.inf)
    assert high == (not_nan.max() if len(not_nan) else -math.inf)
    total = float(results["total"]["sum"])
    with np.errstate(all="ignore"):  # inf - inf is NaN, as in the combiner
        expected_total = float(np.float32(present.sum())) if len(present) else 0.0
    if math.isnan(expected_total):
        assert math.isnan(total)
    else:
        assert total == pytest.approx(expected_total, rel=1e-5, abs=1e-3)
    assert int(results["n"]["size"]) == len(present)
    # Quantiles of the filled values (missing -> 0), NaN ignored, boundaries are data values.
    filled = np.array([0.0 if r[0] is None else r[0] for r in rows], np.float32)
    values = np.sort(filled[~np.isnan(filled)])
    boundaries = results["q"]["boundaries"]
    if len(values):
        expected = [values[min(len(values) - 1, i * len(values) // 4)] for i in (1, 2, 3)]
        assert boundaries.tolist() == [float(v) for v in expected]
    else:
        assert boundaries.tolist() == [0.0, 0.0, 0.0]


@SETTINGS
@given(st.lists(st.tuples(floats, words), min_size=0, max_size=60), st.integers(1, 4))
def test_vocabulary_matches_counting(transform_run, tmp_path: Path, rows, top_k) -> None:
    table = columns(rows)

    def fn(inputs):
        s = inputs["s"]
        return {
            "id": tbt.compute_and_apply_vocabulary(
                tbt.fill_missing(s, ""), top_k=top_k, vocab_filename="v", num_oov_buckets=1
            )
        }

    out, output = transform_run(fn, table, tmp_path)
    present = [r[1] for r in rows if r[1]]  # missing and empty tokens are not counted
    counts: dict[bytes, int] = {}
    for token in present:
        counts[token.encode()] = counts.get(token.encode(), 0) + 1
    ordered = [t.decode() for _, t in sorted(((c, t) for t, c in counts.items()), reverse=True)]
    expected = ordered[:top_k] or ["49d0cd50-04bb-48c0-bc6f-5b575dce351a"]
    assert output.vocabulary("v") == expected
    ids = out.column("id").to_pylist()
    for row, index in zip(rows, ids, strict=True):
        token = row[1] or ""
        if token in expected and token:
            assert index == expected.index(token)
        else:
            assert index == len(expected)  # the single OOV bucket


@SETTINGS
@given(st.integers(1, 30), st.floats(-100, 100, allow_nan=False, allow_subnormal=False, width=32))
def test_single_distinct_value(transform_run, tmp_path: Path, count, value) -> None:
    table = pa.table({"x": [value] * count})

    def fn(inputs):
        x = inputs["x"]
        return {"z": tbt.scale_to_z_score(x), "s": tbt.scale_to_0_1(x), "b": tbt.bucketize(x, 3)}

    out, _ = transform_run(fn, table, tmp_path)
    assert out.column("z").to_pylist() == [0.0] * count  # x - mean when the std is 0
    sigmoid = 1 / (1 + math.exp(-value))
    assert out.column("s").to_pylist() == pytest.approx([sigmoid] * count, rel=1e-6)
    assert set(out.column("b").to_pylist()) == {2}  # both boundaries equal the value
