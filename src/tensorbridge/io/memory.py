"""Sources over data already in memory: Arrow tables and batches, pandas DataFrames."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import pyarrow as pa

from tensorbridge.errors import ConfigError
from tensorbridge.io.bad_rows import BadRowReport
from tensorbridge.io.source import DEFAULT_BATCH_SIZE, Source

#: Rows per fragment of an in-memory table (the unit of parallel work).
FRAGMENT_ROWS = 1_048_576


class ArrowSource(Source):
    """An in-memory Arrow table, split into fragments of ``FRAGMENT_ROWS`` rows."""

    def __init__(
        self,
        data: pa.Table | pa.RecordBatch | Sequence[pa.RecordBatch],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        origin: str = "Arrow table",
    ) -> None:
        super().__init__()
        if isinstance(data, pa.RecordBatch):
            table = pa.Table.from_batches([data])
        elif isinstance(data, pa.Table):
            table = data
        elif isinstance(data, Sequence) and all(isinstance(b, pa.RecordBatch) for b in data):
            if not data:
                raise ConfigError("from_arrow got an empty list of batches; pass a Table instead.")
            table = pa.Table.from_batches(list(data))
        else:
            raise ConfigError(
                f"from_arrow expects a pyarrow Table, RecordBatch or list of RecordBatches, "
                f"got {type(data).__name__}."
            )
        self.table = table.replace_schema_metadata(None)
        self.batch_size = batch_size
        self.origin = origin

    @property
    def schema(self) -> pa.Schema:
        """The table's schema."""
        return self.table.schema

    @property
    def num_fragments(self) -> int:
        """``ceil(rows / FRAGMENT_ROWS)``, at least 1."""
        return max(1, math.ceil(self.table.num_rows / FRAGMENT_ROWS))

    def fragment_name(self, index: int) -> str:
        """E.g. ``"rows 0-1048575"``."""
        start = index * FRAGMENT_ROWS
        stop = min(self.table.num_rows, start + FRAGMENT_ROWS) - 1
        return f"{self.origin} rows {start}-{stop}"

    def describe(self) -> str:
        """E.g. ``"Arrow table (1000 rows)"``."""
        return f"{self.origin} ({self.table.num_rows} rows)"

    def count_rows_from_metadata(self) -> int:
        """The table's row count."""
        return self.table.num_rows

    def read_fragment(self, index: int, report: BadRowReport) -> Iterator[pa.RecordBatch]:
        """Yield batches of at most ``batch_size`` rows of fragment ``index``."""
        part = self.table.slice(index * FRAGMENT_ROWS, FRAGMENT_ROWS)
        yield from part.to_batches(max_chunksize=self.batch_size)
