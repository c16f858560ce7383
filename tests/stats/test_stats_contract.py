"""Statistics are identical on every engine (the contract suite runs local, then spark)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pytest

import tensorbridge as tb
from tensorbridge.engine import Engine, LocalEngine


@pytest.fixture(scope="module")
def taxi_in_parts(tmp_path_factory: pytest.TempPathFactory, taxi_csv: Path) -> Path:
    """The taxi data as 3 CSV files, so the statistics merge across fragments."""
    table = tb.read_csv(taxi_csv).to_table()
    folder = tmp_path_factory.mktemp("stats_parts")
    for i, start in enumerate(range(0, table.num_rows, 5_001)):
        pacsv.write_csv(table.slice(start, 5_001), folder / f"part{i}.csv")
    return folder


def test_statistics_identical_on_every_engine(engine: Engine, taxi_in_parts: Path) -> None:
    kwargs = {"slice_by": "payment_type", "label": "trip_start_day"}
    reference = tb.stats.compute(
        tb.read_csv(taxi_in_parts), engine=LocalEngine(num_workers=1), **kwargs
    )
    stats = tb.stats.compute(tb.read_csv(taxi_in_parts), engine=engine, **kwargs)
    assert stats.to_dict() == reference.to_dict()
    assert stats.num_examples == 15_002
    assert len(stats.slices) == 1 + 7 + 7


def test_sketch_path_merges_on_every_engine(engine: Engine, taxi_in_parts: Path) -> None:
    """Past max_exact_values the KLL sketches merge across fragments; within rank error."""
    exact = tb.stats.compute(tb.read_csv(taxi_in_parts), features=["trip_seconds"])
    sketched = tb.stats.compute(
        tb.read_csv(taxi_in_parts), engine=engine, features=["trip_seconds"],
        max_exact_values=4_000,
    )  # fmt: skip
    a, b = exact["trip_seconds"].numeric, sketched["trip_seconds"].numeric
    assert a is not None and b is not None
    assert not b.exact_quantiles and a.exact_quantiles
    assert (b.mean, b.std_dev, b.min, b.max, b.num_zeros) == (
        a.mean, a.std_dev, a.min, a.max, a.num_zeros
    )  # fmt: skip
    values = sorted(
        tb.read_csv(taxi_in_parts).to_table().column("trip_seconds").drop_null().to_pylist()
    )
    import bisect

    for i in (10, 50, 90):
        low = bisect.bisect_left(values, b.quantiles[i]) / len(values)
        high = bisect.bisect_right(values, b.quantiles[i]) / len(values)
        assert low - 0.005 <= i / 100 <= high + 0.005
