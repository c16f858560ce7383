"""The functions that make datasets: ``read_csv``, ``read_parquet``, ``read_json``, ..."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tensorbridge.io.bad_rows import OnBadRows
from tensorbridge.io.csv import DEFAULT_INFER_ROWS, CsvFormat, CsvSource
from tensorbridge.io.dataset import Dataset
from tensorbridge.io.jsonl import JsonLinesSource
from tensorbridge.io.memory import ArrowSource
from tensorbridge.io.parquet import ParquetSource
from tensorbridge.io.paths import PathLike
from tensorbridge.io.schema import SchemaLike
from tensorbridge.io.source import DEFAULT_BATCH_SIZE

if TYPE_CHECKING:
    from tensorbridge.engine import EngineLike


def read_csv(
    path: PathLike | Sequence[PathLike],
    *,
    schema: SchemaLike | None = None,
    delimiter: str = ",",
    quote_char: str = '"',
    column_names: Sequence[str] | None = None,
    na_values: Sequence[str] = (),
    infer_rows: int | None = DEFAULT_INFER_ROWS,
    on_bad_rows: OnBadRows = "raise",
    batch_size: int = DEFAULT_BATCH_SIZE,
    engine: EngineLike = None,
) -> Dataset:
    """Read CSV files (a file, a directory, a glob, or a list of them) as a dataset.

    Parameters
    ----------
    path : path or list of paths
        Files (``.csv``, ``.tsv``, optionally ``.gz``), directories or glob patterns.
    schema : pyarrow.Schema or mapping of column to type, optional
        Types for some or all columns (``{"fare": "float64", "tract": "string"}``);
        the other columns are inferred.
    delimiter, quote_char : str
        One character each. Quoted fields may hold delimiters and newlines.
    column_names : list of str, optional
        Names for files without a header line.
    na_values : list of str
        Extra cell texts that mean "missing" (empty cells always do).
    infer_rows : int or None, default 100000
        Rows looked at to infer types; None looks at all rows (one extra pass).
    on_bad_rows : {"raise", "skip"}
        ``"raise"``: a malformed row (wrong number of fields, a value that does not
        parse as its column's type, invalid UTF-8) raises :class:`BadInputError` naming
        the file, line and column. ``"skip"``: such rows are skipped and reported in
        ``dataset.bad_rows`` (count and first line numbers) after each read.
    batch_size : int
        Maximum rows per record batch.
    engine : "local", "spark", an engine object, or None
        Where the work runs; None means ``$TENSORBRIDGE_ENGINE`` or ``"local"``.

    Examples
    --------
    >>> import tensorbridge as tb
    >>> taxi = tb.read_csv("../shared/data/chicago_taxi/data.csv")  # doctest: +SKIP
    >>> taxi.schema.field("fare").type  # doctest: +SKIP
    DataType(double)
    """
    fmt = CsvFormat(
        delimiter=delimiter,
        quote_char=quote_char,
        header=column_names is None,
        column_names=tuple(column_names) if column_names is not None else None,
        na_values=tuple(na_values),
    )
    source = CsvSource(
        path,
        schema=schema,
        fmt=fmt,
        infer_rows=infer_rows,
        on_bad_rows=on_bad_rows,
        batch_size=batch_size,
    )
    return Dataset(source, engine=engine)


def read_parquet(
    path: PathLike | Sequence[PathLike],
    *,
    columns: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    engine: EngineLike = None,
) -> Dataset:
    """Read a Parquet file, a directory of Parquet files, or a glob, as a dataset.

    Parameters
    ----------
    path : path or list of paths
        Files, directories (read recursively; names starting with ``.`` or ``_`` are
        ignored, as Spark and pyarrow do) or glob patterns.
    columns : list of str, optional
        Read only these columns.
    batch_size : int
        Maximum rows per record batch.
    engine : "local", "spark", an engine object, or None
        Where the work runs.
    """
    return Dataset(ParquetSource(path, columns=columns, batch_size=batch_size), engine=engine)


def read_json(
    path: PathLike | Sequence[PathLike],
    *,
    schema: SchemaLike | None = None,
    infer_rows: int | None = DEFAULT_INFER_ROWS,
    on_bad_rows: OnBadRows = "raise",
    batch_size: int = DEFAULT_BATCH_SIZE,
    engine: EngineLike = None,
) -> Dataset:
    """Read JSON lines files (one JSON object per line) as a dataset.

    Parameters are those of :func:`read_csv`; a line that is not valid JSON, not an
    object, or holds a value that does not fit its field's type is a bad row.
    """
    source = JsonLinesSource(
        path, schema=schema, infer_rows=infer_rows, on_bad_rows=on_bad_rows, batch_size=batch_size
    )
    return Dataset(source, engine=engine)


def from_arrow(
    data: pa.Table | pa.RecordBatch | Sequence[pa.RecordBatch],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    engine: EngineLike = None,
) -> Dataset:
    """A dataset over an in-memory Arrow table, record batch or list of batches."""
    return Dataset(ArrowSource(data, batch_size=batch_size), engine=engine)


def from_pandas(
    frame: Any, *, batch_size: int = DEFAULT_BATCH_SIZE, engine: EngineLike = None
) -> Dataset:
    """A dataset over a pandas DataFrame (converted to Arrow once; the index is dropped)."""
    from tensorbridge._optional import import_optional

    pandas = import_optional("pandas")
    if not isinstance(frame, pandas.DataFrame):
        from tensorbridge.errors import ConfigError

        raise ConfigError(f"from_pandas expects a pandas DataFrame, got {type(frame).__name__}.")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return Dataset(
        ArrowSource(table, batch_size=batch_size, origin="pandas DataFrame"), engine=engine
    )


def from_spark(frame: Any, *, engine: EngineLike = None) -> Dataset:
    """A dataset over a Spark DataFrame.

    With the ``spark`` engine the work runs on the DataFrame's cluster through
    ``mapInArrow``; with the ``local`` engine the rows are fetched to this process as
    Arrow (the DataFrame must then fit in the driver's memory). By default a Spark
    DataFrame's dataset uses the ``spark`` engine.
    """
    from tensorbridge.io.spark_source import SparkSource

    return Dataset(SparkSource(frame), engine=engine if engine is not None else "spark")
