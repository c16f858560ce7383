"""The model server over real HTTP on loopback, with real exported taxi models."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tensorbridge.serve.app import ServerSettings
from tensorbridge.serve.routing import ServingConfig, VersionPolicy
from tensorbridge.serve.server import RunningServer, start_in_thread
from tensorbridge.train.export import MANIFEST, encode_raw_rows

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.timeout(900)

TOKEN = "s3cret-token"


def _raw_rows(rows: list[dict[str, Any]], manifest: dict[str, Any]) -> list[dict[str, Any]]:
    names = [entry["name"] for entry in manifest["inputs"]]
    return [{name: row.get(name) for name in names} for row in rows]


@pytest.fixture(scope="module")
def manifest(taxi_export: Path) -> dict[str, Any]:
    return json.loads((taxi_export / MANIFEST).read_text())


@pytest.fixture(scope="module")
def expected(
    taxi_export: Path, taxi_eval_rows: list[dict[str, Any]], manifest: dict[str, Any]
) -> np.ndarray:
    """The probabilities of the first 50 eval rows, straight from TensorFlow."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(taxi_export)).signatures["serving_default"]
    arrays = encode_raw_rows(taxi_eval_rows[:50], manifest)
    specs = signature.structured_input_signature[1]
    inputs = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in arrays.items()}
    return np.asarray(signature(**inputs)["probabilities"]).reshape(-1)


@pytest.fixture(scope="module")
def server(
    served_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server on a copy of the repository, serving versions 1 and 2, with a token."""
    root = tmp_path_factory.mktemp("served") / "models"
    shutil.copytree(served_models, root)
    running = start_in_thread(
        root,
        settings=ServerSettings(token=TOKEN, max_body_bytes=2_000_000, max_rows=256),
        defaults=ServingConfig(VersionPolicy("all"), max_batch_size=32, max_wait_ms=2.0),
        poll_seconds=0.2,
    )
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ) as http:
        yield http


def test_v1_status_lists_every_loaded_version(client: httpx.Client) -> None:
    body = client.get("/v1/models/taxi").json()
    ok = {"error_code": "OK", "error_message": ""}
    assert body == {
        "model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": ok},
            {"version": "1", "state": "AVAILABLE", "status": ok},
        ]
    }
    one = client.get("/v1/models/taxi/versions/1").json()["model_version_status"]
    assert [entry["version"] for entry in one] == ["1"]
    assert client.get("/v1/models").json() == {"models": ["taxi"]}


def test_v1_predict_rows_and_columns_match_tensorflow(
    client: httpx.Client,
    taxi_eval_rows: list[dict[str, Any]],
    manifest: dict[str, Any],
    expected: np.ndarray,
) -> None:
    rows = _raw_rows(taxi_eval_rows[:50], manifest)
    response = client.post("/v1/models/taxi/versions/1:predict", json={"instances": rows})
    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Version"] == "1" and response.headers["X-Model-Name"] == "taxi"
    predictions = np.array(response.json()["predictions"], dtype=np.float64).reshape(-1)
    np.testing.assert_allclose(predictions, expected, rtol=1e-6)

    columns = {name: [row[name] for row in rows] for name in rows[0]}
    response = client.post("/v1/models/taxi:predict", json={"inputs": columns})
    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Version"] == "2"  # latest, no labels yet
    outputs = np.array(response.json()["outputs"], dtype=np.float64).reshape(-1)
    np.testing.assert_allclose(outputs, expected, rtol=1e-6)


def test_v1_classify_and_regress(
    client: httpx.Client,
    taxi_eval_rows: list[dict[str, Any]],
    manifest: dict[str, Any],
    expected: np.ndarray,
) -> None:
    examples = _raw_rows(taxi_eval_rows[:5], manifest)
    classify = client.post("/v1/models/taxi:classify", json={"examples": examples}).json()
    assert [[label for label, _ in result] for result in classify["results"]] == [["0", "1"]] * 5
    scores = np.array([result[1][1] for result in classify["results"]])
    np.testing.assert_allclose(scores, expected[:5], rtol=1e-6)
    regress = client.post("/v1/models/taxi:regress", json={"examples": examples}).json()
    np.testing.assert_allclose(np.array(regress["results"]), expected[:5], rtol=1e-6)


def test_v1_metadata_names_the_signature_inputs(
    client: httpx.Client, manifest: dict[str, Any]
) -> None:
    body = client.get("/v1/models/taxi/versions/2/metadata").json()
    assert body["model_spec"]["version"] == "2"
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sorted(signature["inputs"]) == sorted(e["name"] for e in manifest["inputs"])
    assert signature["inputs"]["fare"]["dtype"] == "DT_FLOAT"
    assert list(signature["outputs"]) == ["probabilities"]


def test_v2_endpoints_and_infer(
    client: httpx.Client,
    taxi_eval_rows: list[dict[str, Any]],
    manifest: dict[str, Any],
    expected: np.ndarray,
) -> None:
    assert client.get("/v2").json()["name"] == "tensorbridge"
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/taxi/ready").json() == {"name": "taxi", "ready": True}
    assert client.get("/v2/models/taxi/versions/7/ready").json() == {"name": "taxi", "ready": False}
    metadata = client.get("/v2/models/taxi").json()
    assert metadata["name"] == "taxi" and metadata["versions"] == ["1", "2"]
    assert metadata["platform"] == "tensorflow_savedmodel"

    rows = _raw_rows(taxi_eval_rows[:50], manifest)
    inputs = []
    for entry in manifest["inputs"]:
        values = [row[entry["name"]] for row in rows]
        datatype = {"float32": "FP32", "float64": "FP64", "int64": "INT64", "string": "BYTES"}[
            entry["signature_dtype"]
        ]
        if entry["signature_dtype"] in ("float32", "float64"):
            values = [float("nan") if v is None else v for v in values]
        elif entry["signature_dtype"] == "string":
            values = ["" if v is None else v for v in values]
        inputs.append({"name": entry["name"], "shape": [50], "datatype": datatype, "data": values})
    response = client.post(
        "/v2/models/taxi/versions/1/infer",
        content=json.dumps({"id": "req-7", "inputs": inputs}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "taxi" and body["model_version"] == "1" and body["id"] == "req-7"
    (output,) = body["outputs"]
    assert output["name"] == "probabilities" and output["datatype"] == "FP32"
    assert output["shape"] == [50, 1]
    np.testing.assert_allclose(np.array(output["data"]), expected, rtol=1e-6)


@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_speaks_v2_to_it(
    server: RunningServer,
    taxi_eval_rows: list[dict[str, Any]],
    manifest: dict[str, Any],
    expected: np.ndarray,
    binary: bool,
) -> None:
    """Interop: NVIDIA's own Open Inference client, JSON tensors and binary tensors."""
    import tritonclient.http as triton

    arrays = encode_raw_rows(taxi_eval_rows[:20], manifest)
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.is_server_live(headers=headers)
    assert client.is_model_ready("taxi", headers=headers)
    metadata = client.get_model_metadata("taxi", headers=headers)
    assert metadata["name"] == "taxi"
    inputs = []
    for entry in manifest["inputs"]:
        values = arrays[entry["name"]]
        datatype = {"float32": "FP32", "float64": "FP64", "int64": "INT64", "string": "BYTES"}[
            entry["signature_dtype"]
        ]
        item = triton.InferInput(entry["name"], [len(values)], datatype)
        item.set_data_from_numpy(values, binary_data=binary)
        inputs.append(item)
    outputs = [triton.InferRequestedOutput("probabilities", binary_data=False)]
    result = client.infer("taxi", inputs, model_version="2", outputs=outputs, headers=headers)
    np.testing.assert_allclose(
        result.as_numpy("probabilities").reshape(-1), expected[:20], rtol=1e-6
    )
    assert result.get_response()["model_version"] == "2"
    client.close()


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/models/taxi:predict", {"instances": [{"fare": 1.0}]}, 400, "<required>"),
        ("/v1/models/taxi:predict", {"instances": [{"no_such": 1}]}, 400, None),
        ("/v1/models/taxi:predict", {"instances": [], "inputs": {}}, 400, None),
        ("/v1/models/nope:predict", {"instances": [{}]}, 404, None),
        ("/v1/models/taxi/versions/9:predict", {"instances": [{}]}, 404, None),
        ("/v1/models/taxi/labels/nolabel:predict", {"instances": [{}]}, 404, None),
        ("/v2/models/taxi/infer", {"inputs": "nope"}, 400, None),
    ],
)
def test_bad_requests_get_4xx_naming_the_problem(
    client: httpx.Client,
    manifest: dict[str, Any],
    path: str,
    body: Any,
    status: int,
    field: str | None,
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"]
    if field == "<required>":  # the first required input the row lacks
        required = {e["name"] for e in manifest["inputs"] if not e["optional"]} - {"fare"}
        assert error["field"] in required and error["expected"]


def test_a_mistyped_value_names_field_and_type(
    client: httpx.Client, taxi_eval_rows: list[dict[str, Any]], manifest: dict[str, Any]
) -> None:
    row = _raw_rows(taxi_eval_rows[:1], manifest)[0]
    row["fare"] = "eleven dollars"
    error = client.post("/v1/models/taxi:predict", json={"instances": [row]}).json()
    assert error["field"] == "fare" and "float" in error["expected"]


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json at all", b'{"instances": [', b"\xff\xfe\x00garbage", b"[1, 2, 3]"],
)
def test_garbage_and_truncated_bodies_get_400(client: httpx.Client, raw: bytes) -> None:
    response = client.post(
        "/v1/models/taxi:predict", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "error" in response.json()
    assert client.get("/v2/health/live").status_code == 200


def test_huge_bodies_get_413_before_being_read(client: httpx.Client) -> None:
    big = b'{"instances": [' + b"1," * 1_500_000 + b"1]}"
    response = client.post(
        "/v1/models/taxi:predict", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and "limit" in response.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
        for _ in range(40):
            yield b" " * 100_000

    response = client.post("/v1/models/taxi:predict", content=chunks())
    assert response.status_code == 413


def test_too_many_rows_are_refused(client: httpx.Client, manifest: dict[str, Any]) -> None:
    rows = [{"fare": 1.0}] * 300
    response = client.post("/v1/models/taxi:predict", json={"instances": rows})
    assert response.status_code == 400 and "256" in response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/..%2F..%2Fetc:predict",
        "/v1/models/%2E%2E/versions/1:predict",
        "/v1/models/taxi/versions/..%2F1:predict",
        "/v1/models/.hidden:predict",
        "/v2/models/..%2Fmodels/infer",
    ],
)
def test_names_cannot_leave_the_repository(client: httpx.Client, path: str) -> None:
    response = client.post(path, json={"instances": [{}]})
    assert response.status_code in (400, 404), response.text


def test_the_token_guards_everything_but_health(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        assert anonymous.get("/v1/models/taxi").status_code == 401
        assert anonymous.post("/v1/models/taxi:predict", json={}).status_code == 401
        assert anonymous.get("/metrics").status_code == 401
        wrong = anonymous.get("/v1/models/taxi", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert anonymous.get("/v2/health/live").status_code == 200
        assert anonymous.get("/v2/health/ready").status_code == 200


def test_labels_and_canary_route_requests(
    client: httpx.Client, taxi_eval_rows: list[dict[str, Any]], manifest: dict[str, Any]
) -> None:
    body = {"instances": _raw_rows(taxi_eval_rows[:1], manifest)}
    assert client.put("/v1/models/taxi/labels/stable", json={"version": 1}).status_code == 200
    assert client.put("/v1/models/taxi/labels/canary", json={"version": 2}).status_code == 200
    refused = client.put("/v1/models/taxi/labels/stable", json={"version": 9})
    assert refused.status_code == 404  # labels only point at loaded versions
    response = client.post("/v1/models/taxi/labels/canary:predict", json=body)
    assert response.headers["X-Model-Version"] == "2"
    assert (
        client.get("/v1/models/taxi/labels/stable").json()["model_version_status"][0]["version"]
        == "1"
    )

    def versions(count: int) -> list[str]:
        return [
            client.post("/v1/models/taxi:predict", json=body).headers["X-Model-Version"]
            for _ in range(count)
        ]

    assert set(versions(20)) == {"1"}  # no canary yet: everything to stable
    client.put("/v1/models/taxi/canary", json={"label": "canary", "weight": 0.5})
    split = versions(200)
    assert 60 <= split.count("2") <= 140  # about half, binomial(200, 0.5)
    rollback = client.put("/v1/models/taxi/canary", json={"label": "canary", "weight": 0})
    assert rollback.json()["canary"] == {"label": "canary", "weight": 0.0}
    assert set(versions(20)) == {"1"}  # instant rollback
    labels = client.get("/v1/models/taxi/labels").json()
    assert labels["labels"] == {"canary": 2, "stable": 1} and labels["loaded"] == [1, 2]
    client.delete("/v1/models/taxi/labels/stable")
    client.delete("/v1/models/taxi/labels/canary")


def test_metrics_count_requests_per_version(client: httpx.Client) -> None:
    text = client.get("/metrics").text
    assert "tensorbridge_requests_total" in text
    lines = [
        line
        for line in text.splitlines()
        if line.startswith("tensorbridge_requests_total{") and 'model="taxi"' in line
    ]
    assert any('version="1"' in line for line in lines)
    assert any('version="2"' in line for line in lines)
    assert "tensorbridge_batch_rows_bucket" in text
    assert 'tensorbridge_loaded_versions{model="taxi"} 2.0' in text


def test_feature_stats_compare_serving_with_training(
    client: httpx.Client, taxi_eval_rows: list[dict[str, Any]], manifest: dict[str, Any]
) -> None:
    rows = _raw_rows(taxi_eval_rows[:100], manifest)
    for row in rows[:10]:
        row["company"] = "A company never seen in training"
    client.post("/v1/models/taxi/versions/1:predict", json={"instances": rows})
    report = client.get("/v1/models/taxi/versions/1/feature_stats").json()
    assert report["features"]["company"]["unseen"] >= 10
    assert report["features"]["fare"]["count"] >= 100
    assert report["features"]["fare"]["drift"]["metric"]
    text = client.get("/metrics").text
    assert 'tensorbridge_unseen_values_total{feature="company",model="taxi",version="1"}' in text


def test_explain_returns_attributions(
    client: httpx.Client, taxi_eval_rows: list[dict[str, Any]], manifest: dict[str, Any]
) -> None:
    body = {"instances": _raw_rows(taxi_eval_rows[:2], manifest), "steps": 16}
    response = client.post("/v1/models/taxi/versions/1:explain", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["method"] == "integrated_gradients" and len(result["explanations"]) == 2
    assert "fare" in result["explanations"][0]["attributions"]
    assert result["model_calls"] >= 1
    too_many = {"instances": _raw_rows(taxi_eval_rows[:40], manifest)}
    assert client.post("/v1/models/taxi:explain", json=too_many).status_code == 400


def test_new_versions_are_picked_up_and_broken_ones_refused(
    served_models: Path, taxi_export: Path, tmp_path: Path
) -> None:
    from tensorbridge.push import push_model

    root = tmp_path / "models"
    shutil.copytree(served_models, root)
    with (
        start_in_thread(root, poll_seconds=0.2) as running,
        httpx.Client(base_url=running.url, timeout=60) as http,
    ):
        assert [
            s["version"] for s in http.get("/v1/models/taxi").json()["model_version_status"]
        ] == ["2"]  # latest:1 by default
        # A half-copied version (no completion marker) is never loaded.
        half = root / "taxi" / "3"
        shutil.copytree(taxi_export, half)
        (half / "variables" / "variables.index").unlink()
        time.sleep(1.0)
        status = http.get("/v1/models/taxi").json()["model_version_status"]
        assert [s["version"] for s in status] == ["2"]
        shutil.rmtree(half)
        # A complete but broken version is refused; version 2 keeps serving.
        broken = root / "taxi" / "4"
        broken.mkdir()
        (broken / "saved_model.pb").write_bytes(b"not a saved model")
        (broken / "_TENSORBRIDGE_COMPLETE").write_text("")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = http.get("/v1/models/taxi").json()["model_version_status"]
            if any(s["version"] == "4" for s in status):
                break
            time.sleep(0.2)
        by_version = {s["version"]: s for s in status}
        assert by_version["4"]["status"]["error_code"] != "OK"
        assert by_version["2"]["state"] == "AVAILABLE"
        shutil.rmtree(broken)
        # A good new version is loaded, then the old one unloaded.
        pushed = push_model(taxi_export, root, "taxi", force=True)
        assert pushed.version == 3
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = http.get("/v1/models/taxi").json()["model_version_status"]
            if [s["version"] for s in status] == ["3"]:
                break
            time.sleep(0.2)
        assert [s["version"] for s in status] == ["3"]  # 2 unloaded, 4 forgotten


def test_failed_requests_are_counted_against_their_model_and_version(
    client: httpx.Client,
) -> None:
    client.post("/v1/models/taxi/versions/2:predict", json={"instances": [{"fare": "x"}]})
    for name in ("random-name-1", "random-name-2"):
        client.post(f"/v1/models/{name}:predict", json={"instances": [{}]})
    text = client.get("/metrics").text
    bad = [line for line in text.splitlines() if line.startswith("tensorbridge_requests_total{")]
    assert any('code="400"' in line and 'version="2"' in line and 'model="taxi"' in line
               for line in bad)  # fmt: skip
    assert not any("random-name" in line for line in text.splitlines())  # bounded labels
    assert any(
        line.startswith("tensorbridge_errors_total{")
        and 'kind="bad_request"' in line
        and 'model="taxi"' in line
        for line in text.splitlines()
    )


def test_a_401_says_how_to_authenticate(server: RunningServer) -> None:
    response = httpx.get(f"{server.url}/v1/models/taxi", timeout=30)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_serving_statistics_sample_requests_above_their_row_budget(
    served_models: Path,
    tmp_path: Path,
    taxi_eval_rows: list[dict[str, Any]],
    manifest: dict[str, Any],
) -> None:
    root = tmp_path / "models"
    shutil.copytree(served_models, root)
    (root / "taxi" / "serving.json").write_text(json.dumps({"statistics_rows_per_second": 50}))
    running = start_in_thread(root, defaults=ServingConfig(VersionPolicy("latest")))
    try:
        rows = _raw_rows(taxi_eval_rows[:64], manifest)
        with httpx.Client(base_url=running.url, timeout=60) as http:
            time.sleep(1.1)  # a full budget: 50 rows
            for _ in range(20):
                http.post("/v1/models/taxi:predict", json={"instances": rows}).raise_for_status()
            report = http.get("/v1/models/taxi/feature_stats").json()
    finally:
        running.stop()
    # 1,280 rows served within well under a second: the first request fits the budget
    # (it may overdraw it), the rest wait for it to refill.
    taken = report["features"]["fare"]["count"]
    assert taken % 64 == 0 and 64 <= taken < 1280
    assert report["unsampled_rows"] + taken == 1280
    assert report["skipped_rows"] == 0
