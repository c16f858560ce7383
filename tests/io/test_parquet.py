from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tensorbridge as tb
from tensorbridge.errors import ConfigError, SchemaError


def table(n: int) -> pa.Table:
    return pa.table({"x": pa.array(range(n), pa.int64()), "s": [f"v{i % 7}" for i in range(n)]})


def test_sharded_output_with_row_groups_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = tb.from_arrow(table(2_500)).write_parquet(out, rows_per_file=1_000, row_group_size=300)
    files = sorted(p.name for p in out.glob("*.parquet"))
    assert files == [
        "part-00000-0000.parquet",
        "part-00000-0001.parquet",
        "part-00000-0002.parquet",
    ]
    assert [s.num_rows for s in result.shards] == [1_000, 1_000, 500]
    metadata = pq.ParquetFile(out / files[0]).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [
        300,
        300,
        300,
        100,
    ]
    manifest = json.loads((out / "_tensorbridge_dataset.json").read_text())
    assert manifest["num_rows"] == 2_500
    assert [f["path"] for f in manifest["files"]] == files
    back = tb.read_parquet(out)
    assert back.count_rows() == 2_500
    assert back.to_table().equals(table(2_500))


def test_write_is_atomic_when_the_data_fails(tmp_path: Path) -> None:
    out = tmp_path / "out"

    def explode(batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.num_rows and batch.column("x")[0].as_py() >= 200:
            raise RuntimeError("boom in the middle")
        return batch

    ds = tb.from_arrow(table(1_000), batch_size=100).map_batches(explode, schema=table(1).schema)
    with pytest.raises(RuntimeError, match="boom"):
        ds.write_parquet(out, rows_per_file=100, row_group_size=100)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary directory left behind either


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    tb.from_arrow(table(10)).write_parquet(out)
    with pytest.raises(ConfigError, match=r"already exists.*overwrite=True"):
        tb.from_arrow(table(5)).write_parquet(out)
    tb.from_arrow(table(5)).write_parquet(out, overwrite=True)
    assert tb.read_parquet(out).count_rows() == 5


def test_empty_dataset_writes_a_readable_file(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    result = tb.from_arrow(table(0)).write_parquet(out)
    assert result.num_rows == 0
    back = tb.read_parquet(out)
    assert back.schema.equals(table(0).schema)
    assert back.count_rows() == 0


def test_read_columns_file_glob_and_mismatched_files(tmp_path: Path) -> None:
    pq.write_table(table(3), tmp_path / "a.parquet")
    assert tb.read_parquet(tmp_path / "a.parquet", columns=["s"]).schema.names == ["s"]
    pq.write_table(pa.table({"x": [1.5]}), tmp_path / "b.parquet")
    with pytest.raises(SchemaError, match="All files of one Parquet data set need the same"):
        tb.read_parquet(str(tmp_path / "*.parquet")).to_table()
    with pytest.raises(SchemaError, match=r"Columns \['nope'\] are not in"):
        tb.read_parquet(tmp_path / "a.parquet", columns=["nope"])


def test_bad_write_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot exceed rows_per_file"):
        tb.from_arrow(table(3)).write_parquet(tmp_path / "o", rows_per_file=10, row_group_size=20)
