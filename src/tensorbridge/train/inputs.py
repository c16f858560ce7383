"""Training input pipelines over Parquet data: a ``tf.data.Dataset`` and in-memory arrays.

:func:`make_tf_dataset` streams whole Parquet row groups with pyarrow, converts them to
numpy with :func:`tensorbridge.io.convert.to_numpy` (zero-copy for numeric columns without
nulls) and yields batches as numpy slices; no Python code runs per row. Shuffling visits the
files, and the row groups of each file, in a random order and permutes the rows within each
row group, so the data never has to fit in memory. :func:`make_arrays` loads everything into
numpy arrays, for small data or as an in-memory baseline.

TensorFlow is imported only inside the functions that need it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tensorbridge._optional import import_optional
from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.io.convert import schema_to_tensor_specs, to_numpy
from tensorbridge.io.dataset import Dataset
from tensorbridge.io.parquet import ParquetSource

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["make_arrays", "make_tf_dataset"]

#: What the input functions accept: a tensorbridge Dataset read from Parquet, a path, or
#: a list of Parquet files.
ParquetData: TypeAlias = "Dataset | str | os.PathLike[str] | Sequence[str]"

_Arrays: TypeAlias = dict[str, np.ndarray]


#: One piece of reading: (file, row group, first row, end row) within that row group.
_Piece: TypeAlias = tuple[str, int, int, int]


@dataclass(frozen=True)
class _Plan:
    """The files to read, the columns to read from them and, for a shard, its row ranges."""

    files: list[str]
    schema: pa.Schema
    features: list[str]
    label: str | None
    pieces: list[_Piece] | None = None  # None: every row of every file

    @property
    def num_rows(self) -> int:
        if self.pieces is None:
            return _num_rows(self.files)
        return sum(end - start for _, _, start, end in self.pieces)

    @property
    def columns(self) -> list[str]:
        return [*self.features, self.label] if self.label is not None else list(self.features)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def make_tf_dataset(
    data: ParquetData,
    *,
    label: str | None,
    features: Sequence[str] | None = None,
    batch_size: int,
    shuffle: bool = True,
    seed: int | None = None,
    repeat: bool = False,
    drop_remainder: bool = False,
    shard: tuple[int, int] | None = None,
) -> tf.data.Dataset:
    """Stream Parquet data as batches of ``(features, label)`` for Keras.

    Parameters
    ----------
    data : Dataset or path
        A tensorbridge dataset read from Parquet (for example
        ``TransformOutput.transformed_data``), without further transforms, or the path of a
        Parquet file or directory.
    label : str or None
        The label column. When None, elements are the feature dict alone.
    features : sequence of str, optional
        The feature columns, in this order. Default: every column except the label (or the
        columns the Parquet dataset was read with).
    batch_size : int
        Rows per batch (>= 1). Every batch has exactly this many rows, carrying leftover
        rows across row groups and files; only the last batch of an epoch may be smaller.
    shuffle : bool
        Each epoch visits the files in a random order, the row groups of each file in a
        random order, and permutes the rows within each row group.
    seed : int, optional
        Makes the shuffled order reproducible. The epoch number is mixed into the seed, so
        every epoch (each pass of ``repeat=True``, or each new iteration of the dataset, as
        Keras does once per epoch) has a different order. When None, a random seed is drawn.
    repeat : bool
        Loop over the epochs forever (for ``model.fit(..., steps_per_epoch=...)``). Batches
        then run on across epoch boundaries, so all are full.
    drop_remainder : bool
        Drop the last, smaller batch of an epoch.
    shard : (int, int), optional
        ``(index, count)``: read only shard ``index`` of ``count`` equal shares of the rows
        (in file and row-group order, shares differ by at most one row), as each worker of
        a distributed training run does. Together the shards hold every row exactly once.

    Returns
    -------
    tf.data.Dataset
        Elements ``({name: tensor}, label_tensor)``, or ``{name: tensor}`` when ``label`` is
        None. Scalar columns have shape ``[batch]``, ``fixed_size_list<k>`` columns
        ``[batch, k]``. Without ``repeat`` its cardinality is the number of batches (from the
        Parquet footers); with it, infinite. The dataset ends with
        ``.prefetch(tf.data.AUTOTUNE)``.

    Raises
    ------
    ConfigError
        If ``data`` is not Parquet data, ``batch_size`` is below 1, or ``repeat=True`` on
        data without rows.
    SchemaError
        If a column is unknown or has no dense tensor form (variable-length lists, structs),
        or (while iterating) a column holds nulls.
    MissingDependencyError
        If TensorFlow is not installed.

    Examples
    --------
    >>> ds = make_tf_dataset(output.transformed_data, label="tips_xf",
    ...                      batch_size=512, seed=0)  # doctest: +SKIP
    >>> model.fit(ds, epochs=3)  # doctest: +SKIP
    """
    tf_mod = import_optional("tensorflow")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(
            f"batch_size={batch_size!r} is not a positive integer; pass the number of rows per "
            "batch, e.g. batch_size=512."
        )
    plan = _plan(data, label=label, features=features)
    if shard is not None:
        plan = shard_plan(plan, *shard)
    specs = schema_to_tensor_specs(plan.schema, plan.columns)
    ragged = [name for name, spec in specs.items() if not isinstance(spec, tf_mod.TensorSpec)]
    if ragged:
        raise SchemaError(
            f"Columns {ragged} are variable-length lists, which make_tf_dataset cannot batch "
            "as dense tensors. Store them as fixed_size_list (pa.list_(type, k)) when every row "
            "has k values, or leave them out with features=[...]."
        )
    if repeat and plan.num_rows == 0:
        raise ConfigError(
            f"repeat=True on data without rows ({len(plan.files)} file(s), 0 rows"
            f"{'' if shard is None else f' in shard {shard[0]} of {shard[1]}'}) would loop "
            "forever without a batch; check the data or pass repeat=False."
        )
    if shuffle and seed is None:
        seed = int(np.random.default_rng().integers(2**63))
    feature_specs = {name: specs[name] for name in plan.features}
    signature: Any = feature_specs if label is None else (feature_specs, specs[label])
    iterations = itertools.count()

    def generator() -> Iterator[Any]:
        # Each iteration of the dataset (a Keras epoch) starts from the next epoch number.
        start = next(iterations)
        epochs: Iterator[int] = itertools.count(start * 1_000_003) if repeat else iter([start])
        for batch in _batches(plan, epochs, batch_size, shuffle, seed, drop_remainder):
            if label is None:
                yield batch
            else:
                target = batch.pop(label)
                yield batch, target

    dataset = tf_mod.data.Dataset.from_generator(generator, output_signature=signature)
    if not repeat:
        # The footers give the row count, so Keras knows the steps per epoch.
        rows = plan.num_rows
        steps = rows // batch_size if drop_remainder else -(-rows // batch_size)
    else:
        steps = tf_mod.data.INFINITE_CARDINALITY
    dataset = dataset.apply(tf_mod.data.experimental.assert_cardinality(steps))
    return dataset.prefetch(tf_mod.data.AUTOTUNE)


def make_arrays(
    data: ParquetData,
    *,
    label: str | None,
    features: Sequence[str] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Load the whole data into numpy arrays (for small data, or an in-memory baseline).

    Parameters
    ----------
    data : Dataset or path
        As in :func:`make_tf_dataset`.
    label : str or None
        The label column; the returned label is None when this is None.
    features : sequence of str, optional
        The feature columns; default every column except the label.

    Returns
    -------
    tuple of (dict of str to numpy.ndarray, numpy.ndarray or None)
        The feature arrays, in file order, and the label array.

    Raises
    ------
    ConfigError
        If ``data`` is not Parquet data.
    SchemaError
        If a column is unknown, has no dense numpy form, or holds nulls.
    """
    plan = _plan(data, label=label, features=features)
    tables = [pq.ParquetFile(f).read(columns=plan.columns) for f in plan.files]
    table = pa.concat_tables(tables) if tables else plan.schema.empty_table()
    arrays = _convert(table, plan.columns, where=f"{len(plan.files)} Parquet file(s)")
    target = arrays.pop(label) if label is not None else None
    return arrays, target


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


def _plan(data: ParquetData, *, label: str | None, features: Sequence[str] | None) -> _Plan:
    """Resolve ``data`` to Parquet files and check the label and feature columns."""
    if isinstance(data, Dataset):
        source = data.source
        if not isinstance(source, ParquetSource):
            raise ConfigError(
                f"make_tf_dataset needs data stored as Parquet, but the dataset reads from "
                f"{type(source).__name__}. Write it first with data.write_parquet(path) and "
                "pass tb.read_parquet(path) or the path."
            )
        if data.transforms:
            raise ConfigError(
                f"The dataset has {len(data.transforms)} batch transform(s) applied after "
                "reading Parquet, which make_tf_dataset would skip. Write the transformed data "
                "with data.write_parquet(path) and pass that path instead."
            )
        files = list(source.files)
        available = list(source.columns) if source.columns is not None else None
    elif isinstance(data, (str, os.PathLike)):
        source = ParquetSource(data)
        files = list(source.files)
        available = None
    elif isinstance(data, (list, tuple)) and data and all(isinstance(f, str) for f in data):
        files = list(data)  # the files of a dataset, as a distributed worker gets them
        available = None
    else:
        raise ConfigError(
            f"data={type(data).__name__} is not Parquet data; pass a tensorbridge Dataset read "
            "from Parquet (tb.read_parquet(...), TransformOutput.transformed_data) or the path "
            "of a Parquet file or directory."
        )
    schema = pq.read_schema(files[0]).remove_metadata()
    names = available if available is not None else list(schema.names)
    if label is not None and label not in schema.names:
        raise SchemaError(
            f"label={label!r} is not a column of {files[0]!r}; it has {schema.names}. Pass one "
            "of those, or label=None for features only."
        )
    if features is None:
        chosen = [n for n in names if n != label]
    else:
        if isinstance(features, str):
            raise ConfigError(
                f"features={features!r} is a string; pass a list of column names, e.g. "
                f"features=[{features!r}]."
            )
        chosen = list(features)
        missing = [n for n in chosen if n not in schema.names]
        if missing:
            raise SchemaError(
                f"features {missing} are not columns of {files[0]!r}; it has {schema.names}."
            )
        if label is not None and label in chosen:
            raise ConfigError(
                f"The label {label!r} is also among features={chosen}; remove it from features "
                "so the model cannot see its target."
            )
        if len(set(chosen)) != len(chosen):
            raise ConfigError(f"features={chosen} names a column twice; list each once.")
    if not chosen:
        raise ConfigError(
            f"No feature columns: the data has {schema.names} and label={label!r}. Pass "
            "features=[...] or data with more columns."
        )
    return _Plan(files=files, schema=schema, features=chosen, label=label)


def _num_rows(files: Sequence[str]) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def parquet_files(data: ParquetData) -> list[str]:
    """The Parquet files behind ``data`` (as :func:`make_tf_dataset` would read them)."""
    return _plan(data, label=None, features=None).files


def count_rows(data: ParquetData) -> int:
    """Rows in ``data``, from the Parquet footers."""
    return _num_rows(_plan(data, label=None, features=None).files)


def shard_rows(total: int, index: int, count: int) -> tuple[int, int]:
    """The ``[start, end)`` row range of shard ``index`` of ``count`` over ``total`` rows.

    Examples
    --------
    >>> [shard_rows(10, i, 3) for i in range(3)]
    [(0, 3), (3, 6), (6, 10)]
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"shard count {count!r} must be an integer >= 1.")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ConfigError(f"shard index {index!r} must be an integer in [0, {count}).")
    return total * index // count, total * (index + 1) // count


def shard_plan(plan: _Plan, index: int, count: int) -> _Plan:
    """Restrict ``plan`` to shard ``index`` of ``count``: contiguous, near-equal row ranges."""
    layout: list[tuple[str, int, int]] = []  # (file, row group, rows) in file order
    for path in plan.files:
        metadata = pq.ParquetFile(path).metadata
        layout.extend(
            (path, g, metadata.row_group(g).num_rows) for g in range(metadata.num_row_groups)
        )
    lo, hi = shard_rows(sum(rows for _, _, rows in layout), index, count)
    pieces: list[_Piece] = []
    offset = 0
    for path, group, rows in layout:
        start, end = max(lo, offset), min(hi, offset + rows)
        if start < end:
            pieces.append((path, group, start - offset, end - offset))
        offset += rows
    files = list(dict.fromkeys(path for path, _, _, _ in pieces))
    return _Plan(files if files else plan.files, plan.schema, plan.features, plan.label, pieces)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _convert(table: pa.Table, columns: Sequence[str], *, where: str) -> _Arrays:
    """``to_numpy`` with an error that says nulls have no place in training data."""
    for name in columns:
        nulls = table.column(name).null_count
        if nulls:
            raise SchemaError(
                f"Column {name!r} has {nulls} null value(s) in {where}; training data must "
                "have no nulls. Fill them in the preprocessing_fn (e.g. with a default value) "
                "or filter those rows before writing the Parquet data."
            )
    try:
        return to_numpy(table, columns)
    except SchemaError as err:
        raise SchemaError(f"In {where}: {err}") from err


def _row_groups(
    plan: _Plan, epoch: int, shuffle: bool, seed: int | None
) -> Iterator[tuple[str, int, slice | None, np.random.Generator | None]]:
    """The (file, row group, rows of it or None for all) of one epoch, in reading order."""
    rng = np.random.default_rng([seed or 0, epoch]) if shuffle else None
    if plan.pieces is not None:
        order = rng.permutation(len(plan.pieces)) if rng is not None else range(len(plan.pieces))
        for i in order:
            path, group, start, end = plan.pieces[int(i)]
            yield path, group, slice(start, end), rng
        return
    file_order = rng.permutation(len(plan.files)) if rng is not None else range(len(plan.files))
    for f in file_order:
        path = plan.files[int(f)]
        groups = pq.ParquetFile(path).metadata.num_row_groups
        order = rng.permutation(groups) if rng is not None else range(groups)
        for g in order:
            yield path, int(g), None, rng


def _batches(
    plan: _Plan,
    epochs: Iterator[int],
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    drop_remainder: bool,
) -> Iterator[_Arrays]:
    """Yield dicts of numpy arrays with exactly ``batch_size`` rows (the last may be short)."""
    columns = plan.columns
    pending: _Arrays | None = None  # leftover rows (fewer than batch_size)
    pending_rows = 0
    for epoch in epochs:
        handles: dict[str, pq.ParquetFile] = {}
        for path, group, rows_wanted, rng in _row_groups(plan, epoch, shuffle, seed):
            handle = handles.get(path)
            if handle is None:
                handles.clear()  # keep one file open at a time
                handle = handles[path] = pq.ParquetFile(path)
            table = handle.read_row_group(group, columns=columns)
            if rows_wanted is not None:
                table = table.slice(rows_wanted.start, rows_wanted.stop - rows_wanted.start)
            rows = table.num_rows
            if rows == 0:
                continue
            arrays = _convert(table, columns, where=f"row group {group} of {path}")
            if rng is not None:
                perm = rng.permutation(rows)
                arrays = {k: v[perm] for k, v in arrays.items()}
            start = 0
            if pending is not None:
                take = min(batch_size - pending_rows, rows)
                pending = {k: np.concatenate([pending[k], arrays[k][:take]]) for k in columns}
                pending_rows += take
                start = take
                if pending_rows < batch_size:
                    continue
                yield pending
                pending, pending_rows = None, 0
            while rows - start >= batch_size:
                yield {k: v[start : start + batch_size] for k, v in arrays.items()}
                start += batch_size
            if start < rows:
                pending = {k: v[start:] for k, v in arrays.items()}
                pending_rows = rows - start
    if pending is not None and not drop_remainder:
        yield pending
