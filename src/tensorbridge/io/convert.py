"""Convert Arrow record batches and tables into numpy arrays and TensorFlow tensors.

The rules are the same for every target:

* Fixed-width numeric columns (ints, floats, timestamps, durations) without nulls are not
  copied: numpy gets a read-only view of the Arrow buffer, TensorFlow gets the buffer through
  DLPack when it is suitably aligned.
* Nulls are never converted silently. A column with nulls raises :class:`SchemaError` unless
  ``fill_null`` says what to put in their place; :func:`to_masked_numpy` keeps them as a mask.
  Integer nulls never become NaN.
* ``fixed_size_list`` columns become dense 2-D (or 3-D, ...) arrays; variable-length ``list``
  columns become ``tf.RaggedTensor`` (numpy has no ragged arrays, so :func:`to_numpy` refuses
  them).

TensorFlow is imported only inside the functions that need it.
"""

from __future__ import annotations

import datetime as _dt
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge._optional import import_optional
from tensorbridge.errors import SchemaError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["schema_to_tensor_specs", "to_masked_numpy", "to_numpy", "to_tensors"]

ArrowData: TypeAlias = pa.RecordBatch | pa.Table

#: TensorFlow kernels check that buffers are aligned to EIGEN_MAX_ALIGN_BYTES (at most 64)
#: and abort the process when they are not, so DLPack is only used on 64-byte aligned data.
_TF_ALIGNMENT = 64

#: Marks a fill value that does not fit a column type.
_REJECTED = object()

_SUPPORTED_TYPES_HINT = (
    "Supported: integers, floats, bool, string, binary, timestamp, date, duration, "
    "dictionary of those, fixed_size_list of those, and (for tensors) one level of list."
)


@dataclass(frozen=True)
class _Layout:
    """How a column maps to an array: row dimension, optional ragged dimension, fixed dims."""

    ragged: bool
    inner_shape: tuple[int, ...]
    leaf: pa.DataType


@dataclass(frozen=True)
class _Flat:
    """A dense column flattened to its leaf values (dictionary decoded, not yet filled).

    ``mask`` is True at leaf positions that are null, either themselves or because a
    ``fixed_size_list`` around them is null; None when there are no nulls at all.
    """

    leaf: pa.Array
    rows: int
    shape: tuple[int, ...]
    mask: np.ndarray | None
    null_lists: int
    nested_mask: bool


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def to_numpy(
    batch: ArrowData,
    columns: Sequence[str] | None = None,
    *,
    fill_null: object | Mapping[str, object] | None = None,
) -> dict[str, np.ndarray]:
    """Convert columns of a record batch or table into numpy arrays.

    Parameters
    ----------
    batch : pyarrow.RecordBatch or pyarrow.Table
        The data. A table column with several chunks is combined first (a copy); a
        single-chunk column is converted like a record batch column.
    columns : sequence of str, optional
        The columns to convert, in this order; all columns when None. A single name is
        accepted as a one-element list.
    fill_null : scalar or mapping of str to scalar, optional
        What to put in place of nulls: one scalar for every column, or ``{column: scalar}``.
        The scalar must fit the column type (an int for int columns, a str for strings, a
        bool or 0/1 for bools). Columns with nulls and no fill value raise.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per column. Numeric, timestamp and duration columns without nulls are
        zero-copy, read-only views of the Arrow buffers (``.copy()`` them to write); bool,
        string, binary, date and dictionary columns and filled columns are copies.
        ``fixed_size_list`` columns become arrays of shape ``(n, k)`` (``(n, k, m)`` when
        nested).

    Raises
    ------
    SchemaError
        If a column is unknown, has an unsupported type (including variable-length lists:
        use :func:`to_tensors` or a ``fixed_size_list``), has nulls without a fill value, or
        the fill value does not fit the column type.
    TypeError
        If ``batch`` is not a record batch or table.

    Notes
    -----
    Timestamps with a time zone become UTC ``datetime64`` values of the same unit.
    """
    names = _select_columns(batch, columns)
    fills = _fill_values(batch, names, fill_null)
    result: dict[str, np.ndarray] = {}
    for name in names:
        arr = _column_array(batch, name)
        layout = _layout(name, arr.type)
        if layout.ragged:
            raise SchemaError(
                f"Column {name!r} has the variable-length type {arr.type}, which numpy cannot "
                "hold as a dense array. Use to_tensors(...) to get a tf.RaggedTensor, or "
                f"store the column as fixed_size_list<{layout.leaf}>[k] (cast it with "
                "pa.list_(value_type, k)) when every row has the same length k."
            )
        flat = _flatten_dense(arr, layout)
        leaf = _fill_leaf(name, arr.type, flat, fills.get(name))
        result[name] = _leaf_to_numpy(leaf).reshape((len(arr), *flat.shape))
    return result


def to_masked_numpy(
    batch: ArrowData,
    columns: Sequence[str] | None = None,
) -> dict[str, np.ma.MaskedArray]:
    """Convert columns into numpy masked arrays whose mask is True where values are null.

    Parameters
    ----------
    batch : pyarrow.RecordBatch or pyarrow.Table
        The data.
    columns : sequence of str, optional
        The columns to convert; all columns when None.

    Returns
    -------
    dict of str to numpy.ma.MaskedArray
        One masked array per column, with a full boolean mask of the data's shape. Masked
        positions hold a deterministic filler (0 for numbers, timestamps, dates and
        durations, False for bools, ``""`` for strings, ``b""`` for binary), which is also
        the array's ``fill_value``. Nullable int columns keep their int dtype. Data of
        columns without nulls follows the zero-copy rules of :func:`to_numpy`.

    Raises
    ------
    SchemaError
        If a column is unknown or has a type numpy cannot hold densely (variable-length
        lists, structs, maps, ...).
    TypeError
        If ``batch`` is not a record batch or table.
    """
    names = _select_columns(batch, columns)
    result: dict[str, np.ma.MaskedArray] = {}
    for name in names:
        arr = _column_array(batch, name)
        layout = _layout(name, arr.type)
        if layout.ragged:
            raise SchemaError(
                f"Column {name!r} has the variable-length type {arr.type}, which a numpy "
                "masked array cannot hold. Use to_tensors(...) to get a tf.RaggedTensor, or "
                "store the column as a fixed_size_list when every row has the same length."
            )
        flat = _flatten_dense(arr, layout)
        shape = (len(arr), *flat.shape)
        filler = _filler(flat.leaf.type)
        leaf = flat.leaf if flat.mask is None else _replace_nulls(flat, filler)
        data = _leaf_to_numpy(leaf).reshape(shape)
        mask = np.zeros(shape, dtype=np.bool_) if flat.mask is None else flat.mask.reshape(shape)
        fill_value = _leaf_to_numpy(pa.array([filler.as_py()], type=filler.type))[0]
        result[name] = np.ma.MaskedArray(data, mask=mask, fill_value=fill_value)
    return result


def to_tensors(
    batch: ArrowData,
    columns: Sequence[str] | None = None,
    *,
    fill_null: object | Mapping[str, object] | None = None,
) -> dict[str, tf.Tensor | tf.RaggedTensor]:
    """Convert columns of a record batch or table into TensorFlow tensors.

    Parameters
    ----------
    batch : pyarrow.RecordBatch or pyarrow.Table
        The data.
    columns : sequence of str, optional
        The columns to convert; all columns when None.
    fill_null : scalar or mapping of str to scalar, optional
        What to put in place of nulls, as in :func:`to_numpy`. In a ``list`` column a null
        row becomes an empty row and null elements become the fill value.

    Returns
    -------
    dict of str to tf.Tensor or tf.RaggedTensor
        Ints and floats keep their width (``tf.int8`` ... ``tf.uint64``, ``tf.float16`` ...
        ``tf.float64``); bool becomes ``tf.bool``; strings and binary become ``tf.string``;
        timestamps, durations and date64 become ``tf.int64`` in the column's unit; date32
        becomes ``tf.int32`` days since the epoch. ``fixed_size_list`` columns become dense
        tensors of shape ``[n, k]`` (``[n, k, m]`` when nested); ``list`` and ``large_list``
        columns become ``tf.RaggedTensor`` with int64 row splits. Numeric data without
        nulls whose buffer is 64-byte aligned is handed to TensorFlow through DLPack without
        a copy; other data is copied once.

    Raises
    ------
    SchemaError
        As :func:`to_numpy`, and for types no tensor can hold (structs, maps, lists of
        variable-length lists).
    TypeError
        If ``batch`` is not a record batch or table.
    MissingDependencyError
        If TensorFlow is not installed.
    """
    tf_mod = import_optional("tensorflow")
    names = _select_columns(batch, columns)
    fills = _fill_values(batch, names, fill_null)
    result: dict[str, tf.Tensor | tf.RaggedTensor] = {}
    for name in names:
        arr = _column_array(batch, name)
        layout = _layout(name, arr.type)
        if layout.ragged:
            result[name] = _ragged_tensor(tf_mod, name, arr, layout, fills.get(name))
        else:
            result[name] = _dense_tensor(tf_mod, name, arr.type, arr, layout, fills.get(name))
    return result


def schema_to_tensor_specs(
    schema: pa.Schema,
    columns: Sequence[str] | None = None,
) -> dict[str, tf.TensorSpec | tf.RaggedTensorSpec]:
    """Describe the tensor each column converts to with :func:`to_tensors`.

    Parameters
    ----------
    schema : pyarrow.Schema
        The schema of the batches.
    columns : sequence of str, optional
        The columns to describe; all columns when None.

    Returns
    -------
    dict of str to tf.TensorSpec or tf.RaggedTensorSpec
        ``TensorSpec([None], dtype)`` for scalar columns, ``TensorSpec([None, k], dtype)``
        for ``fixed_size_list`` columns, and ``RaggedTensorSpec([None, None], dtype,
        ragged_rank=1, row_splits_dtype=tf.int64)`` for ``list`` columns.

    Raises
    ------
    SchemaError
        If a column is unknown, or its type (struct, map, list of lists, decimal, ...) has
        no tensor form; the message names the column and its Arrow type.
    MissingDependencyError
        If TensorFlow is not installed.
    """
    tf_mod = import_optional("tensorflow")
    names = _select_columns(schema, columns)
    specs: dict[str, tf.TensorSpec | tf.RaggedTensorSpec] = {}
    for name in names:
        layout = _layout(name, schema.field(name).type)
        dtype = _tf_dtype(tf_mod, layout.leaf)
        if layout.ragged:
            specs[name] = tf_mod.RaggedTensorSpec(
                shape=[None, None, *layout.inner_shape],
                dtype=dtype,
                ragged_rank=1,
                row_splits_dtype=tf_mod.int64,
            )
        else:
            specs[name] = tf_mod.TensorSpec(shape=[None, *layout.inner_shape], dtype=dtype)
    return specs


# ---------------------------------------------------------------------------------------------
# Columns and types
# ---------------------------------------------------------------------------------------------


def _select_columns(data: ArrowData | pa.Schema, columns: Sequence[str] | None) -> list[str]:
    """Validate ``columns`` against the data's schema and return the names to convert."""
    if not isinstance(data, pa.RecordBatch | pa.Table | pa.Schema):
        raise TypeError(
            f"Expected a pyarrow.RecordBatch or pyarrow.Table, got {type(data).__name__}. "
            "Convert it first, e.g. pa.Table.from_pandas(df) or pa.table({...})."
        )
    schema = data if isinstance(data, pa.Schema) else data.schema
    available = schema.names
    if columns is None:
        names = list(available)
    elif isinstance(columns, str):
        names = [columns]
    else:
        names = list(dict.fromkeys(columns))
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SchemaError(
            f"Unknown column(s) {unknown}; the data has columns {available}. "
            "Pass names from that list in columns=."
        )
    duplicated = [n for n in names if available.count(n) > 1]
    if duplicated:
        raise SchemaError(
            f"Column name(s) {duplicated} appear more than once in the schema {available}, "
            "so they are ambiguous. Rename the columns first (e.g. batch.rename_columns(...))."
        )
    return names


def _column_array(data: ArrowData, name: str) -> pa.Array:
    """Return column ``name`` as one Arrow array (chunks are combined only when several)."""
    column = data.column(name)
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            return column.chunk(0)
        return column.combine_chunks()
    return column


def _is_string(typ: pa.DataType) -> bool:
    return bool(pa.types.is_string(typ) or pa.types.is_large_string(typ) or _is_view(typ, "string"))


def _is_binary(typ: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
        or pa.types.is_fixed_size_binary(typ)
        or _is_view(typ, "binary")
    )


def _is_view(typ: pa.DataType, kind: str) -> bool:
    check = getattr(pa.types, f"is_{kind}_view", None)
    return bool(check is not None and check(typ))


def _is_temporal_int(typ: pa.DataType) -> bool:
    """Temporal types stored as integers that tensorbridge converts (not time32/time64)."""
    return bool(pa.types.is_timestamp(typ) or pa.types.is_date(typ) or pa.types.is_duration(typ))


def _is_leaf(typ: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_boolean(typ)
        or _is_string(typ)
        or _is_binary(typ)
        or _is_temporal_int(typ)
    )


def _is_var_list(typ: pa.DataType) -> bool:
    return bool(pa.types.is_list(typ) or pa.types.is_large_list(typ))


def _layout(name: str, typ: pa.DataType) -> _Layout:
    """Check that column ``name`` of type ``typ`` is convertible and describe its shape."""
    inner = typ.value_type if _is_var_list(typ) else typ
    shape: list[int] = []
    while pa.types.is_fixed_size_list(inner):
        shape.append(inner.list_size)
        inner = inner.value_type
    leaf = inner.value_type if pa.types.is_dictionary(inner) else inner
    if not _is_leaf(leaf):
        raise _unsupported_type(name, typ, leaf)
    return _Layout(ragged=_is_var_list(typ), inner_shape=tuple(shape), leaf=leaf)


def _unsupported_type(name: str, typ: pa.DataType, part: pa.DataType) -> SchemaError:
    """Build the error for a column whose type (or its part ``part``) has no array form."""
    if _is_var_list(part) or pa.types.is_list_view(part) or pa.types.is_large_list_view(part):
        fix = (
            "nested variable-length lists are not supported (a tensor has at most one ragged "
            "dimension here); flatten the inner lists, or make them fixed_size_list"
        )
    elif pa.types.is_struct(part):
        fix = "structs are not supported; flatten them first with batch.flatten()"
    elif pa.types.is_map(part):
        fix = "maps are not supported; split them into key and value list columns"
    elif pa.types.is_decimal(part):
        fix = "decimals are not supported; cast the column to float64 or int64"
    else:
        fix = f"cast the column to a supported type. {_SUPPORTED_TYPES_HINT}"
    detail = "" if part == typ else f" (the part {part} of it)"
    return SchemaError(
        f"Column {name!r} has the Arrow type {typ}{detail}, which cannot be converted to an "
        f"array or tensor: {fix}."
    )


# ---------------------------------------------------------------------------------------------
# Nulls and fill values
# ---------------------------------------------------------------------------------------------


def _fill_values(
    batch: ArrowData, names: list[str], fill_null: object | Mapping[str, object] | None
) -> dict[str, object]:
    """Resolve ``fill_null`` into ``{column: fill value}`` for the selected columns."""
    if fill_null is None:
        return {}
    if isinstance(fill_null, Mapping):
        available = batch.schema.names
        unknown = [key for key in fill_null if key not in available]
        if unknown:
            raise SchemaError(
                f"fill_null names unknown column(s) {unknown}; the data has columns "
                f"{available}. Use those names as the keys of fill_null."
            )
        return {name: fill_null[name] for name in names if fill_null.get(name) is not None}
    return dict.fromkeys(names, fill_null)


def _flatten_dense(arr: pa.Array, layout: _Layout) -> _Flat:
    """Flatten the ``fixed_size_list`` levels of ``arr`` down to its (decoded) leaf values.

    Slicing is honoured: each level takes ``values.slice(offset * k, len * k)``, which is a
    zero-copy view of the child array.
    """
    mask: np.ndarray | None = None
    null_lists = 0
    rows = len(arr)
    for size in layout.inner_shape:
        if arr.null_count:
            level = arr.is_null().to_numpy(zero_copy_only=False)
            null_lists += int(level.sum() if mask is None else (level & ~mask).sum())
            mask = level if mask is None else mask | level
        arr = arr.values.slice(arr.offset * size, len(arr) * size)
        if mask is not None:
            mask = np.repeat(mask, size)
    nested_mask = mask is not None
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.null_count:
        level = arr.is_null().to_numpy(zero_copy_only=False)
        mask = level if mask is None else mask | level
    return _Flat(arr, rows, layout.inner_shape, mask, null_lists, nested_mask)


def _fill_leaf(name: str, typ: pa.DataType, flat: _Flat, fill: object | None) -> pa.Array:
    """Return the leaf values of ``flat`` with nulls replaced by ``fill`` (raise if no fill)."""
    if flat.mask is None:
        return flat.leaf
    if fill is None:
        raise _null_error(name, typ, flat)
    return _replace_nulls(flat, _fill_scalar(name, typ, flat.leaf.type, fill))


def _replace_nulls(flat: _Flat, scalar: pa.Scalar) -> pa.Array:
    """Replace the masked leaf positions of ``flat`` with ``scalar`` (a new array)."""
    if not flat.nested_mask:
        return pc.fill_null(flat.leaf, scalar)
    return pc.if_else(pa.array(flat.mask, type=pa.bool_()), scalar, flat.leaf)


def _null_error(name: str, typ: pa.DataType, flat: _Flat) -> SchemaError:
    """Build the error for a column with nulls and no fill value."""
    assert flat.mask is not None
    count = int(flat.mask.sum())
    if flat.shape:
        where = f"{count} null value(s) ({flat.null_lists} null list(s) among {flat.rows} rows)"
    else:
        where = f"{count} null value(s) among {flat.rows} rows"
    example = _example_fill(flat.leaf.type)
    return SchemaError(
        f"Column {name!r} ({typ}) has {where}, and nulls are never converted silently. "
        f"Pass fill_null={{{name!r}: {example!r}}} (or one scalar for all columns) to replace "
        "them, or use to_masked_numpy(...) to keep them as a mask."
    )


def _example_fill(typ: pa.DataType) -> object:
    """Return a fill value to suggest in messages for a leaf type."""
    if pa.types.is_boolean(typ):
        return False
    if _is_string(typ):
        return ""
    if _is_binary(typ):
        return b""
    if pa.types.is_floating(typ):
        return 0.0
    return 0


def _filler(typ: pa.DataType) -> pa.Scalar:
    """Return the deterministic value :func:`to_masked_numpy` puts at masked positions."""
    if pa.types.is_fixed_size_binary(typ):
        return pa.scalar(b"\x00" * typ.byte_width, type=typ)
    return pa.scalar(_example_fill(typ), type=typ)


def _fill_scalar(name: str, column_type: pa.DataType, typ: pa.DataType, value: object) -> pa.Scalar:
    """Turn the user's fill value into an Arrow scalar of the leaf type, strictly.

    Arrow's own conversion truncates (0.5 -> 0 for ints); this refuses such values instead.
    """
    if isinstance(value, pa.Scalar):
        try:
            return value.cast(typ)
        except (pa.ArrowException, ValueError, TypeError) as err:
            raise _bad_fill(name, column_type, typ, value, "a value of that type", err) from err
    coerced, expected = _coerce_fill(typ, value)
    if coerced is _REJECTED:
        raise _bad_fill(name, column_type, typ, value, expected)
    try:
        return pa.scalar(coerced, type=typ)
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as err:
        raise _bad_fill(name, column_type, typ, value, expected, err) from err


def _coerce_fill(typ: pa.DataType, value: object) -> tuple[object, str]:
    """Return ``(value for Arrow, or _REJECTED; what the leaf type expects)``."""
    if pa.types.is_boolean(typ):
        expected = "a bool (or 0/1)"
        if isinstance(value, bool | np.bool_) or (
            isinstance(value, numbers.Integral) and value in (0, 1)
        ):
            return bool(value), expected
        return _REJECTED, expected
    if pa.types.is_integer(typ):
        expected = "an integer"
        if isinstance(value, numbers.Integral) and _is_number(value):
            return int(value), expected
        if isinstance(value, numbers.Real) and _is_number(value) and float(value).is_integer():
            return int(float(value)), expected
        return _REJECTED, expected
    if pa.types.is_floating(typ):
        return (value if _is_number(value) else _REJECTED), "a number"
    if _is_string(typ):
        return (value if isinstance(value, str) else _REJECTED), "a str"
    if _is_binary(typ):
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value), "bytes"
        return _REJECTED, "bytes"
    # timestamp, date, duration
    expected = "an int in the column's unit, a datetime/date/timedelta or numpy datetime64"
    temporal = numbers.Integral | _dt.date | _dt.timedelta | np.datetime64 | np.timedelta64
    if isinstance(value, bool | np.bool_) or not isinstance(value, temporal):
        return _REJECTED, expected
    return value, expected


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _bad_fill(
    name: str,
    typ: pa.DataType,
    leaf: pa.DataType,
    value: object,
    expected: str,
    cause: BaseException | None = None,
) -> SchemaError:
    reason = f" ({cause})" if cause is not None else ""
    return SchemaError(
        f"fill_null value {value!r} ({type(value).__name__}) does not fit column {name!r} of "
        f"type {typ}{reason}: expected {expected}. Pass a fitting value for this column, "
        "e.g. fill_null={" + f"{name!r}: {_example_fill(leaf)!r}" + "}."
    )


# ---------------------------------------------------------------------------------------------
# numpy
# ---------------------------------------------------------------------------------------------


def _leaf_to_numpy(leaf: pa.Array) -> np.ndarray:
    """Convert a null-free leaf array to 1-D numpy (zero-copy where Arrow allows it)."""
    typ = leaf.type
    if (
        pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_timestamp(typ)
        or pa.types.is_duration(typ)
    ):
        view: np.ndarray = leaf.to_numpy(zero_copy_only=True)
        return view
    # bool (bit-packed), strings, binary (Python objects) and dates (widened) need a copy.
    copy: np.ndarray = leaf.to_numpy(zero_copy_only=False)
    return copy


# ---------------------------------------------------------------------------------------------
# TensorFlow
# ---------------------------------------------------------------------------------------------


def _tf_dtype(tf_mod: ModuleType, leaf: pa.DataType) -> tf.DType:
    """Return the TensorFlow dtype a leaf Arrow type converts to."""
    if pa.types.is_boolean(leaf):
        return tf_mod.bool
    if _is_string(leaf) or _is_binary(leaf):
        return tf_mod.string
    if pa.types.is_date32(leaf):
        return tf_mod.int32
    if _is_temporal_int(leaf):
        return tf_mod.int64
    return tf_mod.as_dtype(np.dtype(leaf.to_pandas_dtype()))


def _dense_tensor(
    tf_mod: ModuleType,
    name: str,
    column_type: pa.DataType,
    arr: pa.Array,
    layout: _Layout,
    fill: object | None,
) -> tf.Tensor:
    """Build a dense tensor ``[n, *inner_shape]`` from a scalar or fixed_size_list array.

    ``arr`` is the column itself, or the values of a ``list`` column (``column_type`` is the
    column's type either way, for messages).
    """
    flat = _flatten_dense(arr, layout)
    leaf = _fill_leaf(name, column_type, flat, fill)
    tensor = _leaf_to_tensor(tf_mod, leaf)
    if layout.inner_shape:
        tensor = tf_mod.reshape(tensor, [len(arr), *layout.inner_shape])
    return tensor


def _ragged_tensor(
    tf_mod: ModuleType, name: str, arr: pa.Array, layout: _Layout, fill: object | None
) -> tf.RaggedTensor:
    """Build a ``tf.RaggedTensor`` from a ``list`` / ``large_list`` column.

    The row splits are the Arrow offsets shifted to start at 0 (a slice's offsets start
    wherever the slice begins); the values are the matching slice of the child array.
    """
    if arr.null_count:
        if fill is None:
            raise SchemaError(
                f"Column {name!r} ({arr.type}) has {arr.null_count} null row(s) among "
                f"{len(arr)} rows, and nulls are never converted silently. Pass "
                f"fill_null={{{name!r}: {_example_fill(layout.leaf)!r}}} to turn null rows "
                "into empty rows (and null elements into that value), or drop the rows first "
                "(e.g. batch.filter(pc.is_valid(batch.column(...))))."
            )
        # Null rows may be backed by non-empty sub-lists: rebuild splits from the lengths.
        lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
        splits = np.zeros(len(arr) + 1, dtype=np.int64)
        np.cumsum(lengths, out=splits[1:])
        values = arr.flatten()
    else:
        offsets = arr.offsets.to_numpy(zero_copy_only=True)
        start, stop = int(offsets[0]), int(offsets[-1])
        splits = offsets.astype(np.int64) - start
        values = arr.values.slice(start, stop - start)
    value_layout = _Layout(ragged=False, inner_shape=layout.inner_shape, leaf=layout.leaf)
    flat_values = _dense_tensor(tf_mod, name, arr.type, values, value_layout, fill)
    return tf_mod.RaggedTensor.from_row_splits(
        flat_values, row_splits=tf_mod.constant(splits, dtype=tf_mod.int64)
    )


def _leaf_to_tensor(tf_mod: ModuleType, leaf: pa.Array) -> tf.Tensor:
    """Convert a null-free leaf array to a 1-D tensor."""
    typ = leaf.type
    if pa.types.is_boolean(typ):
        return tf_mod.convert_to_tensor(leaf.to_numpy(zero_copy_only=False), dtype=tf_mod.bool)
    if _is_string(typ) or _is_binary(typ):
        return tf_mod.constant(leaf.to_numpy(zero_copy_only=False), dtype=tf_mod.string)
    if pa.types.is_date32(typ):
        leaf = leaf.view(pa.int32())
    elif _is_temporal_int(typ):
        leaf = leaf.view(pa.int64())
    return _numeric_tensor(tf_mod, leaf)


def _numeric_tensor(tf_mod: ModuleType, leaf: pa.Array) -> tf.Tensor:
    """Wrap a fixed-width numeric array as a tensor, sharing its buffer via DLPack if possible.

    TensorFlow's ``convert_to_tensor`` always copies numpy input, while DLPack import is
    zero-copy. TensorFlow aborts the whole process on misaligned buffers, so DLPack is only
    used when the data starts on a 64-byte boundary (Arrow allocates 64-byte aligned buffers;
    slices and memory-mapped data may not be); everything else is copied.
    """
    view = leaf.to_numpy(zero_copy_only=True)
    if len(leaf) and view.ctypes.data % _TF_ALIGNMENT == 0:
        try:
            with warnings.catch_warnings():
                # TensorFlow only accepts the legacy (unversioned) capsule that pyarrow warns
                # about; the warning is for us, not for the caller.
                warnings.filterwarnings(
                    "ignore", message=".*unversioned DLPack.*", category=DeprecationWarning
                )
                capsule = leaf.__dlpack__()
            return tf_mod.experimental.dlpack.from_dlpack(capsule)
        except (AttributeError, BufferError, TypeError, ValueError, pa.ArrowException):
            pass
        except tf_mod.errors.OpError:
            pass
    return tf_mod.convert_to_tensor(view)
