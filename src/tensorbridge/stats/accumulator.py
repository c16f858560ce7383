"""One engine accumulator that computes every statistic of every slice in one pass.

The state is a small mergeable structure per (slice, feature): common counts, a
:class:`~tensorbridge.stats.numeric.NumericState` or a
:class:`~tensorbridge.stats.strings.StringState`. The engines run it per fragment and
merge in fragment order, so the local and spark engines return identical statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge.engine.base import Accumulator
from tensorbridge.errors import ConfigError
from tensorbridge.stats.features import column_values, feature_type
from tensorbridge.stats.model import (
    DEFAULT_SLICE,
    CommonStatistics,
    DatasetStatistics,
    FeatureStatistics,
    FeatureType,
    Statistics,
)
from tensorbridge.stats.numeric import NumericAccumulator, NumericState
from tensorbridge.stats.strings import StringAccumulator, StringState

__all__ = ["SliceKey", "StatisticsAccumulator"]

#: ``None`` for the default slice, else ``(feature, value)``.
SliceKey = tuple[str, Any] | None


@dataclass
class _FeatureState:
    non_missing: int = 0
    min_num_values: int = 2**62
    max_num_values: int = 0
    tot_num_values: int = 0
    numeric: NumericState | None = None
    string: StringState | None = None


@dataclass
class _SliceState:
    num_examples: int = 0
    features: dict[str, _FeatureState] = field(default_factory=dict)


def _slice_name(key: SliceKey) -> str:
    if key is None:
        return DEFAULT_SLICE
    feature, value = key
    if value is None:
        return f"{feature}=<null>"
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return f"{feature}={value}"


def _sort_key(key: SliceKey) -> tuple[Any, ...]:
    if key is None:
        return (0,)
    _, value = key
    if value is None:
        return (1, 2, "")
    if isinstance(value, float) and math.isnan(value):
        return (1, 1, "")
    return (1, 0, value)


class StatisticsAccumulator(Accumulator[dict[SliceKey, _SliceState], Statistics]):
    """Every statistic of every feature, for the whole data and each requested slice.

    Parameters
    ----------
    schema : pyarrow.Schema
        The data's columns; each becomes a feature (see
        :func:`~tensorbridge.stats.features.feature_type`).
    slice_by : sequence of str
        Scalar columns to slice by (each separately); every distinct value gives a slice.
    max_exact_values : int
        Numeric values kept exactly per feature and slice before a KLL sketch is used.
    max_slices : int
        Most distinct values one slicing column may have.
    source : str
        A description of the data, stored in the result.
    """

    def __init__(
        self,
        schema: pa.Schema,
        *,
        slice_by: Sequence[str] = (),
        max_exact_values: int = 1_000_000,
        max_slices: int = 100,
        source: str = "",
    ) -> None:
        self.types: dict[str, FeatureType] = {f.name: feature_type(f.name, f.type) for f in schema}
        self.arrow_types = {f.name: str(f.type) for f in schema}
        for name in slice_by:
            if name not in self.types:
                raise ConfigError(
                    f"Cannot slice by {name!r}: no such column. The columns are {list(self.types)}."
                )
            arrow_type = schema.field(name).type
            if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
                raise ConfigError(
                    f"Cannot slice by {name!r}: it is a list column ({arrow_type}); slice by "
                    "a column with one value per row."
                )
        self.slice_by = tuple(slice_by)
        self.max_slices = max_slices
        self.source = source
        self._numeric = NumericAccumulator(max_exact_values)
        self._string = StringAccumulator()

    # -- accumulation -------------------------------------------------------------------

    def create(self) -> dict[SliceKey, _SliceState]:
        """No slices yet (the default slice appears with the first batch)."""
        return {}

    def add_batch(
        self, acc: dict[SliceKey, _SliceState], batch: pa.RecordBatch
    ) -> dict[SliceKey, _SliceState]:
        """Add the batch to the default slice and to the slice of each of its rows."""
        self._add_to_slice(acc, None, batch)
        for name in self.slice_by:
            column = batch.column(name)
            for value in pc.unique(column).to_pylist():
                if value is None:
                    mask = pc.is_null(column)
                elif isinstance(value, float) and math.isnan(value):
                    mask = pc.is_nan(column)
                else:
                    mask = pc.fill_null(pc.equal(column, pa.scalar(value, column.type)), False)
                self._add_to_slice(acc, (name, value), batch.filter(mask))
            self._check_slice_count(acc, name)
        return acc

    def _check_slice_count(self, acc: dict[SliceKey, _SliceState], name: str) -> None:
        count = sum(1 for key in acc if key is not None and key[0] == name)
        if count > self.max_slices:
            raise ConfigError(
                f"slice_by/label column {name!r} has more than {self.max_slices} distinct "
                "values; slices are meant for categories. Slice by a coarser column (e.g. "
                "a bucketized one) or raise max_slices=."
            )

    def _add_to_slice(
        self, acc: dict[SliceKey, _SliceState], key: SliceKey, batch: pa.RecordBatch
    ) -> None:
        state = acc.get(key)
        if state is None:
            state = acc[key] = _SliceState()
        state.num_examples += batch.num_rows
        for name, kind in self.types.items():
            feature = state.features.get(name)
            if feature is None:
                feature = state.features[name] = self._new_feature(kind)
            self._add_column(feature, batch.column(name))

    def _new_feature(self, kind: FeatureType) -> _FeatureState:
        if kind in ("INT", "FLOAT"):
            return _FeatureState(numeric=self._numeric.create())
        return _FeatureState(string=self._string.create())

    def _add_column(self, feature: _FeatureState, column: pa.Array) -> None:
        seen = column_values(column)
        if seen.present == 0:
            return
        feature.non_missing += seen.present
        if seen.valency is None:
            low = high = 1
            total = seen.present
        else:
            low, high = int(seen.valency.min()), int(seen.valency.max())
            total = int(seen.valency.sum())
        feature.min_num_values = min(feature.min_num_values, low)
        feature.max_num_values = max(feature.max_num_values, high)
        feature.tot_num_values += total
        if feature.numeric is not None:
            feature.numeric = self._numeric.add(feature.numeric, seen.values)
        elif feature.string is not None:
            feature.string = self._string.add(feature.string, seen.values)

    # -- merging and results ------------------------------------------------------------

    def merge(self, accs: Sequence[dict[SliceKey, _SliceState]]) -> dict[SliceKey, _SliceState]:
        """Merge slice by slice and feature by feature, in the order given."""
        keys: list[SliceKey] = []
        for acc in accs:
            keys.extend(k for k in acc if k not in keys)
        merged: dict[SliceKey, _SliceState] = {}
        for key in keys:
            parts = [acc[key] for acc in accs if key in acc]
            state = _SliceState(num_examples=sum(p.num_examples for p in parts))
            for name, kind in self.types.items():
                state.features[name] = self._merge_feature(
                    kind, [p.features[name] for p in parts if name in p.features]
                )
            merged[key] = state
        for name in self.slice_by:
            self._check_slice_count(merged, name)
        return merged

    def _merge_feature(self, kind: FeatureType, parts: list[_FeatureState]) -> _FeatureState:
        result = self._new_feature(kind)
        for part in parts:
            result.non_missing += part.non_missing
            result.min_num_values = min(result.min_num_values, part.min_num_values)
            result.max_num_values = max(result.max_num_values, part.max_num_values)
            result.tot_num_values += part.tot_num_values
        if result.numeric is not None:
            result.numeric = self._numeric.merge([p.numeric for p in parts if p.numeric])
        elif result.string is not None:
            result.string = self._string.merge([p.string for p in parts if p.string])
        return result

    def extract(self, acc: dict[SliceKey, _SliceState]) -> Statistics:
        """The :class:`~tensorbridge.stats.model.Statistics`, default slice first."""
        if None not in acc:
            acc = {None: _SliceState(), **acc}
        keys = sorted(acc, key=lambda k: (self._slice_order(k), _sort_key(k)))
        return Statistics(tuple(self._dataset(key, acc[key]) for key in keys), self.source)

    def _slice_order(self, key: SliceKey) -> int:
        return -1 if key is None else self.slice_by.index(key[0])

    def _dataset(self, key: SliceKey, state: _SliceState) -> DatasetStatistics:
        features = {}
        for name, kind in self.types.items():
            feature = state.features.get(name) or self._new_feature(kind)
            features[name] = self._feature(name, kind, feature, state.num_examples)
        return DatasetStatistics(_slice_name(key), state.num_examples, features)

    def _feature(
        self, name: str, kind: FeatureType, state: _FeatureState, num_examples: int
    ) -> FeatureStatistics:
        present = state.non_missing
        common = CommonStatistics(
            num_non_missing=present,
            num_missing=num_examples - present,
            min_num_values=state.min_num_values if present else 0,
            max_num_values=state.max_num_values,
            avg_num_values=state.tot_num_values / present if present else 0.0,
            tot_num_values=state.tot_num_values,
        )
        return FeatureStatistics(
            name=name,
            type=kind,
            arrow_type=self.arrow_types[name],
            common=common,
            numeric=self._numeric.extract(state.numeric) if state.numeric else None,
            string=self._string.extract(state.string) if state.string else None,
        )
