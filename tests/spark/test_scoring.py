"""Scoring Spark DataFrames and SQL with the exported taxi model, on local[2]."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def trips(spark_engine: Any, taxi_trained: tuple) -> Any:
    """200 raw eval rows as a Spark DataFrame in 3 partitions (label column included)."""
    splits, _, _ = taxi_trained
    table = splits["eval"].head(200)
    return spark_engine.session.createDataFrame(table.to_pandas()).repartition(3)


@pytest.fixture(scope="module")
def served(taxi_export: Path) -> Any:
    from tensorbridge.serve.model import ServedModel

    return ServedModel.load("taxi", 1, taxi_export)


def _expected(served: Any, rows: list[dict[str, Any]]) -> np.ndarray:
    """What the model server computes for the same rows (its codec, its model)."""
    from tensorbridge.serve.codec import decode_rows

    names = list(served.inputs)
    arrays = decode_rows([{n: row.get(n) for n in names} for row in rows], served)
    return np.asarray(served.predict(arrays)["probabilities"]).reshape(-1)


def test_predictions_equal_the_serving_model(trips: Any, taxi_export: Path, served: Any) -> None:
    import tensorbridge.spark as tbs

    scored = tbs.predict(trips, taxi_export, batch_size=37)
    assert scored.columns == [*trips.columns, "prediction"]
    rows = [row.asDict() for row in scored.orderBy("trip_start_timestamp", "fare").collect()]
    assert len(rows) == 200
    assert any(row["company"] is None for row in rows)  # nulls go through as sentinels
    got = np.array([row["prediction"] for row in rows])
    np.testing.assert_allclose(got, _expected(served, rows), rtol=1e-6, atol=1e-7)


def test_sql_function_from_a_repository_label(
    spark_engine: Any, trips: Any, served_models: Path, tmp_path: Path, served: Any
) -> None:
    import tensorbridge.spark as tbs
    from tensorbridge.serve.routing import Routing, write_routing

    repository = tmp_path / "models"
    shutil.copytree(served_models, repository)
    write_routing(repository / "taxi", Routing({"stable": 1}))
    tbs.register(spark_engine.session, "taxi", "taxi", repository=repository, label="stable")
    trips.createOrReplaceTempView("trips")
    result = spark_engine.session.sql(
        "SELECT *, taxi(struct(*)) AS p FROM trips ORDER BY trip_start_timestamp, fare"
    ).collect()
    rows = [row.asDict() for row in result]
    got = np.array([row["p"] for row in rows])
    np.testing.assert_allclose(got, _expected(served, rows), rtol=1e-6, atol=1e-7)


def test_clear_errors_before_anything_runs(
    trips: Any, taxi_export: Path, served_models: Path
) -> None:
    from pyspark.sql import functions as sf

    import tensorbridge.spark as tbs
    from tensorbridge.errors import ConfigError, SchemaError

    with pytest.raises(SchemaError, match=r"needs the columns \['fare'\]"):
        tbs.predict(trips.drop("fare"), taxi_export)
    with pytest.raises(SchemaError, match="'fare' is StringType, the model expects float32"):
        tbs.predict(trips.withColumn("fare", sf.col("fare").cast("string")), taxi_export)
    with pytest.raises(ConfigError, match="already has a column 'fare'"):
        tbs.predict(trips, taxi_export, output_column="fare")
    with pytest.raises(ConfigError, match="not a SavedModel directory"):
        tbs.predict(trips, taxi_export.parent)
    with pytest.raises(ConfigError, match="no label 'canary'"):
        tbs.resolve_model("taxi", repository=served_models, label="canary")
    with pytest.raises(ConfigError, match=r"no complete version 9; it has \[1, 2\]"):
        tbs.resolve_model("taxi", repository=served_models, version=9)
    assert tbs.resolve_model("taxi", repository=served_models) == served_models / "taxi" / "2"


def test_a_null_in_a_required_column_fails_naming_it(
    spark_engine: Any, trips: Any, taxi_export: Path
) -> None:
    from pyspark.sql import functions as sf

    import tensorbridge.spark as tbs

    manifest = json.loads((taxi_export / "tensorbridge.json").read_text())
    required = next(e["name"] for e in manifest["inputs"] if not e["optional"])
    broken = trips.withColumn(
        required, sf.when(sf.col("fare") > 10, sf.lit(None)).otherwise(sf.col(required))
    )
    with pytest.raises(Exception, match=rf"Column '{required}' has \d+ null value"):
        tbs.predict(broken, taxi_export).collect()


def test_arrow_batches_keep_their_columns(taxi_export: Path, served: Any) -> None:
    """The executor-side conversion alone: nulls, casts, order of columns kept."""
    from tensorbridge.spark.scoring import _Input, _score

    inputs = [_Input(s.name, s.dtype, s.optional) for s in served.inputs.values()]
    rows = [{name: None for name in served.inputs} for _ in range(2)]
    for row in rows:
        for spec in inputs:
            if not spec.optional:
                row[spec.name] = "Cash" if spec.dtype == "string" else 1
    table = pa.Table.from_pylist(rows)
    scores = _score(table, str(taxi_export.resolve()), inputs, "probabilities")
    np.testing.assert_allclose(scores, _expected(served, rows), rtol=1e-6)
