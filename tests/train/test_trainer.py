"""train(): a real Keras fit from Parquet, metrics as data, early stopping, crash and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from rich.console import Console

import tensorbridge as tb
from tensorbridge.errors import ConfigError
from tensorbridge.train import train

keras = pytest.importorskip("keras")
QUIET = Console(quiet=True)


def write_splits(root: Path, rows: int = 4_000, seed: int = 0) -> dict[str, tb.Dataset]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "label": y})
    splits = {}
    for name, part in (
        ("train", table.slice(0, rows * 3 // 4)),
        ("eval", table.slice(rows * 3 // 4)),
    ):
        tb.from_arrow(part).write_parquet(root / name, rows_per_file=1_000, row_group_size=500)
        splits[name] = tb.read_parquet(root / name)
    return splits


def build_model(hyperparameters: dict) -> keras.Model:
    inputs = {name: keras.Input(shape=(), name=name) for name in ("a", "b")}
    stacked = keras.layers.Concatenate()([keras.layers.Reshape((1,))(v) for v in inputs.values()])
    hidden = keras.layers.Dense(hyperparameters.get("units", 8), activation="relu")(stacked)
    output = keras.layers.Dense(1, activation="sigmoid")(hidden)
    model = keras.Model(inputs, output)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    return model


def test_train_records_metrics_and_saves_the_model(tmp_path: Path) -> None:
    splits = write_splits(tmp_path / "data")
    result = train(
        splits,
        build_model,
        tmp_path / "run",
        label="label",
        epochs=3,
        batch_size=64,
        hyperparameters={"units": 4},
        console=QUIET,
    )
    assert result.epochs_run == 3 and result.resumed_from_epoch == 0
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    assert {"loss", "auc", "val_loss", "val_auc", "steps_per_second"} <= set(lines[0])
    assert lines[-1]["val_auc"] > 0.95  # a linearly separable label
    assert any((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))
    model = result.load_model()
    probabilities = model.predict(
        {"a": np.array([3.0, -3.0]), "b": np.array([0.0, 0.0])}, verbose=0
    )
    assert probabilities[0, 0] > 0.75 > 0.25 > probabilities[1, 0]
    summary = json.loads((tmp_path / "run" / "train_result.json").read_text())
    assert summary["epochs_run"] == 3 and not (tmp_path / "run" / "backup").exists()


def test_early_stopping(tmp_path: Path) -> None:
    splits = write_splits(tmp_path / "data", rows=800)

    def frozen(hyperparameters: dict) -> keras.Model:
        model = build_model(hyperparameters)
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy")
        return model  # a learning rate of 0: val_loss never improves

    result = train(
        splits,
        frozen,
        tmp_path / "run",
        label="label",
        epochs=10,
        early_stopping_patience=2,
        console=QUIET,
    )
    assert result.epochs_run == 3


def test_bad_arguments(tmp_path: Path) -> None:
    splits = write_splits(tmp_path / "data", rows=100)
    with pytest.raises(ConfigError, match=r"label 'nope' is not a column.*\['a', 'b', 'label'\]"):
        train(splits, build_model, tmp_path / "run", label="nope", console=QUIET)
    with pytest.raises(ConfigError, match="must return a compiled Keras model"):
        train(
            splits,
            lambda: keras.Sequential([keras.layers.Dense(1)]),
            tmp_path / "r2",
            label="label",
            console=QUIET,
        )
    with pytest.raises(ConfigError, match="No 'train' split"):
        train(
            {"other": splits["train"]}, build_model, tmp_path / "r3", label="label", console=QUIET
        )


CRASHING_RUN = """
import sys
from pathlib import Path
import tensorbridge as tb
from rich.console import Console
sys.path.insert(0, {tests!r})
from test_trainer import build_model
from tensorbridge.train import train
root = Path({root!r})
splits = {{name: tb.read_parquet(root / "data" / name) for name in ("train", "eval")}}
train(splits, build_model, root / "run", label="label", epochs=6, steps_per_epoch=400,
      batch_size=32, console=Console(quiet=True))
"""


@pytest.mark.timeout(300)
def test_killed_training_resumes_from_the_last_epoch(tmp_path: Path) -> None:
    write_splits(tmp_path / "data")
    script = CRASHING_RUN.format(tests=str(Path(__file__).parent), root=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-c", script], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    )
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            os.kill(process.pid, signal.SIGKILL)  # a crash in the middle of epoch 3
            break
        time.sleep(0.05)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "training finished before it could be killed"
    done = len(metrics.read_text().splitlines())
    assert 2 <= done < 6
    assert not (tmp_path / "run" / "model.keras").exists()  # no half-finished model

    splits = {name: tb.read_parquet(tmp_path / "data" / name) for name in ("train", "eval")}
    result = train(
        splits,
        build_model,
        tmp_path / "run",
        label="label",
        epochs=6,
        steps_per_epoch=400,
        batch_size=32,
        console=QUIET,
    )
    assert result.resumed_from_epoch == done
    epochs = [json.loads(x)["epoch"] for x in metrics.read_text().splitlines()]
    assert epochs == [1, 2, 3, 4, 5, 6]  # nothing repeated, nothing skipped
    model = result.load_model()
    assert int(model.optimizer.iterations.numpy()) == 6 * 400  # the intended number of steps
