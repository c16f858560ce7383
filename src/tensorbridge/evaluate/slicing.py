"""Slices: which subsets of the rows get their own metrics (TFMA's ``SlicingSpec``).

A :class:`Slice` names zero, one or several columns. ``Slice()`` is the overall slice
(every row); ``Slice("company")`` makes one slice per distinct value of ``company``;
``Slice("company", "payment_type")`` makes one slice per distinct *pair* (the cross).
``values=`` pins columns to one value, as TFMA's ``feature_values``. Null values form
their own slice, shown as ``(missing)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge.errors import ConfigError, SchemaError

__all__ = ["MISSING", "Slice", "SliceKey", "group_rows", "slice_name"]

#: How a null slice value is shown.
MISSING = "(missing)"

#: A slice as computed: ``((column, value), ...)`` in the spec's column order; ``()`` is
#: the overall slice. ``None`` values are nulls.
SliceKey: TypeAlias = tuple[tuple[str, Any], ...]


@dataclass(frozen=True, init=False)
class Slice:
    """A slicing spec: the overall slice, one column, or the cross of several columns.

    Parameters
    ----------
    *columns : str
        Columns whose distinct values (or value combinations) define the slices.
        No columns and no ``values`` is the overall slice.
    values : mapping of str to value, optional
        Columns pinned to one value (TFMA's ``feature_values``). A row matches when its
        value equals the given one or, as in TFMA, when their texts are equal
        (``{"trip_start_hour": "7"}`` matches the integer 7).

    Examples
    --------
    >>> Slice()
    Slice()
    >>> Slice("company", "payment_type").name
    'company_X_payment_type'
    >>> Slice("company", values={"payment_type": "Cash"})
    Slice('company', values={'payment_type': 'Cash'})
    """

    columns: tuple[str, ...]
    values: tuple[tuple[str, Any], ...]

    def __init__(self, *columns: str, values: Mapping[str, Any] | None = None) -> None:
        for column in columns:
            if not isinstance(column, str) or not column:
                raise ConfigError(
                    f"Slice columns must be non-empty column names (str); got {column!r}. "
                    'Write Slice("company") or Slice("company", "payment_type").'
                )
        if len(set(columns)) != len(columns):
            raise ConfigError(f"Slice columns repeat a name: {columns!r}; list each once.")
        pinned = dict(values or {})
        for column in pinned:
            if not isinstance(column, str) or not column:
                raise ConfigError(f"Slice values= keys must be column names; got {column!r}.")
        both = sorted(set(columns) & set(pinned))
        if both:
            raise ConfigError(
                f"Slice columns {both} appear both as columns and in values=; a pinned column "
                "already has one value, so list it in only one place."
            )
        object.__setattr__(self, "columns", tuple(columns))
        object.__setattr__(self, "values", tuple(sorted(pinned.items(), key=lambda kv: kv[0])))

    @property
    def keys(self) -> tuple[str, ...]:
        """Every column of the slice key: ``columns`` then the pinned ``values`` columns."""
        return self.columns + tuple(column for column, _ in self.values)

    @property
    def is_overall(self) -> bool:
        """Whether this is the overall slice (every row)."""
        return not self.keys

    @property
    def name(self) -> str:
        """TFMA's name for the slice columns: ``Overall``, ``a`` or ``a_X_b``."""
        return "_X_".join(self.keys) if self.keys else "Overall"

    def matches(self, key: SliceKey) -> bool:
        """Whether a computed slice belongs to this spec (TFMA's ``is_slice_applicable``)."""
        if {column for column, _ in key} != set(self.keys) or len(key) != len(self.keys):
            return False
        actual = dict(key)
        return all(_same_value(actual[column], wanted) for column, wanted in self.values)

    def __repr__(self) -> str:
        parts = [repr(column) for column in self.columns]
        if self.values:
            parts.append(f"values={dict(self.values)!r}")
        return f"Slice({', '.join(parts)})"


def _same_value(actual: Any, wanted: Any) -> bool:
    if actual is None or wanted is None:
        return actual is None and wanted is None
    return bool(actual == wanted) or str(actual) == str(wanted)


def format_value(value: Any) -> str:
    """The text of one slice value; nulls are ``(missing)``."""
    return MISSING if value is None else str(value)


def slice_name(key: SliceKey) -> str:
    """TFMA's text for a slice: ``Overall``, ``company:Flash Cab`` or ``a_X_b:1_X_2``."""
    if not key:
        return "Overall"
    columns = "_X_".join(column for column, _ in key)
    values = "_X_".join(format_value(value) for _, value in key)
    return f"{columns}:{values}"


def normalize_slices(slices: Slice | Iterable[Slice]) -> tuple[Slice, ...]:
    """The specs to compute: the overall slice first (always), then each spec once."""
    items = [slices] if isinstance(slices, Slice) else list(slices)
    for item in items:
        if not isinstance(item, Slice):
            raise ConfigError(
                f"slices= takes Slice objects; got {type(item).__name__} {item!r}. "
                'Write slices=[Slice(), Slice("company")].'
            )
    result: list[Slice] = [Slice()]
    for item in items:
        if item not in result:
            result.append(item)
    return tuple(result)


def _column(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        raise SchemaError(
            f"Slice column {name!r} not found; the data has columns {table.column_names}. "
            "Fix the name in Slice(...) or add the column to the data."
        )
    array = table.column(name).combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_nested(array.type):
        raise SchemaError(
            f"Slice column {name!r} has Arrow type {array.type}; slices need one scalar "
            "value per row (a string, a number, a bool, a date). Slice on a scalar column."
        )
    return array


def group_rows(table: pa.Table, spec: Slice) -> list[tuple[SliceKey, np.ndarray]]:
    """Split the row numbers of ``table`` into the slices of ``spec``.

    Parameters
    ----------
    table : pyarrow.Table
        The data, with every column the spec names.
    spec : Slice
        The slicing spec.

    Returns
    -------
    list of (SliceKey, numpy.ndarray)
        One entry per slice that has rows: its key and its row numbers (ascending).
        Slices come in the order of their values (nulls last), crosses ordered by the
        first column, then the second.
    """
    if spec.is_overall:
        return [((), np.arange(table.num_rows))]
    keys = spec.keys
    ranks = np.empty((table.num_rows, len(keys)), dtype=np.int64)
    dictionaries: list[list[Any]] = []
    for position, name in enumerate(keys):
        encoded = pc.dictionary_encode(_column(table, name), null_encoding="encode")
        dictionary = encoded.dictionary
        order = np.asarray(
            pc.array_sort_indices(dictionary, null_placement="at_end"), dtype=np.int64
        )
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        ranks[:, position] = rank[indices]
        values = dictionary.to_pylist()
        dictionaries.append([values[i] for i in order])
    sizes = [max(len(values), 1) for values in dictionaries]
    if math.prod(sizes) < 2**62:
        # one integer code per row, ordered as the value tuples (first column first)
        code = np.ravel_multi_index(tuple(ranks.T), sizes) if len(keys) > 1 else ranks[:, 0]
        groups, inverse = np.unique(code, return_inverse=True)
        group_ranks = np.stack(np.unravel_index(groups, sizes), axis=1)
    else:  # pragma: no cover - needs > 2**62 value combinations
        group_ranks, inverse = np.unique(ranks, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    rows_by_group = np.argsort(inverse, kind="stable")
    sizes_of_groups = np.bincount(inverse, minlength=len(group_ranks))
    ends = np.cumsum(sizes_of_groups)
    starts = ends - sizes_of_groups
    result: list[tuple[SliceKey, np.ndarray]] = []
    for group, start, end in zip(group_ranks, starts, ends, strict=True):
        key = tuple((name, dictionaries[i][int(group[i])]) for i, name in enumerate(keys))
        if spec.matches(key):
            result.append((key, rows_by_group[start:end]))
    return result
