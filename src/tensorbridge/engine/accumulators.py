"""Small accumulators used by the datasets and the engine contract tests."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge.engine.base import Accumulator


class RowCount(Accumulator[int, int]):
    """Counts rows."""

    def create(self) -> int:
        """Zero rows."""
        return 0

    def add_batch(self, acc: int, batch: pa.RecordBatch) -> int:
        """Add the batch's rows."""
        return acc + batch.num_rows

    def merge(self, accs: Sequence[int]) -> int:
        """Sum the counts."""
        return sum(accs)

    def extract(self, acc: int) -> int:
        """The count."""
        return acc


class ColumnSums(Accumulator[dict[str, float], dict[str, float]]):
    """Sum and count of non-null values of numeric columns (nulls skipped)."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)

    def create(self) -> dict[str, float]:
        """All sums zero."""
        return {key: 0.0 for c in self.columns for key in (f"{c}.sum", f"{c}.count")}

    def add_batch(self, acc: dict[str, float], batch: pa.RecordBatch) -> dict[str, float]:
        """Add the batch's sums and counts."""
        for column in self.columns:
            values = batch.column(column)
            total = pc.sum(values.cast(pa.float64())).as_py()
            acc[f"{column}.sum"] += total or 0.0
            acc[f"{column}.count"] += len(values) - values.null_count
        return acc

    def merge(self, accs: Sequence[dict[str, float]]) -> dict[str, float]:
        """Add up the partial sums, in order."""
        merged = self.create()
        for acc in accs:
            for key, value in acc.items():
                merged[key] += value
        return merged

    def extract(self, acc: dict[str, float]) -> dict[str, float]:
        """The sums and counts."""
        return dict(acc)


class NullCounts(Accumulator[dict[str, int], dict[str, int]]):
    """Row count (key ``""``) and missing values per column."""

    def create(self) -> dict[str, int]:
        """No rows yet."""
        return {"": 0}

    def add_batch(self, acc: dict[str, int], batch: pa.RecordBatch) -> dict[str, int]:
        """Add the batch's rows and nulls."""
        acc[""] += batch.num_rows
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            acc[name] = acc.get(name, 0) + column.null_count
        return acc

    def merge(self, accs: Sequence[dict[str, int]]) -> dict[str, int]:
        """Add up the counts."""
        total: dict[str, int] = {"": 0}
        for acc in accs:
            for key, value in acc.items():
                total[key] = total.get(key, 0) + value
        return total

    def extract(self, acc: dict[str, int]) -> dict[str, int]:
        """The counts (``""`` holds the row count)."""
        return dict(acc)
