"""From Arrow columns to a feature's type, its values and its valency.

TFDV sees every feature as a list per example; tensorbridge reads scalar columns as
lists of one value (zero when null) and list columns as they are. This module is the one
place that decides how an Arrow type maps to a feature type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge.errors import SchemaError
from tensorbridge.stats.model import FeatureType

__all__ = ["ColumnValues", "column_values", "feature_type"]


def _value_type(arrow_type: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(arrow_type):
        return arrow_type.value_type
    return arrow_type


def _is_list(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
    )


def feature_type(name: str, arrow_type: pa.DataType) -> FeatureType:
    """The TFDV feature type of a column: INT, FLOAT, STRING or BYTES.

    Integers, booleans, dates, times and timestamps are INT (times as their integer
    units); floats and decimals FLOAT; strings STRING; binary BYTES. Lists take the type
    of their items.

    Raises
    ------
    SchemaError
        For nested lists, structs and maps, naming the column.
    """
    value_type = _value_type(arrow_type)
    if _is_list(value_type):
        value_type = _value_type(value_type.value_type)
        if _is_list(value_type):
            raise SchemaError(
                f"Column {name!r} is a list of lists ({arrow_type}); statistics support "
                "scalars and one level of lists. Flatten it first, or leave it out with "
                "dataset.select([...])."
            )
    if (
        pa.types.is_integer(value_type)
        or pa.types.is_boolean(value_type)
        or pa.types.is_temporal(value_type)
    ):
        return "INT"
    if pa.types.is_floating(value_type) or pa.types.is_decimal(value_type):
        return "FLOAT"
    if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        return "STRING"
    if (
        pa.types.is_binary(value_type)
        or pa.types.is_large_binary(value_type)
        or pa.types.is_fixed_size_binary(value_type)
    ):
        return "BYTES"
    if pa.types.is_null(value_type):
        return "STRING"
    raise SchemaError(
        f"Column {name!r} has type {arrow_type}, which statistics do not support (structs "
        "and maps). Leave it out with dataset.select([...]) or flatten it first."
    )


@dataclass
class ColumnValues:
    """One batch of one column, seen as TFDV sees a feature.

    ``present`` rows have the feature (non-null); ``valency`` holds the number of values
    of each present row (None for scalar columns, where it is always 1); ``values`` are
    all the values of the present rows, flattened, nulls inside lists dropped.
    """

    present: int
    valency: np.ndarray | None
    values: pa.Array


def _plain(array: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def column_values(array: pa.Array | pa.ChunkedArray) -> ColumnValues:
    """Split a column into presence, valency and flat values (see :class:`ColumnValues`)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    array = _plain(array)
    present = len(array) - array.null_count
    if _is_list(array.type):
        lists = array.drop_null() if array.null_count else array
        lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
        values = _plain(pc.list_flatten(lists))
        if values.null_count:
            values = values.drop_null()
            lengths = _non_null_lengths(lists)
        return ColumnValues(present, lengths, values)
    values = array.drop_null() if array.null_count else array
    return ColumnValues(present, None, values)


def _non_null_lengths(lists: pa.Array) -> np.ndarray:
    """Per-row count of non-null items (nulls inside a list are not values)."""
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    valid = pc.is_valid(pc.list_flatten(lists)).to_numpy(zero_copy_only=False)
    return np.bincount(parents[valid], minlength=len(lists)).astype(np.int64)
