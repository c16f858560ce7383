"""Scoring Spark DataFrames with an exported model: Arrow batches in, predictions out.

:func:`predict` runs the serving SavedModel (the transform inside it) as an Arrow UDF
(``pyspark.sql.functions.arrow_udf``, Spark 4.1+): Spark hands the model's input columns
to the Python worker as Arrow arrays, they become the model's input arrays without a row
ever being pickled or a pandas object being built, and the predictions go back as one
Arrow column; the other columns of each row never leave the JVM. The model is loaded once
per Python worker process and reused by every task that worker runs (Spark reuses its
Python workers by default).
:func:`register` makes the same model a SQL function over a struct of the feature
columns: ``SELECT *, taxi(struct(*)) FROM trips``.

Inputs follow the serving rules of the export's manifest: a null in an optional input
becomes its missing-value sentinel (NaN, ``""``), as the model server does, so Spark and
the server give the same prediction for the same row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge._optional import import_optional
from tensorbridge.errors import ConfigError, SchemaError

__all__ = ["predict", "register", "resolve_model"]

#: Arrow types of the model dtypes a column is cast to (and outputs come back as).
_ARROW_TYPES = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64(),
                "int32": pa.int32(), "bool": pa.bool_()}  # fmt: skip
#: Models loaded in this Python process (a Spark worker keeps them between tasks).
_LOADED: dict[str, Any] = {}


@dataclass(frozen=True)
class _Input:
    """What the executors need to know of one model input (plain, cheap to ship)."""

    name: str
    dtype: str
    optional: bool


def resolve_model(
    model: str | Path,
    *,
    repository: str | Path | None = None,
    version: int | None = None,
    label: str | None = None,
) -> Path:
    """The SavedModel directory to score with.

    Parameters
    ----------
    model : str or path
        An export directory (a SavedModel with ``tensorbridge.json``), or with
        ``repository`` a model name in that repository.
    repository : path, optional
        A model repository in TF Serving's layout (what the Pusher writes).
    version, label : optional
        Which version of the named model: a number, a label from its ``routing.json``,
        or (neither) the latest complete version.
    """
    if repository is None:
        path = Path(model)
        if not (path / "saved_model.pb").is_file():
            raise ConfigError(
                f"{str(path)!r} is not a SavedModel directory (no saved_model.pb). Pass an "
                "export directory, or a model name with repository=."
            )
        return path
    from tensorbridge.serve.repository import ModelRepository
    from tensorbridge.serve.routing import read_routing

    repo = ModelRepository(repository)
    name = str(model)
    versions = repo.versions(name)
    if not versions:
        raise ConfigError(f"Model {name!r} has no complete version in {str(repo.root)!r}.")
    if label is not None:
        labels = read_routing(repo.model_dir(name)).labels
        if label not in labels:
            raise ConfigError(f"Model {name!r} has no label {label!r}; its labels: {dict(labels)}.")
        version = labels[label]
    chosen = versions[-1] if version is None else int(version)
    if chosen not in versions:
        raise ConfigError(f"Model {name!r} has no complete version {chosen}; it has {versions}.")
    return repo.version_dir(name, chosen)


def _served(path: str) -> Any:
    """The model at ``path``, loaded once per process."""
    loaded = _LOADED.get(path)
    if loaded is None:
        from tensorbridge.serve.model import ServedModel

        loaded = ServedModel.load(Path(path).parent.name, _version_of(path), Path(path))
        _LOADED[path] = loaded
    return loaded


def _version_of(path: str) -> int:
    name = Path(path).name
    return int(name) if name.isdigit() else 1


def _inputs_of(path: Path) -> tuple[list[_Input], str, str]:
    """The model's inputs, its output name and the output's Arrow type name."""
    model = _served(str(path))
    inputs = [_Input(s.name, s.dtype, s.optional) for s in model.inputs.values()]
    output = next(iter(model.outputs))
    return inputs, output, model.outputs[output]


_NUMERIC_SPARK = {"ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType",
                  "DecimalType"}  # fmt: skip


def _check_columns(schema: Any, inputs: list[_Input], where: str) -> None:
    """Missing or mistyped feature columns, as one error naming each and the fix."""
    fields = {f.name: type(f.dataType).__name__ for f in schema.fields}
    missing = [i.name for i in inputs if i.name not in fields]
    if missing:
        raise SchemaError(
            f"{where}: the model needs the columns {missing}, which the DataFrame lacks (it has "
            f"{sorted(fields)}). Add them (null where unknown, if the model allows it)."
        )
    wrong = []
    for spec in inputs:
        kind = fields[spec.name]
        if spec.dtype == "string" and kind != "StringType":
            wrong.append(f"{spec.name!r} is {kind}, the model expects a string")
        elif spec.dtype != "string" and kind not in _NUMERIC_SPARK and kind != "BooleanType":
            wrong.append(f"{spec.name!r} is {kind}, the model expects {spec.dtype}")
    if wrong:
        raise SchemaError(
            f"{where}: "
            + "; ".join(wrong)
            + ". Cast the columns (e.g. col('fare').cast('double'))."
        )


def _column(batch: pa.RecordBatch | pa.Table, spec: _Input) -> np.ndarray:
    """One input column as the model's 1-D array, nulls as the optional sentinel."""
    column = batch.column(spec.name)
    nulls = column.null_count
    if nulls and not spec.optional:
        raise SchemaError(
            f"Column {spec.name!r} has {nulls} null value(s), but the model requires it (it "
            "had no missing values in training). Fill or filter them before scoring."
        )
    if spec.dtype == "string":
        text = pc.cast(column, pa.string())
        if nulls:
            text = pc.fill_null(text, "")
        return np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    target = _ARROW_TYPES[spec.dtype]
    try:
        values = pc.cast(column, target)
    except pa.ArrowInvalid as err:
        raise SchemaError(f"Column {spec.name!r} cannot become {spec.dtype}: {err}.") from None
    if nulls:
        values = pc.fill_null(values, math.nan)
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _score(
    batch: pa.RecordBatch | pa.Table, path: str, inputs: list[_Input], output: str
) -> np.ndarray:
    model = _served(path)
    arrays = {spec.name: _column(batch, spec) for spec in inputs}
    result = np.asarray(model.predict(arrays)[output])
    return result.reshape(len(result), -1)[:, 0] if result.ndim > 1 else result


def predict(
    df: Any,
    model: str | Path,
    *,
    repository: str | Path | None = None,
    version: int | None = None,
    label: str | None = None,
    output_column: str = "prediction",
    batch_size: int = 4096,
) -> Any:
    """``df`` with a prediction column, computed by the exported model on Spark executors.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Raw feature columns named as the model's inputs (others are passed through).
    model, repository, version, label
        The model (see :func:`resolve_model`).
    output_column : str
        Name of the new column (the model's single output; for a ``[n, 1]`` probability
        output, its one value per row).
    batch_size : int
        Most rows per model call.

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy; nothing runs until an action.

    Raises
    ------
    SchemaError
        When a feature column is missing or has a type the model cannot take (checked on
        the driver, before anything runs), or a required column holds nulls (on an
        executor; the job fails with that message).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
    path = resolve_model(model, repository=repository, version=version, label=label)
    inputs, output, output_dtype = _inputs_of(path)
    _check_columns(df.schema, inputs, f"Scoring with {path}")
    if output_column in df.columns:
        raise ConfigError(
            f"The DataFrame already has a column {output_column!r}; pass output_column=."
        )
    udf = _arrow_udf(str(path.resolve()), inputs, output, output_dtype, batch_size)
    return df.withColumn(output_column, udf(*[df[spec.name] for spec in inputs]))


def _arrow_udf(
    location: str,
    inputs: list[_Input],
    output: str,
    output_dtype: str,
    batch_size: int,
    sql_name: str | None = None,
) -> Any:
    """An Arrow UDF: the model's input columns in, the prediction column out.

    Only those columns cross to Python and one comes back; the rest of each row stays in
    the JVM. With ``sql_name`` (a SQL function) the input is one struct of the columns.
    """
    functions = import_optional("pyspark.sql.functions")
    sql_types = import_optional("pyspark.sql.types")
    return_type = sql_types.DoubleType() if output_dtype == "float64" else sql_types.FloatType()
    out_type = pa.float64() if output_dtype == "float64" else pa.float32()
    names = [spec.name for spec in inputs]

    def score(*columns: pa.Array) -> pa.Array:
        if sql_name is not None:
            batch = pa.RecordBatch.from_struct_array(columns[0])
            missing = [n for n in names if n not in batch.schema.names]
            if missing:
                raise SchemaError(
                    f"SQL function {sql_name}: the struct lacks the model's inputs {missing}; "
                    f"call {sql_name}(struct(*)) on a table with them, or name them with "
                    "named_struct."
                )
        else:
            batch = pa.RecordBatch.from_arrays(list(columns), names=names)
        parts = [
            _score(batch.slice(start, batch_size), location, inputs, output)
            for start in range(0, batch.num_rows, batch_size)
        ]
        values = np.concatenate(parts) if parts else np.empty(0)
        return pa.array(values, type=out_type)

    return functions.arrow_udf(score, return_type)


def register(
    spark: Any,
    name: str,
    model: str | Path,
    *,
    repository: str | Path | None = None,
    version: int | None = None,
    label: str | None = None,
    batch_size: int = 4096,
) -> Any:
    """Register the model as the SQL function ``name`` over a struct of feature columns.

    ``SELECT *, taxi(struct(*)) AS p FROM trips`` scores every row; the struct's fields
    are matched to the model's inputs by name (extra fields are ignored). Runs as an
    Arrow UDF (the struct arrives as an Arrow ``StructArray``, no pandas), the model
    loaded once per Python worker.

    Returns
    -------
    The registered UDF (usable in the DataFrame API too).
    """
    path = resolve_model(model, repository=repository, version=version, label=label)
    inputs, output, output_dtype = _inputs_of(path)
    udf = _arrow_udf(str(path.resolve()), inputs, output, output_dtype, batch_size, name)
    return spark.udf.register(name, udf)
