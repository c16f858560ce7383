"""The JSON codec: TF Serving V1 rows, columns and examples, V2 tensors; validation errors."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tensorbridge.serve import codec
from tensorbridge.serve.errors import RequestError
from tensorbridge.serve.model import ServedModel
from tensorbridge.serve.repository import ModelRepository

pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def taxi(served_models: Path) -> ServedModel:
    return ServedModel.load("taxi", 1, ModelRepository(served_models).version_dir("taxi", 1))


@pytest.fixture(scope="module")
def rows(taxi: ServedModel, taxi_eval_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """20 raw rows with the model's inputs only (None for missing)."""
    return [{k: v for k, v in row.items() if k in taxi.inputs} for row in taxi_eval_rows[:20]]


@pytest.fixture(scope="module")
def reference(taxi: ServedModel, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The rows encoded by the exporter's own helper (the sentinels the model expects)."""
    from tensorbridge.train.export import encode_raw_rows

    assert taxi.manifest is not None
    return encode_raw_rows(rows, taxi.manifest)


def _assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert list(got) == list(want)
    for name, values in want.items():
        assert got[name].dtype == values.dtype, name
        np.testing.assert_array_equal(got[name], values, err_msg=name)


def _v2_body(taxi: ServedModel, reference: dict[str, np.ndarray]) -> dict[str, Any]:
    datatypes = {item["name"]: item["datatype"] for item in taxi.metadata_v2([1])["inputs"]}
    return {
        "id": "r-1",
        "inputs": [
            {
                "name": name,
                "shape": [len(values)],
                "datatype": datatypes[name],
                "data": values.tolist(),
            }
            for name, values in reference.items()
        ],
    }


def _error(call: Any, *args: Any, **kwargs: Any) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 400
    return caught.value


# --------------------------------------------------------------------- decoding
def test_every_request_style_decodes_to_the_same_arrays(
    taxi: ServedModel, rows: list[dict[str, Any]], reference: dict[str, np.ndarray]
) -> None:
    n = len(rows)
    row = codec.decode_v1_predict({"instances": rows}, taxi, max_rows=64)
    assert (row.rows, row.style, row.unseen) == (n, "row", {})
    _assert_same(row.inputs, reference)

    columns = {name: [r[name] for r in rows] for name in taxi.inputs}
    columnar = codec.decode_v1_predict(
        {"signature_name": "serving_default", "inputs": columns}, taxi, max_rows=64
    )
    assert (columnar.rows, columnar.style) == (n, "columnar")
    _assert_same(columnar.inputs, reference)

    v2, request_id, requested = codec.decode_v2_infer(_v2_body(taxi, reference), taxi, max_rows=64)
    assert (v2.rows, v2.style, request_id, requested) == (n, "v2", "r-1", None)
    _assert_same(v2.inputs, reference)

    # tf.Example style: shared values in the context, values as one-element lists
    context = {"trip_start_month": rows[0]["trip_start_month"]}
    same_month = [{**r, "trip_start_month": rows[0]["trip_start_month"]} for r in rows]
    examples = [
        {k: ([v] if k == "fare" else v) for k, v in r.items() if k != "trip_start_month"}
        for r in rows
    ]
    decoded = codec.decode_v1_examples(
        {"context": context, "examples": examples}, taxi, max_rows=64
    )
    _assert_same(decoded.inputs, codec.decode_rows(same_month, taxi))
    assert decoded.style == "row"


def test_rows_decode_the_same_whatever_their_key_order(
    taxi: ServedModel, rows: list[dict[str, Any]], reference: dict[str, np.ndarray]
) -> None:
    names = list(rows[0])
    reversed_rows = [{k: row[k] for k in reversed(names)} for row in rows]  # one order for all
    mixed_rows = [  # a different order on every row
        {k: row[k] for k in (names[i:] + names[:i])} for i, row in enumerate(rows)
    ]
    for variant in (reversed_rows, mixed_rows):
        decoded = codec.decode_v1_predict({"instances": variant}, taxi, max_rows=64)
        _assert_same(decoded.inputs, reference)


def test_missing_and_null_optional_values_become_sentinels(
    taxi: ServedModel, rows: list[dict[str, Any]]
) -> None:
    row = {k: v for k, v in rows[0].items() if k not in ("company", "trip_seconds")}
    row["pickup_latitude"] = None
    decoded = codec.decode_v1_predict({"instances": [row, rows[1]]}, taxi, max_rows=8).inputs
    assert decoded["company"][0] == "" and math.isnan(decoded["trip_seconds"][0])
    assert math.isnan(decoded["pickup_latitude"][0])
    assert decoded["trip_seconds"].dtype == np.float64  # an optional int travels as float64

    required = {k: [rows[0][k]] for k, spec in taxi.inputs.items() if not spec.optional}
    columnar = codec.decode_v1_predict({"inputs": required}, taxi, max_rows=8).inputs
    assert columnar["company"].tolist() == [""] and math.isnan(columnar["pickup_latitude"][0])

    v2 = {
        "inputs": [
            {
                "name": k,
                "shape": [1],
                "datatype": "BYTES" if isinstance(v[0], str) else "FP64",
                "data": v,
            }
            for k, v in required.items()
        ]
    }
    for item in v2["inputs"]:
        if item["name"].startswith("trip_start"):
            item["datatype"] = "INT64"
    decoded_v2, _, _ = codec.decode_v2_infer(v2, taxi, max_rows=8)
    _assert_same(decoded_v2.inputs, columnar)


def test_accepted_value_forms(taxi: ServedModel, rows: list[dict[str, Any]]) -> None:
    base = rows[0]

    def decode(**changes: Any) -> dict[str, np.ndarray]:
        return codec.decode_v1_predict(
            {"instances": [{**base, **changes}]}, taxi, max_rows=1
        ).inputs

    assert decode(trip_start_hour=3.0)["trip_start_hour"].tolist() == [3]
    assert decode(trip_seconds=60.0)["trip_seconds"].tolist() == [60.0]
    assert decode(fare=7)["fare"].tolist() == [7.0]
    assert math.isnan(decode(fare=json.loads("NaN"))["fare"][0])  # a NaN literal
    assert math.isnan(decode(trip_seconds=float("nan"))["trip_seconds"][0])
    b64 = base64.b64encode("Crédit".encode()).decode()
    assert decode(payment_type={"b64": b64})["payment_type"].tolist() == ["Crédit"]
    assert decode(company="")["company"].tolist() == [""]


# One row with one change -> (field, expected, words in the message)
V1_ROW_ERRORS: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "wrong type": ({"fare": "abc"}, "fare", "float32 number", "expected float32 number, got 'abc'"),
    "bool for number": ({"fare": True}, "fare", "float32 number", "got true"),
    "fraction for int64": (
        {"trip_start_hour": 2.5},
        "trip_start_hour",
        "int64 integer",
        "got 2.5",
    ),
    "fraction for optional int64": (
        {"trip_seconds": 1.5},
        "trip_seconds",
        "int64 integer or null",
        "whole number",
    ),
    "infinity for optional int64": (
        {"trip_seconds": float("inf")},
        "trip_seconds",
        "int64 integer or null",
        "got inf",
    ),
    "int64 overflow": ({"trip_start_hour": 2**70}, "trip_start_hour", "int64 integer", "range"),
    "float32 overflow": ({"fare": 1e300}, "fare", "float32 number", "out of the float32 range"),
    "list for scalar": ({"fare": [1.0]}, "fare", "float32 number", "got [1.0]"),
    "number for string": ({"payment_type": 3}, "payment_type", "string", "got 3"),
    "null for required": ({"fare": None}, "fare", "float32 number", "is null"),
    "null for required string": ({"payment_type": None}, "payment_type", "string", "required"),
    "bad b64": ({"payment_type": {"b64": "!!!"}}, "payment_type", "base64 text", "base64"),
    "b64 not utf-8": (
        {"payment_type": {"b64": base64.b64encode(b"\xff\xfe").decode()}},
        "payment_type",
        "base64 of UTF-8 text",
        "not UTF-8",
    ),
    "b64 with other keys": (
        {"payment_type": {"b64": "YQ==", "x": 1}},
        "payment_type",
        "string",
        "b64",
    ),
    "extra field": ({"tips": 1.0}, "tips", "one of: pickup_community_area", "unknown input 'tips'"),
}


@pytest.mark.parametrize("case", list(V1_ROW_ERRORS))
def test_v1_row_errors_name_the_field_and_the_row(
    case: str, taxi: ServedModel, rows: list[dict[str, Any]]
) -> None:
    change, field, expected, words = V1_ROW_ERRORS[case]
    instances = [dict(r) for r in rows[:5]]
    instances[3].update(change)
    error = _error(codec.decode_v1_predict, {"instances": instances}, taxi, max_rows=8)
    assert (error.field, error.expected) == (field, expected) or (
        error.field == field and error.expected is not None and error.expected.startswith(expected)
    )
    assert "row 3" in error.message and words in error.message, error.message
    assert error.to_json()["field"] == field


def test_the_documented_message(taxi: ServedModel, rows: list[dict[str, Any]]) -> None:
    instances = [dict(r) for r in rows[:4]]
    instances[3]["fare"] = "abc"
    error = _error(codec.decode_v1_predict, {"instances": instances}, taxi, max_rows=8)
    assert error.message == "fare: row 3: expected float32 number, got 'abc'."


def test_a_missing_required_key_in_a_row(taxi: ServedModel, rows: list[dict[str, Any]]) -> None:
    instances = [dict(r) for r in rows[:3]]
    del instances[1]["fare"]
    error = _error(codec.decode_v1_predict, {"instances": instances}, taxi, max_rows=8)
    assert (error.field, error.expected) == ("fare", "float32 number")
    assert "row 1" in error.message and "missing" in error.message


def test_v1_body_errors(taxi: ServedModel, rows: list[dict[str, Any]]) -> None:
    def error(body: Any, max_rows: int = 8) -> RequestError:
        return _error(codec.decode_v1_predict, body, taxi, max_rows=max_rows)

    columns = {name: [r[name] for r in rows[:3]] for name in taxi.inputs}
    both = error({"instances": rows[:2], "inputs": columns})
    assert both.field == "inputs" and "both" in both.message
    assert error({}).field == "instances"
    assert error([1, 2]).field is None and "JSON object" in error([1, 2]).message
    assert error({"instances": rows[:2], "version": 1}).field == "version"
    assert error({"instances": {"fare": 1}}).field == "instances"
    empty = error({"instances": []})
    assert (empty.field, empty.expected) == ("instances", "at least one row")
    many = error({"instances": rows[:5]}, max_rows=4)
    assert (many.field, many.expected) == ("instances", "at most 4 rows")
    assert "5 rows" in many.message
    assert error({"instances": [rows[0], 7]}).field == "instances"
    signature = error({"signature_name": "predict", "instances": rows[:1]})
    assert signature.field == "signature_name" and "serving_default" in signature.message

    ragged = dict(columns, trip_miles=columns["trip_miles"][:2])
    mixed = error({"inputs": ragged})
    assert (mixed.field, mixed.expected) == ("trip_miles", "3 values")
    missing = error({"inputs": {k: v for k, v in columns.items() if k != "fare"}})
    assert (missing.field, missing.expected) == ("fare", "float32 number")
    scalar = error({"inputs": dict(columns, fare=1.0)})
    assert scalar.field == "fare" and scalar.expected == "a list with one value per row"
    assert error({"inputs": dict(columns, tips=[1, 2, 3])}).field == "tips"
    assert error({"inputs": {}}).field == "inputs"
    assert error({"inputs": [1.0, 2.0]}).field == "inputs"  # a bare list needs one input
    too_many = error({"inputs": columns}, max_rows=2)
    assert (too_many.field, too_many.expected) == ("inputs", "at most 2 rows")
    column_error = error({"inputs": dict(columns, trip_start_day=[1, "x", 3])})
    assert column_error.field == "trip_start_day" and "row 1" in column_error.message


def test_examples_errors(taxi: ServedModel, rows: list[dict[str, Any]]) -> None:
    def error(body: Any) -> RequestError:
        return _error(codec.decode_v1_examples, body, taxi, max_rows=8)

    assert error({"instances": rows[:1]}).field == "instances"
    assert error({"examples": 1}).field == "examples"
    assert error({"examples": []}).field == "examples"
    assert error({"examples": rows[:1], "context": []}).field == "context"
    assert error({"examples": rows[:1], "context": {"tips": 1}}).field == "tips"
    clash = error({"examples": rows[:1], "context": {"fare": 1.0}})
    assert clash.field == "fare" and "both" in clash.message
    # [] is a missing value, as in a tf.Example: fine for optional, an error for required
    decoded = codec.decode_v1_examples({"examples": [{**rows[0], "company": []}]}, taxi, max_rows=8)
    assert decoded.inputs["company"].tolist() == [""]
    assert error({"examples": [{**rows[0], "fare": []}]}).field == "fare"


def test_v2_errors(taxi: ServedModel, reference: dict[str, np.ndarray]) -> None:
    def error(
        change: dict[str, Any] | None = None, *, name: str = "fare", **body: Any
    ) -> RequestError:
        request = _v2_body(taxi, {k: v[:3] for k, v in reference.items()})
        for item in request["inputs"]:
            if item["name"] == name and change is not None:
                item.update(change)
        request.update(body)
        return _error(codec.decode_v2_infer, request, taxi, max_rows=8)

    bytes_for_float = error({"datatype": "BYTES"})
    assert (bytes_for_float.field, bytes_for_float.expected) == ("fare", "FP32")
    unknown = error({"datatype": "FLOAT"})
    assert unknown.field == "fare" and "not a V2 datatype" in unknown.message
    fp_for_int = error({"datatype": "FP64"}, name="trip_start_hour")
    assert (fp_for_int.field, fp_for_int.expected) == ("trip_start_hour", "INT64")
    assert error({"datatype": "BOOL"}, name="payment_type").expected == "BYTES"
    count = error({"shape": [4]})
    assert (count.field, count.expected) == ("fare", "4 values")
    wide = error({"shape": [1, 3]})
    assert (wide.field, wide.expected) == ("fare", "shape [n] or [n, 1]")
    assert error({"shape": "3"}).expected == "shape [n] or [n, 1]"
    assert error({"shape": [9], "data": [1.0] * 9}).expected == "at most 8 rows"
    assert error({"shape": [0], "data": []}).expected == "at least one row"
    mixed = error({"shape": [2], "data": [1.0, 2.0]})
    assert mixed.field == "fare" and mixed.expected == "3 rows"
    value = error({"data": [1.0, "x", 3.0]})
    assert value.field == "fare" and "row 1" in value.message
    assert error({"data": [[[1.0]], [2.0], [3.0]]}).field == "fare"
    assert error({"data": 1.0}).expected == "a list of values"
    assert error({"datatype": "INT8", "data": [1, 300, 2]}, name="trip_start_hour").field == (
        "trip_start_hour"
    )
    assert error({"name": "tips"}).field == "tips"
    assert error({"extra": 1}).field == "extra"
    assert error({"parameters": {"binary_data_size": 12}}).field == "fare"
    assert error(id=7).field == "id"
    assert error(inputs=[]).field == "inputs"
    assert error(outputs=[{"name": "logits"}]).field == "logits"
    assert error(outputs="probabilities").field == "outputs"
    assert error(model_name="taxi").field == "model_name"

    request = _v2_body(taxi, {k: v[:3] for k, v in reference.items()})
    fare = next(item for item in request["inputs"] if item["name"] == "fare")
    missing = dict(request, inputs=[i for i in request["inputs"] if i is not fare])
    missing_error = _error(codec.decode_v2_infer, missing, taxi, max_rows=8)
    assert (missing_error.field, missing_error.expected) == ("fare", "FP32")
    twice = dict(request, inputs=[*request["inputs"], fare])
    assert _error(codec.decode_v2_infer, twice, taxi, max_rows=8).field == "fare"


def test_v2_nested_data_int_datatypes_and_requested_outputs(
    taxi: ServedModel, reference: dict[str, np.ndarray]
) -> None:
    part = {k: v[:3] for k, v in reference.items()}
    request = _v2_body(taxi, part)
    request["outputs"] = [{"name": "probabilities", "parameters": {"binary_data": False}}]
    for item in request["inputs"]:
        if item["name"] == "fare":
            item["shape"] = [3, 1]
            item["data"] = [[v] for v in item["data"]]
        if item["name"] == "trip_start_hour":
            item["datatype"] = "INT32"
    decoded, request_id, requested = codec.decode_v2_infer(request, taxi, max_rows=8)
    _assert_same(decoded.inputs, part)
    assert requested == ["probabilities"] and request_id == "r-1"


def test_v2_binary_tensors_from_tritonclient(
    taxi: ServedModel, reference: dict[str, np.ndarray]
) -> None:
    """tritonclient sends binary tensors by default; the codec reads them."""
    http = pytest.importorskip("tritonclient.http")
    datatypes = {item["name"]: item["datatype"] for item in taxi.metadata_v2([1])["inputs"]}
    inputs = []
    for name, values in reference.items():
        tensor = http.InferInput(name, [len(values)], datatypes[name])
        array = values.astype(np.object_) if datatypes[name] == "BYTES" else values
        tensor.set_data_from_numpy(array, binary_data=name != "fare")  # mixed, as allowed
        inputs.append(tensor)
    wanted = [http.InferRequestedOutput("probabilities")]
    body, json_size = http.InferenceServerClient.generate_request_body(
        inputs, outputs=wanted, request_id="t-9"
    )
    header = json.loads(body[:json_size])
    decoded, request_id, requested = codec.decode_v2_infer(
        header, taxi, max_rows=64, binary=body[json_size:]
    )
    _assert_same(decoded.inputs, reference)
    assert (request_id, requested) == ("t-9", ["probabilities"])

    truncated = body[json_size:-3]
    with pytest.raises(RequestError):
        codec.decode_v2_infer(header, taxi, max_rows=64, binary=truncated)
    with pytest.raises(RequestError, match="binary part has"):
        codec.decode_v2_infer(header, taxi, max_rows=64, binary=body[json_size:] + b"x")

    # and tritonclient reads the JSON answer (binary outputs are answered in JSON)
    outputs = taxi.predict(decoded.inputs)
    encoded = codec.encode_v2_infer(outputs, taxi, request_id=request_id, requested=requested)
    result = http.InferResult.from_response_body(json.dumps(encoded).encode())
    np.testing.assert_array_equal(result.as_numpy("probabilities"), outputs["probabilities"])
    assert result.get_response()["model_version"] == "1"


# --------------------------------------------------------------------- encoding
def test_v1_predict_responses() -> None:
    probabilities = np.array([[0.73], [0.125]], np.float32)
    assert codec.encode_v1_predict({"p": probabilities}, "row") == {
        "predictions": [[0.73], [0.125]]
    }
    assert codec.encode_v1_predict({"p": probabilities}, "columnar") == {
        "outputs": [[0.73], [0.125]]
    }
    several = {
        "p": np.array([0.5, float("nan")], np.float32),
        "label": np.array([b"yes", "né".encode()], dtype=object),
        "raw_bytes": np.array([b"\x00\xff", b""], dtype=object),
        "count": np.array([1, 2], np.int64),
    }
    rows = codec.encode_v1_predict(several, "row")["predictions"]
    assert rows[0] == {"p": 0.5, "label": "yes", "raw_bytes": {"b64": "AP8="}, "count": 1}
    assert math.isnan(rows[1]["p"]) and rows[1]["label"] == "né"
    assert rows[1]["raw_bytes"] == {"b64": ""}
    columnar = codec.encode_v1_predict(several, "columnar")["outputs"]
    assert columnar["count"] == [1, 2] and columnar["label"] == ["yes", "né"]
    assert json.loads(json.dumps({"predictions": rows}))["predictions"][0]["p"] == 0.5
    with pytest.raises(ValueError, match="style"):
        codec.encode_v1_predict(several, "v2")


def test_classify_and_regress_responses(taxi: ServedModel) -> None:
    outputs = {"probabilities": np.array([[0.25], [0.9]], np.float32)}
    assert codec.encode_v1_classify(outputs, taxi) == {
        "results": [[["0", 0.75], ["1", 0.25]], [["0", 0.1], ["1", 0.9]]]
    }
    assert codec.encode_v1_regress(outputs, taxi) == {"results": [0.25, 0.9]}

    other = SimpleNamespace(name="m", version=3, task=None)
    with pytest.raises(RequestError, match="not a binary classifier"):
        codec.encode_v1_classify(outputs, other)  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="has 2 outputs"):
        codec.encode_v1_regress({"a": np.zeros(2), "b": np.zeros(2)}, other)  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="one value per example"):
        codec.encode_v1_regress({"a": np.zeros((2, 3))}, other)  # type: ignore[arg-type]


def test_v2_responses(taxi: ServedModel) -> None:
    outputs = {"probabilities": np.array([[0.73], [0.5]], np.float32)}
    assert codec.encode_v2_infer(outputs, taxi, request_id="42", requested=None) == {
        "model_name": "taxi",
        "model_version": "1",
        "id": "42",
        "outputs": [
            {"name": "probabilities", "datatype": "FP32", "shape": [2, 1], "data": [0.73, 0.5]}
        ],
    }
    several = {
        "text": np.array([[b"a"], [b"b"]], dtype=object),
        "n": np.array([1, 2], np.int32),
        "x": np.array([0.1, 0.2], np.float64),
    }
    body = codec.encode_v2_infer(several, taxi, request_id=None, requested=["n", "text"])
    assert "id" not in body
    assert body["outputs"] == [
        {"name": "n", "datatype": "INT32", "shape": [2], "data": [1, 2]},
        {"name": "text", "datatype": "BYTES", "shape": [2, 1], "data": ["a", "b"]},
    ]
    everything = codec.encode_v2_infer(several, taxi, request_id=None, requested=None)
    assert [o["datatype"] for o in everything["outputs"]] == ["BYTES", "INT32", "FP64"]
    assert everything["outputs"][2]["data"] == [0.1, 0.2]


def test_a_model_with_one_input_takes_plain_values() -> None:
    from tensorbridge.serve.model import InputSpec

    word = InputSpec("word", "string", True, '""', "string")
    model = SimpleNamespace(name="one", version=1, inputs={"word": word}, outputs={"n": "int32"})
    encoded = base64.b64encode(b"bytes").decode()
    for body, style in [
        ({"instances": ["a", None, {"b64": encoded}]}, "row"),
        ({"instances": [{"word": "a"}, {}, {"word": {"b64": encoded}}]}, "row"),
        ({"inputs": ["a", None, {"b64": encoded}]}, "columnar"),
        ({"signature_name": "", "inputs": {"word": ["a", None, {"b64": encoded}]}}, "columnar"),
    ]:
        decoded = codec.decode_v1_predict(body, model, max_rows=3)  # type: ignore[arg-type]
        assert decoded.inputs["word"].tolist() == ["a", "", "bytes"], body
        assert (decoded.rows, decoded.style) == (3, style)
    error = _error(codec.decode_v1_predict, {"instances": [1]}, model, max_rows=3)
    assert (error.field, error.expected) == ("word", "string or null")
