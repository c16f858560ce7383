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

With ``num_workers > 1`` (or ``engine="spark"``) the same call runs N synchronous workers
instead: see :mod:`tensorbridge.train.distributed` and the launchers
(:mod:`tensorbridge.train.launch_local`, :mod:`tensorbridge.train.launch_spark`).
"""

from __future__ import annotations

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
from tensorbridge.engine import EngineLike, resolve_engine
from tensorbridge.errors import ConfigError
from tensorbridge.io.dataset import Dataset
from tensorbridge.io.paths import PathLike
from tensorbridge.train.distributed import (
    CHECKPOINT_DIR,
    WorkerTask,
    build_compiled_model,
    check_batch_size,
    higher_is_better,
    plan_steps,
)
from tensorbridge.train.inputs import count_rows, parquet_files
from tensorbridge.train.progress import format_epoch

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
    num_workers: int = 1
    restarts: int = 0

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
        self.console.print(format_epoch(entry, self.epochs))


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
    engine: EngineLike = None,
    num_workers: int = 1,
    max_restarts: int = 3,
    startup_timeout: float = 300.0,
    worker_ports: Sequence[int] | None = None,
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
    console : rich.console.Console, optional
        Where progress lines go (default: stderr).
    engine : "local", "spark" or an Engine, optional
        With ``"local"`` (the default, whatever ``$TENSORBRIDGE_ENGINE`` says) and
        ``num_workers=1``, training runs in this process. With ``num_workers > 1`` it
        runs N synchronous workers (``MultiWorkerMirroredStrategy``): local processes on
        the local engine, one Spark barrier stage on the spark engine (any
        ``num_workers``). Same code in every worker, see
        :mod:`tensorbridge.train.distributed`.
    num_workers : int
        Number of workers. ``batch_size`` stays the global batch: each worker takes
        ``batch_size / num_workers`` rows of its own shard per step.
    max_restarts : int
        A distributed run whose worker dies during training is restarted from the last
        epoch's checkpoint up to this many times.
    startup_timeout : float
        Seconds the workers of a distributed run get to start training before it fails.
    worker_ports : sequence of int, optional
        Local engine only: the loopback ports of the workers (default: free ones).

    Raises
    ------
    ConfigError
        For bad arguments (the message says which and how to fix it).
    TrainingError
        When a distributed run fails; it names the worker and the cause.

    Examples
    --------
    >>> train(output, build_model, "out/train", label="tips_xf", epochs=5,
    ...       engine="spark", num_workers=2)  # doctest: +SKIP
    """
    tf = import_optional("tensorflow")
    keras = import_optional("keras")
    from tensorbridge.train.inputs import make_tf_dataset

    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs ({epochs}) and batch_size ({batch_size}) must be >= 1.")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ConfigError(f"num_workers={num_workers!r} must be an integer >= 1.")
    console = console or Console(stderr=True)
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    train_data, eval_data = _splits(data, train_split, eval_split)
    if label not in train_data.schema.names:
        raise ConfigError(
            f"The label {label!r} is not a column of the training data; its columns are "
            f"{train_data.schema.names}."
        )
    # Training opts into Spark explicitly; it does not follow $TENSORBRIDGE_ENGINE.
    resolved = resolve_engine(engine if engine is not None else "local")
    if num_workers > 1 or resolved.name != "local":
        task = WorkerTask(
            build_model=build_model,
            hyperparameters=dict(hyperparameters or {}),
            train_files=parquet_files(train_data),
            eval_files=parquet_files(eval_data) if eval_data is not None else None,
            label=label,
            features=list(features) if features is not None else None,
            output_dir=str(root.resolve()),
            num_workers=num_workers,
            epochs=epochs,
            batch_size=batch_size,
            steps_per_epoch=steps_per_epoch or 0,
            eval_steps=eval_steps,
            seed=seed,
            early_stopping_patience=early_stopping_patience,
            monitor=monitor,
        )
        return _train_distributed(
            task,
            resolved,
            max_restarts=max_restarts,
            startup_timeout=startup_timeout,
            worker_ports=list(worker_ports) if worker_ports is not None else None,
            console=console,
        )
    if worker_ports is not None:
        raise ConfigError("worker_ports is for distributed runs; pass num_workers >= 2 too.")
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
    model = build_compiled_model(build_model, hyperparameters)
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


def _train_distributed(
    task: WorkerTask,
    engine: Any,
    *,
    max_restarts: int,
    startup_timeout: float,
    worker_ports: list[int] | None,
    console: Console,
) -> TrainResult:
    """Run ``task`` on N workers (processes or a Spark barrier stage); summarize the run."""
    check_batch_size(task.batch_size, task.num_workers)
    if not task.steps_per_epoch:
        rows = count_rows(task.train_files)
        task.steps_per_epoch = plan_steps(rows, task.batch_size, task.num_workers)
    if worker_ports is not None and (
        engine.name != "local" or len(worker_ports) != task.num_workers
    ):
        raise ConfigError(
            f"worker_ports={worker_ports} must list one port per worker ({task.num_workers}) "
            "and is for the local engine only (Spark workers pick free ports on their hosts)."
        )
    started = time.perf_counter()
    if engine.name == "spark":
        from tensorbridge.train.launch_spark import run_spark_workers

        outcome = run_spark_workers(
            task,
            spark=engine.session,
            max_restarts=max_restarts,
            startup_timeout=startup_timeout,
            console=console,
        )
    else:
        from tensorbridge.train.launch_local import run_local_workers

        outcome = run_local_workers(
            task,
            ports=worker_ports,
            max_restarts=max_restarts,
            startup_timeout=startup_timeout,
            console=console,
        )
    seconds = time.perf_counter() - started
    root = Path(task.output_dir)
    shutil.rmtree(root / CHECKPOINT_DIR, ignore_errors=True)  # finished: nothing to resume
    history = _read_history(root / METRICS_FILE)
    monitor = task.monitor if task.eval_files else task.monitor.removeprefix("val_")
    result = TrainResult(
        str(root),
        len(history),
        outcome.resumed_from_epoch,
        history,
        _best_epoch(history, monitor),
        seconds,
        num_workers=task.num_workers,
        restarts=outcome.restarts,
    )
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
    pick = max if higher_is_better(monitor) else min
    return pick(values)[1]
