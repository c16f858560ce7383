"""Deterministic hash splits (train/eval/...), vectorised and identical everywhere.

Each row gets a 64-bit hash of its key (one or more columns, or the whole row) computed
with numpy from the Arrow buffers: no per-row Python. The hash depends only on the
values, not on the engine, the batch boundaries, the column order or the Arrow type
width (int32 and int64, float32 and float64 hash alike; integral floats hash as the
integer), so the same rows land in the same splits on both engines and across runs.

As TFX's ExampleGen, the split ratios are hash buckets: ``{"train": 2, "eval": 1}``
puts a row in ``train`` when ``hash % 3`` is 0 or 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge.errors import ConfigError, SchemaError

DEFAULT_SPLITS: dict[str, int] = {"train": 2, "eval": 1}

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x6E756C6C6E756C6C)  # "nullnull"
_STRING_SEED = np.uint64(0x737472696E67)  # "string"
_BYTE_BASE = np.uint64(0x100000001B3)  # FNV prime, odd


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective avalanche of 64-bit words."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _M1
        x = x ^ (x >> np.uint64(27))
        x = x * _M2
        return x ^ (x >> np.uint64(31))


def _hash_bytes(values: pa.Array) -> np.ndarray:
    """Hash each string/binary value from its UTF-8 bytes (polynomial, then mixed)."""
    array = values.cast(pa.large_binary()) if not pa.types.is_large_binary(values.type) else values
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    data_buffer = array.buffers()[2]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8).astype(np.uint64)
        if data_buffer is not None
        else np.zeros(0, np.uint64)
    )
    lengths = np.diff(offsets)
    result = np.full(n, _STRING_SEED, dtype=np.uint64)
    total = int(lengths.sum())
    if total:
        position = np.arange(total) - np.repeat(offsets[:-1] - offsets[0], lengths)
        start = int(offsets[0])
        byte_values = data[start : start + total]
        # Different weights per position, derived by mixing the position index.
        weights = _mix(position.astype(np.uint64) + _BYTE_BASE) | np.uint64(1)
        nonempty = lengths > 0
        starts = (offsets[:-1] - offsets[0])[nonempty]
        with np.errstate(over="ignore"):
            products = (byte_values + np.uint64(1)) * weights
            sums = np.zeros(n, dtype=np.uint64)
            sums[nonempty] = np.add.reduceat(products, starts)
            result = result + sums
    with np.errstate(over="ignore"):
        return _mix(result ^ _mix(lengths.astype(np.uint64)))


def _numeric_words(values: pa.Array) -> np.ndarray:
    """64-bit words for numbers: integers as int64, integral floats too, others as bits."""
    type_ = values.type
    if pa.types.is_boolean(type_) or pa.types.is_integer(type_):
        filled = pc.fill_null(values.cast(pa.int64()), 0)
        return filled.to_numpy(zero_copy_only=False).view(np.uint64)
    floats = pc.fill_null(values.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False)
    floats = floats + 0.0  # turns -0.0 into 0.0
    integral = np.isfinite(floats) & (np.floor(floats) == floats) & (np.abs(floats) < 2.0**63)
    words = floats.view(np.uint64).copy()
    words[integral] = floats[integral].astype(np.int64).view(np.uint64)
    words[np.isnan(floats)] = np.uint64(0x7FF8000000000000)
    return words


def hash_column(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each value of one column (nulls hash to a fixed value).

    Parameters
    ----------
    values : pyarrow.Array or ChunkedArray
        Numbers, booleans, strings, binary, dates or timestamps.

    Returns
    -------
    numpy.ndarray of uint64
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    type_ = values.type
    if pa.types.is_dictionary(type_):
        values = values.dictionary_decode()
        type_ = values.type
    if pa.types.is_timestamp(type_):
        values = values.cast(pa.timestamp("us", tz=type_.tz)).cast(pa.int64())
    elif pa.types.is_date(type_):
        values = values.cast(pa.date32()).cast(pa.int32())
    elif pa.types.is_decimal(type_):
        values = values.cast(pa.float64())
    if (
        pa.types.is_string(values.type)
        or pa.types.is_large_string(values.type)
        or pa.types.is_binary(values.type)
        or pa.types.is_large_binary(values.type)
    ):
        words = _hash_bytes(values)
    elif (
        pa.types.is_integer(values.type)
        or pa.types.is_floating(values.type)
        or pa.types.is_boolean(values.type)
    ):
        words = _mix(_numeric_words(values) ^ _GOLDEN)
    else:
        raise SchemaError(
            f"Cannot hash a column of type {values.type} for a split. Split on a key column "
            "of numbers, strings, dates or timestamps (key='...')."
        )
    if values.null_count:
        valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
        words = np.where(valid, words, _NULL)
    return words


def hash_rows(batch: pa.RecordBatch | pa.Table, columns: Sequence[str] | None = None) -> np.ndarray:
    """A 64-bit hash per row of the given columns (all columns when None).

    Columns are combined in name order, so the hash does not depend on column order.
    """
    names = sorted(columns if columns is not None else batch.schema.names)
    missing = [n for n in names if n not in batch.schema.names]
    if missing:
        raise SchemaError(
            f"Split key column(s) {missing} not found; the data has {batch.schema.names}."
        )
    combined = np.full(batch.num_rows, _GOLDEN, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in names:
            name_word = _hash_bytes(pa.array([name]))[0]
            combined = _mix(combined * _M1 + (hash_column(batch.column(name)) ^ name_word))
    return combined


def normalize_splits(splits: Mapping[str, float] | None) -> dict[str, int]:
    """Turn split ratios into integer hash buckets, e.g. ``{"a": 0.8, "b": 0.2} -> {4, 1}``."""
    if splits is None:
        return dict(DEFAULT_SPLITS)
    if not splits:
        raise ConfigError("splits= is empty; give at least one name and ratio, e.g. {'train': 1}.")
    ratios: dict[str, Fraction] = {}
    for name, ratio in splits.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"Split names must be non-empty strings, got {name!r}.")
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not ratio > 0:
            raise ConfigError(
                f"Split {name!r} has ratio {ratio!r}; ratios must be positive numbers "
                "(e.g. {'train': 2, 'eval': 1} or {'train': 0.8, 'eval': 0.2})."
            )
        ratios[name] = Fraction(ratio).limit_denominator(10_000)
    denominator = 1
    for fraction in ratios.values():
        denominator = denominator * fraction.denominator // _gcd(denominator, fraction.denominator)
    buckets = {name: int(f * denominator) for name, f in ratios.items()}
    common = 0
    for count in buckets.values():
        common = _gcd(common, count)
    return {name: count // common for name, count in buckets.items()}


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def assign_splits(
    batch: pa.RecordBatch, buckets: Mapping[str, int], key: Sequence[str] | None
) -> np.ndarray:
    """The split index (position in ``buckets``) of each row."""
    total = np.uint64(sum(buckets.values()))
    bucket = hash_rows(batch, key) % total
    bounds = np.cumsum(list(buckets.values())).astype(np.uint64)
    return np.searchsorted(bounds, bucket, side="right")
