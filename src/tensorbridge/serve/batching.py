"""Micro-batching: many small concurrent requests become one ``predict`` call.

A TensorFlow model answers a batch of 64 rows in about the time it takes to answer one,
so the server queues the requests of one model version for a moment and runs them
together. :class:`MicroBatcher` is that queue, on asyncio:

- a background task takes the oldest waiting request, then keeps taking requests until
  the batch holds ``max_batch_size`` rows or ``max_wait_ms`` have passed since that first
  request was submitted. Requests are never split: a request larger than
  ``max_batch_size`` runs alone, and one that would overfill a batch starts the next;
- each input is concatenated (``numpy.concatenate``; strings stay object arrays), and
  ``predict`` runs in an executor thread, never on the event loop. By default the
  executor has one thread per batch allowed to run at once (``max_concurrent_batches``,
  default 1: one batch at a time per model version keeps TensorFlow's intra-op threads
  busy without oversubscribing the cores). While those batches run, new requests
  queue up and form the next batch;
- the outputs are split back by row offsets, and each request gets its rows and a
  :class:`BatchTiming` (time queued, time in ``predict``, rows in the batch);
- backpressure: when the rows waiting would exceed ``max_queue_rows``,
  :meth:`MicroBatcher.submit` raises :class:`~tensorbridge.serve.errors.OverloadedError`
  at once (HTTP 503), with ``retry_after`` estimated from the recent compute time per
  row;
- a request whose caller is cancelled (the client went away) before its batch starts is
  dropped; an exception from ``predict`` goes to every request of that batch, and the
  batcher carries on with the next.

Examples
--------
>>> import asyncio
>>> import numpy as np
>>> def predict(inputs):
...     return {"y": inputs["x"] * 2}
>>> async def main():
...     batcher = MicroBatcher(predict, max_batch_size=8, name="demo")
...     results = await asyncio.gather(
...         *(batcher.submit({"x": np.array([float(i)])}, 1) for i in range(3))
...     )
...     await batcher.close()
...     return [out["y"].tolist() for out, _timing in results]
>>> asyncio.run(main())
[[0.0], [2.0], [4.0]]
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from tensorbridge.serve.errors import OverloadedError

__all__ = ["BatchTiming", "MicroBatcher", "OverloadedError"]

PredictFn = Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]

#: Bounds of the ``retry_after`` a refused request is told to wait (seconds).
MIN_RETRY_AFTER = 0.05
MAX_RETRY_AFTER = 5.0
#: Weight of the newest batch in the running average of compute seconds per row.
_EWMA_WEIGHT = 0.2


@dataclass(frozen=True)
class BatchTiming:
    """Where one request's time went.

    Attributes
    ----------
    queue_seconds : float
        From :meth:`MicroBatcher.submit` to the start of its batch (waiting for the batch
        to fill and for a free executor slot).
    compute_seconds : float
        How long ``predict`` took on the whole batch.
    batch_rows : int
        Rows in the batch this request ran in (its own included).
    """

    queue_seconds: float
    compute_seconds: float
    batch_rows: int


@dataclass(eq=False)
class _Request:
    inputs: Mapping[str, np.ndarray]
    rows: int
    future: asyncio.Future[tuple[dict[str, np.ndarray], BatchTiming]]
    submitted: float = field(default_factory=time.perf_counter)
    queued: bool = True  # still in the queue (not yet taken into a batch)


@dataclass
class _BatchResult:
    outputs: dict[str, np.ndarray]
    started: float
    compute_seconds: float


class MicroBatcher:
    """Queue requests of one model version and run them through ``predict`` in batches.

    Parameters
    ----------
    predict : callable
        ``predict(inputs) -> outputs``: every input a 1-D (or [n, ...]) array of the
        same length n, every output an array whose first dimension is n. Called from
        executor threads, so it must be thread-safe when ``max_concurrent_batches > 1``.
    max_batch_size : int
        Most rows in one batch (a single larger request still runs, alone).
    max_wait_ms : float
        Longest a request waits for others to join its batch, counted from its submit.
    max_queue_rows : int
        Most rows waiting for a batch; a request that would go beyond is refused with
        :class:`~tensorbridge.serve.errors.OverloadedError`. A request that is larger on
        its own is still accepted when nothing else is waiting, so that it can run at all.
    executor : concurrent.futures.Executor, optional
        Where ``predict`` runs. By default the batcher creates (and shuts down on
        :meth:`close`) a thread pool of ``max_concurrent_batches`` threads named after
        ``name``.
    name : str
        Names the threads and appears in error messages, e.g. ``"taxi/2"``.
    max_concurrent_batches : int
        Batches allowed to run in ``predict`` at the same time (default 1).
    inline_below_ms : float
        When a request is submitted ``alone``, the model is idle, nothing waits and
        ``max_wait_ms`` is 0, a request whose model call is estimated (from recent
        batches) to take less than this runs on the event loop itself, saving two thread
        hops; 0 always uses the executor.

    Notes
    -----
    The batcher binds to the event loop of its first :meth:`submit`; use it from that
    loop only. Call :meth:`close` before the loop ends to finish the queued work.
    """

    def __init__(
        self,
        predict: PredictFn,
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 0.0,
        max_queue_rows: int = 4096,
        executor: concurrent.futures.Executor | None = None,
        name: str = "",
        max_concurrent_batches: int = 1,
        inline_below_ms: float = 2.0,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1; got {max_batch_size}.")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0; got {max_wait_ms}.")
        if max_queue_rows < 1:
            raise ValueError(f"max_queue_rows must be >= 1; got {max_queue_rows}.")
        if max_concurrent_batches < 1:
            raise ValueError(f"max_concurrent_batches must be >= 1; got {max_concurrent_batches}.")
        self.predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait_ms = max_wait_ms
        self.max_queue_rows = max_queue_rows
        self.max_concurrent_batches = max_concurrent_batches
        self.inline_below_ms = inline_below_ms
        self.name = name
        self._owns_executor = executor is None
        self._executor: concurrent.futures.Executor = executor or (
            concurrent.futures.ThreadPoolExecutor(
                max_workers=max_concurrent_batches,
                thread_name_prefix=f"batcher-{name}" if name else "batcher",
            )
        )
        self._pending: collections.deque[_Request] = collections.deque()
        self._queued_rows = 0
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(max_concurrent_batches)
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._seconds_per_row: float | None = None
        self._computing = 0  # batches handed to the executor and not back yet

    # ------------------------------------------------------------------ public API

    @property
    def queued_rows(self) -> int:
        """Rows submitted and not yet taken into a batch."""
        return self._queued_rows

    def retry_after(self, rows: int = 0) -> float:
        """Seconds a refused client should wait: the queue's drain time, estimated.

        Parameters
        ----------
        rows : int
            Rows of the refused request, added to those waiting.

        Returns
        -------
        float
            Waiting rows times the recent compute seconds per row (divided over the
            concurrent batches), between 0.05 and 5 seconds; 1 second before any batch
            has finished.
        """
        if self._seconds_per_row is None:
            return 1.0
        estimate = (self._queued_rows + rows) * self._seconds_per_row / self.max_concurrent_batches
        return float(min(MAX_RETRY_AFTER, max(MIN_RETRY_AFTER, estimate)))

    async def submit(
        self, inputs: Mapping[str, np.ndarray], rows: int, *, alone: bool = False
    ) -> tuple[dict[str, np.ndarray], BatchTiming]:
        """Run ``inputs`` (``rows`` rows) in the next batch and return its outputs.

        Parameters
        ----------
        inputs : mapping of str to numpy.ndarray
            Every input of the model, first dimension ``rows``.
        rows : int
            Number of rows (>= 1).
        alone : bool
            The caller knows no other request is on its way (the server counts the
            requests it is handling): then a quick model call may run on the event loop
            (see ``inline_below_ms``). Otherwise the request waits in the queue, so that
            concurrent requests form batches.

        Returns
        -------
        outputs : dict of str to numpy.ndarray
            This request's rows of every output.
        timing : BatchTiming

        Raises
        ------
        OverloadedError
            The queue holds too many rows (or the batcher is closed); nothing was queued.
        Exception
            Whatever ``predict`` raised on this request's batch.
        """
        if rows < 1:
            raise ValueError(f"A request needs at least one row; got rows={rows}.")
        if self._closing:
            raise OverloadedError(
                f"{self._label()}this model version is shutting down; retry shortly.",
                retry_after=MIN_RETRY_AFTER,
            )
        if self._queued_rows > 0 and self._queued_rows + rows > self.max_queue_rows:
            raise OverloadedError(
                f"{self._label()}queue full: {self._queued_rows} rows waiting, at most "
                f"{self.max_queue_rows}; retry later.",
                retry_after=self.retry_after(rows),
            )
        self._ensure_started()
        assert self._loop is not None
        if alone and self._can_run_inline(rows):
            return self._run_inline(inputs, rows)
        request = _Request(inputs=inputs, rows=rows, future=self._loop.create_future())
        self._pending.append(request)
        self._queued_rows += rows
        self._wakeup.set()
        try:
            return await request.future
        except asyncio.CancelledError:
            # The caller went away: take the request out while it is still waiting.
            if request.queued:
                self._dequeue(request)
                with contextlib.suppress(ValueError):
                    self._pending.remove(request)
            request.future.cancel()
            raise

    async def close(self) -> None:
        """Finish every queued request, then stop the background task and executor."""
        if self._closed:
            return
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        self._closed = True
        if self._owns_executor:
            self._executor.shutdown(wait=False)

    # ------------------------------------------------------------------ internals

    def _can_run_inline(self, rows: int) -> bool:
        """Whether to answer on the event loop: idle, no wait asked, and known to be quick.

        A lone request on an idle model gains nothing from a batch, and the two thread
        hops cost a fixed ~0.3-0.6 ms; a model call measured to take less than
        ``inline_below_ms`` for these rows blocks the loop (and health checks) for no
        longer than that. Under load (a batch running or requests waiting) every call
        goes to the executor and batches form.
        """
        return (
            self.inline_below_ms > 0
            and self.max_wait_ms == 0
            and self._seconds_per_row is not None
            and not self._pending
            and self._computing == 0
            and self._seconds_per_row * rows * 1000.0 < self.inline_below_ms
        )

    def _run_inline(
        self, inputs: Mapping[str, np.ndarray], rows: int
    ) -> tuple[dict[str, np.ndarray], BatchTiming]:
        result = self._predict_batch([inputs])
        (outputs,) = _split(result.outputs, [rows], self._label())
        self._record(result.compute_seconds / rows)
        return outputs, BatchTiming(0.0, result.compute_seconds, rows)

    def _record(self, per_row: float) -> None:
        """Update the running estimate of compute seconds per row."""
        self._seconds_per_row = (
            per_row
            if self._seconds_per_row is None
            else (1 - _EWMA_WEIGHT) * self._seconds_per_row + _EWMA_WEIGHT * per_row
        )

    def _label(self) -> str:
        return f"{self.name}: " if self.name else ""

    def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._task = loop.create_task(self._collector(), name=f"batcher-{self.name}")
        elif self._loop is not loop:
            raise RuntimeError(
                f"{self._label()}MicroBatcher is bound to another event loop; create one "
                "batcher per loop."
            )

    def _dequeue(self, request: _Request) -> None:
        request.queued = False
        self._queued_rows -= request.rows

    def _pop_live(self) -> _Request | None:
        """The oldest waiting request whose caller is still there (None: queue empty)."""
        while self._pending:
            request = self._pending[0]
            if request.future.done():  # cancelled before it was taken out
                self._pending.popleft()
                if request.queued:
                    self._dequeue(request)
                continue
            return request
        return None

    async def _collector(self) -> None:
        try:
            await self._collect_forever()
        except BaseException as error:
            # A bug here must not leave callers waiting forever: fail what is queued.
            failure = (
                error
                if isinstance(error, Exception)
                else OverloadedError(f"{self._label()}the batcher stopped.", retry_after=1.0)
            )
            while self._pending:
                request = self._pending.popleft()
                if request.queued:
                    self._dequeue(request)
                if not request.future.done():
                    request.future.set_exception(failure)
            self._closing = True
            raise

    async def _collect_forever(self) -> None:
        while True:
            await self._slots.acquire()
            batch = await self._collect()
            if batch is None:
                self._slots.release()
                return
            batch = [r for r in batch if not r.future.done()]  # drop cancelled callers
            if not batch:
                self._slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _collect(self) -> list[_Request] | None:
        """Wait for a first request, then gather more until full or its wait is over."""
        while True:
            self._wakeup.clear()
            first = self._pop_live()
            if first is not None:
                break
            if self._closing:
                return None
            await self._wakeup.wait()
        self._pending.popleft()
        self._dequeue(first)
        batch, rows = [first], first.rows
        deadline = first.submitted + self.max_wait_ms / 1000.0
        while rows < self.max_batch_size:
            self._wakeup.clear()
            candidate = self._pop_live()
            if candidate is not None:
                if rows + candidate.rows > self.max_batch_size:
                    break  # never split a request: it starts the next batch
                self._pending.popleft()
                self._dequeue(candidate)
                batch.append(candidate)
                rows += candidate.rows
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or self._closing:
                break
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                break
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        try:
            loop = asyncio.get_running_loop()
            inputs = [r.inputs for r in batch]
            self._computing += 1
            try:
                try:
                    result = await loop.run_in_executor(self._executor, self._predict_batch, inputs)
                finally:
                    self._computing -= 1
                splits = _split(result.outputs, [r.rows for r in batch], self._label())
            except Exception as error:  # every request of the batch gets it
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(error)
                return
            total = sum(r.rows for r in batch)
            self._record(result.compute_seconds / total)
            for request, outputs in zip(batch, splits, strict=True):
                if not request.future.done():
                    timing = BatchTiming(
                        queue_seconds=max(0.0, result.started - request.submitted),
                        compute_seconds=result.compute_seconds,
                        batch_rows=total,
                    )
                    request.future.set_result((outputs, timing))
        finally:
            self._slots.release()

    def _predict_batch(self, requests: list[Mapping[str, np.ndarray]]) -> _BatchResult:
        """In an executor thread: concatenate, predict, time it."""
        started = time.perf_counter()
        if len(requests) == 1:
            inputs: Mapping[str, np.ndarray] = requests[0]
        else:
            names = list(requests[0])
            for other in requests[1:]:
                if set(other) != set(names):
                    raise ValueError(
                        f"{self._label()}requests of one batch must have the same inputs; "
                        f"got {sorted(names)} and {sorted(other)}."
                    )
            inputs = {name: np.concatenate([r[name] for r in requests]) for name in names}
        compute_start = time.perf_counter()
        outputs = self.predict(inputs)
        compute = time.perf_counter() - compute_start
        return _BatchResult(outputs=dict(outputs), started=started, compute_seconds=compute)


def _split(
    outputs: Mapping[str, np.ndarray], sizes: list[int], label: str
) -> list[dict[str, np.ndarray]]:
    """Each request's rows of every output (views into the batch's arrays)."""
    total = sum(sizes)
    for name, array in outputs.items():
        if np.ndim(array) == 0 or len(array) != total:
            raise ValueError(
                f"{label}predict returned {name!r} with shape {np.shape(array)}; expected "
                f"its first dimension to be the batch's {total} rows."
            )
    offsets = np.cumsum([0, *sizes])
    return [
        {name: array[offsets[i] : offsets[i + 1]] for name, array in outputs.items()}
        for i in range(len(sizes))
    ]
