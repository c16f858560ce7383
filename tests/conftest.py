"""Shared fixtures: the taxi data, small files, and engines (local and Spark)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tensorbridge.engine import LocalEngine
from tensorbridge.errors import JavaNotFoundError

REPO = Path(__file__).resolve().parents[1]
TAXI_CSV = REPO.parent / "shared" / "data" / "chicago_taxi" / "data.csv"


@pytest.fixture(scope="session")
def taxi_csv() -> Path:
    if not TAXI_CSV.exists():
        pytest.fail(f"The shared taxi data is missing at {TAXI_CSV}; check out ../shared.")
    return TAXI_CSV


#: Flags for headless Chromium in containers (no sandbox, small /dev/shm, no network).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@pytest.fixture(scope="session")
def chromium() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run headless Chromium: ``chromium(profile_dir, *args, timeout=90)``.

    Skips with an install hint where Chromium is missing, except in CI (CI=true), where
    `.ci/run` installs it and the HTML render tests must run.
    """
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        message = "Chromium is not installed (apt-get install -y chromium); render tests need it"
        if os.environ.get("CI"):
            pytest.fail(f"The HTML render tests must run in CI, but: {message}.")
        pytest.skip(message)

    def run(profile: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    return run


def _spark_or_skip() -> object:
    """A SparkEngine on local[2], or a skip that says how to install Java.

    In CI (CI=true) a missing Java is a failure, not a skip: Spark tests must run there.
    """
    pytest.importorskip("pyspark", reason="PySpark is not installed: uv sync --extra spark")
    from tensorbridge.engine.java import find_java
    from tensorbridge.engine.spark import SparkEngine

    try:
        find_java()
    except JavaNotFoundError as err:
        if os.environ.get("CI"):
            pytest.fail(f"Spark tests must run in CI, but: {err}")
        pytest.skip(f"Spark tests skipped: {err}")
    return SparkEngine(
        "local[2]",
        config={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"},
    )


@pytest.fixture(scope="session")
def spark_engine() -> object:
    engine = _spark_or_skip()
    yield engine
    engine.session.stop()  # type: ignore[attr-defined]


@pytest.fixture(params=["local", "spark"])
def engine(request: pytest.FixtureRequest) -> object:
    """Each engine in turn: the contract every engine must meet."""
    if request.param == "local":
        return LocalEngine(num_workers=2)
    return request.getfixturevalue("spark_engine")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(item, "callspec", None)
        if params is not None and params.params.get("engine") == "spark":
            item.add_marker(pytest.mark.spark)
        if "spark_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def taxi_trained(taxi_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """The taxi data split, transformed and used to train the TFX wide & deep model once.

    Returns ``(splits, transform_output, train_result)``.
    """
    pytest.importorskip("tensorflow")
    from rich.console import Console

    import tensorbridge as tb
    import tensorbridge.transform as tbt
    from tensorbridge.examples import taxi
    from tensorbridge.train import train

    quiet = Console(quiet=True)
    root = tmp_path_factory.mktemp("taxi_trained")
    splits = tb.read_csv(taxi_csv).split()
    output = tbt.analyze_and_transform(
        splits, taxi.preprocessing_fn, root / "transform", console=quiet
    )
    result = train(
        output,
        taxi.build_keras_model,
        root / "train",
        label="tips_xf",
        features=taxi.model_features(),
        epochs=6,
        batch_size=40,
        console=quiet,
    )
    return splits, output, result


# -- exported taxi models (serving and Spark scoring tests) --------------------------


@pytest.fixture(scope="session")
def taxi_export(taxi_trained: tuple, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One serving export of the taxi model (raw features in, ``probabilities`` out).

    Its manifest has a ``serving_baseline`` (statistics of the train split) and 8 eval
    rows as ``samples``.
    """
    import tensorbridge as tb
    from tensorbridge.examples import taxi
    from tensorbridge.train.export import export_serving_model

    splits, output, result = taxi_trained
    return export_serving_model(
        result.model_path,
        output,
        tmp_path_factory.mktemp("taxi_export") / "export",
        features=taxi.model_features(),
        raw_label_columns=["tips"],
        label="tips_xf",
        statistics=tb.stats.compute(splits["train"]),
        samples=splits["eval"].head(8).to_pylist(),
    )


@pytest.fixture(scope="session")
def taxi_eval_rows(taxi_trained: tuple) -> list[dict[str, Any]]:
    """200 raw eval rows (dicts, ``None`` for missing), the label ``tips`` included."""
    splits, _, _ = taxi_trained
    rows: list[dict[str, Any]] = splits["eval"].head(200).to_pylist()
    return rows


@pytest.fixture(scope="session")
def served_models(taxi_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model repository with ``taxi`` versions 1 and 2 (both the taxi export, complete).

    Tests that change the repository must copy it first (``shutil.copytree``).
    """
    from tensorbridge.push import push_model

    root = tmp_path_factory.mktemp("repository") / "models"
    for _ in range(2):
        push_model(taxi_export, root, "taxi", force=True)
    return root
