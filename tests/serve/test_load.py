"""Load and fault tests, bounded in time, loopback only, real models and real HTTP.

``TB_LOAD_SECONDS`` (default 60) sets how long the sustained-load test runs.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorbridge.serve.app import ServerSettings
from tensorbridge.serve.routing import ServingConfig, VersionPolicy
from tensorbridge.serve.server import RunningServer, start_in_thread
from tensorbridge.train.export import MANIFEST

pytest.importorskip("tensorflow")
pytestmark = pytest.mark.timeout(900)

LOAD_SECONDS = float(os.environ.get("TB_LOAD_SECONDS", "60"))


def _rows(rows: list[dict[str, Any]], export: Path) -> list[dict[str, Any]]:
    names = [entry["name"] for entry in json.loads((export / MANIFEST).read_text())["inputs"]]
    return [{name: row.get(name) for name in names} for row in rows]


def _hammer(
    url: str, seconds: float, clients: int, request: Callable[[httpx.Client, int], httpx.Response]
) -> tuple[Counter[int], Counter[str], list[str]]:
    """``clients`` threads sending requests for ``seconds``; status and version counts."""
    statuses: Counter[int] = Counter()
    versions: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def work(index: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            number = 0
            while time.monotonic() < stop:
                number += 1
                try:
                    response = request(http, index * 1_000_000 + number)
                except httpx.HTTPError as err:
                    with lock:
                        failures.append(f"{type(err).__name__}: {err}")
                    continue
                with lock:
                    statuses[response.status_code] += 1
                    versions[response.headers.get("X-Model-Version", "")] += 1
                    if response.status_code != 200 and len(failures) < 20:
                        failures.append(f"{response.status_code}: {response.text[:300]}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, versions, failures


@pytest.fixture
def repository(served_models: Path, tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(served_models, root)
    return root


def test_sustained_concurrent_load_has_zero_errors_and_health_stays_fast(
    repository: Path, taxi_export: Path, taxi_eval_rows: list[dict[str, Any]]
) -> None:
    rows = _rows(taxi_eval_rows, taxi_export)
    with start_in_thread(repository) as running:
        health: list[float] = []
        done = threading.Event()

        def probe() -> None:
            with httpx.Client(base_url=running.url, timeout=30) as http:
                while not done.is_set():
                    started = time.perf_counter()
                    assert http.get("/v2/health/live").status_code == 200
                    health.append(time.perf_counter() - started)
                    time.sleep(0.1)

        prober = threading.Thread(target=probe)
        prober.start()

        def request(http: httpx.Client, n: int) -> httpx.Response:
            size = 1 if n % 2 else 8
            start = n % (len(rows) - size)
            return http.post(
                "/v1/models/taxi:predict", json={"instances": rows[start : start + size]}
            )

        statuses, _, failures = _hammer(running.url, LOAD_SECONDS, 16, request)
        done.set()
        prober.join()
    assert failures == [] and set(statuses) == {200}
    assert sum(statuses.values()) > LOAD_SECONDS * 20  # it did serve, not just survive
    health.sort()
    assert health[int(len(health) * 0.99)] < 0.5, health[-5:]  # the loop is never blocked


def test_a_version_swap_under_load_fails_no_request(
    repository: Path, taxi_export: Path, taxi_eval_rows: list[dict[str, Any]]
) -> None:
    from tensorbridge.push import push_model

    rows = _rows(taxi_eval_rows[:8], taxi_export)
    with start_in_thread(repository, poll_seconds=0.2) as running:

        def request(http: httpx.Client, n: int) -> httpx.Response:
            return http.post("/v1/models/taxi:predict", json={"instances": rows[: 1 + n % 8]})

        def push_later() -> None:
            time.sleep(2.0)
            push_model(taxi_export, repository, "taxi", force=True)

        pusher = threading.Thread(target=push_later)
        pusher.start()
        statuses, versions, failures = _hammer(running.url, 25.0, 8, request)
        pusher.join()
        with httpx.Client(base_url=running.url, timeout=30) as http:
            status = http.get("/v1/models/taxi").json()["model_version_status"]
    assert failures == [] and set(statuses) == {200}
    assert versions["2"] > 0 and versions["3"] > 0  # served by both, none failed in between
    assert [s["version"] for s in status] == ["3"]  # and the old one is gone


def test_a_full_queue_sheds_load_with_503_and_retry_after(
    repository: Path, taxi_export: Path, taxi_eval_rows: list[dict[str, Any]]
) -> None:
    rows = _rows(taxi_eval_rows[:64], taxi_export)
    defaults = ServingConfig(VersionPolicy(), max_batch_size=8, max_wait_ms=0, max_queue_rows=64)
    with start_in_thread(repository, defaults=defaults) as running:
        retry_after: list[str] = []

        def request(http: httpx.Client, n: int) -> httpx.Response:
            response = http.post("/v1/models/taxi:predict", json={"instances": rows})
            if response.status_code == 503:
                retry_after.append(response.headers.get("Retry-After", ""))
            return response

        statuses, _, _ = _hammer(running.url, 5.0, 16, request)
    assert statuses[503] > 0 and statuses[200] > 0
    assert set(statuses) <= {200, 503}  # shed, never failed
    assert all(value.isdigit() and int(value) >= 1 for value in retry_after)


@pytest.fixture(scope="module")
def fuzz_server(served_models: Path, tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    root = tmp_path_factory.mktemp("fuzz") / "models"
    shutil.copytree(served_models, root)
    running = start_in_thread(root, settings=ServerSettings(max_body_bytes=100_000, max_rows=64))
    yield running  # type: ignore[misc]
    running.stop()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
_PATHS = [
    "/v1/models/taxi:predict",
    "/v1/models/taxi:classify",
    "/v1/models/taxi:regress",
    "/v1/models/taxi:explain",
    "/v2/models/taxi/infer",
    "/v2/models/taxi/versions/2/infer",
]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(_PATHS),
    body=st.one_of(
        st.binary(max_size=300),
        _JSON.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "instances": st.lists(
                    st.dictionaries(st.sampled_from(["fare", "company", "x"]), _JSON), max_size=4
                )
            }
        ).map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "inputs": st.lists(
                    st.fixed_dictionaries(
                        {
                            "name": st.sampled_from(["fare", "company"]),
                            "shape": st.lists(st.integers(-2, 3), max_size=3),
                            "datatype": st.sampled_from(["FP32", "BYTES", "INT64", "NOPE"]),
                            "data": _JSON,
                        }
                    ),
                    max_size=3,
                )
            }
        ).map(lambda v: json.dumps(v).encode()),
    ),
)
def test_malformed_bodies_never_crash_the_server(
    fuzz_server: RunningServer, path: str, body: bytes
) -> None:
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as http:
        response = http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code in (200, 400, 404, 413), (response.status_code, response.text)
        assert "error" in response.json() or response.status_code == 200
        assert http.get("/v2/health/live").status_code == 200


def test_random_noise_then_real_traffic(
    fuzz_server: RunningServer, taxi_export: Path, taxi_eval_rows: list[dict[str, Any]]
) -> None:
    """After the fuzzing, the same server still predicts correctly."""
    rng = random.Random(7)
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as http:
        for _ in range(50):
            noise = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 2000)))
            assert http.post("/v1/models/taxi:predict", content=noise).status_code in (400, 413)
        rows = _rows(taxi_eval_rows[:3], taxi_export)
        response = http.post("/v1/models/taxi:predict", json={"instances": rows})
        assert response.status_code == 200 and len(response.json()["predictions"]) == 3
