"""Run the N workers of a distributed training run as one Spark barrier stage.

Barrier mode starts all N tasks at once or not at all, and when one task fails Spark
kills the others, which is what synchronous training needs. Each barrier task

1. picks a free port on its executor and shares ``host:port`` with ``allGather`` (the
   list comes back in partition order, so task ``i`` is worker ``i``; worker 0 is chief);
2. runs the worker as a child process (:mod:`tensorbridge.train.worker_process`, the
   same code as the local engine's workers), so every attempt gets a fresh TensorFlow
   runtime and a killed task takes its worker with it;
3. fails when its worker fails, which fails the stage.

The driver prints each epoch as the chief finishes it, enforces the start-up timeout
(cancelling the job), and after a failed stage reads the workers' status files: a worker
that died during training means the stage is submitted again and resumes from the last
checkpoint (up to ``max_restarts`` times); a failure before training (a port that cannot
be bound, ``build_model`` raising, a crash) ends the run with the worker and the cause.

The training data (transformed Parquet) and ``output_dir`` must be on storage every
executor can read and write (a shared file system), as for any Spark job writing files.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console

from tensorbridge.errors import ConfigError
from tensorbridge.train.cluster import (
    Failure,
    exit_description,
    find_failure,
    free_ports,
    read_status,
)
from tensorbridge.train.distributed import WorkerTask
from tensorbridge.train.launch import RunOutcome, run_with_restarts, startup_failure
from tensorbridge.train.progress import EpochPrinter
from tensorbridge.train.worker_process import PackedTask

POLL_SECONDS = 0.2


def _barrier_task(task: PackedTask, attempt: int) -> Callable[[Iterator[Any]], Iterator[int]]:
    """The function each barrier task runs (shipped to the executors by Spark)."""

    def run(_: Iterator[Any]) -> Iterator[int]:
        from pyspark import BarrierTaskContext

        from tensorbridge.train.worker_process import WorkerProcess

        context = BarrierTaskContext.get()
        rank = context.partitionId()
        host = context.getTaskInfos()[rank].address.rsplit(":", 1)[0]
        port = free_ports(1, host)[0]
        addresses = context.allGather(f"{host}:{port}")
        worker = WorkerProcess.start(task, rank, list(addresses), attempt)
        try:
            code = worker.process.wait()
        finally:
            worker.stop()
        if code != 0:
            status = read_status(task.output_dir, rank)
            raise RuntimeError(
                f"tensorbridge training worker {rank} {exit_description(code)}"
                + (f": {status.error}" if status.error else "")
            )
        yield rank

    return run


def run_spark_workers(
    task: WorkerTask,
    *,
    spark: Any,
    max_restarts: int,
    startup_timeout: float,
    console: Console,
) -> RunOutcome:
    """Run ``task.num_workers`` workers as a Spark barrier stage until training finishes.

    Raises
    ------
    ConfigError
        When the cluster has fewer task slots than workers (barrier mode needs them all).
    TrainingError
        As :func:`tensorbridge.train.launch.run_with_restarts`.
    """
    context = spark.sparkContext
    n = task.num_workers
    slots = int(context.defaultParallelism)
    if n > slots:
        raise ConfigError(
            f"num_workers={n} needs {n} Spark task slots at once (barrier mode), but the "
            f"cluster has {slots} (master {context.master!r}). Use num_workers<={slots} or a "
            "bigger cluster."
        )

    packed = PackedTask.pack(task)

    def attempt(number: int, printer: EpochPrinter) -> Failure | None:
        return _run_stage(task, packed, context, number, startup_timeout, printer)

    return run_with_restarts(
        task,
        attempt,
        where=f"as a Spark barrier stage on {context.master}",
        max_restarts=max_restarts,
        console=console,
    )


def _run_stage(
    task: WorkerTask,
    packed: PackedTask,
    context: Any,
    attempt: int,
    startup_timeout: float,
    printer: EpochPrinter,
) -> Failure | None:
    """Run one attempt; None when it finished, else why it failed."""
    n = task.num_workers
    group = f"tensorbridge-train-{uuid.uuid4().hex[:12]}"
    outcome: dict[str, Any] = {}

    def job() -> None:
        context.setJobGroup(group, f"tensorbridge training, {n} workers", True)
        try:
            stage = context.parallelize(range(n), n).barrier()
            outcome["ranks"] = stage.mapPartitions(_barrier_task(packed, attempt)).collect()
        except Exception as err:  # the stage failed: the statuses say why
            outcome["error"] = err

    thread = threading.Thread(target=job, name="tb-train-stage", daemon=True)
    started = time.monotonic()
    check_startup = True
    timed_out: Failure | None = None
    thread.start()
    while thread.is_alive():
        thread.join(POLL_SECONDS)
        printer.poll()
        if check_startup and time.monotonic() - started > startup_timeout:
            timed_out = startup_failure(task, startup_timeout, "the stage was submitted")
            check_startup = False
            if timed_out is not None:
                context.cancelJobGroup(group)
    if timed_out is not None:
        return timed_out
    if "error" not in outcome:
        return None
    time.sleep(0.5)  # let the workers' last status writes land
    statuses = [read_status(task.output_dir, rank) for rank in range(n)]
    return find_failure(statuses, fallback=_spark_cause(outcome["error"]))


def _spark_cause(err: BaseException) -> str:
    """The line of a Spark job failure that says what happened."""
    text = str(err)
    for marker in ("tensorbridge training worker", "Python worker exited", "Exception:"):
        for line in text.splitlines():
            if marker in line:
                return line.strip()[:500]
    return (text.splitlines() or [type(err).__name__])[0][:500]
