"""analyze / transform / TransformOutput, multi-pass dependencies, freezing, errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from rich.console import Console

import tensorbridge as tb
import tensorbridge.transform as tbt
from tensorbridge.errors import ConfigError, SchemaError, TransformError

tf = pytest.importorskip("tensorflow")
QUIET = Console(quiet=True)


def test_dependent_analyzers_take_one_pass_per_level(transform_run, tmp_path: Path) -> None:
    table = pa.table({"x": [3.0, 5.0, 9.0, 7.0]})

    def fn(inputs):
        x = inputs["x"]
        shifted = x - tbt.min(x)  # pass 1: min
        scaled = tbt.scale_to_0_1(shifted)  # pass 2: min/max of shifted
        buckets = tbt.bucketize(x, 2)  # pass 1 too
        ids = tbt.compute_and_apply_vocabulary(buckets, vocab_filename="bucket_vocab")  # pass 2
        return {"scaled": scaled, "ids": ids}

    out, output = transform_run(fn, table, tmp_path)
    assert output.num_passes == 2
    assert out.column("scaled").to_pylist() == pytest.approx([0.0, 1 / 3, 1.0, 2 / 3])
    assert output.vocabulary("bucket_vocab") == ["1", "0"]  # 2 x "1" vs 2 x "0": reverse lex
    metadata = json.loads((output.output_dir / "transform_metadata.json").read_text())
    assert [sorted(p["analyzers"]) for p in metadata["passes"]] == [
        ["min_and_max_x", "quantiles_x"],
        ["bucket_vocab", "min_and_max_x_1"],
    ]


def test_missing_values_are_sparse_inputs_and_fill_missing(transform_run, tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([1.0, None, 3.0]), "s": pa.array(["a", None, "a"])})
    seen = {}

    def fn(inputs):
        seen["x"] = type(inputs["x"]).__name__
        return {
            "x": tbt.fill_missing(inputs["x"], -1.0),
            "mean_of_present": tbt.fill_missing(inputs["x"], 0.0) * 0 + tbt.mean(inputs["x"]),
            "s": tbt.fill_missing(inputs["s"], "?"),
        }

    out, output = transform_run(fn, table, tmp_path)
    assert seen["x"] == "SparseTensor"
    assert out.column("x").to_pylist() == [1.0, -1.0, 3.0]
    assert out.column("mean_of_present").to_pylist() == [2.0, 2.0, 2.0]  # only present values
    assert out.column("s").to_pylist() == ["a", "?", "a"]
    assert [c.optional for c in output.input_columns] == [True, True]


def test_transform_fn_loads_without_tensorbridge(transform_run, tmp_path: Path) -> None:
    """The SavedModel runs in a process that only has TensorFlow, with the same results."""
    table = pa.table({"fare": [5.0, 10.0, 30.0], "kind": ["cash", "card", "cash"]})

    def fn(inputs):
        return {
            "fare_z": tbt.scale_to_z_score(inputs["fare"]),
            "kind_id": tbt.compute_and_apply_vocabulary(inputs["kind"], num_oov_buckets=1),
        }

    out, output = transform_run(fn, table, tmp_path)
    code = f"""
import json, sys
import tensorflow as tf
assert "tensorbridge" not in sys.modules
fn = tf.saved_model.load({str(output.transform_fn_dir)!r})
raw = {{"fare": tf.constant([5.0, 10.0, 30.0]), "kind": tf.constant(["cash", "card", "taxi"])}}
result = fn(raw)
print(json.dumps({{k: v.numpy().tolist() for k, v in result.items()}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["fare_z"] == pytest.approx(out.column("fare_z").to_pylist(), rel=1e-6)
    assert result["kind_id"][:2] == out.column("kind_id").to_pylist()[:2]
    assert result["kind_id"][2] == 2  # the one OOV bucket after 2 tokens
    assets = sorted(p.name for p in (output.transform_fn_dir / "assets").iterdir())
    assert assets == ["vocabulary_kind"]


def test_analyze_then_transform_new_data(tmp_path: Path) -> None:
    train = tb.from_arrow(pa.table({"x": [1.0, 2.0, 3.0], "extra": [1, 2, 3]}))

    def fn(inputs):
        return {"z": tbt.scale_to_z_score(inputs["x"])}

    output = tbt.analyze(train, fn, tmp_path / "t", console=QUIET)
    assert output.transformed_data is None
    assert [c.name for c in output.input_columns] == ["x"]  # "extra" is not used
    reloaded = tbt.TransformOutput(tmp_path / "t")
    new = tb.from_arrow(pa.table({"x": [2.0, 4.0], "other": ["a", "b"]}))
    z = tbt.transform(new, reloaded).to_table().column("z").to_pylist()
    assert z == pytest.approx([0.0, 2 / math.sqrt(2 / 3)])
    with pytest.raises(SchemaError, match=r"lacks the transform's input column\(s\) \['x'\]"):
        reloaded.transform(tb.from_arrow(pa.table({"y": [1.0]})))


def test_output_dir_is_atomic_and_not_overwritten(tmp_path: Path) -> None:
    data = tb.from_arrow(pa.table({"x": [1.0, 2.0]}))

    def broken(inputs):
        return {"x": tbt.scale_to_z_score(inputs["x"]) + tf.constant([1.0, 2.0, 3.0])}

    with pytest.raises(TransformError, match=r"failed on a batch of 2 rows: Incompatible shapes"):
        tbt.analyze_and_transform(data, broken, tmp_path / "t", console=QUIET)
    assert list(tmp_path.iterdir()) == []
    tbt.analyze_and_transform(data, lambda i: {"x": i["x"] * 2}, tmp_path / "t", console=QUIET)
    with pytest.raises(ConfigError, match="already exists"):
        tbt.analyze_and_transform(data, lambda i: {"x": i["x"]}, tmp_path / "t", console=QUIET)


# -- clear errors, each naming the feature and the fix ---------------------------------
def run_error(fn, tmp_path: Path, table: pa.Table | None = None) -> str:
    table = table or pa.table({"fare": [1.0, 2.0], "payment_type": ["Cash", "Card"]})
    with pytest.raises(TransformError) as info:
        tbt.analyze_and_transform(tb.from_arrow(table), fn, tmp_path / "t", console=QUIET)
    return str(info.value)


def test_error_unknown_input(tmp_path: Path) -> None:
    message = run_error(lambda i: {"y": i["tips"]}, tmp_path)
    assert "asked for input 'tips'" in message and "['fare', 'payment_type']" in message


def test_error_wrong_dtype_names_the_feature(tmp_path: Path) -> None:
    message = run_error(lambda i: {"z": tbt.scale_to_z_score(i["payment_type"])}, tmp_path)
    assert "feature 'payment_type' is a string tensor" in message
    assert "compute_and_apply_vocabulary" in message
    message = run_error(lambda i: {"v": tbt.compute_and_apply_vocabulary(i["fare"])}, tmp_path)
    assert "feature 'fare' is a float32 tensor" in message and "bucketize" in message


def test_error_non_tensor_outputs(tmp_path: Path) -> None:
    assert "must return a dict" in run_error(lambda i: [i["fare"]], tmp_path)
    assert "must be a tf.Tensor" in run_error(lambda i: {"f": 3.0}, tmp_path)


def test_error_inconsistent_batch_dimensions(tmp_path: Path) -> None:
    message = run_error(lambda i: {"m": tf.reduce_mean(i["fare"])}, tmp_path)
    assert "Output 'm' has shape ()" in message and "batch dimension" in message
    message = run_error(
        lambda i: {"f": i["fare"], "g": tf.concat([i["fare"], i["fare"]], 0)}, tmp_path
    )
    assert "Output 'g' has 4 rows for a batch of 2 input rows" in message


def test_error_user_exception_is_wrapped(tmp_path: Path) -> None:
    def fn(inputs):
        raise ZeroDivisionError("boom")

    assert "preprocessing_fn raised ZeroDivisionError: boom" in run_error(fn, tmp_path)


def test_analyzers_outside_a_preprocessing_fn() -> None:
    with pytest.raises(TransformError, match="only work inside a preprocessing_fn"):
        tbt.mean(tf.constant([1.0]))


def test_empty_data(transform_run, tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([], pa.float64()), "s": pa.array([], pa.string())})

    def fn(inputs):
        return {
            "z": tbt.scale_to_z_score(inputs["x"]),
            "v": tbt.compute_and_apply_vocabulary(inputs["s"], vocab_filename="v"),
            "b": tbt.bucketize(inputs["x"], 3),
        }

    out, output = transform_run(fn, table, tmp_path)
    assert out.num_rows == 0
    stats = output.analyzer_results["mean_and_var_x"]
    assert float(stats["mean"]) == 0.0 and float(stats["var"]) == 0.0
    assert output.vocabulary("v") == ["49d0cd50-04bb-48c0-bc6f-5b575dce351a"]
    assert np.array_equal(output.analyzer_results["quantiles_x"]["boundaries"], [0.0, 0.0])
