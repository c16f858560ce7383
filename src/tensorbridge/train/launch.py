"""What both launchers share: attempts with restarts from the checkpoint, start-up timeout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console

from tensorbridge.train.cluster import Failure, TrainingError, clear_statuses, read_status
from tensorbridge.train.distributed import WorkerTask, load_checkpoint
from tensorbridge.train.progress import EpochPrinter

#: Runs one attempt (its number given); returns None when training finished.
RunAttempt = Callable[[int, EpochPrinter], Failure | None]


@dataclass
class RunOutcome:
    """What the launcher observed over a whole run."""

    attempts: int
    restarts: int
    resumed_from_epoch: int


def run_with_restarts(
    task: WorkerTask,
    run_attempt: RunAttempt,
    *,
    where: str,
    max_restarts: int,
    console: Console,
) -> RunOutcome:
    """Run attempts until one finishes; restart from the checkpoint after a failure in training.

    A failure before training (a port that cannot be bound, ``build_model`` raising, a
    crash while connecting) ends the run at once: a restart would fail the same way.

    Raises
    ------
    TrainingError
        Naming the worker and the cause.
    """
    printer = EpochPrinter(task.output_dir, task.epochs, console)
    first_resume: int | None = None
    attempt = 0
    while True:
        checkpoint = load_checkpoint(task.output_dir)
        resume = checkpoint.epoch if checkpoint is not None else 0
        first_resume = resume if first_resume is None else first_resume
        clear_statuses(task.output_dir, task.num_workers)
        console.print(
            f"Starting {task.num_workers} workers {where}"
            + (f", resuming after epoch {resume}" if resume else "")
            + f" (attempt {attempt + 1})"
        )
        printer.skip_to(resume)
        failure = run_attempt(attempt, printer)
        if failure is None:
            printer.poll()
            return RunOutcome(attempt + 1, attempt, first_resume)
        message = failure.message(task.output_dir, attempt)
        if not failure.during_training:
            raise TrainingError(message)
        if attempt >= max_restarts:
            raise TrainingError(
                f"{message} Gave up after {attempt} restart(s) (max_restarts={max_restarts})."
            )
        attempt += 1
        console.print(f"[yellow]{message}[/yellow] Restarting from the last checkpoint.")


def startup_failure(task: WorkerTask, startup_timeout: float, what: str) -> Failure | None:
    """The failure to report when, past the start-up timeout, workers are not training yet.

    Returns None when every worker is training (or finished).
    """
    statuses = [read_status(task.output_dir, rank) for rank in range(task.num_workers)]
    waiting = [s for s in statuses if s.phase not in ("training", "finished")]
    if not waiting:
        return None
    return Failure(
        waiting[0],
        f"has not started training {startup_timeout:.0f} s after {what} (still "
        + ", ".join(f"worker {s.rank} {s.phase}" for s in waiting)
        + "); check that the workers can reach each other, or raise startup_timeout",
        during_training=False,
    )
