from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tensorbridge as tb
from tensorbridge.engine.accumulators import ColumnSums
from tensorbridge.errors import ConfigError, SchemaError


def data(n: int = 10) -> pa.Table:
    return pa.table({"x": list(range(n)), "y": [float(i) / 2 for i in range(n)]})


def test_map_batches_infers_schema_and_runs() -> None:
    ds = tb.from_arrow(data()).map_batches(
        lambda b: b.append_column("z", pc.multiply(b.column("x"), 2))
    )
    assert ds.schema.names == ["x", "y", "z"]
    assert ds.to_table().column("z").to_pylist() == [2 * i for i in range(10)]


def test_map_batches_checks_the_declared_schema() -> None:
    ds = tb.from_arrow(data()).map_batches(lambda b: b.select(["x"]), schema=data(0).schema)
    with pytest.raises(SchemaError, match="Return the same columns and types"):
        ds.to_table()


def test_map_batches_that_fails_on_empty_input_asks_for_schema() -> None:
    def needs_rows(batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch.slice(0, 1) if batch.column("x")[0].as_py() is not None else batch

    with pytest.raises(ConfigError, match="Pass schema= explicitly"):
        tb.from_arrow(data()).map_batches(needs_rows)


def test_select_head_and_repr() -> None:
    ds = tb.from_arrow(data(100), batch_size=7)
    assert ds.select(["y"]).schema.names == ["y"]
    head = ds.head(10)
    assert head.num_rows == 10 and head.column("x").to_pylist() == list(range(10))
    assert "Arrow table (100 rows)" in repr(ds)
    with pytest.raises(SchemaError, match=r"Columns \['q'\] not found"):
        ds.select(["q"])


def test_from_pandas_and_aggregate() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"x": [1, 2, 3], "y": [0.5, None, 1.5]})
    ds = tb.from_pandas(frame)
    assert ds.count_rows() == 3
    sums = ds.aggregate(ColumnSums(["x", "y"]))
    assert sums == {"x.sum": 6.0, "x.count": 3, "y.sum": 2.0, "y.count": 2}
    with pytest.raises(ConfigError, match="expects a pandas DataFrame"):
        tb.from_pandas([1, 2])


def test_from_arrow_rejects_other_things() -> None:
    with pytest.raises(ConfigError, match="expects a pyarrow Table"):
        tb.from_arrow({"x": [1]})  # type: ignore[arg-type]


def test_engine_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORBRIDGE_ENGINE", "nonsense")
    with pytest.raises(ConfigError, match=r"Unknown engine 'nonsense' .*TENSORBRIDGE_ENGINE"):
        _ = tb.from_arrow(data()).engine
    monkeypatch.setenv("TENSORBRIDGE_ENGINE", "local")
    assert tb.from_arrow(data()).engine.name == "local"
