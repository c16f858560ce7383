"""Distributed training: N synchronous workers as local processes or a Spark barrier stage.

Real workers (separate processes running MultiWorkerMirroredStrategy over loopback
gRPC), real kills (SIGKILL of a worker process), real port conflicts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from rich.console import Console

import tensorbridge as tb
from tensorbridge.errors import ConfigError
from tensorbridge.train import train
from tensorbridge.train.cluster import TrainingError, read_status
from tensorbridge.train.inputs import make_tf_dataset

keras = pytest.importorskip("keras")

from test_trainer import build_model, write_splits  # noqa: E402


def recording_console() -> Console:
    return Console(record=True, file=open(os.devnull, "w"), width=200)


def build_model_crashing_on_worker_1(hyperparameters: dict) -> Any:
    """A build_model whose second worker dies before any collective operation."""
    if json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index") == 1:
        os._exit(7)
    return build_model(hyperparameters)


def build_frozen_model(hyperparameters: dict) -> Any:
    """The test model with a learning rate of 0: its validation loss never improves."""
    model = build_model(hyperparameters)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy")
    return model


class KillWhenTraining:
    """SIGKILL worker ``rank``'s process once it has finished ``after_epoch`` epochs."""

    def __init__(self, output_dir: Path, rank: int = 1, after_epoch: int = 2) -> None:
        self.output_dir, self.rank, self.after_epoch = output_dir, rank, after_epoch
        self.killed: tuple[int, int] | None = None  # (pid, epoch)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> KillWhenTraining:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            status = read_status(self.output_dir, self.rank)
            if status.phase == "training" and status.epoch >= self.after_epoch and status.pid:
                os.kill(status.pid, signal.SIGKILL)
                self.killed = (status.pid, status.epoch)
                return


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tb.Dataset]:
    # 12,001 rows: 9,000 to train (odd shards with 3 workers), row groups of 500.
    return write_splits(tmp_path_factory.mktemp("distributed_data"), rows=12_001)


# -- shards ------------------------------------------------------------------------------


def test_shards_hold_every_row_once_and_differ_by_at_most_one_row(tmp_path: Path) -> None:
    rows = 1_003
    table = pa.table({"x": np.arange(rows, dtype=np.int64), "y": np.zeros(rows, np.float32)})
    tb.from_arrow(table).write_parquet(tmp_path / "d", rows_per_file=400, row_group_size=77)
    seen = []
    for index in range(3):
        ds = make_tf_dataset(
            tmp_path / "d", label="y", batch_size=50, shuffle=True, seed=1, shard=(index, 3)
        )
        values = np.concatenate([x["x"].numpy() for x, _ in ds])
        assert ds.cardinality().numpy() == -(-len(values) // 50)
        seen.append(values)
    sizes = [len(v) for v in seen]
    assert sorted(sizes) == [334, 334, 335]
    assert sorted(np.concatenate(seen).tolist()) == list(range(rows))


# -- local processes ---------------------------------------------------------------------


def test_two_local_workers_train_in_sync(splits: dict[str, tb.Dataset], tmp_path: Path) -> None:
    console = recording_console()
    result = train(
        splits,
        build_model,
        tmp_path / "run",
        label="label",
        epochs=3,
        batch_size=64,
        num_workers=2,
        console=console,
    )
    # 9,000 train rows -> shards of 4,500; 32 rows per worker and step -> 141 steps.
    assert [h["steps"] for h in result.history] == [141, 141, 141]
    assert result.num_workers == 2 and result.restarts == 0 and result.epochs_run == 3
    assert result.final_metrics["val_auc"] > 0.99
    model = result.load_model()
    assert int(model.optimizer.iterations.numpy()) == 3 * 141
    saved = json.loads((tmp_path / "run" / "train_result.json").read_text())
    assert saved["num_workers"] == 2 and len(saved["history"]) == 3
    assert not (tmp_path / "run" / "checkpoint").exists()
    text = console.export_text()
    assert "epoch 3/3: 141 steps on 2 workers" in text


def test_early_stopping_stops_every_worker_together(
    splits: dict[str, tb.Dataset], tmp_path: Path
) -> None:
    result = train(
        splits,
        build_frozen_model,
        tmp_path / "run",
        label="label",
        epochs=6,
        batch_size=64,
        num_workers=2,
        early_stopping_patience=1,
        console=recording_console(),
    )
    assert result.epochs_run == 2  # epoch 2 did not improve on epoch 1: both workers stop
    assert result.best_epoch == 1


def test_batch_size_must_split_over_workers(splits: dict[str, tb.Dataset], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"batch_size=65 does not split evenly.*batch_size=64"):
        train(splits, build_model, tmp_path, label="label", batch_size=65, num_workers=2)


def train_killing_worker_1(
    splits: dict[str, tb.Dataset], output: Path, epochs: int, **options: Any
) -> tuple[Any, str]:
    """Train on 2 workers, SIGKILL worker 1 after epoch 2; check the run resumed from there."""
    console = recording_console()
    with KillWhenTraining(output, rank=1, after_epoch=2) as killer:
        result = train(
            splits,
            build_model,
            output,
            label="label",
            epochs=epochs,
            batch_size=32,
            num_workers=2,
            console=console,
            **options,
        )
    assert killer.killed is not None, "the worker was never killed"
    text = console.export_text()
    assert "was killed by SIGKILL" in text and "worker 1" in text
    resumed = [int(e) for e in re.findall(r"resuming after epoch (\d+)", text)]
    assert resumed and resumed[0] >= killer.killed[1]  # not from scratch
    assert result.restarts == 1
    assert [h["epoch"] for h in result.history] == list(range(1, epochs + 1))
    # The optimizer's step counter came back with the checkpoint: exactly the planned steps.
    steps = result.history[0]["steps"]
    assert int(result.load_model().optimizer.iterations.numpy()) == epochs * steps
    assert result.final_metrics["val_auc"] > 0.99
    return result, text


def test_a_worker_killed_in_training_resumes_from_the_checkpoint(
    splits: dict[str, tb.Dataset], tmp_path: Path
) -> None:
    _, text = train_killing_worker_1(splits, tmp_path / "run", epochs=6)
    assert "as local processes" in text


def test_a_port_in_use_fails_fast_naming_the_worker(
    splits: dict[str, tb.Dataset], tmp_path: Path
) -> None:
    with socket.socket() as busy, socket.socket() as free:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        free.bind(("127.0.0.1", 0))
        ports = [free.getsockname()[1], busy.getsockname()[1]]
        free.close()
        started = time.monotonic()
        with pytest.raises(TrainingError) as caught:
            train(
                splits,
                build_model,
                tmp_path / "run",
                label="label",
                batch_size=64,
                num_workers=2,
                worker_ports=ports,
                console=recording_console(),
            )
    message = str(caught.value)
    assert f"worker 1 (127.0.0.1:{ports[1]}" in message
    assert f"could not listen on 127.0.0.1:{ports[1]}" in message
    assert time.monotonic() - started < 60


def train_crashing_worker_1(
    splits: dict[str, tb.Dataset], output: Path, **options: Any
) -> tuple[str, str, float]:
    """Train with worker 1 crashing in build_model: (error message, console text, seconds)."""
    console = recording_console()
    started = time.monotonic()
    with pytest.raises(TrainingError) as caught:
        train(
            splits,
            build_model_crashing_on_worker_1,
            output,
            label="label",
            batch_size=64,
            num_workers=2,
            console=console,
            **options,
        )
    return str(caught.value), console.export_text(), time.monotonic() - started


def test_a_worker_crashing_before_the_collective_ends_the_run(
    splits: dict[str, tb.Dataset], tmp_path: Path
) -> None:
    message, text, seconds = train_crashing_worker_1(splits, tmp_path / "run")
    assert "worker 1" in message and "exited with code 7" in message
    assert "while building the model" in message
    assert "attempt 2" not in text  # not retried: it would fail again
    assert seconds < 90


# -- the taxi model: two workers learn what one does ---------------------------------------


def _taxi_distributed(taxi_trained: tuple, output: Path, **options: Any) -> Any:
    from tensorbridge.examples import taxi

    _, transform_output, _ = taxi_trained
    return train(
        transform_output,
        taxi.build_keras_model,
        output,
        label="tips_xf",
        features=taxi.model_features(),
        epochs=6,
        batch_size=40,
        console=recording_console(),
        **options,
    )


def test_two_local_workers_reach_the_auc_of_one_on_taxi(
    taxi_trained: tuple, tmp_path: Path
) -> None:
    one = taxi_trained[2].final_metrics["val_auc"]
    two = _taxi_distributed(taxi_trained, tmp_path / "two", num_workers=2)
    assert two.num_workers == 2
    print(f"\nval_auc: 1 worker {one:.4f}, 2 workers {two.final_metrics['val_auc']:.4f}")
    assert abs(two.final_metrics["val_auc"] - one) < 0.01, (one, two.final_metrics)


# -- Spark barrier mode ------------------------------------------------------------------


@pytest.mark.spark
def test_two_spark_workers_reach_the_auc_of_one_on_taxi(
    taxi_trained: tuple, spark_engine: Any, tmp_path: Path
) -> None:
    one = taxi_trained[2].final_metrics["val_auc"]
    two = _taxi_distributed(taxi_trained, tmp_path / "two", engine=spark_engine, num_workers=2)
    assert two.num_workers == 2 and two.restarts == 0
    print(f"\nval_auc: 1 worker {one:.4f}, 2 workers {two.final_metrics['val_auc']:.4f}")
    assert abs(two.final_metrics["val_auc"] - one) < 0.01, (one, two.final_metrics)


@pytest.mark.spark
def test_a_spark_worker_killed_in_training_resumes_from_the_checkpoint(
    splits: dict[str, tb.Dataset], spark_engine: Any, tmp_path: Path
) -> None:
    _, text = train_killing_worker_1(splits, tmp_path / "run", epochs=5, engine=spark_engine)
    assert "as a Spark barrier stage" in text


@pytest.mark.spark
def test_a_spark_worker_crashing_before_the_collective_ends_the_run(
    splits: dict[str, tb.Dataset], spark_engine: Any, tmp_path: Path
) -> None:
    message, _, seconds = train_crashing_worker_1(splits, tmp_path / "run", engine=spark_engine)
    assert "worker 1" in message and "exited with code 7" in message
    assert seconds < 120


@pytest.mark.spark
def test_more_spark_workers_than_slots_is_a_clear_error(
    splits: dict[str, tb.Dataset], spark_engine: Any, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="num_workers=3 needs 3 Spark task slots"):
        train(
            splits,
            build_model,
            tmp_path,
            label="label",
            batch_size=63,
            engine=spark_engine,
            num_workers=3,
        )
