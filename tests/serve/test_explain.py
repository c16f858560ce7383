"""Integrated gradients on the real exported taxi model, and on a small closed-form model."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tensorbridge.serve.errors import RequestError
from tensorbridge.serve.explain import (
    DEFAULT_MAX_ROWS,
    MAX_STEPS,
    Explanation,
    integrated_gradients,
    model_calls_for,
)
from tensorbridge.train.export import encode_raw_rows

tf = pytest.importorskip("tensorflow")

#: The taxi model's differentiable raw inputs (z-scored floats); the rest is skipped.
TAXI_ATTRIBUTED = {"fare", "trip_miles"}
TAXI_BUCKETIZED = {"pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude"}


@dataclass(frozen=True)
class _Spec:
    name: str
    dtype: str
    optional: bool
    missing_value: str | None
    raw_dtype: str


class _CountingSignature:
    """A ConcreteFunction proxy that counts eager calls (model calls, not tracing)."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.structured_outputs = function.structured_outputs
        self.calls = 0
        self.rows: list[int] = []

    def __call__(self, **inputs: Any) -> Any:
        if tf.executing_eagerly():
            self.calls += 1
            self.rows.append(int(next(iter(inputs.values())).shape[0]))
        return self.function(**inputs)


class _ExportModel:
    """Just what explain needs from a served model: ``inputs``, ``signature``, ``manifest``."""

    def __init__(self, loaded: Any, manifest: dict[str, Any] | None, specs: dict[str, _Spec]):
        self._loaded = loaded  # keeps the signature's variables alive
        self.manifest = manifest
        self.inputs = specs
        self.signature = _CountingSignature(loaded.signatures["serving_default"])

    @classmethod
    def load(cls, path: Path, manifest: dict[str, Any] | None = None) -> _ExportModel:
        manifest = manifest or json.loads((path / "tensorbridge.json").read_text())
        specs = {
            e["name"]: _Spec(
                e["name"], e["signature_dtype"], e["optional"], e["missing_value"], e["dtype"]
            )
            for e in manifest["inputs"]
        }
        return cls(tf.saved_model.load(str(path)), manifest, specs)

    def with_manifest(self, manifest: dict[str, Any] | None) -> _ExportModel:
        return _ExportModel(self._loaded, manifest, self.inputs)


@pytest.fixture(scope="module")
def taxi(taxi_export: Path) -> _ExportModel:
    return _ExportModel.load(taxi_export)


@pytest.fixture(scope="module")
def taxi_inputs(taxi: _ExportModel, taxi_eval_rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The first 16 eval rows as ``serving_default`` inputs."""
    return encode_raw_rows(taxi_eval_rows[:DEFAULT_MAX_ROWS], taxi.manifest or {})


def _rows(inputs: dict[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
    return {name: values[:count].copy() for name, values in inputs.items()}


def _signature_output(model: _ExportModel, inputs: dict[str, np.ndarray]) -> np.ndarray:
    outputs = model.signature.function(**{k: tf.constant(v) for k, v in inputs.items()})
    return np.asarray(outputs["probabilities"].numpy()[:, 0], dtype=np.float64)


def _differences(explanation: Explanation) -> np.ndarray:
    return np.array(explanation.prediction) - np.array(explanation.baseline_prediction)


# --- the taxi model -------------------------------------------------------------------


def test_completeness_on_taxi_eval_rows(taxi: _ExportModel, taxi_inputs: dict) -> None:
    explanation = integrated_gradients(taxi, taxi_inputs, steps=64)
    differences = _differences(explanation)
    sums = np.array([sum(row.values()) for row in explanation.attributions])
    deltas = np.array(explanation.convergence_delta)
    np.testing.assert_allclose(deltas, np.abs(sums - differences), rtol=1e-9, atol=1e-15)
    # Measured: max |delta| ~3e-8, max delta / |f(x) - f(b)| ~5e-5 (the model is smooth
    # in fare and trip_miles); the bounds leave room for other TF builds.
    assert deltas.max() < 1e-5
    assert np.all(deltas <= 0.01 * np.abs(differences) + 1e-6)
    assert np.abs(differences).max() > 1e-3  # the rows do move away from the baseline
    assert all(set(row) == TAXI_ATTRIBUTED for row in explanation.attributions)


def test_far_rows_converge_as_steps_grow(taxi: _ExportModel, taxi_inputs: dict) -> None:
    inputs = _rows(taxi_inputs, 4)
    inputs["fare"][:] = [300.0, 150.0, 80.0, 0.5]
    inputs["trip_miles"][:] = [100.0, 50.0, 0.0, 30.0]
    coarse = integrated_gradients(taxi, inputs, steps=4)
    fine = integrated_gradients(taxi, inputs, steps=64)
    differences = np.abs(_differences(fine))
    # Measured: relative delta 2.5e-3 at 4 steps and 1e-5 at 64 on the farthest row.
    assert differences[0] > 0.1
    assert fine.convergence_delta[0] < coarse.convergence_delta[0] / 10
    assert np.all(np.array(fine.convergence_delta) <= 1e-3 * differences + 1e-6)


def test_one_feature_away_from_its_baseline_gets_the_whole_difference(
    taxi: _ExportModel, taxi_inputs: dict
) -> None:
    first = integrated_gradients(taxi, _rows(taxi_inputs, 1), steps=8)
    inputs = _rows(taxi_inputs, 4)
    inputs["trip_miles"][:] = first.baseline["trip_miles"]  # every other input at its baseline
    inputs["fare"][:] = [2.5, 11.0, 40.0, 120.0]
    explanation = integrated_gradients(taxi, inputs, steps=64)
    for row, difference in zip(explanation.attributions, _differences(explanation), strict=True):
        assert row["trip_miles"] == 0.0
        assert abs(difference) > 1e-4
        assert row["fare"] == pytest.approx(difference, rel=1e-3, abs=1e-7)


def test_integer_string_and_bucketized_inputs_are_skipped_with_a_reason(
    taxi: _ExportModel, taxi_inputs: dict
) -> None:
    explanation = integrated_gradients(taxi, _rows(taxi_inputs, 2), steps=4)
    skipped = explanation.skipped
    assert set(skipped) == set(taxi.inputs) - TAXI_ATTRIBUTED
    assert "string input" in skipped["payment_type"]
    assert "string input" in skipped["company"]
    assert "int64 input" in skipped["trip_start_hour"]
    # An optional int travels as float64 but the model casts it back to int64.
    assert "int64 feature sent as float64" in skipped["trip_seconds"]
    for name in TAXI_BUCKETIZED:
        assert "no gradient path" in skipped[name]
    assert all("held at the request value" in reason for reason in skipped.values())
    assert any("Bucketized" in note for note in explanation.notes)
    serving = ((taxi.manifest or {}).get("serving_baseline") or {}).get("features") or {}
    for name in TAXI_ATTRIBUTED:  # the export's serving baseline when it has one
        if (serving.get(name) or {}).get("mean") is not None:
            assert explanation.baseline_source[name] == "serving_baseline"
            expected = np.float32(serving[name]["mean"])
        else:
            assert explanation.baseline_source[name] == "training_mean"
            analyzers = (taxi.manifest or {})["training_statistics"]["analyzers"]
            expected = np.float32(analyzers[f"mean_and_var_{name}"]["mean"])
        assert explanation.baseline[name] == float(expected)


def test_baseline_sources_in_order(taxi: _ExportModel, taxi_inputs: dict) -> None:
    manifest = copy.deepcopy(taxi.manifest or {})
    manifest["serving_baseline"] = {
        "rows": 10,
        "features": {"fare": {"kind": "numeric", "mean": 9.5, "std": 3.0}},
    }
    inputs = _rows(taxi_inputs, 1)
    explanation = integrated_gradients(
        taxi.with_manifest(manifest), inputs, steps=4, baseline={"trip_miles": 1.25}
    )
    assert explanation.baseline_source == {"fare": "serving_baseline", "trip_miles": "request"}
    assert explanation.baseline == {"fare": 9.5, "trip_miles": 1.25}
    del manifest["serving_baseline"]
    training = integrated_gradients(taxi.with_manifest(manifest), inputs, steps=4)
    assert training.baseline_source == {"fare": "training_mean", "trip_miles": "training_mean"}
    analyzers = manifest["training_statistics"]["analyzers"]
    assert training.baseline["fare"] == float(np.float32(analyzers["mean_and_var_fare"]["mean"]))
    plain = integrated_gradients(taxi.with_manifest(None), inputs, steps=4)
    assert plain.baseline_source == {"fare": "zero", "trip_miles": "zero"}
    assert plain.baseline == {"fare": 0.0, "trip_miles": 0.0}


@pytest.mark.parametrize(
    ("rows", "steps", "max_batch"), [(1, 32, 1024), (16, 64, 1024), (16, 256, 1024), (3, 10, 4)]
)
def test_model_calls_follow_the_documented_formula(
    taxi: _ExportModel, taxi_inputs: dict, rows: int, steps: int, max_batch: int
) -> None:
    signature = taxi.signature
    before = signature.calls
    start = len(signature.rows)
    explanation = integrated_gradients(
        taxi, _rows(taxi_inputs, rows), steps=steps, max_batch=max_batch
    )
    expected = 1 + math.ceil(rows * (steps + 1) / max_batch)
    assert explanation.model_calls == expected == model_calls_for(rows, steps, max_batch=max_batch)
    assert signature.calls - before == expected
    assert max(signature.rows[start:]) <= max(max_batch, rows)
    assert sum(signature.rows[start:]) == rows + rows * (steps + 1)


def test_prediction_is_the_signature_output(taxi: _ExportModel, taxi_inputs: dict) -> None:
    explanation = integrated_gradients(taxi, taxi_inputs, steps=2)
    assert explanation.prediction == _signature_output(taxi, taxi_inputs).tolist()
    body = json.loads(json.dumps(explanation.to_json(), allow_nan=False))
    assert body["predictions"] == explanation.prediction
    assert body["method"] == "integrated_gradients"
    assert body["model_calls"] == explanation.model_calls
    assert set(body) >= {"explanations", "steps", "baseline_source", "skipped", "notes"}
    assert set(body["explanations"][0]) >= {
        "attributions",
        "baseline_prediction",
        "prediction",
        "convergence_delta",
    }


def test_limits_and_bad_arguments_raise_request_error(
    taxi: _ExportModel, taxi_inputs: dict
) -> None:
    one = _rows(taxi_inputs, 1)
    too_many = {k: np.concatenate([v, v[:1]]) for k, v in taxi_inputs.items()}
    with pytest.raises(RequestError, match=f"at most {DEFAULT_MAX_ROWS} rows"):
        integrated_gradients(taxi, too_many)
    for steps in (0, MAX_STEPS + 1, 2.5, True):
        with pytest.raises(RequestError, match="steps") as raised:
            integrated_gradients(taxi, one, steps=steps)  # type: ignore[arg-type]
        assert raised.value.field == "steps"
        assert str(MAX_STEPS) in (raised.value.expected or "")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"baseline": {"company": 1.0}}, "baseline.company"),
        ({"baseline": {"nope": 1.0}}, "baseline.nope"),
        ({"baseline": {"fare": float("nan")}}, "baseline.fare"),
        ({"output": "logits"}, "output"),
    ]
    for kwargs, field in cases:
        with pytest.raises(RequestError) as raised:
            integrated_gradients(taxi, one, **kwargs)
        assert raised.value.field == field
    with pytest.raises(RequestError) as raised:
        integrated_gradients(taxi, {k: v for k, v in one.items() if k != "fare"})
    assert raised.value.field == "fare"
    with pytest.raises(RequestError) as raised:
        integrated_gradients(taxi, {**one, "extra": np.array([1.0])})
    assert raised.value.field == "extra"
    assert integrated_gradients(taxi, one, steps=MAX_STEPS).model_calls == 2


def test_works_with_served_model(taxi_export: Path, taxi_inputs: dict) -> None:
    model_module = pytest.importorskip("tensorbridge.serve.model")
    served = model_module.ServedModel.load("taxi", 1, taxi_export)
    explanation = integrated_gradients(served, taxi_inputs, steps=16)
    assert set(explanation.attributions[0]) == TAXI_ATTRIBUTED
    predicted = served.predict(taxi_inputs)["probabilities"][:, 0]
    np.testing.assert_allclose(explanation.prediction, predicted, rtol=0, atol=0)


# --- a closed-form model --------------------------------------------------------------


class _ProductModel:
    """``f = a * b + i + len(s)`` with ``a`` an optional float (NaN: missing, counts 0)."""

    def __init__(self) -> None:
        specs = [
            tf.TensorSpec([None], tf.float32, name="a"),
            tf.TensorSpec([None], tf.float64, name="b"),
            tf.TensorSpec([None], tf.int64, name="i"),
            tf.TensorSpec([None], tf.string, name="s"),
        ]

        def serve(a: Any, b: Any, i: Any, s: Any) -> dict[str, Any]:
            present = tf.where(tf.math.is_nan(a), tf.zeros_like(a), a)
            value = tf.cast(present, tf.float64) * b
            value += tf.cast(i, tf.float64) + tf.cast(tf.strings.length(s), tf.float64)
            return {"score": tf.cast(value, tf.float32)[:, None]}

        self.signature = tf.function(serve, input_signature=specs).get_concrete_function()
        self.manifest = None
        self.inputs = {
            "a": _Spec("a", "float32", True, "NaN", "float32"),
            "b": _Spec("b", "float64", False, None, "float64"),
            "i": _Spec("i", "int64", False, None, "int64"),
            "s": _Spec("s", "string", False, None, "string"),
        }


def test_product_attributions_match_the_closed_form() -> None:
    model = _ProductModel()
    inputs = {
        "a": np.array([2.0, 3.0, np.nan], dtype=np.float32),
        "b": np.array([5.0, -1.0, 4.0]),
        "i": np.array([1, 2, 3], dtype=np.int64),
        "s": np.array(["x", "yy", ""], dtype=object),
    }
    explanation = integrated_gradients(model, inputs, steps=1)  # the integrand is linear
    # IG of a*b from the zero baseline gives each factor a*b/2.
    assert explanation.attributions[0] == pytest.approx({"a": 5.0, "b": 5.0})
    assert explanation.attributions[1] == pytest.approx({"a": -1.5, "b": -1.5})
    # A missing optional value is held (NaN all along the path): attribution 0.
    assert explanation.attributions[2] == {"a": 0.0, "b": 0.0}
    assert explanation.missing == [[], [], ["a"]]
    assert explanation.prediction == pytest.approx([12.0, 1.0, 3.0])
    assert explanation.baseline_prediction == pytest.approx([2.0, 4.0, 3.0])
    assert max(explanation.convergence_delta) < 1e-5
    assert explanation.skipped.keys() == {"i", "s"}
    assert explanation.output == "score"
    assert explanation.to_json()["explanations"][2]["missing"] == ["a"]


def test_product_with_a_baseline_away_from_zero() -> None:
    model = _ProductModel()
    inputs = {
        "a": np.array([2.0], dtype=np.float32),
        "b": np.array([5.0]),
        "i": np.array([0], dtype=np.int64),
        "s": np.array([""], dtype=object),
    }
    explanation = integrated_gradients(model, inputs, steps=3, baseline={"a": 1.0, "b": 1.0})
    # Along b + t (x - b): d(ab) = (a0 + t da) db + (b0 + t db) da, integrated over t.
    assert explanation.attributions[0]["a"] == pytest.approx(1.0 * (1.0 + 4.0 / 2))
    assert explanation.attributions[0]["b"] == pytest.approx(4.0 * (1.0 + 1.0 / 2))
    assert explanation.baseline_source == {"a": "request", "b": "request"}
    assert sum(explanation.attributions[0].values()) == pytest.approx(10.0 - 1.0)
