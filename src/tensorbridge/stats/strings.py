"""String and bytes feature statistics: exact value counts, top values, lengths.

Counting is exact (TFDV's default): each batch becomes an Arrow ``value_counts``, and
partial counts are combined with an Arrow group-by, so no Python loop touches the
values. Ordering follows TFDV and TF.Transform: count descending, then value descending
(bytewise), so on a tie the larger value ranks first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge.stats.model import RankBucket, StringStatistics, TopValue

__all__ = ["NUM_RANK_HISTOGRAM_BUCKETS", "NUM_TOP_VALUES", "StringAccumulator", "StringState"]

#: TFDV's ``num_top_values``.
NUM_TOP_VALUES = 20
#: TFDV's ``num_rank_histogram_buckets``.
NUM_RANK_HISTOGRAM_BUCKETS = 1000
#: Partial count tables are combined once this many have piled up.
_COMPACT_AFTER = 32


@dataclass
class StringState:
    """Partial ``(value, count)`` tables, total bytes and number of values."""

    counts: list[pa.Table] = field(default_factory=list)
    total_bytes: int = 0
    num_values: int = 0


def _combine(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    table = pa.concat_tables(tables)
    return (
        table.group_by("value", use_threads=False)
        .aggregate([("count", "sum")])
        .rename_columns(["value", "count"])
    )


class StringAccumulator:
    """Adds batches of string/binary values to a :class:`StringState`; extracts statistics."""

    def create(self) -> StringState:
        """An empty state."""
        return StringState()

    def add(self, state: StringState, values: pa.Array) -> StringState:
        """Fold a flat Arrow array of strings or bytes (no nulls) into ``state``."""
        if len(values) == 0:
            return state
        if pa.types.is_large_string(values.type):
            values = values.cast(pa.string())
        elif pa.types.is_large_binary(values.type) or pa.types.is_fixed_size_binary(values.type):
            values = values.cast(pa.binary())
        elif pa.types.is_null(values.type):
            return state
        counted = pc.value_counts(values)
        state.counts.append(
            pa.table({"value": counted.field("values"), "count": counted.field("counts")})
        )
        state.total_bytes += int(pc.sum(pc.binary_length(values)).as_py() or 0)
        state.num_values += len(values)
        if len(state.counts) >= _COMPACT_AFTER:
            state.counts = [_combine(state.counts)]
        return state

    def merge(self, states: list[StringState]) -> StringState:
        """Combine states (their count tables are combined at extract time)."""
        result = StringState()
        for state in states:
            result.counts.extend(state.counts)
            result.total_bytes += state.total_bytes
            result.num_values += state.num_values
        if len(result.counts) >= _COMPACT_AFTER:
            result.counts = [_combine(result.counts)]
        return result

    def extract(self, state: StringState) -> StringStatistics:
        """Unique count, top values, average length and the rank histogram."""
        if not state.counts:
            return StringStatistics(0, (), float("nan"), (), 0)
        table = _combine(state.counts)
        order = pc.sort_indices(table, [("count", "descending"), ("value", "descending")])
        ranked = table.take(order.slice(0, NUM_RANK_HISTOGRAM_BUCKETS))
        labels = [_label(v) for v in ranked.column("value").to_pylist()]
        counts = ranked.column("count").to_pylist()
        return StringStatistics(
            unique=table.num_rows,
            top_values=tuple(
                TopValue(label, float(count))
                for label, count in zip(labels[:NUM_TOP_VALUES], counts, strict=False)
            ),
            avg_length=state.total_bytes / state.num_values,
            rank_histogram=tuple(
                RankBucket(rank, rank, label, float(count))
                for rank, (label, count) in enumerate(zip(labels, counts, strict=True))
            ),
            values_total=state.num_values,
        )


def _label(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
