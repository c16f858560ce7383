"""The contract every engine meets: the same answers as the local engine, exactly.

Each test runs once per engine (the ``engine`` fixture: local, then spark) and compares
with results computed by the local engine or with known numbers.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tensorbridge as tb
from tensorbridge.engine import Engine, LocalEngine
from tensorbridge.engine.accumulators import ColumnSums, RowCount
from tensorbridge.errors import BadInputError

REFERENCE = LocalEngine(num_workers=1)


@pytest.fixture(scope="module")
def taxi_parts(tmp_path_factory: pytest.TempPathFactory, taxi_csv: Path) -> Path:
    """The taxi data as 3 CSV files, so sources have several fragments."""
    table = tb.read_csv(taxi_csv).to_table()
    folder = tmp_path_factory.mktemp("taxi_parts")
    import pyarrow.csv as pacsv

    for i, start in enumerate(range(0, table.num_rows, 5_001)):
        pacsv.write_csv(table.slice(start, 5_001), folder / f"part{i}.csv")
    return folder


def test_row_counts(engine: Engine, taxi_csv: Path, taxi_parts: Path) -> None:
    assert tb.read_csv(taxi_csv, engine=engine).count_rows() == 15_002
    parts = tb.read_csv(taxi_parts, engine=engine)
    assert parts.source.num_fragments == 3
    assert parts.count_rows() == 15_002
    assert parts.aggregate(RowCount()) == 15_002


def test_batches_and_order(engine: Engine, taxi_parts: Path) -> None:
    expected = tb.read_csv(taxi_parts, engine=REFERENCE).to_table()
    got = tb.read_csv(taxi_parts, engine=engine).to_table()
    assert got.schema.equals(expected.schema)
    assert got.equals(expected)


def test_split_membership(engine: Engine, taxi_parts: Path) -> None:
    ratios = {"train": 3, "eval": 1, "test": 1}
    expected = {
        n: p.to_table()
        for n, p in tb.read_csv(taxi_parts, engine=REFERENCE)
        .split(ratios, key="trip_start_timestamp")
        .items()
    }
    got = {
        n: p.to_table()
        for n, p in tb.read_csv(taxi_parts, engine=engine)
        .split(ratios, key="trip_start_timestamp")
        .items()
    }
    assert list(got) == ["train", "eval", "test"]
    for name in ratios:
        assert got[name].equals(expected[name]), name
    assert sum(t.num_rows for t in got.values()) == 15_002


def test_accumulator_results(engine: Engine, taxi_parts: Path) -> None:
    columns = ["fare", "tips", "trip_seconds", "dropoff_latitude"]
    expected = tb.read_csv(taxi_parts, engine=REFERENCE).aggregate(ColumnSums(columns))
    got = tb.read_csv(taxi_parts, engine=engine).aggregate(ColumnSums(columns))
    assert got == expected  # bit-identical: same fragments, same merge order
    assert got["fare.sum"] == pytest.approx(176_546.78)
    assert got["trip_seconds.count"] == 15_002 - 6


def test_written_data(engine: Engine, taxi_parts: Path, tmp_path: Path) -> None:
    local = tb.read_csv(taxi_parts, engine=REFERENCE).split()["train"]
    expected = local.write_parquet(tmp_path / "local", rows_per_file=2_000, row_group_size=500)
    ours = tb.read_csv(taxi_parts, engine=engine).split()["train"]
    got = ours.write_parquet(tmp_path / "engine", rows_per_file=2_000, row_group_size=500)
    assert [s.path for s in got.shards] == [s.path for s in expected.shards]
    assert [s.num_rows for s in got.shards] == [s.num_rows for s in expected.shards]
    assert got.num_rows == expected.num_rows == local.count_rows()
    for shard in got.shards:
        a = pq.read_table(tmp_path / "local" / shard.path)
        b = pq.read_table(tmp_path / "engine" / shard.path)
        assert a.equals(b)
        groups = pq.ParquetFile(tmp_path / "engine" / shard.path).metadata.num_row_groups
        assert groups == -(-shard.num_rows // 500)
    assert sorted(p.name for p in (tmp_path / "engine").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )


def test_other_sources(engine: Engine, tmp_path: Path) -> None:
    table = pa.table({"k": [f"u{i % 13}" for i in range(500)], "v": list(range(500))})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=100)
    (tmp_path / "t.jsonl").write_text(
        "".join(f'{{"k": "u{i % 13}", "v": {i}}}\n' for i in range(500))
    )
    for ds in (
        tb.from_arrow(table, engine=engine),
        tb.read_parquet(tmp_path / "t.parquet", engine=engine),
        tb.read_json(tmp_path / "t.jsonl", engine=engine),
    ):
        assert ds.to_table().equals(table)
        split = {n: p.to_table() for n, p in ds.split(key="k").items()}
        reference = {n: p.to_table() for n, p in ds.with_engine(REFERENCE).split(key="k").items()}
        assert split == reference


def test_bad_input_error_comes_back_with_its_location(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(
        BadInputError, match=r"bad.csv, line 3, column 'b': 'x' is not a valid int64"
    ):
        tb.read_csv(path, schema={"b": "int64"}, engine=engine).count_rows()


def test_skipped_rows_are_reported(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,x\n4\n5,6\n")
    ds = tb.read_csv(path, schema={"b": "int64"}, on_bad_rows="skip", engine=engine)
    assert ds.count_rows() == 2
    assert ds.bad_rows.count == 2
    assert [r.line for r in ds.bad_rows.examples] == [3, 4]
    result = ds.write_parquet(tmp_path / "out")
    assert result.num_rows == 2 and result.bad_rows.count == 2


def test_user_function_errors_propagate(engine: Engine) -> None:
    def broken(batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.num_rows:
            raise ValueError("the user's own bug")
        return batch

    ds = tb.from_arrow(pa.table({"x": [1, 2]}), engine=engine).map_batches(broken)
    with pytest.raises(Exception, match=r"ValueError: the user's own bug|^the user's own bug$"):
        ds.to_table()


@pytest.mark.spark
def test_spark_dataframe_source(spark_engine: Engine, taxi_csv: Path) -> None:
    table = tb.read_csv(taxi_csv).to_table()
    frame = spark_engine.session.createDataFrame(table).repartition(3)  # type: ignore[attr-defined]
    on_spark = tb.from_spark(frame)
    assert on_spark.engine.name == "spark"
    assert on_spark.schema.equals(table.schema)
    assert on_spark.count_rows() == 15_002
    local = tb.from_arrow(table)
    spark_split = {
        n: p.to_table().sort_by("trip_start_timestamp") for n, p in on_spark.split().items()
    }
    local_split = {
        n: p.to_table().sort_by("trip_start_timestamp") for n, p in local.split().items()
    }
    for name in local_split:
        assert spark_split[name].num_rows == local_split[name].num_rows
        assert sorted(spark_split[name].column("fare").to_pylist()) == sorted(
            local_split[name].column("fare").to_pylist()
        )
    sums = on_spark.aggregate(ColumnSums(["fare"]))
    assert sums["fare.sum"] == pytest.approx(176_546.78, rel=1e-12)
    assert on_spark.with_engine("local").count_rows() == 15_002


@pytest.mark.timeout(60)
def test_local_engine_stops_cleanly_when_the_consumer_stops_early(tmp_path: Path) -> None:
    """head(), a break, or an error in an early fragment must not leave workers blocked."""
    for i in range(4):
        (tmp_path / f"part{i}.csv").write_text("x\n" + "".join(f"{j}\n" for j in range(20_000)))
    engine = LocalEngine(num_workers=4, queue_batches=1)
    ds = tb.read_csv(tmp_path, batch_size=1_000, engine=engine)
    assert ds.head(5_000).num_rows == 5_000
    for batch in ds.iter_batches():
        assert batch.num_rows == 1_000
        break

    def fail_early(batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.column("x")[0].as_py() == 0:
            raise RuntimeError("first batch of a fragment")
        return batch

    with pytest.raises(RuntimeError, match="first batch of a fragment"):
        ds.map_batches(fail_early, schema=ds.schema).to_table()
