"""Raw inputs of a ``preprocessing_fn``: which tensors the Arrow columns become.

As in TF.Transform, a column that has missing values is a ``tf.SparseTensor`` of dense
shape ``[batch, 1]`` (present rows only), so ``fill_missing`` (TFX's ``_fill_in_missing``)
decides what a missing value means; a column without missing values is a dense
``[batch]`` tensor. Arrow floats become ``tf.float32`` (TF.Transform's FLOAT), integers,
booleans and timestamps ``tf.int64``, strings ``tf.string``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge._optional import import_optional
from tensorbridge.errors import SchemaError, TransformError


@dataclass(frozen=True)
class InputColumn:
    """One raw input: its name, TF dtype name, and whether it may be missing."""

    name: str
    dtype: str  # "float32" | "int64" | "string"
    optional: bool

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def tf_dtype_name(field: pa.Field) -> str:
    """The TF dtype an Arrow column becomes, or a SchemaError naming the column."""
    type_ = field.type
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    if pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "float32"
    if pa.types.is_integer(type_) or pa.types.is_boolean(type_) or pa.types.is_temporal(type_):
        return "int64"
    if pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_binary(type_):
        return "string"
    raise SchemaError(
        f"Column {field.name!r} has Arrow type {field.type}, which a preprocessing_fn cannot "
        "take as an input yet (numbers, booleans, timestamps and strings can). Drop it with "
        "dataset.select([...]) or convert it with dataset.map_batches(...)."
    )


def input_columns(schema: pa.Schema, null_counts: Mapping[str, int]) -> list[InputColumn]:
    """The inputs for a schema: optional where the data has missing values."""
    return [InputColumn(f.name, tf_dtype_name(f), null_counts.get(f.name, 0) > 0) for f in schema]


def tensor_specs(columns: Sequence[InputColumn]) -> dict[str, Any]:
    """``tf.TensorSpec``/``tf.SparseTensorSpec`` per input (the transform's signature)."""
    tf = import_optional("tensorflow")
    specs: dict[str, Any] = {}
    for column in columns:
        dtype = tf.as_dtype(column.dtype)
        if column.optional:
            specs[column.name] = tf.SparseTensorSpec([None, 1], dtype)
        else:
            specs[column.name] = tf.TensorSpec([None], dtype)
    return specs


def _values(column: pa.Array, dtype: str) -> np.ndarray:
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if dtype == "string":
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            return column.to_numpy(zero_copy_only=False).astype(object)
        return column.cast(pa.large_string()).to_numpy(zero_copy_only=False).astype(object)
    if dtype == "float32":
        return column.cast(pa.float32()).to_numpy(zero_copy_only=False)
    if pa.types.is_temporal(column.type):
        column = column.cast(pa.int64())
    return column.cast(pa.int64()).to_numpy(zero_copy_only=False)


def batch_to_inputs(batch: pa.RecordBatch, columns: Sequence[InputColumn]) -> dict[str, Any]:
    """The input tensors of one Arrow batch (missing values only in optional inputs)."""
    tf = import_optional("tensorflow")
    tensors: dict[str, Any] = {}
    rows = batch.num_rows
    for column in columns:
        index = batch.schema.get_field_index(column.name)
        if index < 0:
            raise SchemaError(
                f"The data has no column {column.name!r}, which the transform takes as input. "
                f"Its columns are {batch.schema.names}."
            )
        array = batch.column(index)
        if column.optional:
            valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
            present = array.filter(pa.array(valid)) if array.null_count else array
            positions = np.flatnonzero(valid).astype(np.int64)
            indices = np.stack([positions, np.zeros_like(positions)], axis=1)
            values = tf.constant(_values(present, column.dtype), dtype=column.dtype)
            tensors[column.name] = tf.SparseTensor(indices, values, [rows, 1])
        else:
            if array.null_count:
                raise TransformError(
                    f"Column {column.name!r} has {array.null_count} missing value(s), but the "
                    "transform was analyzed on data where it had none, so it takes the column "
                    "as a required (dense) input. Fill the values first, or analyze data that "
                    "shows the column can be missing."
                )
            tensors[column.name] = tf.constant(_values(array, column.dtype), dtype=column.dtype)
    return tensors


class Inputs(Mapping[str, Any]):
    """The dict a ``preprocessing_fn`` receives; unknown names raise a clear error."""

    def __init__(self, tensors: Mapping[str, Any]) -> None:
        self._tensors = dict(tensors)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._tensors[name]
        except KeyError:
            raise TransformError(
                f"preprocessing_fn asked for input {name!r}, which the data does not have. "
                f"The inputs are: {sorted(self._tensors)}. Check the spelling, or add the "
                "column to the data."
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def copy(self) -> dict[str, Any]:
        """A plain dict of the inputs (TFT's preprocessing functions often copy)."""
        return dict(self._tensors)
