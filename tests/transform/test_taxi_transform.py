"""The TFX taxi preprocessing on both engines, checked against independent numpy values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from rich.console import Console

import tensorbridge as tb
import tensorbridge.transform as tbt
from tensorbridge.engine import Engine
from tensorbridge.examples import taxi

pytest.importorskip("tensorflow")
QUIET = Console(quiet=True)


@pytest.fixture(scope="module")
def raw(taxi_csv: Path) -> pa.Table:
    """The train split, read with plain pyarrow (independently of tensorbridge's reader)."""
    table = pacsv.read_csv(taxi_csv)
    train = tb.read_csv(taxi_csv).split()["train"].to_table()
    assert train.num_rows == 9_945
    assert set(train.column_names) == set(table.column_names)
    return train


def filled(table: pa.Table, name: str, dtype: type) -> np.ndarray:
    column = table.column(name).to_numpy(zero_copy_only=False)
    if dtype is str:
        return np.array(["" if v is None else v for v in table.column(name).to_pylist()], object)
    return np.nan_to_num(column.astype(np.float64), nan=0.0).astype(dtype)


def expected_vocabulary(values: np.ndarray, top_k: int) -> list[str]:
    tokens, counts = np.unique(values[values != ""], return_counts=True)
    pairs = sorted(zip(counts.tolist(), [t.encode() for t in tokens], strict=True), reverse=True)
    return [t.decode() for _, t in pairs[:top_k]]


def expected_boundaries(values: np.ndarray, num_buckets: int) -> np.ndarray:
    ordered = np.sort(values.astype(np.float32))
    n = len(ordered)
    return np.array([ordered[min(n - 1, i * n // num_buckets)] for i in range(1, num_buckets)])


@pytest.fixture(scope="module")
def reference_output(
    tmp_path_factory: pytest.TempPathFactory, taxi_csv: Path
) -> tbt.TransformOutput:
    out = tmp_path_factory.mktemp("taxi") / "transform"
    return tbt.analyze_and_transform(
        tb.read_csv(taxi_csv).split(), taxi.preprocessing_fn, out, engine="local", console=QUIET
    )


def test_taxi_matches_independent_computation(
    reference_output: tbt.TransformOutput, raw: pa.Table
) -> None:
    results = reference_output.analyzer_results
    transformed = reference_output.transformed_data
    assert isinstance(transformed, dict) and list(transformed) == ["train", "eval"]
    train = transformed["train"].to_table()
    assert train.num_rows == raw.num_rows

    for key in taxi.DENSE_FLOAT_FEATURE_KEYS:
        values = filled(raw, key, np.float32).astype(np.float64)
        stats = results[f"mean_and_var_{key}"]
        assert float(stats["mean"]) == pytest.approx(values.mean(), rel=1e-5)
        assert float(stats["var"]) == pytest.approx(values.var(), rel=1e-5)
        z = (values - values.mean()) / values.std()
        assert np.allclose(train.column(f"{key}_xf").to_numpy(), z, rtol=1e-4, atol=1e-4)

    for key in taxi.VOCAB_FEATURE_KEYS:
        values = filled(raw, key, str)
        vocabulary = expected_vocabulary(values, taxi.VOCAB_SIZE)
        assert reference_output.vocabulary(f"vocab_{key}") == vocabulary
        ids = train.column(f"{key}_xf").to_numpy()
        position = {token: i for i, token in enumerate(vocabulary)}
        known = np.array([v in position for v in values])
        assert np.array_equal(ids[known], [position[v] for v in values[known]])
        assert np.all((ids[~known] >= len(vocabulary)) & (ids[~known] < len(vocabulary) + 10))

    for key in taxi.BUCKET_FEATURE_KEYS:
        values = filled(raw, key, np.float32)
        boundaries = expected_boundaries(values, taxi.FEATURE_BUCKET_COUNT)
        assert np.array_equal(results[f"quantiles_{key}"]["boundaries"], boundaries)
        buckets = np.searchsorted(boundaries, values, side="right")
        agreement = np.mean(train.column(f"{key}_xf").to_numpy() == buckets)
        assert agreement >= 0.995

    for key in taxi.CATEGORICAL_FEATURE_KEYS:
        assert np.array_equal(train.column(f"{key}_xf").to_numpy(), filled(raw, key, np.int64))

    fare = filled(raw, "fare", np.float32)
    tips = filled(raw, "tips", np.float32)
    label = (tips > fare * np.float32(0.2)).astype(np.int64)
    assert np.array_equal(train.column("tips_xf").to_numpy(), label)


def test_same_results_on_every_engine(
    engine: Engine, reference_output: tbt.TransformOutput, taxi_csv: Path, tmp_path: Path
) -> None:
    output = tbt.analyze_and_transform(
        tb.read_csv(taxi_csv, engine=engine).split(),
        taxi.preprocessing_fn,
        tmp_path / "t",
        console=QUIET,
    )
    ours = json.loads((output.output_dir / "transform_metadata.json").read_text())
    reference = json.loads((reference_output.output_dir / "transform_metadata.json").read_text())
    assert ours["analyzers"] == reference["analyzers"]
    assert ours["engine"] == engine.name
    for split in ("train", "eval"):
        got = output.transformed_data[split].to_table()  # type: ignore[index]
        expected = reference_output.transformed_data[split].to_table()  # type: ignore[index]
        assert got.equals(expected), split
    for key in taxi.VOCAB_FEATURE_KEYS:
        assert output.vocabulary(f"vocab_{key}") == reference_output.vocabulary(f"vocab_{key}")


def test_one_analysis_pass(reference_output: tbt.TransformOutput) -> None:
    assert reference_output.num_passes == 1  # no analyzer depends on another
    assert len(reference_output.analyzer_results) == 3 + 2 + 4
    assert "1 pass(es)" in repr(reference_output)
