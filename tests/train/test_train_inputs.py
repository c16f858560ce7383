from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tensorbridge as tb
from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.train import make_arrays, make_tf_dataset

tf = pytest.importorskip("tensorflow")

ROWS = 1000


def _table(rows: int = ROWS) -> pa.Table:
    ids = np.arange(rows, dtype=np.int64)
    return pa.table(
        {
            "id": ids,
            "x": ids.astype(np.float32) * 0.5,
            "vec": pa.FixedSizeListArray.from_arrays(
                pa.array(np.repeat(ids, 3).astype(np.float32)), 3
            ),
            "y": (ids % 2).astype(np.int64),
        }
    )


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("train") / "data"
    # 1000 rows -> 4 files of <= 300 rows, row groups of 70 rows (uneven on purpose).
    tb.from_arrow(_table(), batch_size=128).write_parquet(
        path, rows_per_file=300, row_group_size=70
    )
    files = sorted(path.glob("*.parquet"))
    assert len(files) >= 3
    assert pq.ParquetFile(files[0]).metadata.num_row_groups >= 3
    return path


def _epoch_ids(ds: tf.data.Dataset) -> list[int]:
    return [int(i) for features, _ in ds for i in features["id"].numpy()]


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_row_once_per_epoch(parquet_dir: Path, shuffle: bool) -> None:
    ds = make_tf_dataset(parquet_dir, label="y", batch_size=64, shuffle=shuffle, seed=1)
    ids = _epoch_ids(ds)
    assert sorted(ids) == list(range(ROWS))
    if not shuffle:
        assert ids == list(range(ROWS))
    else:
        assert ids != list(range(ROWS))


def test_batch_sizes_exact(parquet_dir: Path) -> None:
    ds = make_tf_dataset(parquet_dir, label="y", batch_size=64, seed=0)
    sizes = [int(f["id"].shape[0]) for f, _ in ds]
    assert sizes == [64] * (ROWS // 64) + [ROWS % 64]
    dropped = make_tf_dataset(parquet_dir, label="y", batch_size=64, seed=0, drop_remainder=True)
    assert [int(f["id"].shape[0]) for f, _ in dropped] == [64] * (ROWS // 64)


def test_label_and_features_stay_aligned(parquet_dir: Path) -> None:
    ds = make_tf_dataset(parquet_dir, label="y", batch_size=100, seed=3)
    for features, label in ds:
        ids = features["id"].numpy()
        np.testing.assert_array_equal(label.numpy(), ids % 2)
        np.testing.assert_array_equal(features["x"].numpy(), ids.astype(np.float32) * 0.5)


def test_shuffle_reproducible_and_varies(parquet_dir: Path) -> None:
    first = _epoch_ids(make_tf_dataset(parquet_dir, label="y", batch_size=50, seed=7))
    again = _epoch_ids(make_tf_dataset(parquet_dir, label="y", batch_size=50, seed=7))
    other_seed = _epoch_ids(make_tf_dataset(parquet_dir, label="y", batch_size=50, seed=8))
    assert first == again
    assert first != other_seed
    # A second iteration of the same dataset (the next Keras epoch) has another order.
    ds = make_tf_dataset(parquet_dir, label="y", batch_size=50, seed=7)
    epoch0, epoch1 = _epoch_ids(ds), _epoch_ids(ds)
    assert epoch0 == first
    assert epoch1 != epoch0
    assert sorted(epoch1) == list(range(ROWS))


def test_repeat_loops_epochs_with_new_orders(parquet_dir: Path) -> None:
    ds = make_tf_dataset(parquet_dir, label="y", batch_size=100, seed=5, repeat=True)
    batches = [f["id"].numpy() for f, _ in ds.take(2 * ROWS // 100)]
    assert all(len(b) == 100 for b in batches)
    epoch0 = np.concatenate(batches[:10])
    epoch1 = np.concatenate(batches[10:])
    assert sorted(epoch0) == sorted(epoch1) == list(range(ROWS))
    assert not np.array_equal(epoch0, epoch1)


def test_features_subset_and_label_none(parquet_dir: Path) -> None:
    ds = make_tf_dataset(parquet_dir, label="y", features=["x"], batch_size=32, shuffle=False)
    features, label = next(iter(ds))
    assert set(features) == {"x"}
    assert label.dtype == tf.int64
    unlabeled = make_tf_dataset(parquet_dir, label=None, batch_size=32, shuffle=False)
    element = next(iter(unlabeled))
    assert isinstance(element, dict)
    assert set(element) == {"id", "x", "vec", "y"}


def test_fixed_size_list_is_2d(parquet_dir: Path) -> None:
    ds = make_tf_dataset(parquet_dir, label="y", features=["vec"], batch_size=16, shuffle=False)
    assert ds.element_spec[0]["vec"].shape.as_list() == [None, 3]
    features, _ = next(iter(ds))
    assert features["vec"].shape == (16, 3)
    np.testing.assert_array_equal(features["vec"].numpy()[:, 0], np.arange(16, dtype=np.float32))


def test_accepts_tensorbridge_dataset(parquet_dir: Path) -> None:
    data = tb.read_parquet(parquet_dir)
    ds = make_tf_dataset(data, label="y", batch_size=128, seed=2)
    assert sorted(_epoch_ids(ds)) == list(range(ROWS))


def test_nulls_raise(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([1.0, None, 3.0]), "y": pa.array([0, 1, 0])})
    tb.from_arrow(table).write_parquet(tmp_path / "nulls")
    ds = make_tf_dataset(tmp_path / "nulls", label="y", batch_size=2, shuffle=False)
    with pytest.raises(Exception, match=r"'x'.*null") as info:
        list(ds)
    assert "x" in str(info.value)
    with pytest.raises(SchemaError, match=r"'x' has 1 null"):
        make_arrays(tmp_path / "nulls", label="y")


def test_bad_arguments(parquet_dir: Path) -> None:
    with pytest.raises(ConfigError, match="batch_size=0"):
        make_tf_dataset(parquet_dir, label="y", batch_size=0)
    with pytest.raises(SchemaError, match="'nope'"):
        make_tf_dataset(parquet_dir, label="nope", batch_size=8)
    with pytest.raises(SchemaError, match="nope"):
        make_tf_dataset(parquet_dir, label="y", features=["nope"], batch_size=8)
    with pytest.raises(ConfigError, match="label 'y' is also among"):
        make_tf_dataset(parquet_dir, label="y", features=["x", "y"], batch_size=8)
    with pytest.raises(ConfigError, match="ArrowSource"):
        make_tf_dataset(tb.from_arrow(_table(10)), label="y", batch_size=8)


def test_make_arrays(parquet_dir: Path) -> None:
    features, label = make_arrays(parquet_dir, label="y", features=["id", "vec"])
    assert set(features) == {"id", "vec"}
    assert features["vec"].shape == (ROWS, 3)
    assert sorted(features["id"].tolist()) == list(range(ROWS))
    assert label is not None
    np.testing.assert_array_equal(label, features["id"] % 2)


def test_keras_fits_one_epoch(parquet_dir: Path) -> None:
    keras = tf.keras
    ds = make_tf_dataset(parquet_dir, label="y", features=["x", "vec"], batch_size=64, seed=0)
    ds = ds.map(lambda f, y: (tf.concat([f["x"][:, None], f["vec"]], axis=1) / 1000.0, y))
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(ds, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    assert int(ds.cardinality()) == -(-ROWS // 64)
    assert np.isfinite(history.history["loss"][0])
