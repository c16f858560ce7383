"""MicroBatcher: batching, splitting, backpressure, errors, cancellation, a free event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping

import numpy as np
import pytest

from tensorbridge.serve.batching import BatchTiming, MicroBatcher
from tensorbridge.serve.errors import OverloadedError


class Model:
    """A real numpy model that records the batches it is given."""

    def __init__(self, *, sleep: float = 0.0, gate: threading.Event | None = None) -> None:
        self.batches: list[dict[str, np.ndarray]] = []
        self.sleep = sleep
        self.gate = gate
        self.threads: set[str] = set()

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.threads.add(threading.current_thread().name)
        self.batches.append({k: np.array(v, copy=True) for k, v in inputs.items()})
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.sleep:
            time.sleep(self.sleep)
        x = inputs["x"]
        if np.any(x < 0):
            raise ValueError("negative input")
        words = np.array([f"{w}!" for w in inputs["word"]], dtype=object)
        return {"y": (x * 2.0 + 1.0).astype(np.float32)[:, None], "echo": words}

    @property
    def sizes(self) -> list[int]:
        return [len(b["x"]) for b in self.batches]


def request(start: int, rows: int) -> dict[str, np.ndarray]:
    x = np.arange(start, start + rows, dtype=np.float64)
    return {"x": x, "word": np.array([f"w{int(v)}" for v in x], dtype=object)}


def check(result: tuple[dict[str, np.ndarray], BatchTiming], start: int, rows: int) -> None:
    outputs, timing = result
    x = np.arange(start, start + rows, dtype=np.float64)
    np.testing.assert_array_equal(outputs["y"], (x * 2 + 1).astype(np.float32)[:, None])
    assert outputs["echo"].tolist() == [f"w{int(v)}!" for v in x]
    assert outputs["echo"].dtype == object
    assert timing.batch_rows >= rows
    assert timing.queue_seconds >= 0 and timing.compute_seconds >= 0


def test_concurrent_requests_get_their_own_rows() -> None:
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 12, size=50).tolist()
    starts = np.cumsum([0, *sizes])[:-1].tolist()
    model = Model(sleep=0.002)

    async def main() -> list[tuple[dict[str, np.ndarray], BatchTiming]]:
        batcher = MicroBatcher(model, max_batch_size=16, max_wait_ms=5, name="taxi/1")
        results = await asyncio.gather(
            *(batcher.submit(request(s, n), n) for s, n in zip(starts, sizes, strict=True))
        )
        await batcher.close()
        return results

    results = asyncio.run(main())
    for result, start, rows in zip(results, starts, sizes, strict=True):
        check(result, start, rows)
    assert max(model.sizes) <= 16
    assert sum(model.sizes) == sum(sizes)
    assert len(model.batches) < 50  # requests were batched together
    # Batches keep submission order: concatenated, they are the requests in order.
    seen = np.concatenate([b["x"] for b in model.batches])
    np.testing.assert_array_equal(seen, np.arange(sum(sizes), dtype=np.float64))
    assert all(name.startswith("batcher-taxi/1") for name in model.threads)
    # Each request's timing reports the rows of the batch it ran in.
    assert {r[1].batch_rows for r in results} <= set(model.sizes)


def test_oversize_request_runs_alone_and_is_not_split() -> None:
    model = Model()

    async def main() -> list[tuple[dict[str, np.ndarray], BatchTiming]]:
        batcher = MicroBatcher(model, max_batch_size=4, max_wait_ms=20)
        results = await asyncio.gather(
            batcher.submit(request(0, 2), 2),
            batcher.submit(request(2, 10), 10),
            batcher.submit(request(12, 1), 1),
            batcher.submit(request(13, 3), 3),
        )
        await batcher.close()
        return results

    results = asyncio.run(main())
    for result, (start, rows) in zip(results, [(0, 2), (2, 10), (12, 1), (13, 3)], strict=True):
        check(result, start, rows)
    assert model.sizes == [2, 10, 4]
    assert results[1][1].batch_rows == 10
    assert results[2][1].batch_rows == results[3][1].batch_rows == 4


def test_lone_request_waits_about_max_wait_ms() -> None:
    async def main(max_wait_ms: float) -> tuple[float, BatchTiming]:
        batcher = MicroBatcher(Model(), max_batch_size=64, max_wait_ms=max_wait_ms)
        start = time.perf_counter()
        _, timing = await batcher.submit(request(0, 1), 1)
        elapsed = time.perf_counter() - start
        await batcher.close()
        return elapsed, timing

    elapsed, timing = asyncio.run(main(30))
    assert 0.025 <= timing.queue_seconds <= 0.1
    assert elapsed <= 0.15
    elapsed, timing = asyncio.run(main(0))
    assert timing.queue_seconds < 0.02


def test_full_batch_starts_without_waiting() -> None:
    async def main() -> float:
        batcher = MicroBatcher(Model(), max_batch_size=4, max_wait_ms=2000)
        start = time.perf_counter()
        await asyncio.gather(*(batcher.submit(request(i, 1), 1) for i in range(4)))
        elapsed = time.perf_counter() - start
        await batcher.close()
        return elapsed

    assert asyncio.run(main()) < 0.5


def test_overload_is_refused_at_once_with_retry_after() -> None:
    gate = threading.Event()
    model = Model(gate=gate)

    async def main() -> None:
        batcher = MicroBatcher(
            model, max_batch_size=4, max_wait_ms=0, max_queue_rows=10, inline_below_ms=0
        )
        # A finished batch gives the batcher its compute time per row.
        gate.set()
        await batcher.submit(request(0, 4), 4)
        gate.clear()
        running = asyncio.create_task(batcher.submit(request(100, 4), 4))
        while len(model.batches) < 2:  # the second batch is in predict, blocked
            await asyncio.sleep(0.001)
        queued = [asyncio.create_task(batcher.submit(request(200 + 5 * i, 5), 5)) for i in (0, 1)]
        await asyncio.sleep(0.01)
        assert batcher.queued_rows == 10
        start = time.perf_counter()
        with pytest.raises(OverloadedError) as info:
            await batcher.submit(request(300, 1), 1)
        assert time.perf_counter() - start < 0.05
        assert info.value.status == 503
        assert 0.05 <= info.value.retry_after <= 5.0
        assert batcher.queued_rows == 10  # the refused request was not queued
        gate.set()
        check(await running, 100, 4)
        for i, task in enumerate(queued):
            check(await task, 200 + 5 * i, 5)
        await batcher.close()

    asyncio.run(main())
    assert model.sizes == [4, 4, 5, 5]


def test_predict_error_reaches_every_request_of_its_batch_only() -> None:
    model = Model()

    async def main() -> None:
        batcher = MicroBatcher(model, max_batch_size=16, max_wait_ms=20)
        bad = request(0, 3)
        bad["x"][1] = -1.0
        results = await asyncio.gather(
            batcher.submit(request(10, 2), 2),
            batcher.submit(bad, 3),
            batcher.submit(request(20, 1), 1),
            return_exceptions=True,
        )
        assert all(isinstance(r, ValueError) for r in results)
        assert len(model.batches) == 1
        # The batcher carries on.
        check(await batcher.submit(request(30, 2), 2), 30, 2)
        await batcher.close()

    asyncio.run(main())


def test_cancelled_request_is_dropped_before_its_batch_starts() -> None:
    gate = threading.Event()
    model = Model(gate=gate)

    async def main() -> None:
        batcher = MicroBatcher(model, max_batch_size=16, max_wait_ms=0, inline_below_ms=0)
        first = asyncio.create_task(batcher.submit(request(0, 2), 2))
        while not model.batches:
            await asyncio.sleep(0.001)
        gone = asyncio.create_task(batcher.submit(request(50, 3), 3))
        kept = asyncio.create_task(batcher.submit(request(60, 2), 2))
        await asyncio.sleep(0.01)
        assert batcher.queued_rows == 5
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert batcher.queued_rows == 2
        gate.set()
        check(await first, 0, 2)
        check(await kept, 60, 2)
        await batcher.close()

    asyncio.run(main())
    assert model.sizes == [2, 2]
    assert model.batches[1]["x"].tolist() == [60.0, 61.0]


def test_event_loop_is_not_blocked_by_predict() -> None:
    model = Model(sleep=0.5)

    async def main() -> float:
        batcher = MicroBatcher(model, max_wait_ms=0, inline_below_ms=0)
        slow = asyncio.create_task(batcher.submit(request(0, 2), 2))
        while not model.batches:
            await asyncio.sleep(0.001)
        worst = 0.0
        for _ in range(10):  # another coroutine is answered promptly meanwhile
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - start - 0.01)
        assert not slow.done()
        _, timing = await slow
        assert timing.compute_seconds >= 0.5
        await batcher.close()
        return worst

    assert asyncio.run(main()) < 0.05


def test_concurrent_batches_run_in_parallel() -> None:
    model = Model(sleep=0.2)

    async def main() -> float:
        batcher = MicroBatcher(
            model, max_batch_size=2, max_wait_ms=0, max_concurrent_batches=3, inline_below_ms=0
        )
        start = time.perf_counter()
        results = await asyncio.gather(*(batcher.submit(request(2 * i, 2), 2) for i in range(3)))
        elapsed = time.perf_counter() - start
        for i, result in enumerate(results):
            check(result, 2 * i, 2)
        await batcher.close()
        return elapsed

    assert asyncio.run(main()) < 0.45
    assert model.sizes == [2, 2, 2]


def test_close_finishes_queued_work_then_refuses() -> None:
    model = Model(sleep=0.01)

    async def main() -> None:
        batcher = MicroBatcher(model, max_batch_size=3, max_wait_ms=50)
        tasks = [asyncio.create_task(batcher.submit(request(i, 1), 1)) for i in range(7)]
        await asyncio.sleep(0)
        await batcher.close()
        for i, task in enumerate(tasks):
            assert task.done()
            check(task.result(), i, 1)
        with pytest.raises(OverloadedError):
            await batcher.submit(request(0, 1), 1)

    asyncio.run(main())
    assert model.sizes == [3, 3, 1]


def test_output_with_wrong_rows_is_an_error_for_the_batch() -> None:
    async def main() -> None:
        batcher = MicroBatcher(lambda inputs: {"y": np.zeros(1)}, max_wait_ms=10)
        results = await asyncio.gather(
            batcher.submit(request(0, 2), 2),
            batcher.submit(request(2, 2), 2),
            return_exceptions=True,
        )
        assert all(isinstance(r, ValueError) and "first dimension" in str(r) for r in results)
        await batcher.close()

    asyncio.run(main())


def test_invalid_settings_and_rows() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(Model(), max_batch_size=0)
    with pytest.raises(ValueError):
        MicroBatcher(Model(), max_concurrent_batches=0)

    async def main() -> None:
        batcher = MicroBatcher(Model())
        with pytest.raises(ValueError):
            await batcher.submit(request(0, 1), 0)
        await batcher.close()

    asyncio.run(main())


def test_a_lone_quick_request_runs_inline_and_load_goes_to_the_executor() -> None:
    model = Model()

    async def main() -> None:
        batcher = MicroBatcher(model, max_batch_size=64, name="quick")
        check(await batcher.submit(request(0, 4), 4), 0, 4)  # first: no estimate yet
        assert model.threads == {"batcher-quick_0"}
        check(await batcher.submit(request(4, 4), 4), 4, 4)  # not alone: the executor
        assert model.threads == {"batcher-quick_0"}
        check(await batcher.submit(request(4, 4), 4, alone=True), 4, 4)  # alone, quick: inline
        assert threading.current_thread().name in model.threads
        model.threads.clear()
        model.gate = threading.Event()  # hold the first batch so that the others queue
        pending = [asyncio.ensure_future(batcher.submit(request(8 * i, 8), 8)) for i in range(8)]
        await asyncio.sleep(0.05)
        model.gate.set()
        results = await asyncio.gather(*pending)
        for i, result in enumerate(results):
            check(result, 8 * i, 8)
        assert any(name.startswith("batcher-quick") for name in model.threads)  # under load
        assert max(model.sizes) > 8  # and the queued requests formed batches
        await batcher.close()

    asyncio.run(main())


def test_a_slow_model_never_runs_on_the_loop() -> None:
    model = Model(sleep=0.01)  # 10 ms per call: over the 2 ms inline budget

    async def main() -> None:
        batcher = MicroBatcher(model, max_batch_size=64, name="slow")
        for i in range(3):
            check(await batcher.submit(request(i, 1), 1, alone=True), i, 1)
        assert model.threads == {"batcher-slow_0"}
        await batcher.close()

    asyncio.run(main())
