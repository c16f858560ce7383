"""Run the N workers of a distributed training run as local processes, and watch them.

Each worker is ``python -m tensorbridge.train.worker_process`` listening on a loopback
port; its output goes to ``<output_dir>/workers/worker-<rank>.log``. The launcher prints
each epoch as the chief finishes it, ends the whole attempt as soon as one worker exits
with an error or dies (so no worker is left waiting on a collective operation that will
never complete), and restarts or stops as :func:`tensorbridge.train.launch.run_with_restarts`
says. Workers that have not all started training within ``startup_timeout`` seconds end
the run with an error naming them.
"""

from __future__ import annotations

import time

from rich.console import Console

from tensorbridge.train.cluster import (
    WORKERS_DIR,
    Failure,
    exit_description,
    find_failure,
    free_ports,
    read_status,
)
from tensorbridge.train.distributed import WorkerTask
from tensorbridge.train.launch import RunOutcome, run_with_restarts, startup_failure
from tensorbridge.train.progress import EpochPrinter
from tensorbridge.train.worker_process import PackedTask, WorkerProcess, stop_all

POLL_SECONDS = 0.1


def run_local_workers(
    task: WorkerTask,
    *,
    ports: list[int] | None,
    max_restarts: int,
    startup_timeout: float,
    console: Console,
) -> RunOutcome:
    """Run ``task.num_workers`` worker processes until training finishes.

    Raises
    ------
    TrainingError
        When a worker fails before training starts, fails more than ``max_restarts``
        times, or the workers do not all start training within ``startup_timeout``.
    """
    packed = PackedTask.pack(task)

    def attempt(number: int, printer: EpochPrinter) -> Failure | None:
        chosen = list(ports) if ports is not None else free_ports(task.num_workers)
        addresses = [f"127.0.0.1:{port}" for port in chosen]
        workers = [
            WorkerProcess.start(packed, rank, addresses, number) for rank in range(task.num_workers)
        ]
        try:
            return _supervise(task, workers, startup_timeout, printer)
        finally:
            stop_all(workers)

    logs = f"{task.output_dir}/{WORKERS_DIR}"
    return run_with_restarts(
        task,
        attempt,
        where=f"as local processes (logs in {logs})",
        max_restarts=max_restarts,
        console=console,
    )


def _supervise(
    task: WorkerTask, workers: list[WorkerProcess], startup_timeout: float, printer: EpochPrinter
) -> Failure | None:
    """Wait until every worker finished (None) or one failed (the failure)."""
    started = time.monotonic()
    check_startup = True
    exits: dict[int, str] = {}
    while True:
        time.sleep(POLL_SECONDS)
        printer.poll()
        for worker in workers:
            code = worker.process.poll()
            if code is not None and worker.rank not in exits:
                exits[worker.rank] = exit_description(code)
        failed = [w for w in workers if w.process.returncode not in (None, 0)]
        if failed:
            # Give the others a moment to record their own errors, then look at them all.
            time.sleep(0.5)
            statuses = [read_status(task.output_dir, w.rank) for w in workers]
            return find_failure(statuses, {w.rank: exits[w.rank] for w in failed})
        if all(w.process.returncode == 0 for w in workers):
            return None
        if check_startup and time.monotonic() - started > startup_timeout:
            failure = startup_failure(task, startup_timeout, "launch")
            if failure is not None:
                return failure
            check_startup = False
