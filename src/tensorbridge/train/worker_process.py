"""A training worker in its own process: ``python -m tensorbridge.train.worker_process``.

Both engines run each worker of a distributed training run in a fresh process (the local
launcher directly, the Spark launcher from inside a barrier task), so every attempt gets
a clean TensorFlow runtime and killing a worker means killing exactly one process.

The parent writes the worker's assignment to the child's standard input: the
:class:`~tensorbridge.train.distributed.WorkerTask` (with the user's ``build_model``,
serialized with cloudpickle where ``train()`` was called, so functions defined in a
script or a notebook travel too), the rank, the addresses of all workers and the attempt
number. These bytes come from the
parent over a pipe, never from a file or the network. The child exits 0 when training
finished and 1 when it failed (the error is in its status file, the traceback in its
log), and exits on its own when its parent goes away.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tensorbridge.train.cluster import WORKERS_DIR

if TYPE_CHECKING:
    from tensorbridge.train.distributed import WorkerTask

#: After a failure, how long a worker gets to exit on SIGTERM before SIGKILL.
TERMINATE_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class PackedTask:
    """A :class:`WorkerTask` serialized where ``train()`` was called, ready to hand on.

    A Spark barrier task passes these bytes to its worker process without loading them,
    so the user's modules need to be importable only where the worker runs, by the same
    ``python_path`` as the caller's.
    """

    payload: bytes
    output_dir: str
    python_path: tuple[str, ...]

    @classmethod
    def pack(cls, task: WorkerTask) -> PackedTask:
        """Serialize ``task`` with cloudpickle (functions from scripts travel by value)."""
        import cloudpickle

        return cls(cloudpickle.dumps(task), task.output_dir, tuple(sys.path))


@dataclass
class WorkerProcess:
    """A running worker process and its log file."""

    rank: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @classmethod
    def start(
        cls, task: PackedTask, rank: int, addresses: list[str], attempt: int
    ) -> WorkerProcess:
        """Start worker ``rank``; its output is appended to ``workers/worker-<rank>.log``."""
        import cloudpickle

        log_path = Path(task.output_dir) / WORKERS_DIR / f"worker-{rank}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
        log.write(f"\n=== attempt {attempt + 1}, worker {rank} at {addresses[rank]} ===\n".encode())
        log.flush()
        env = dict(os.environ)
        # The worker imports the user's modules by the same paths as the caller of train().
        env["PYTHONPATH"] = os.pathsep.join(p for p in task.python_path if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        process = subprocess.Popen(
            [sys.executable, "-m", "tensorbridge.train.worker_process"],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the launcher, which stops the workers
        )
        assert process.stdin is not None
        process.stdin.write(cloudpickle.dumps((task.payload, rank, addresses, attempt)))
        process.stdin.close()
        return cls(rank, process, log)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; close the log."""
        stop_all([self])


def stop_all(workers: list[WorkerProcess]) -> None:
    """Stop every worker still running (SIGTERM, then SIGKILL) and close their logs."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.terminate()
    deadline = time.monotonic() + TERMINATE_GRACE_SECONDS
    for worker in workers:
        try:
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
        worker.log.close()


def _exit_with_parent() -> None:
    """Exit when the parent process dies (the launcher or the Spark task was killed)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="tb-parent-watch", daemon=True).start()


def main() -> int:
    """Read the assignment from stdin and run the worker."""
    import cloudpickle

    from tensorbridge.train.distributed import run_worker

    _exit_with_parent()
    payload, rank, addresses, attempt = cloudpickle.loads(sys.stdin.buffer.read())
    task = cloudpickle.loads(payload)
    try:
        run_worker(task, rank, addresses, attempt)
    except Exception:  # already recorded in the status file; the traceback goes to the log
        import traceback

        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
