"""Scoring a Spark DataFrame with an exported model: tensorbridge vs Spark's ways.

Two models, each run by every method on the same rows (default 2,000,000) on ``local[2]``:

* ``taxi``: the taxi model exported by tensorbridge (raw features in, the transform graph
  inside; built once and cached by bench_serving.py's ``model_repository``) on rows
  resampled from the shared taxi data;
* ``mlp``: the workload issue #8 measured: 20 float columns into an MLP (Dense 64 relu,
  Dense 64 relu, Dense 1 sigmoid; a plain Keras SavedModel), random normal rows.

Methods:

* tensorbridge: ``tensorbridge.spark.predict`` (an Arrow UDF: the model's columns go to
  Python as Arrow arrays, one column comes back; model loaded once per Python worker);
* ``mapInArrow`` with the same scoring code (every column goes to Python and back);
* ``pyspark.ml.functions.predict_batch_udf`` (Spark's own deep-learning inference UDF),
  twice: as its documentation loads and calls a TensorFlow model (``keras.models.load_model``
  and ``model.predict`` for the MLP; the SavedModel's serving signature for the taxi
  model, which Keras 3 cannot load), the baseline of the ratios; and given tensorbridge's
  own model runner (the same call ``tensorbridge.spark.predict`` makes);
* a scalar pandas UDF taking a Series per feature column (the classic pandas-UDF path);
* a pickled-row RDD ``mapPartitions`` (rows cross to Python as pickled ``Row`` objects);
* Spark's own limit: an Arrow UDF over the same columns that returns zeros without
  running any model (what moving the rows from Spark's cache to Python and back costs);
* the in-process limit: the model alone on in-memory numpy arrays, one process.

The rows are cached in Spark (4 partitions) and one untimed pass starts the Python workers
and loads the model in each first. Every Spark method sums its predictions, so the whole
column is computed, once. Each prints rows/s and how busy the machine's cores were
(from /proc/stat); ratios are against ``predict_batch_udf`` as its documentation uses it,
and the in-process limit. All methods use the same
conversion of nulls to the model's sentinels, and their prediction sums are checked
equal.

    uv run --frozen python benchmarks/bench_spark_scoring.py [--rows 2000000] [--batch-size 4096]
        [--models taxi,mlp]
"""

from __future__ import annotations

import argparse
import inspect
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from bench_serving import model_repository
from taxi_data import resampled_taxi_csv

import tensorbridge as tb
from tensorbridge.engine.spark import get_or_create_session
from tensorbridge.spark.scoring import _column, _Input, _served

HERE = Path(__file__).resolve().parent


MLP_FEATURES = 20


def parquet_of(rows: int) -> Path:
    """The resampled rows as Parquet (written once), for Spark to read in parallel."""
    target = HERE / ".data" / f"taxi_{rows}_seed42.parquet"
    if not target.exists():
        tb.read_csv(resampled_taxi_csv(rows)).write_parquet(target)
    return target


def mlp_case(rows: int) -> tuple[Path, Path]:
    """The MLP SavedModel (and its .keras file) and random rows as Parquet (written once)."""
    export = HERE / ".data" / "mlp_models" / "mlp" / "1"
    data = HERE / ".data" / f"mlp_{rows}_seed0.parquet"
    if not (export.parent.parent / "mlp.keras").exists():
        import keras

        keras.utils.set_random_seed(0)
        inputs = {f"f{i}": keras.Input(shape=(), name=f"f{i}") for i in range(MLP_FEATURES)}
        x = keras.layers.Concatenate()([keras.layers.Reshape((1,))(v) for v in inputs.values()])
        x = keras.layers.Dense(64, activation="relu")(x)
        x = keras.layers.Dense(64, activation="relu")(x)
        model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
        model.export(str(export), verbose=False)
        model.save(export.parent.parent / "mlp.keras")
    if not data.exists():
        rng = np.random.default_rng(0)
        columns = {f"f{i}": rng.normal(size=rows).astype(np.float32) for i in range(MLP_FEATURES)}
        tb.from_arrow(pa.table(columns)).write_parquet(data)
    return export, data


def cpu_ticks() -> tuple[int, int] | None:
    """(all, idle) CPU ticks of the machine so far, or None where /proc/stat is absent."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return None
    return sum(ticks), ticks[3] + ticks[4]  # idle + iowait


@dataclass(frozen=True)
class Timing:
    """Wall time of one method and how busy the machine's cores were meanwhile (0-1)."""

    seconds: float
    busy: float | None


def timed(label: str, run: Callable[[], Any]) -> tuple[Timing, Any]:
    before = cpu_ticks()
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    after = cpu_ticks()
    busy = None
    if before and after and after[0] > before[0]:
        busy = 1 - (after[1] - before[1]) / (after[0] - before[0])
    shown = "" if busy is None else f"  cores {busy:4.0%} busy"
    print(f"  {label:<50} {seconds:8.2f} s{shown}", flush=True)
    return Timing(seconds, busy), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--models", default="taxi,mlp", help="comma-separated: taxi, mlp")
    args = parser.parse_args()
    spark = get_or_create_session(
        "local[2]", {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}
    )
    tables = []
    for name in args.models.split(","):
        if name == "taxi":
            export, path = model_repository() / "taxi" / "1", parquet_of(args.rows)
        elif name == "mlp":
            export, path = mlp_case(args.rows)
        else:
            parser.error(f"unknown model {name!r}; use taxi and/or mlp")
        print(f"\n== {name} ==")
        tables.append(run_case(spark, name, export, path, args.batch_size))
    for table in tables:
        print(table)
    spark.stop()


def run_case(spark: Any, name: str, export: Path, path: Path, batch_size: int) -> str:
    """Time every method on one model; return the result table."""
    model = _served(str(export.resolve()))
    inputs = [_Input(s.name, s.dtype, s.optional) for s in model.inputs.values()]
    names = [spec.name for spec in inputs]
    output = next(iter(model.outputs))
    df = spark.read.parquet(str(path)).select(*names).repartition(4).cache()
    count = df.count()  # materialize the cache: every method reads the same in-memory rows
    print(f"{count:,} rows in {df.rdd.getNumPartitions()} partitions; model {export}")
    location = str(export.resolve())
    import pandas as pd
    import pyspark.sql.functions as sf
    import pyspark.sql.types as st
    from pyspark.ml.functions import predict_batch_udf

    import tensorbridge.spark as tbs

    results: dict[str, Timing] = {}
    sums: dict[str, float] = {}

    def measure(method: str, run: Callable[[], float], *, predicts: bool = True) -> None:
        """Time ``run`` as ``method``; its prediction sum is checked unless not ``predicts``."""
        results[method], total = timed(method, run)
        if predicts:
            sums[method] = total

    def run_frame(frame: Any, column: str) -> float:
        # The sum needs every prediction, so the whole column is computed, once.
        return float(frame.agg(sf.sum(column)).collect()[0][0])

    # Warm-up, not timed: starts the Python workers and loads TensorFlow and the model in
    # each (the cache is per worker process and shared by every method below).
    timed("warm-up (not counted)", lambda: run_frame(tbs.predict(df, export), "prediction"))
    measure(
        "tensorbridge.spark.predict (Arrow UDF)",
        lambda: run_frame(tbs.predict(df, export, batch_size=batch_size), "prediction"),
    )

    schema = st.StructType([*df.schema.fields, st.StructField("p", st.FloatType())])

    def map_in_arrow(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        served = _served(location)
        for batch in batches:
            for start in range(0, batch.num_rows, batch_size):
                part = batch.slice(start, batch_size)
                arrays = {spec.name: _column(part, spec) for spec in inputs}
                scores = np.asarray(served.predict(arrays)[output]).reshape(-1)
                yield pa.RecordBatch.from_arrays(
                    [*part.columns, pa.array(scores, pa.float32())], [*part.schema.names, "p"]
                )

    measure(
        "mapInArrow, every column back",
        lambda: run_frame(df.mapInArrow(map_in_arrow, schema), "p"),
    )

    needs_nulls = any(spec.optional for spec in inputs)

    def make_predict_fn() -> Callable[..., np.ndarray]:
        served = _served(location)

        def predict(*columns: np.ndarray) -> np.ndarray:
            if needs_nulls:  # the same null-to-sentinel rules as every other method
                table = pa.table(dict(zip(names, columns, strict=True)))
                arrays = {spec.name: _column(table, spec) for spec in inputs}
            else:  # nothing to convert: the numpy columns go straight in
                arrays = dict(zip(names, columns, strict=True))
            return np.asarray(served.predict(arrays)[output]).reshape(-1)

        # predict_batch_udf counts the function's parameters to split the columns.
        predict.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
        )
        return predict

    def make_documented_fn() -> Callable[..., np.ndarray]:
        # As pyspark.ml.functions.predict_batch_udf's documentation loads and calls a
        # TensorFlow model: keras.models.load_model + model.predict for a Keras model;
        # for a SavedModel (Keras 3 cannot load one), its serving signature.
        keras_file = Path(location).parent.parent / f"{name}.keras"
        if keras_file.exists():
            import keras

            keras_model = keras.models.load_model(keras_file)

            def run(arrays: dict[str, np.ndarray]) -> np.ndarray:
                return keras_model.predict(arrays, batch_size=batch_size, verbose=0)
        else:
            import tensorflow as tf

            signature = tf.saved_model.load(location).signatures["serving_default"]

            def run(arrays: dict[str, np.ndarray]) -> np.ndarray:
                tensors = {k: tf.constant(v) for k, v in arrays.items()}
                return signature(**tensors)[output].numpy()

        def predict(*columns: np.ndarray) -> np.ndarray:
            if needs_nulls:  # the same null-to-sentinel rules as every other method
                table = pa.table(dict(zip(names, columns, strict=True)))
                arrays = {spec.name: _column(table, spec) for spec in inputs}
            else:
                arrays = dict(zip(names, columns, strict=True))
            return np.asarray(run(arrays)).reshape(-1)

        predict.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
        )
        return predict

    for label, factory in (
        ("predict_batch_udf, as Spark's docs write it", make_documented_fn),
        ("predict_batch_udf, tensorbridge's model runner", make_predict_fn),
    ):
        batch_udf = predict_batch_udf(factory, return_type=st.FloatType(), batch_size=batch_size)
        measure(label, lambda u=batch_udf: run_frame(df.withColumn("p", u(*names)), "p"))

    def pandas_score(*columns: pd.Series) -> pd.Series:
        table = pa.table(dict(zip(names, columns, strict=True)))
        arrays = {spec.name: _column(table, spec) for spec in inputs}
        return pd.Series(np.asarray(_served(location).predict(arrays)[output]).reshape(-1))

    # Spark picks the UDF kind from the type hints: one pd.Series per column.
    pandas_score.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=pd.Series)
            for n in names
        ],
        return_annotation=pd.Series,
    )
    pandas_udf = sf.pandas_udf(pandas_score, st.FloatType())  # type: ignore[call-overload]
    measure(
        "pandas_udf, a Series per column",
        lambda: run_frame(df.withColumn("p", pandas_udf(*names)), "p"),
    )

    def score_rows(rows: Iterator[Any]) -> Iterator[float]:
        served = _served(location)
        chunk: list[Any] = []

        def flush() -> Iterator[float]:
            table = pa.Table.from_pylist([row.asDict() for row in chunk])
            arrays = {spec.name: _column(table, spec) for spec in inputs}
            yield from np.asarray(served.predict(arrays)[output]).reshape(-1).tolist()

        for row in rows:
            chunk.append(row)
            if len(chunk) == batch_size:
                yield from flush()
                chunk = []
        if chunk:
            yield from flush()

    measure(
        "pickled-row RDD mapPartitions",
        lambda: float(sum(df.rdd.mapPartitions(score_rows).collect())),
    )

    def no_model(*columns: pa.Array) -> pa.Array:
        return pa.array(np.zeros(len(columns[0]), np.float32))

    noop_udf = sf.arrow_udf(no_model, st.FloatType())
    measure(
        "Spark's limit: no-op Arrow UDF, no model",
        lambda: run_frame(df.withColumn("p", noop_udf(*names)), "p"),
        predicts=False,
    )

    table = tb.read_parquet(path).to_table().select(names)
    arrays = {spec.name: _column(table, spec) for spec in inputs}

    def in_process() -> float:
        total = 0.0
        for start in range(0, table.num_rows, batch_size):
            part = {k: v[start : start + batch_size] for k, v in arrays.items()}
            total += float(np.asarray(model.predict(part)[output]).sum())
        return total

    measure("in-process limit (one process)", in_process)

    reference = sums["in-process limit (one process)"]
    for method, value in sums.items():
        assert abs(value - reference) <= 1e-4 * abs(reference), (method, value, reference)
    baseline = results["predict_batch_udf, as Spark's docs write it"].seconds
    limit = results["in-process limit (one process)"].seconds
    lines = [
        f"\n{name}: {count:,} rows, local[2], batch size {batch_size} (prediction sums agree)",
        f"{'method':<50}{'rows/s':>12}{'vs predict_batch_udf (docs)':>29}{'of in-process':>15}"
        f"{'cores busy':>12}",
    ]
    for method, timing in results.items():
        seconds = timing.seconds
        busy = "" if timing.busy is None else f"{timing.busy:>12.0%}"
        lines.append(
            f"{method:<50}{count / seconds:>12,.0f}{baseline / seconds:>28.2f}x"
            f"{limit / seconds:>14.0%}{busy}"
        )
    lines.extend(cpu_bound(results, count))
    df.unpersist()
    return "\n".join(lines)


def cpu_bound(results: dict[str, Timing], rows: int) -> list[str]:
    """What any Spark path can reach here: Spark's no-op core time plus the model's.

    Core-seconds per row = wall seconds x busy fraction x cores / rows; a Spark method
    that runs the model must spend at least the no-op UDF's plus the in-process model's.
    """
    noop = results["Spark's limit: no-op Arrow UDF, no model"]
    model = results["in-process limit (one process)"]
    ours = results["tensorbridge.spark.predict (Arrow UDF)"]
    cores = os.cpu_count() or 1
    if noop.busy is None or model.busy is None:
        return []
    per_row = (noop.seconds * noop.busy + model.seconds * model.busy) * cores / rows
    bound = cores / per_row
    return [
        f"CPU bound of a Spark path running this model on {cores} cores: {bound:,.0f} rows/s "
        f"(no-op UDF + model core time per row); tensorbridge reaches "
        f"{rows / ours.seconds / bound:.0%} of it."
    ]


if __name__ == "__main__":
    main()
