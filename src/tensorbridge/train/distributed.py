"""One worker of a synchronous data-parallel training run (the same code on every engine).

``run_worker`` is what each of the N workers runs, whether it is a local process started
by :mod:`tensorbridge.train.launch_local` or a Spark barrier task started by
:mod:`tensorbridge.train.launch_spark`:

1. ``TF_CONFIG`` from the addresses of all workers (worker 0 is the chief), then
   ``tf.distribute.MultiWorkerMirroredStrategy``, whose collective all-reduce averages
   the gradients of all workers at every step, so every worker holds the same weights.
2. The model from the user's ``build_model``, built inside the strategy's scope (the
   initial weights are broadcast from the chief).
3. The worker reads its own shard of the transformed Parquet (``make_tf_dataset(...,
   shard=(rank, N))``): contiguous row ranges that differ by at most one row. Every worker
   runs the same number of steps per epoch (computed from the largest shard, the data
   repeating), so uneven partitions can never leave a worker waiting for a step the
   others will not take. The global batch is ``batch_size``: each worker takes
   ``batch_size / N`` rows per step, so N workers run the same optimisation as one.
4. After every epoch the metrics are summed over all workers (loss and AUC over all
   shards, exactly), the chief writes a checkpoint (weights, optimizer state, epoch,
   history) atomically to ``<output_dir>/checkpoint/latest.npz`` and appends the epoch to
   ``metrics.jsonl``. A restarted attempt loads that checkpoint on every worker and goes
   on from the next epoch, with the optimizer's step counter restored.
5. At the end the chief writes ``model.keras``.

Keras 3's own ``fit`` under ``MultiWorkerMirroredStrategy`` fails on models with dict
inputs (it reduces nested per-replica batches and scalar logs along axis 0), so the loop
below runs Keras' ``train_step`` and ``test_step`` through ``strategy.run`` itself.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import socket
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tensorbridge._optional import import_optional
from tensorbridge.errors import ConfigError
from tensorbridge.train.cluster import TrainingError, WorkerStatus, tf_config, write_status

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "latest.npz"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.jsonl"
#: How long a collective operation may wait for the other workers before it fails.
COLLECTIVE_TIMEOUT_SECONDS = 600


@dataclass
class WorkerTask:
    """Everything a worker needs; sent to each worker (cloudpickled with the user's code)."""

    build_model: Callable[..., Any]
    hyperparameters: dict[str, Any]
    train_files: list[str]
    eval_files: list[str] | None
    label: str
    features: list[str] | None
    output_dir: str
    num_workers: int
    epochs: int
    batch_size: int  # global: each worker takes batch_size / num_workers rows per step
    steps_per_epoch: int
    eval_steps: int | None = None
    seed: int = 0
    early_stopping_patience: int | None = None
    monitor: str = "val_loss"

    @property
    def worker_batch_size(self) -> int:
        """Rows per step on each worker."""
        return self.batch_size // self.num_workers


def plan_steps(train_rows: int, batch_size: int, num_workers: int) -> int:
    """Steps per epoch that let every worker see its whole shard once (largest shard).

    Examples
    --------
    >>> plan_steps(10_001, 40, 2)  # shards of 5,000 and 5,001 rows, 20 rows per step
    251
    """
    largest = -(-train_rows // num_workers)
    per_worker = batch_size // num_workers
    return max(1, -(-largest // per_worker))


def check_batch_size(batch_size: int, num_workers: int) -> None:
    """The global batch must split evenly over the workers."""
    if batch_size % num_workers:
        raise ConfigError(
            f"batch_size={batch_size} does not split evenly over num_workers={num_workers}: "
            "batch_size is the global batch, each worker takes batch_size / num_workers rows "
            f"per step. Use a multiple of {num_workers}, e.g. "
            f"batch_size={batch_size // num_workers * num_workers or num_workers}."
        )


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """The state saved after an epoch: enough to go on from the next one."""

    epoch: int
    history: list[dict[str, float]]
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]


def checkpoint_path(output_dir: str | os.PathLike[str]) -> Path:
    """Where the latest checkpoint of a run lives."""
    return Path(output_dir) / CHECKPOINT_DIR / CHECKPOINT_FILE


def save_checkpoint(output_dir: str | os.PathLike[str], checkpoint: Checkpoint) -> None:
    """Write the checkpoint atomically (a temp file, then rename)."""
    path = checkpoint_path(output_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"w{i}": w for i, w in enumerate(checkpoint.weights)}
    arrays |= {f"o{i}": v for i, v in enumerate(checkpoint.optimizer)}
    arrays["epoch"] = np.asarray(checkpoint.epoch)
    arrays["history"] = np.asarray(json.dumps(checkpoint.history))
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    os.replace(handle.name, path)


def load_checkpoint(output_dir: str | os.PathLike[str]) -> Checkpoint | None:
    """The latest checkpoint, or None when the run has none yet."""
    path = checkpoint_path(output_dir)
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as data:
        weights = [data[f"w{i}"] for i in range(sum(k.startswith("w") for k in data.files))]
        optimizer = [data[f"o{i}"] for i in range(sum(k.startswith("o") for k in data.files))]
        return Checkpoint(
            epoch=int(data["epoch"]),
            history=json.loads(str(data["history"])),
            weights=weights,
            optimizer=optimizer,
        )


# ---------------------------------------------------------------------------------------------
# The worker
# ---------------------------------------------------------------------------------------------


class _Reporter:
    """Keeps this worker's status file up to date."""

    def __init__(self, task: WorkerTask, rank: int, address: str, attempt: int) -> None:
        self.output_dir = task.output_dir
        self.status = WorkerStatus(
            rank=rank, address=address, attempt=attempt, pid=os.getpid(), host=socket.gethostname()
        )
        write_status(self.output_dir, self.status)

    def update(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.status, name, value)
        write_status(self.output_dir, self.status)


def run_worker(task: WorkerTask, rank: int, addresses: Sequence[str], attempt: int) -> None:
    """Run worker ``rank`` of ``addresses`` to the end of training.

    What it did is in its status file and, for the chief, in ``metrics.jsonl`` and
    ``model.keras``.

    Raises
    ------
    TrainingError
        If this worker cannot listen on its address or fails; the error is also recorded
        in its status file for the launcher.
    """
    report = _Reporter(task, rank, addresses[rank], attempt)
    try:
        _train(task, rank, list(addresses), report)
    except BaseException as err:
        report.update(error=_one_line(err))
        raise


def _one_line(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    frames = traceback.extract_tb(err.__traceback__)
    user = [f for f in frames if "tensorflow" not in f.filename and "keras" not in f.filename]
    if user and not isinstance(err, TrainingError):
        last = user[-1]
        text += f" (at {Path(last.filename).name}:{last.lineno})"
    return " ".join(text.split())[:2000]


def _train(task: WorkerTask, rank: int, addresses: list[str], report: _Reporter) -> None:
    os.environ["TF_CONFIG"] = json.dumps(tf_config(addresses, rank))
    report.update(phase="connecting")
    keras = import_optional("keras")
    tf = import_optional("tensorflow")

    from tensorbridge.train.inputs import make_tf_dataset

    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=COLLECTIVE_TIMEOUT_SECONDS
            )
        )
    except tf.errors.UnknownError as err:
        raise TrainingError(
            f"worker {rank} could not listen on {addresses[rank]} ({err.message.strip()}): "
            "the port is in use or not allowed. Free it, or let tensorbridge pick free ports "
            "(leave worker_ports unset)."
        ) from err

    keras.utils.set_random_seed(task.seed)
    per_worker = task.worker_batch_size
    shard = (rank, task.num_workers)
    saved = load_checkpoint(task.output_dir)
    start_epoch, history = (saved.epoch, saved.history) if saved is not None else (0, [])
    # Each attempt shuffles differently but reproducibly: the seed moves on with the epoch.
    train_ds = make_tf_dataset(
        task.train_files,
        label=task.label,
        features=task.features,
        batch_size=per_worker,
        shuffle=True,
        seed=task.seed + start_epoch,
        repeat=True,
        shard=shard,
    )
    iterator = iter(train_ds)

    report.update(phase="building")
    with strategy.scope():
        model = build_compiled_model(task.build_model, task.hyperparameters)
        model.optimizer.build(model.trainable_variables)
        # Creates the compiled metrics' variables now, in the strategy's scope.
        model._symbolic_build(data_batch=next(iter(train_ds)))
    if saved is not None:
        model.set_weights(saved.weights)
        for variable, value in zip(model.optimizer.variables, saved.optimizer, strict=True):
            variable.assign(value)
    chief = rank == 0
    if chief:
        _rewrite_metrics(task.output_dir, history)

    def run_train_step(iterator: Any) -> None:
        strategy.run(model.train_step, args=(next(iterator),))

    def run_test_step(batch: Any) -> None:
        strategy.run(model.test_step, args=(batch,))

    train_step = tf.function(run_train_step)
    test_step = tf.function(run_test_step, reduce_retracing=True)

    eval_ds = None
    if task.eval_files:
        eval_ds = make_tf_dataset(
            task.eval_files,
            label=task.label,
            features=task.features,
            batch_size=per_worker,
            shuffle=False,
            shard=shard,
        )
        if task.eval_steps is not None:
            eval_ds = eval_ds.take(-(-task.eval_steps // task.num_workers))

    report.update(phase="training", epoch=start_epoch)
    monitor = task.monitor if eval_ds is not None else task.monitor.removeprefix("val_")
    best: tuple[float, list[np.ndarray]] | None = None  # monitored value, its weights
    waited = 0
    for epoch in range(start_epoch, task.epochs):
        started = time.perf_counter()
        model.reset_metrics()
        for _ in range(task.steps_per_epoch):
            train_step(iterator)
        # Reading the metrics outside strategy.run sums them over all workers.
        logs = {k: float(v) for k, v in model.get_metrics_result().items()}
        seconds = time.perf_counter() - started
        if eval_ds is not None:
            model.reset_metrics()
            for batch in eval_ds:
                test_step(batch)
            logs |= {f"val_{k}": float(v) for k, v in model.get_metrics_result().items()}
        entry = {
            "epoch": epoch + 1,
            "steps": task.steps_per_epoch,
            "steps_per_second": task.steps_per_epoch / max(seconds, 1e-9),
            "workers": task.num_workers,
            **logs,
        }
        history.append(entry)
        stopping = task.early_stopping_patience is not None
        weights = model.get_weights() if chief or stopping else []
        if chief:
            optimizer = [np.asarray(v.numpy()) for v in model.optimizer.variables]
            save_checkpoint(task.output_dir, Checkpoint(epoch + 1, history, weights, optimizer))
            _append_metrics(task.output_dir, entry)
        report.update(epoch=epoch + 1)
        if task.early_stopping_patience is not None:
            monitored = float(entry.get(monitor, math.nan))
            if best is None or _improved(monitored, best[0], monitor):
                best, waited = (monitored, weights), 0
            else:
                waited += 1
                if waited >= task.early_stopping_patience:
                    model.set_weights(best[1])
                    break
    if chief:
        final = Path(task.output_dir) / MODEL_FILE
        tmp = final.with_name(f".{MODEL_FILE}.{os.getpid()}.tmp.keras")
        model.save(tmp)
        os.replace(tmp, final)
    report.update(phase="finished")


def build_compiled_model(
    build_model: Callable[..., Any], hyperparameters: Mapping[str, Any] | None
) -> Any:
    """Call the user's ``build_model`` (with the hyperparameters if it takes an argument)."""
    parameters = inspect.signature(build_model).parameters
    model = build_model(dict(hyperparameters or {})) if parameters else build_model()
    if not getattr(model, "optimizer", None) or not getattr(model, "compiled", True):
        raise ConfigError(
            "build_model must return a compiled Keras model: call model.compile(optimizer=..., "
            "loss=..., metrics=[...]) before returning it."
        )
    return model


def higher_is_better(monitor: str) -> bool:
    """Whether a larger value of the monitored metric is an improvement."""
    return "auc" in monitor or "accuracy" in monitor


def _improved(value: float, best: float, monitor: str) -> bool:
    if math.isnan(value):
        return False
    return value > best if higher_is_better(monitor) else value < best


def _rewrite_metrics(output_dir: str, history: list[dict[str, float]]) -> None:
    """metrics.jsonl holds exactly the epochs of the checkpoint the run goes on from."""
    path = Path(output_dir) / METRICS_FILE
    tmp = path.with_name(f".{METRICS_FILE}.tmp")
    tmp.write_text("".join(json.dumps(entry) + "\n" for entry in history))
    os.replace(tmp, path)


def _append_metrics(output_dir: str, entry: dict[str, float]) -> None:
    with (Path(output_dir) / METRICS_FILE).open("a") as handle:
        handle.write(json.dumps(entry) + "\n")
