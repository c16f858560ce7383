"""The ``Engine`` contract: where per-batch work and mergeable accumulators run.

Work is written once, as functions over Arrow record batches and as accumulators
(create / add a batch / merge / extract, like Beam's ``CombineFn``); the engine only
decides where it runs. Both engines read each source fragment in order, add its batches
to a fresh accumulator, and merge the fragment accumulators in fragment order, so they
give identical results for the same fragments.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pyarrow as pa

if TYPE_CHECKING:
    from tensorbridge.io.dataset import Dataset
    from tensorbridge.io.parquet import ParquetWriteResult

A = TypeVar("A")
R = TypeVar("R")


class Accumulator(ABC, Generic[A, R]):
    """A mergeable aggregation over record batches.

    Subclasses implement four steps. ``add_batch`` may update the accumulator in place
    and return it. Accumulator values travel between Spark executors and the driver,
    so they must be picklable (they are our own state, never user data rows).

    Examples
    --------
    >>> import pyarrow as pa
    >>> class RowCount(Accumulator[int, int]):
    ...     def create(self): return 0
    ...     def add_batch(self, acc, batch): return acc + batch.num_rows
    ...     def merge(self, accs): return sum(accs)
    ...     def extract(self, acc): return acc
    >>> RowCount().run([pa.record_batch({"x": [1, 2, 3]})])
    3
    """

    @abstractmethod
    def create(self) -> A:
        """A new, empty accumulator."""

    @abstractmethod
    def add_batch(self, acc: A, batch: pa.RecordBatch) -> A:
        """Fold one batch into ``acc`` and return the result."""

    @abstractmethod
    def merge(self, accs: Sequence[A]) -> A:
        """Combine accumulators (in the order given) into one."""

    @abstractmethod
    def extract(self, acc: A) -> R:
        """Turn the final accumulator into the result."""

    def run(self, batches: Iterator[pa.RecordBatch] | Sequence[pa.RecordBatch]) -> R:
        """Run the accumulator over batches in-process (handy in tests)."""
        acc = self.create()
        for batch in batches:
            acc = self.add_batch(acc, batch)
        return self.extract(self.merge([acc]))


class Engine(ABC):
    """Runs a dataset's plan: reads its source and applies its batch transforms."""

    #: The name that selects this engine: ``engine="local"`` or ``engine="spark"``.
    name: str

    @abstractmethod
    def iter_batches(self, dataset: Dataset) -> Iterator[pa.RecordBatch]:
        """Stream the dataset's batches to this process, in source order."""

    @abstractmethod
    def aggregate(self, dataset: Dataset, accumulator: Accumulator[Any, R]) -> R:
        """Run ``accumulator`` over the whole dataset and return its result."""

    @abstractmethod
    def write_parquet(
        self,
        dataset: Dataset,
        path: str,
        *,
        rows_per_file: int,
        row_group_size: int,
        overwrite: bool,
    ) -> ParquetWriteResult:
        """Write the dataset as a sharded Parquet directory, atomically."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
