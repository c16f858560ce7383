"""The ``local`` engine: pyarrow in this process, a thread pool over fragments.

pyarrow's readers and compute kernels release the GIL, so threads give real
parallelism without copying data between processes. Fragments are read by up to
``num_workers`` threads at once; each worker hands batches to the consumer through a
bounded queue, so memory stays bounded and the output keeps source order.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from tensorbridge.engine.base import Accumulator, Engine
from tensorbridge.errors import ConfigError
from tensorbridge.io.bad_rows import BadRowReport
from tensorbridge.io.parquet import (
    ParquetWriteResult,
    write_empty_shard,
    write_fragment_shards,
    write_manifest,
)
from tensorbridge.io.paths import atomic_directory

if TYPE_CHECKING:
    from tensorbridge.io.dataset import Dataset

R = TypeVar("R")
T = TypeVar("T")
_DONE = object()


def fragment_batches(
    dataset: Dataset, index: int, report: BadRowReport
) -> Iterator[pa.RecordBatch]:
    """Read fragment ``index`` of the dataset's source and apply its transforms."""
    for batch in dataset.source.read_fragment(index, report):
        out = dataset.apply_transforms(batch)
        if out.num_rows:
            yield out


def aggregate_fragment(
    dataset: Dataset, index: int, accumulator: Accumulator[Any, Any], report: BadRowReport
) -> Any:
    """One fragment's accumulator: its batches added in order to a fresh one."""
    acc = accumulator.create()
    for batch in fragment_batches(dataset, index, report):
        acc = accumulator.add_batch(acc, batch)
    return acc


class LocalEngine(Engine):
    """Runs work in this process with a pool of ``num_workers`` threads.

    Parameters
    ----------
    num_workers : int, optional
        Threads reading fragments at once; default: the number of CPUs.
    queue_batches : int, default 4
        Batches each worker may read ahead of the consumer.
    """

    name = "local"

    def __init__(self, *, num_workers: int | None = None, queue_batches: int = 4) -> None:
        workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
        if workers < 1:
            raise ConfigError(f"num_workers must be >= 1, got {workers}.")
        self.num_workers = workers
        self.queue_batches = queue_batches

    def __repr__(self) -> str:
        return f"LocalEngine(num_workers={self.num_workers})"

    def _map_fragments(self, dataset: Dataset, work: Callable[[int], T]) -> list[T]:
        count = dataset.source.num_fragments
        if count == 1 or self.num_workers == 1:
            return [work(i) for i in range(count)]
        with ThreadPoolExecutor(min(self.num_workers, count), "tensorbridge") as pool:
            return list(pool.map(work, range(count)))

    def iter_batches(self, dataset: Dataset) -> Iterator[pa.RecordBatch]:
        """Stream batches in fragment order, reading up to ``num_workers`` fragments at once."""
        count = dataset.source.num_fragments
        report = dataset.source.bad_rows
        if count == 1 or self.num_workers == 1:
            for index in range(count):
                yield from fragment_batches(dataset, index, report)
            return
        yield from _ordered_parallel(
            [functools.partial(fragment_batches, dataset, i, report) for i in range(count)],
            self.num_workers,
            self.queue_batches,
        )

    def aggregate(self, dataset: Dataset, accumulator: Accumulator[Any, R]) -> R:
        """Per-fragment accumulators (in parallel), merged in fragment order."""
        report = dataset.source.bad_rows
        partials = self._map_fragments(
            dataset, lambda i: aggregate_fragment(dataset, i, accumulator, report)
        )
        return accumulator.extract(accumulator.merge(partials))

    def write_parquet(
        self,
        dataset: Dataset,
        path: str,
        *,
        rows_per_file: int,
        row_group_size: int,
        overwrite: bool,
    ) -> ParquetWriteResult:
        """Each fragment writes its own shards into a temporary directory, then rename."""
        report = dataset.source.bad_rows
        schema = dataset.schema
        with atomic_directory(path, overwrite=overwrite) as tmp:
            per_fragment = self._map_fragments(
                dataset,
                lambda i: write_fragment_shards(
                    fragment_batches(dataset, i, report),
                    tmp,
                    fragment=i,
                    schema=schema,
                    rows_per_file=rows_per_file,
                    row_group_size=row_group_size,
                ),
            )
            shards = [s for group in per_fragment for s in group]
            if not shards:
                shards = [write_empty_shard(tmp, schema)]
            write_manifest(tmp, schema, shards)
        return ParquetWriteResult(path, sum(s.num_rows for s in shards), shards, report)


def _ordered_parallel(
    producers: list[Callable[[], Iterator[T]]], workers: int, queue_size: int
) -> Iterator[T]:
    """Run producers in a pool; yield their items in producer order (bounded queues).

    Every hand-over waits with a timeout and checks ``stop``, so when the consumer stops
    early (``head``, a ``break``, an error) each worker finishes its current item and
    exits: nothing blocks on a full queue that nobody reads.
    """
    queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=queue_size) for _ in producers]
    stop = threading.Event()

    def hand_over(out: queue.Queue[Any], item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run(index: int) -> None:
        if stop.is_set():
            return
        out = queues[index]
        items = producers[index]()
        try:
            for item in items:
                if not hand_over(out, item):
                    return
            hand_over(out, _DONE)
        except BaseException as err:  # handed to the consumer, re-raised there
            hand_over(out, err)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    pool = ThreadPoolExecutor(workers, "tensorbridge")
    try:
        for index in range(len(producers)):
            pool.submit(run, index)
        for out in queues:
            while True:
                item = out.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
