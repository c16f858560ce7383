"""Outputs of a ``preprocessing_fn``: checking them and turning them into Arrow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from tensorbridge._optional import import_optional
from tensorbridge.errors import TransformError

_ARROW_TYPES = {
    "float16": pa.float16(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "bool": pa.bool_(),
    "string": pa.string(),
}


@dataclass(frozen=True)
class OutputColumn:
    """One transformed feature: dense ``[batch]``, dense ``[batch, k]``, or variable length."""

    name: str
    dtype: str
    kind: str  # "dense" | "varlen"
    width: int | None = None  # k for dense [batch, k]

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of the column."""
        value = _ARROW_TYPES[self.dtype]
        if self.kind == "varlen":
            return pa.list_(value)
        if self.width is not None:
            return pa.list_(value, self.width)
        return value

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def describe_outputs(outputs: Any) -> list[OutputColumn]:
    """Check a ``preprocessing_fn`` result (at trace time) and describe its columns."""
    tf = import_optional("tensorflow")
    if not isinstance(outputs, Mapping):
        raise TransformError(
            f"preprocessing_fn returned {type(outputs).__name__}; it must return a dict of "
            "feature name -> tensor, e.g. {'fare_xf': tbt.scale_to_z_score(inputs['fare'])}."
        )
    if not outputs:
        raise TransformError(
            "preprocessing_fn returned an empty dict; return at least one feature."
        )
    columns = []
    for name, value in outputs.items():
        if not isinstance(name, str):
            raise TransformError(f"preprocessing_fn returned a non-string key {name!r}.")
        dtype_name = getattr(getattr(value, "dtype", None), "name", None)
        if isinstance(value, tf.SparseTensor | tf.RaggedTensor):
            kind, width = "varlen", None
            rank = value.shape.rank
        elif isinstance(value, tf.Tensor):
            rank = value.shape.rank
            kind = "dense"
            width = None
            if rank == 2:
                width = value.shape[1]
                if width is None:
                    raise TransformError(
                        f"Output {name!r} has shape {value.shape}: a dense 2-D output needs a "
                        "known second dimension. Reshape it, or return a tf.RaggedTensor."
                    )
        else:
            raise TransformError(
                f"preprocessing_fn returned {type(value).__name__} for {name!r}; every value "
                "must be a tf.Tensor, tf.SparseTensor or tf.RaggedTensor."
            )
        if (
            rank is None
            or rank == 0
            or (kind == "dense" and rank > 2)
            or (kind == "varlen" and rank != 2)
        ):
            raise TransformError(
                f"Output {name!r} has shape {value.shape}, but every output needs the batch "
                "dimension first: [batch], [batch, k], or a [batch, None] sparse/ragged tensor. "
                "An analyzer result (a constant) must be combined with a per-row input, "
                "e.g. x - tbt.mean(x)."
            )
        if dtype_name not in _ARROW_TYPES:
            raise TransformError(f"Output {name!r} has dtype {dtype_name}, which cannot be stored.")
        columns.append(OutputColumn(name, dtype_name, kind, width))
    return columns


def output_schema(columns: list[OutputColumn]) -> pa.Schema:
    """The Arrow schema of the transformed data."""
    return pa.schema([pa.field(c.name, c.arrow_type) for c in columns])


def _dense_values(array: np.ndarray, column: OutputColumn) -> pa.Array:
    if column.dtype == "string":
        try:
            return pa.array([v.decode("utf-8") for v in array.reshape(-1)], pa.string())
        except UnicodeDecodeError:
            raise TransformError(
                f"Output {column.name!r} holds bytes that are not UTF-8 text; cast or encode them."
            ) from None
    return pa.array(array.reshape(-1), type=_ARROW_TYPES[column.dtype])


def outputs_to_batch(
    outputs: Mapping[str, Any], columns: list[OutputColumn], rows: int
) -> pa.RecordBatch:
    """Turn one batch of transformed tensors into an Arrow record batch."""
    tf = import_optional("tensorflow")
    arrays = []
    for column in columns:
        value = outputs[column.name]
        if column.kind == "varlen":
            ragged = (
                tf.RaggedTensor.from_sparse(value) if isinstance(value, tf.SparseTensor) else value
            )
            splits = ragged.row_splits.numpy().astype(np.int32)
            flat = _dense_values(ragged.flat_values.numpy(), column)
            array = pa.ListArray.from_arrays(pa.array(splits, pa.int32()), flat)
            count = len(splits) - 1
        else:
            data = value.numpy()
            count = data.shape[0]
            flat = _dense_values(data, column)
            array = (
                flat
                if column.width is None
                else pa.FixedSizeListArray.from_arrays(flat, column.width)
            )
        if count != rows:
            raise TransformError(
                f"Output {column.name!r} has {count} rows for a batch of {rows} input rows. Every "
                "output must have one row per input row (the same batch dimension); "
                "reductions over the batch belong in analyzers such as tbt.mean(x)."
            )
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=output_schema(columns))
