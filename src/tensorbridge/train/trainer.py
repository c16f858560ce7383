"""Keras training from transformed Parquet: checkpoints, resume, early stopping, metrics.

``train`` reads the transformed splits through :func:`tensorbridge.train.inputs.make_tf_dataset`
(Arrow record batches into ``tf.data``, no per-row Python), fits a compiled Keras 3
model built by the user's function, and leaves in ``output_dir``:

* ``model.keras``: the trained model (written atomically at the end);
* ``backup/``: Keras ``BackupAndRestore`` state after every epoch, so a run that crashed
  or was killed resumes from its last finished epoch when started again;
* ``metrics.jsonl``: one JSON object per epoch (train and eval metrics, steps/s);
* ``tensorboard/``: TensorBoard event files;
* ``train_result.json``: the summary (epochs run, best epoch, final metrics, timings).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from tensorbridge._optional import import_optional
from tensorbridge.errors import ConfigError
from tensorbridge.io.dataset import Dataset
from tensorbridge.io.paths import PathLike

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.jsonl"
RESULT_FILE = "train_result.json"
BuildModel = Callable[..., Any]


@dataclass
class TrainResult:
    """What a training run did."""

    output_dir: str
    epochs_run: int
    resumed_from_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    seconds: float = 0.0

    @property
    def model_path(self) -> Path:
        """The saved Keras model."""
        return Path(self.output_dir) / MODEL_FILE

    def load_model(self) -> Any:
        """The trained Keras model."""
        keras = import_optional("keras")
        return keras.models.load_model(self.model_path)

    @property
    def final_metrics(self) -> dict[str, float]:
        """The metrics of the last epoch."""
        return self.history[-1] if self.history else {}


def _splits(data: Any, train_split: str, eval_split: str) -> tuple[Dataset, Dataset | None]:
    transformed = getattr(data, "transformed_data", data)
    if isinstance(transformed, Dataset):
        return transformed, None
    if isinstance(transformed, Mapping):
        if train_split not in transformed:
            raise ConfigError(
                f"No {train_split!r} split to train on; the data has {list(transformed)}. "
                "Pass train_split=..."
            )
        return transformed[train_split], transformed.get(eval_split)
    raise ConfigError(
        "train() takes a TransformOutput with materialized data, a Dataset, or a dict of "
        f"split name -> Dataset; got {type(data).__name__}."
    )


def _build(build_model: BuildModel, hyperparameters: Mapping[str, Any] | None) -> Any:
    parameters = inspect.signature(build_model).parameters
    model = build_model(dict(hyperparameters or {})) if parameters else build_model()
    if not getattr(model, "optimizer", None) or not getattr(model, "compiled", True):
        raise ConfigError(
            "build_model must return a compiled Keras model: call model.compile(optimizer=..., "
            "loss=..., metrics=[...]) before returning it."
        )
    return model


class _EpochLog:
    """Callback: write each epoch's metrics to metrics.jsonl and print a progress line."""

    def __init__(self, path: Path, console: Console, epochs: int, steps: int | None) -> None:
        keras = import_optional("keras")
        outer = self

        class Callback(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                outer.started = time.perf_counter()
                outer.steps = 0

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                outer.steps += 1

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                outer.record(epoch, dict(logs or {}))

        self.callback = Callback()
        self.path = path
        self.console = console
        self.epochs = epochs
        self.history: list[dict[str, float]] = []
        self.started = time.perf_counter()
        self.steps = 0

    def record(self, epoch: int, logs: dict[str, Any]) -> None:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        entry = {"epoch": epoch + 1, "steps": self.steps, "steps_per_second": self.steps / seconds}
        entry.update({k: float(v) for k, v in logs.items()})
        self.history.append(entry)
        with self.path.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
        shown = "  ".join(
            f"{k} {v:.4f}"
            for k, v in entry.items()
            if k not in ("epoch", "steps", "steps_per_second")
        )
        self.console.print(
            f"epoch {epoch + 1}/{self.epochs}: {self.steps} steps, "
            f"{entry['steps_per_second']:,.0f} steps/s  {shown}"
        )


def train(
    data: Any,
    build_model: BuildModel,
    output_dir: PathLike,
    *,
    label: str,
    features: Sequence[str] | None = None,
    epochs: int = 1,
    steps_per_epoch: int | None = None,
    eval_steps: int | None = None,
    batch_size: int = 64,
    hyperparameters: Mapping[str, Any] | None = None,
    early_stopping_patience: int | None = None,
    monitor: str = "val_loss",
    train_split: str = "train",
    eval_split: str = "eval",
    seed: int = 0,
    console: Console | None = None,
) -> TrainResult:
    """Train a Keras model on transformed data; resume if a previous run was interrupted.

    Parameters
    ----------
    data : TransformOutput, Dataset or dict of str to Dataset
        The transformed data (``analyze_and_transform``'s output) or its splits.
    build_model : callable
        Returns a compiled Keras 3 model; it may take one argument, the hyperparameters.
    output_dir : path
        Where the model, checkpoints and metrics go. Starting again with the same
        ``output_dir`` after a crash resumes from the last finished epoch.
    label : str
        The label column (e.g. ``"tips_xf"``); every other column (or ``features``) is an
        input, passed to the model as a dict.
    epochs, steps_per_epoch, eval_steps, batch_size : int
        As in ``keras.Model.fit``; with ``steps_per_epoch`` the training data repeats.
    early_stopping_patience : int, optional
        Stop when ``monitor`` has not improved for this many epochs (best weights kept).
    seed : int
        Seeds shuffling and Keras, so runs are reproducible.
    """
    tf = import_optional("tensorflow")
    keras = import_optional("keras")
    from tensorbridge.train.inputs import make_tf_dataset

    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs ({epochs}) and batch_size ({batch_size}) must be >= 1.")
    console = console or Console(stderr=True)
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    train_data, eval_data = _splits(data, train_split, eval_split)
    if label not in train_data.schema.names:
        raise ConfigError(
            f"The label {label!r} is not a column of the training data; its columns are "
            f"{train_data.schema.names}."
        )
    keras.utils.set_random_seed(seed)
    train_ds = make_tf_dataset(
        train_data,
        label=label,
        features=features,
        batch_size=batch_size,
        shuffle=True,
        seed=seed,
        repeat=steps_per_epoch is not None,
    )
    eval_ds = (
        make_tf_dataset(
            eval_data, label=label, features=features, batch_size=batch_size, shuffle=False
        )
        if eval_data is not None
        else None
    )
    if eval_ds is None and monitor.startswith("val_"):
        monitor = monitor[len("val_") :]
    model = _build(build_model, hyperparameters)
    metrics_path = root / METRICS_FILE
    resumed_from = _finished_epochs(metrics_path)
    if resumed_from:
        console.print(f"Resuming from epoch {resumed_from} (backup in {root / 'backup'}).")
    log = _EpochLog(metrics_path, console, epochs, steps_per_epoch)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(root / "backup")),
        keras.callbacks.TensorBoard(str(root / "tensorboard"), write_graph=False),
        log.callback,
    ]
    if early_stopping_patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=early_stopping_patience, restore_best_weights=True
            )
        )
    started = time.perf_counter()
    del tf
    model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_ds,
        validation_steps=eval_steps,
        callbacks=callbacks,
        shuffle=False,  # make_tf_dataset shuffles files, row groups and rows itself
        verbose=0,
    )
    seconds = time.perf_counter() - started
    tmp = root / f".{MODEL_FILE}.tmp"
    model.save(tmp.with_suffix(".keras"))
    os.replace(tmp.with_suffix(".keras"), root / MODEL_FILE)
    shutil.rmtree(root / "backup", ignore_errors=True)  # finished: nothing to resume
    history = _read_history(metrics_path)
    best = _best_epoch(history, monitor)
    result = TrainResult(str(root), len(history), resumed_from, history, best, seconds)
    (root / RESULT_FILE).write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


def _read_history(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _finished_epochs(path: Path) -> int:
    history = _read_history(path)
    return int(history[-1]["epoch"]) if history else 0


def _best_epoch(history: list[dict[str, float]], monitor: str) -> int | None:
    values = [(h.get(monitor, math.nan), int(h["epoch"])) for h in history]
    values = [(v, e) for v, e in values if not math.isnan(v)]
    if not values:
        return None
    pick = max if ("auc" in monitor or "accuracy" in monitor) else min
    return pick(values)[1]
