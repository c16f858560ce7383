"""ServedModel: loading real exports and plain SavedModels, predictions, warm-up, metadata."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tensorbridge.serve.codec import decode_rows, decode_v1_predict, decode_v2_infer
from tensorbridge.serve.errors import ModelLoadError, RequestError
from tensorbridge.serve.model import InputSpec, ServedModel
from tensorbridge.serve.repository import ModelRepository

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def taxi(served_models: Path) -> ServedModel:
    path = ModelRepository(served_models).version_dir("taxi", 2)
    return ServedModel.load("taxi", 2, path)


@pytest.fixture(scope="module")
def raw_rows(taxi: ServedModel, taxi_eval_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The eval rows without the label and the columns the model does not take."""
    return [{k: v for k, v in row.items() if k in taxi.inputs} for row in taxi_eval_rows]


def _save_plain(path: Path, *, fail_on_zero: bool = False) -> Path:
    """A tiny tf.Module with a ``serving_default`` signature and no manifest."""

    class Tiny(tf.Module):  # type: ignore[misc]
        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.float32, name="x"),
                tf.TensorSpec([None], tf.string, name="word"),
                tf.TensorSpec([None], tf.int64, name="count"),
                tf.TensorSpec([None, 1], tf.float32, name="w"),
            ]
        )
        def serve(self, x: Any, word: Any, count: Any, w: Any) -> dict[str, Any]:
            if fail_on_zero:
                tf.debugging.assert_positive(count, message="count must be positive")
            return {
                "y": x * 2.0 + w[:, 0],
                "length": tf.strings.length(word),
                "total": tf.cast(count, tf.float32)[:, None] + w,
            }

    module = Tiny()
    tf.saved_model.save(
        module, str(path), signatures={"serving_default": module.serve.get_concrete_function()}
    )
    return path


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> ServedModel:
    path = _save_plain(tmp_path_factory.mktemp("plain") / "1")
    return ServedModel.load("tiny", 1, path)


def test_predictions_equal_the_savedmodel_called_directly(
    taxi: ServedModel, taxi_export: Path, raw_rows: list[dict[str, Any]]
) -> None:
    from tensorbridge.train.export import encode_raw_rows

    manifest = json.loads((taxi_export / "tensorbridge.json").read_text())
    reference_inputs = encode_raw_rows(raw_rows, manifest)
    direct = tf.saved_model.load(str(taxi_export)).signatures["serving_default"]
    expected = direct(**{k: tf.constant(v) for k, v in reference_inputs.items()})

    decoded = decode_rows(raw_rows, taxi)
    assert decoded.keys() == reference_inputs.keys()
    for name, values in reference_inputs.items():
        assert decoded[name].dtype == values.dtype or values.dtype.kind == "O", name
        np.testing.assert_array_equal(decoded[name], values, err_msg=name)
    got = taxi.predict(decoded)
    assert set(got) == {"probabilities"}
    assert got["probabilities"].shape == (len(raw_rows), 1)
    np.testing.assert_allclose(got["probabilities"], expected["probabilities"].numpy(), rtol=1e-6)


def test_a_loaded_export_describes_its_signature(taxi: ServedModel, taxi_export: Path) -> None:
    manifest = json.loads((taxi_export / "tensorbridge.json").read_text())
    assert list(taxi.inputs) == [entry["name"] for entry in manifest["inputs"]]
    assert taxi.inputs["fare"] == InputSpec("fare", "float32", False, None, "float32")
    assert taxi.inputs["trip_seconds"] == InputSpec("trip_seconds", "float64", True, "NaN", "int64")
    assert taxi.inputs["company"] == InputSpec("company", "string", True, '""', "string")
    assert taxi.inputs["company"].sentinel == "" and taxi.inputs["fare"].sentinel is None
    assert np.isnan(taxi.inputs["trip_seconds"].sentinel)
    assert taxi.outputs == {"probabilities": "float32"}
    assert taxi.output_shapes == {"probabilities": [-1, 1]}
    assert taxi.task == "binary"
    assert taxi.manifest is not None and taxi.manifest["label"] == "tips_xf"
    assert (taxi.name, taxi.version) == ("taxi", 2)
    assert callable(taxi.signature)
    assert "taxi" in repr(taxi)


def test_concurrent_predictions_equal_serial_ones(
    taxi: ServedModel, raw_rows: list[dict[str, Any]]
) -> None:
    batches = [decode_rows(raw_rows[i * 20 : i * 20 + 5 + i], taxi) for i in range(8)]
    serial = [taxi.predict(batch)["probabilities"] for batch in batches]
    start = threading.Barrier(8)
    results: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            results[i] = [taxi.predict(batches[i])["probabilities"] for _ in range(5)]
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    for i in range(8):
        for got in results[i]:
            np.testing.assert_array_equal(got, serial[i])


def test_predict_refuses_missing_unknown_and_ragged_inputs(taxi: ServedModel) -> None:
    inputs = taxi.sample_inputs(3)
    with pytest.raises(RequestError) as missing:
        taxi.predict({k: v for k, v in inputs.items() if k != "fare"})
    assert missing.value.field == "fare"
    with pytest.raises(RequestError) as extra:
        taxi.predict({**inputs, "tips": np.zeros(3)})
    assert extra.value.field == "tips"
    with pytest.raises(RequestError) as ragged:
        taxi.predict({**inputs, "fare": np.zeros(2, np.float32)})
    assert ragged.value.field == "fare" and ragged.value.expected == "3 rows"


def test_manifest_samples_warm_up_the_model(
    taxi: ServedModel, taxi_eval_rows: list[dict[str, Any]]
) -> None:
    assert taxi.manifest is not None and len(taxi.manifest["samples"]) == 8
    samples = taxi.sample_inputs(10)  # the 8 samples, then again from the first
    assert list(samples["payment_type"]) == [
        taxi_eval_rows[i % 8]["payment_type"] for i in range(10)
    ]
    seconds = taxi.warm_up(rounds=2, batch_sizes=(1, 8, 64))
    assert 0 < seconds < 30


def test_samples_are_synthesized_without_manifest_samples_and_checked(
    taxi_export: Path, raw_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(taxi_export, tmp_path / "3"))
    manifest = json.loads((copy / "tensorbridge.json").read_text())
    manifest["samples"] = []
    (copy / "tensorbridge.json").write_text(json.dumps(manifest))
    model = ServedModel.load("taxi", 3, copy)
    samples = model.sample_inputs(4)
    assert {name: len(values) for name, values in samples.items()} == dict.fromkeys(model.inputs, 4)
    # optional inputs are missing on every other row, so both paths through the model run
    assert np.isnan(samples["trip_seconds"][1]) and samples["trip_seconds"][0] == 0
    assert list(samples["company"]) == ["", "", "", ""]
    assert samples["fare"].dtype == np.float32 and not np.isnan(samples["fare"]).any()
    assert model.warm_up(rounds=1) > 0

    manifest["samples"] = [{**raw_rows[0], "fare": "free"}]
    (copy / "tensorbridge.json").write_text(json.dumps(manifest))
    broken = ServedModel.load("taxi", 3, copy)
    with pytest.raises(ModelLoadError, match=r"samples .* do not fit") as err:
        broken.warm_up()
    assert err.value.status == 500


def test_tf_serving_metadata(taxi: ServedModel) -> None:
    body = taxi.signature_metadata_v1()
    assert body["model_spec"] == {"name": "taxi", "signature_name": "", "version": "2"}
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert set(signature) == {"inputs", "outputs", "method_name"}
    assert signature["method_name"] == "tensorflow/serving/predict"
    assert list(signature["inputs"]) == sorted(taxi.inputs)
    assert signature["inputs"]["fare"] == {
        "dtype": "DT_FLOAT",
        "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
        "name": "serving_default_fare:0",
    }
    assert signature["inputs"]["trip_seconds"]["dtype"] == "DT_DOUBLE"
    assert signature["inputs"]["company"]["dtype"] == "DT_STRING"
    output = signature["outputs"]["probabilities"]
    assert output["dtype"] == "DT_FLOAT"
    assert output["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}, {"size": "1", "name": ""}]
    assert output["name"].endswith(":0")
    json.dumps(body)  # plain JSON
    body["model_spec"]["name"] = "changed"  # callers get a copy
    assert taxi.signature_metadata_v1()["model_spec"]["name"] == "taxi"


def test_v2_metadata(taxi: ServedModel) -> None:
    body = taxi.metadata_v2([1, 2])
    assert body["name"] == "taxi" and body["versions"] == ["1", "2"]
    assert body["platform"] == "tensorflow_savedmodel"
    inputs = {item["name"]: item for item in body["inputs"]}
    assert list(inputs) == list(taxi.inputs)
    assert inputs["fare"] == {"name": "fare", "datatype": "FP32", "shape": [-1]}
    assert inputs["trip_start_hour"]["datatype"] == "INT64"
    assert inputs["trip_seconds"]["datatype"] == "FP64"  # an optional int travels as float64
    assert inputs["company"]["datatype"] == "BYTES"
    assert body["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 1]}]


def test_a_plain_savedmodel_without_manifest_is_served(plain: ServedModel) -> None:
    assert plain.manifest is None and plain.task is None
    assert list(plain.inputs) == ["count", "w", "word", "x"]
    assert all(not spec.optional for spec in plain.inputs.values())
    assert plain.inputs["w"].rank == 2 and plain.inputs["x"].rank == 1
    assert plain.outputs == {"length": "int32", "total": "float32", "y": "float32"}
    assert plain.output_shapes == {"length": [-1], "total": [-1, 1], "y": [-1]}
    rows = [
        {"x": 1.5, "word": "héllo", "count": 2, "w": [0.5]},
        {"x": -1, "word": "", "count": 0, "w": 1},
    ]
    decoded = decode_v1_predict({"instances": rows}, plain, max_rows=8)
    got = plain.predict(decoded.inputs)
    np.testing.assert_array_equal(got["y"], np.array([3.5, -1.0], np.float32))
    np.testing.assert_array_equal(got["length"], [6, 0])  # UTF-8 bytes
    np.testing.assert_array_equal(got["total"], [[2.5], [1.0]])
    v2, _, _ = decode_v2_infer(
        {
            "inputs": [
                {"name": "x", "shape": [2], "datatype": "FP32", "data": [1.5, -1]},
                {"name": "word", "shape": [2], "datatype": "BYTES", "data": ["héllo", ""]},
                {"name": "count", "shape": [2, 1], "datatype": "INT64", "data": [[2], [0]]},
                {"name": "w", "shape": [2, 1], "datatype": "FP32", "data": [0.5, 1]},
            ]
        },
        plain,
        max_rows=8,
    )
    for name in plain.inputs:
        np.testing.assert_array_equal(v2.inputs[name], decoded.inputs[name])
    with pytest.raises(RequestError) as null:
        decode_rows([{"x": None, "word": "a", "count": 1, "w": 1.0}], plain)
    assert null.value.field == "x" and null.value.expected == "float32 number"
    assert plain.warm_up(rounds=1) > 0
    meta = plain.signature_metadata_v1()["metadata"]["signature_def"]["signature_def"]
    assert meta["serving_default"]["inputs"]["w"]["tensor_shape"]["dim"][1]["size"] == "1"
    assert plain.metadata_v2([1])["inputs"][1] == {
        "name": "w",
        "datatype": "FP32",
        "shape": [-1, 1],
    }


def test_a_failing_warm_up_refuses_the_version(tmp_path: Path) -> None:
    model = ServedModel.load("tiny", 1, _save_plain(tmp_path / "1", fail_on_zero=True))
    with pytest.raises(ModelLoadError, match=r"Warm-up of tiny version 1 .* failed") as err:
        model.warm_up(rounds=1)
    assert "count must be positive" in str(err.value)


def test_broken_directories_raise_model_load_errors(plain: ServedModel, tmp_path: Path) -> None:
    def load_error(path: Path) -> str:
        with pytest.raises(ModelLoadError) as err:
            ServedModel.load("m", 1, path)
        assert str(path) in str(err.value) and err.value.status == 500
        return str(err.value)

    assert "does not exist" in load_error(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert "not a SavedModel" in load_error(tmp_path / "empty")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "saved_model.pb").write_bytes(b"\x00not a protobuf at all")
    assert "could not read the SavedModel" in load_error(tmp_path / "garbage")

    class Other(tf.Module):  # type: ignore[misc]
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: Any) -> dict[str, Any]:
            return {"y": x}

    other = Other()
    tf.saved_model.save(
        other, str(tmp_path / "other"), signatures={"predict": other.serve.get_concrete_function()}
    )
    message = load_error(tmp_path / "other")
    assert "no 'serving_default' signature" in message and "predict" in message

    class Wide(tf.Module):  # type: ignore[misc]
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def serve(self, x: Any) -> dict[str, Any]:
            return {"y": x}

    wide = Wide()
    tf.saved_model.save(
        wide,
        str(tmp_path / "wide"),
        signatures={"serving_default": wide.serve.get_concrete_function()},
    )
    assert "one value per row" in load_error(tmp_path / "wide")

    mismatched = Path(shutil.copytree(plain.path, tmp_path / "mismatched"))
    (mismatched / "tensorbridge.json").write_text(json.dumps({"inputs": [{"name": "z"}]}))
    assert "does not describe this SavedModel" in load_error(mismatched)
    (mismatched / "tensorbridge.json").write_text("{not json")
    assert "tensorbridge.json is unreadable" in load_error(mismatched)


def test_metadata_without_a_readable_saved_model_pb(plain: ServedModel, tmp_path: Path) -> None:
    """The fallback signature JSON has TF Serving's shape and TensorFlow's usual names."""
    from tensorbridge.serve.model import _signature_def

    real = _signature_def(plain.path, plain.inputs, plain.outputs, plain.output_shapes)
    fallback = _signature_def(tmp_path, plain.inputs, plain.outputs, plain.output_shapes)
    assert fallback["inputs"]["x"]["name"] == "serving_default_x:0"
    assert fallback["outputs"]["length"]["name"] == "StatefulPartitionedCall:0"

    def without_names(signature: dict[str, Any]) -> dict[str, Any]:
        return {
            part: {k: {**v, "name": ""} for k, v in signature[part].items()}
            for part in ("inputs", "outputs")
        }

    assert without_names(fallback) == without_names(real)
    assert fallback["method_name"] == real["method_name"]
