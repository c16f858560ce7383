"""Scoring a Spark DataFrame with the exported taxi model: tensorbridge vs Spark's ways.

The same SavedModel (the taxi model exported by tensorbridge, raw features in; built once
and cached by bench_serving.py's ``model_repository``) scores the same rows, resampled from
the shared taxi data (default 2,000,000), on ``local[2]``:

* tensorbridge: ``tensorbridge.spark.predict`` (``mapInArrow``, model loaded once per
  Python worker);
* ``pyspark.ml.functions.predict_batch_udf`` (Spark's own deep-learning inference UDF);
* a scalar pandas UDF over a struct of the feature columns (``tensorbridge.spark.register``
  is one: the classic pandas-UDF path);
* a pickled-row RDD ``mapPartitions`` (rows cross to Python as pickled ``Row`` objects);
* the in-process limit: the model alone on in-memory numpy arrays, one process.

The rows are cached in Spark (4 partitions) and one untimed pass starts the Python workers
and loads the model in each first. Every Spark method sums its predictions, so the whole
column is computed, once. Each prints rows/s; ratios are
against ``predict_batch_udf`` and the in-process limit. All methods use the same
conversion of nulls to the model's sentinels, and their prediction sums are checked
equal.

    uv run --frozen python benchmarks/bench_spark_scoring.py [--rows 2000000] [--batch-size 4096]
"""

from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Callable, Iterator
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


def parquet_of(rows: int) -> Path:
    """The resampled rows as Parquet (written once), for Spark to read in parallel."""
    target = HERE / ".data" / f"taxi_{rows}_seed42.parquet"
    if not target.exists():
        tb.read_csv(resampled_taxi_csv(rows)).write_parquet(target)
    return target


def timed(label: str, run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    print(f"  {label:<34} {seconds:8.2f} s", flush=True)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()

    repository = model_repository()
    export = repository / "taxi" / "1"
    model = _served(str(export.resolve()))
    inputs = [_Input(s.name, s.dtype, s.optional) for s in model.inputs.values()]
    names = [spec.name for spec in inputs]
    path = parquet_of(args.rows)
    spark = get_or_create_session(
        "local[2]", {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}
    )
    df = spark.read.parquet(str(path)).select(*names).repartition(4).cache()
    count = df.count()  # materialize the cache: every method reads the same in-memory rows
    print(f"{count:,} rows in {df.rdd.getNumPartitions()} partitions; model {export}")
    location = str(export.resolve())
    batch_size = args.batch_size

    import pyspark.sql.functions as sf
    import pyspark.sql.types as st
    from pyspark.ml.functions import predict_batch_udf

    import tensorbridge.spark as tbs

    results: dict[str, float] = {}
    sums: dict[str, float] = {}

    def run_frame(frame: Any, column: str) -> float:
        # The sum needs every prediction, so the whole column is computed, once.
        return float(frame.agg(sf.sum(column)).collect()[0][0])

    # Warm-up, not timed: starts the Python workers and loads TensorFlow and the model in
    # each (the cache is per worker process and shared by every method below).
    timed("warm-up (not counted)", lambda: run_frame(tbs.predict(df, export), "prediction"))
    seconds, sums["tensorbridge"] = timed(
        "tensorbridge.spark.predict",
        lambda: run_frame(tbs.predict(df, export, batch_size=batch_size), "prediction"),
    )
    results["tensorbridge.spark.predict (mapInArrow)"] = seconds

    def make_predict_fn() -> Callable[..., np.ndarray]:
        served = _served(location)

        def predict(*columns: np.ndarray) -> np.ndarray:
            table = pa.table(dict(zip(names, columns, strict=True)))
            arrays = {spec.name: _column(table, spec) for spec in inputs}
            return np.asarray(served.predict(arrays)["probabilities"]).reshape(-1)

        # predict_batch_udf counts the function's parameters to split the columns.
        predict.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
        )
        return predict

    batch_udf = predict_batch_udf(
        make_predict_fn, return_type=st.FloatType(), batch_size=batch_size
    )
    seconds, sums["predict_batch_udf"] = timed(
        "pyspark predict_batch_udf",
        lambda: run_frame(df.withColumn("p", batch_udf(*names)), "p"),
    )
    results["pyspark.ml predict_batch_udf"] = seconds

    udf = tbs.register(spark, "taxi_bench", export)
    seconds, sums["pandas_udf"] = timed(
        "pandas_udf (struct)",
        lambda: run_frame(df.withColumn("p", udf(sf.struct(*names))), "p"),
    )
    results["pandas_udf over a struct"] = seconds

    def score_rows(rows: Iterator[Any]) -> Iterator[float]:
        served = _served(location)
        chunk: list[Any] = []

        def flush() -> Iterator[float]:
            table = pa.Table.from_pylist([row.asDict() for row in chunk])
            arrays = {spec.name: _column(table, spec) for spec in inputs}
            yield from np.asarray(served.predict(arrays)["probabilities"]).reshape(-1).tolist()

        for row in rows:
            chunk.append(row)
            if len(chunk) == batch_size:
                yield from flush()
                chunk = []
        if chunk:
            yield from flush()

    seconds, sums["rdd"] = timed(
        "pickled-row RDD mapPartitions",
        lambda: float(sum(df.rdd.mapPartitions(score_rows).collect())),
    )
    results["pickled-row RDD mapPartitions"] = seconds

    table = tb.read_parquet(path).to_table().select(names)
    arrays = {spec.name: _column(table, spec) for spec in inputs}

    def in_process() -> float:
        total = 0.0
        for start in range(0, table.num_rows, batch_size):
            part = {k: v[start : start + batch_size] for k, v in arrays.items()}
            total += float(np.asarray(model.predict(part)["probabilities"]).sum())
        return total

    seconds, sums["in-process"] = timed("in-process limit (numpy in memory)", in_process)
    results["in-process limit (one process)"] = seconds

    reference = sums["in-process"]
    for name, value in sums.items():
        assert abs(value - reference) <= 1e-4 * abs(reference), (name, value, reference)
    baseline = results["pyspark.ml predict_batch_udf"]
    limit = results["in-process limit (one process)"]
    print(f"\n{count:,} rows, local[2], batch size {batch_size} (prediction sums agree)")
    print(f"{'method':<42}{'rows/s':>12}{'vs predict_batch_udf':>22}{'of in-process':>15}")
    for name, seconds in results.items():
        print(
            f"{name:<42}{count / seconds:>12,.0f}{baseline / seconds:>21.2f}x"
            f"{limit / seconds:>14.0%}"
        )
    spark.stop()


if __name__ == "__main__":
    main()
