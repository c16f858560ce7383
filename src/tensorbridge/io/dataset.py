"""``Dataset``: a lazy, Arrow-backed data set that streams record batches.

A dataset is a source (files, an Arrow table, a Spark DataFrame) plus a chain of batch
transforms. Nothing is read until a method needs data; then the dataset's engine reads
the source fragment by fragment, so the whole data set never has to fit in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa

from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.io.bad_rows import BadRowReport
from tensorbridge.io.parquet import (
    DEFAULT_ROW_GROUP_SIZE,
    DEFAULT_ROWS_PER_FILE,
    ParquetWriteResult,
    check_write_options,
)
from tensorbridge.io.paths import PathLike
from tensorbridge.io.source import Source
from tensorbridge.io.split import assign_splits, normalize_splits

if TYPE_CHECKING:
    from tensorbridge.engine import Accumulator, Engine, EngineLike

R = TypeVar("R")
BatchFunction = Callable[[pa.RecordBatch], pa.RecordBatch]


@dataclass(frozen=True)
class BatchTransform:
    """One step of a dataset's plan: a function from a batch to a batch."""

    function: BatchFunction
    schema: pa.Schema
    name: str

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Run the function and check that its result has the declared schema."""
        result = self.function(batch)
        if isinstance(result, pa.Table):
            result = pa.RecordBatch.from_arrays(
                [c.combine_chunks() for c in result.columns], schema=result.schema
            )
        if not isinstance(result, pa.RecordBatch):
            raise ConfigError(
                f"The batch function {self.name!r} returned {type(result).__name__}; it must "
                "return a pyarrow.RecordBatch."
            )
        if not result.schema.equals(self.schema):
            raise SchemaError(
                f"The batch function {self.name!r} returned the schema\n{result.schema}\n"
                f"but declared\n{self.schema}\nReturn the same columns and types for every batch."
            )
        return result


class Dataset:
    """An Arrow-backed data set that streams record batches.

    Build one with :func:`tensorbridge.read_csv`, :func:`~tensorbridge.read_parquet`,
    :func:`~tensorbridge.read_json`, :func:`~tensorbridge.from_arrow`,
    :func:`~tensorbridge.from_pandas` or :func:`~tensorbridge.from_spark`.

    Examples
    --------
    >>> import pyarrow as pa, tensorbridge as tb
    >>> ds = tb.from_arrow(pa.table({"x": [1, 2, 3, 4], "y": ["a", "b", "c", "d"]}))
    >>> ds.count_rows()
    4
    >>> {name: part.count_rows() for name, part in ds.split(key="x").items()}
    {'train': 3, 'eval': 1}
    """

    def __init__(
        self,
        source: Source,
        *,
        transforms: Sequence[BatchTransform] = (),
        engine: EngineLike = None,
    ) -> None:
        self._source = source
        self._transforms = tuple(transforms)
        self._engine_spec = engine

    # -- plan ------------------------------------------------------------------------
    @property
    def source(self) -> Source:
        """Where the batches come from."""
        return self._source

    @property
    def transforms(self) -> tuple[BatchTransform, ...]:
        """The batch functions applied, in order, to every source batch."""
        return self._transforms

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of the batches this dataset yields."""
        return self._transforms[-1].schema if self._transforms else self._source.schema

    @property
    def engine(self) -> Engine:
        """The engine that runs this dataset's work (see :func:`resolve_engine`)."""
        from tensorbridge.engine import resolve_engine

        return resolve_engine(self._engine_spec)

    @property
    def bad_rows(self) -> BadRowReport:
        """Rows skipped by the latest read with ``on_bad_rows="skip"``."""
        return self._source.bad_rows

    def with_engine(self, engine: EngineLike) -> Dataset:
        """The same dataset, run by another engine (``"local"``, ``"spark"`` or an object)."""
        return Dataset(self._source, transforms=self._transforms, engine=engine)

    def _extend(self, transform: BatchTransform) -> Dataset:
        return Dataset(
            self._source, transforms=(*self._transforms, transform), engine=self._engine_spec
        )

    def apply_transforms(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Run this dataset's batch functions on one source batch."""
        for transform in self._transforms:
            batch = transform(batch)
        return batch

    def map_batches(
        self, function: BatchFunction, *, schema: pa.Schema | None = None, name: str | None = None
    ) -> Dataset:
        """A dataset whose batches are ``function(batch)`` of this one's.

        Parameters
        ----------
        function : callable
            Takes and returns a ``pyarrow.RecordBatch``. It runs on the engine's workers
            (threads, or Spark executors), so it must be picklable for Spark.
        schema : pyarrow.Schema, optional
            The output schema; by default found by calling ``function`` on an empty batch.
        name : str, optional
            A name used in error messages.
        """
        label = name or str(getattr(function, "__name__", "map_batches"))
        if schema is None:
            empty = pa.RecordBatch.from_pylist([], schema=self.schema)
            try:
                result = function(empty)
            except Exception as err:
                raise ConfigError(
                    f"Could not find the output schema of {label!r} by calling it on an empty "
                    f"batch ({type(err).__name__}: {err}). Pass schema= explicitly."
                ) from err
            if not isinstance(result, pa.RecordBatch | pa.Table):
                raise ConfigError(
                    f"The batch function {label!r} returned {type(result).__name__}; it must "
                    "return a pyarrow.RecordBatch."
                )
            schema = result.schema
        return self._extend(BatchTransform(function, schema, label))

    def select(self, columns: Sequence[str]) -> Dataset:
        """Keep only ``columns``, in the given order."""
        missing = [c for c in columns if c not in self.schema.names]
        if missing:
            raise SchemaError(f"Columns {missing} not found; the data has {self.schema.names}.")
        selected = pa.schema([self.schema.field(c) for c in columns])
        names = list(columns)
        return self.map_batches(lambda b: b.select(names), schema=selected, name="select")

    def split(
        self,
        splits: Mapping[str, float] | None = None,
        *,
        key: str | Sequence[str] | None = None,
    ) -> dict[str, Dataset]:
        """Split rows deterministically by a hash of ``key`` (default: the whole row).

        Parameters
        ----------
        splits : mapping of str to number, optional
            Split names and their ratios; default ``{"train": 2, "eval": 1}`` as TFX's
            ExampleGen. Ratios may be floats (``{"train": 0.8, "eval": 0.2}``).
        key : str or list of str, optional
            Column(s) whose values decide the split, so that all rows of one key (a user,
            a trip id) land in the same split. Default: every column.

        Returns
        -------
        dict of str to Dataset
            One lazy dataset per split, in the order given.
        """
        buckets = normalize_splits(splits)
        columns = [key] if isinstance(key, str) else (list(key) if key is not None else None)
        if columns is not None:
            missing = [c for c in columns if c not in self.schema.names]
            if missing:
                raise SchemaError(
                    f"Split key {missing} not found; the data has columns {self.schema.names}."
                )
        result: dict[str, Dataset] = {}
        for position, name in enumerate(buckets):
            result[name] = self.map_batches(
                _SplitFilter(buckets, columns, position), schema=self.schema, name=f"split {name}"
            )
        return result

    # -- execution -------------------------------------------------------------------
    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Stream the record batches, in source order."""
        self._source.bad_rows.reset()
        return self.engine.iter_batches(self)

    def to_table(self) -> pa.Table:
        """Read everything into one Arrow table (the data must fit in memory)."""
        return pa.Table.from_batches(list(self.iter_batches()), schema=self.schema)

    def head(self, n: int = 5) -> pa.Table:
        """The first ``n`` rows (reads only as much as needed on the local engine)."""
        taken: list[pa.RecordBatch] = []
        rows = 0
        for batch in self.iter_batches():
            taken.append(batch.slice(0, n - rows))
            rows += taken[-1].num_rows
            if rows >= n:
                break
        return pa.Table.from_batches(taken, schema=self.schema)

    def aggregate(self, accumulator: Accumulator[Any, R]) -> R:
        """Run a mergeable accumulator over all batches on the dataset's engine."""
        self._source.bad_rows.reset()
        return self.engine.aggregate(self, accumulator)

    def count_rows(self) -> int:
        """The number of rows (from file metadata when the plan allows it)."""
        if not self._transforms:
            known = self._source.count_rows_from_metadata()
            if known is not None:
                return known
        from tensorbridge.engine.accumulators import RowCount

        return self.aggregate(RowCount())

    def write_parquet(
        self,
        path: PathLike,
        *,
        rows_per_file: int = DEFAULT_ROWS_PER_FILE,
        row_group_size: int | None = None,
        overwrite: bool = False,
    ) -> ParquetWriteResult:
        """Write the data as a directory of Parquet shards, atomically.

        Shards are named ``part-<fragment>-<shard>.parquet`` and hold at most
        ``rows_per_file`` rows (default 1,048,576) in row groups of ``row_group_size``
        rows (default 131,072, or ``rows_per_file`` when that is smaller). The directory
        is written under a temporary name and renamed when complete, so a crash never
        leaves a half-written data set at ``path``. A ``_tensorbridge_dataset.json``
        manifest lists the files and row counts.
        """
        if row_group_size is None:
            row_group_size = min(DEFAULT_ROW_GROUP_SIZE, rows_per_file)
        check_write_options(rows_per_file, row_group_size)
        self._source.bad_rows.reset()
        return self.engine.write_parquet(
            self,
            str(path),
            rows_per_file=rows_per_file,
            row_group_size=row_group_size,
            overwrite=overwrite,
        )

    def iter_numpy(
        self, columns: Sequence[str] | None = None, *, fill_null: Any = None
    ) -> Iterator[dict[str, np.ndarray]]:
        """Stream batches as dicts of numpy arrays (see :func:`tensorbridge.io.to_numpy`)."""
        from tensorbridge.io.convert import to_numpy

        for batch in self.iter_batches():
            yield to_numpy(batch, columns, fill_null=fill_null)

    def to_numpy(
        self, columns: Sequence[str] | None = None, *, fill_null: Any = None
    ) -> dict[str, np.ndarray]:
        """All rows as one numpy array per column (the data must fit in memory)."""
        from tensorbridge.io.convert import to_numpy

        table = self.to_table()
        if columns is not None:
            table = table.select(list(columns))
        return to_numpy(table, None, fill_null=fill_null)

    def __repr__(self) -> str:
        steps = "".join(f" -> {t.name}" for t in self._transforms)
        engine = self._engine_spec if isinstance(self._engine_spec, str) else "default"
        return (
            f"<Dataset {self._source.describe()}{steps}; {len(self.schema)} columns; "
            f"engine={engine}>"
        )


class _SplitFilter:
    """Keeps the rows whose hash bucket falls in one split (picklable for Spark)."""

    def __init__(self, buckets: Mapping[str, int], key: list[str] | None, position: int) -> None:
        self.buckets = dict(buckets)
        self.key = key
        self.position = position

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.num_rows == 0:
            return batch
        chosen = assign_splits(batch, self.buckets, self.key) == self.position
        return batch.filter(pa.array(chosen))
