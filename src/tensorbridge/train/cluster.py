"""The workers of a distributed training run: addresses, TF_CONFIG, and status files.

Every worker of a run, whether a local process or a Spark barrier task, keeps a small
JSON status file in ``<output_dir>/workers/worker-<rank>.json`` (written atomically): its
address, process id, the phase it is in (``starting``, ``connecting``, ``building``,
``training`` or ``finished``), the last epoch it finished and, if it failed, the error
(the phase then says where it failed). The launchers read these files to name the worker
and the cause when a run fails, and to tell a failure during training (worth a restart
from the checkpoint) from one before it (a restart would fail the same way).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tensorbridge.errors import TensorbridgeError

WORKERS_DIR = "workers"
PHASES = ("starting", "connecting", "building", "training", "finished")
#: Errors a worker sees when a peer died: effects, not causes.
_PEER_LOST = ("Collective ops is aborted", "Socket closed", "UnavailableError", "peer")


class TrainingError(TensorbridgeError, RuntimeError):
    """A distributed training run failed; the message names the worker and the cause."""


def tf_config(addresses: list[str], rank: int) -> dict[str, Any]:
    """The ``TF_CONFIG`` of worker ``rank`` in a cluster of ``addresses`` (worker 0 is chief).

    Examples
    --------
    >>> tf_config(["10.0.0.1:2222", "10.0.0.2:2222"], 1)["task"]
    {'type': 'worker', 'index': 1}
    """
    return {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": rank}}


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports free on ``host`` right now (all held open while choosing)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class WorkerStatus:
    """What one worker last reported about itself."""

    rank: int
    address: str = ""
    attempt: int = 0
    phase: str = "starting"
    pid: int | None = None
    host: str = ""
    epoch: int = 0
    error: str | None = None
    updated: float = field(default_factory=time.time)

    @property
    def peer_lost(self) -> bool:
        """Whether its error only says that another worker went away."""
        return self.error is not None and any(s in self.error for s in _PEER_LOST)

    def describe(self) -> str:
        """``worker 1 (host:port, pid 123)``."""
        where = ", ".join(x for x in (self.address, f"pid {self.pid}" if self.pid else "") if x)
        return f"worker {self.rank}" + (f" ({where})" if where else "")


def status_path(output_dir: str | os.PathLike[str], rank: int) -> Path:
    """Where worker ``rank`` keeps its status file."""
    return Path(output_dir) / WORKERS_DIR / f"worker-{rank}.json"


def write_status(output_dir: str | os.PathLike[str], status: WorkerStatus) -> None:
    """Replace the status file of ``status.rank`` atomically."""
    path = status_path(output_dir, status.rank)
    path.parent.mkdir(parents=True, exist_ok=True)
    status.updated = time.time()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(status)))
    os.replace(tmp, path)


def read_status(output_dir: str | os.PathLike[str], rank: int) -> WorkerStatus:
    """The last status of worker ``rank`` (phase ``starting`` when it has written none)."""
    try:
        return WorkerStatus(**json.loads(status_path(output_dir, rank).read_text()))
    except (OSError, ValueError, TypeError):
        return WorkerStatus(rank=rank)


def clear_statuses(output_dir: str | os.PathLike[str], num_workers: int) -> None:
    """Forget the statuses of a previous attempt."""
    for rank in range(num_workers):
        status_path(output_dir, rank).unlink(missing_ok=True)


def exit_description(returncode: int | None) -> str:
    """``killed by SIGKILL`` or ``exited with code 3``."""
    if returncode is None:
        return "is still running"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class Failure:
    """Why an attempt of a run failed."""

    culprit: WorkerStatus
    cause: str
    during_training: bool

    def message(self, output_dir: str | os.PathLike[str], attempt: int) -> str:
        """The error a user reads: which worker, in which phase, what happened, where to look."""
        where = {
            "starting": "while starting",
            "connecting": "while connecting to the other workers",
            "building": "while building the model",
            "training": f"during epoch {self.culprit.epoch + 1}",
            "finished": "after training",
        }.get(self.culprit.phase, "")
        logs = Path(output_dir) / WORKERS_DIR
        return (
            f"Distributed training failed (attempt {attempt + 1}): {self.culprit.describe()} "
            f"{self.cause}{' ' + where if where else ''}. Worker logs and statuses are in "
            f"{logs}."
        )


def find_failure(
    statuses: list[WorkerStatus], exits: dict[int, str] | None = None, fallback: str = ""
) -> Failure:
    """Pick the worker that caused a failed attempt, and say why.

    A worker that reported an error of its own comes first; a worker whose error only
    says that a peer went away comes last, as it is an effect of the real failure.
    ``exits`` maps ranks to how their processes ended, in the order they were seen.
    """
    exits = exits or {}
    own = [s for s in statuses if s.error is not None and not s.peer_lost]
    silent = [s for s in statuses if s.rank in exits and s.error is None and s.phase != "finished"]
    died = [s for s in statuses if s.phase != "finished" and s.error is None]
    lost = [s for s in statuses if s.peer_lost]
    if own:
        culprit = own[0]
        cause = f"failed: {culprit.error}"
    elif silent:
        culprit = silent[0]
        cause = f"{exits[culprit.rank]} without reporting an error"
    elif died:
        culprit = died[0]
        cause = f"died without reporting an error{': ' + fallback if fallback else ''}"
    elif lost:
        culprit = lost[0]
        cause = f"lost its peers: {culprit.error}"
    else:
        culprit = statuses[0] if statuses else WorkerStatus(rank=0)
        cause = f"failed: {fallback or 'no worker reported an error'}"
    return Failure(culprit, cause, during_training=culprit.phase == "training")
