from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import tensorbridge as tb
from tensorbridge.errors import ConfigError, SchemaError
from tensorbridge.io.split import hash_column, hash_rows, normalize_splits


def test_default_split_is_two_to_one(taxi_csv: Path) -> None:
    parts = tb.read_csv(taxi_csv).split()
    counts = {name: part.count_rows() for name, part in parts.items()}
    assert list(counts) == ["train", "eval"]
    assert sum(counts.values()) == 15_002
    assert counts["train"] / 15_002 == pytest.approx(2 / 3, abs=0.02)


def test_splits_partition_the_rows_and_are_stable(taxi_csv: Path) -> None:
    taxi = tb.read_csv(taxi_csv)
    first = {n: p.to_table() for n, p in taxi.split({"a": 0.7, "b": 0.2, "c": 0.1}).items()}
    again = {
        n: p.to_table()
        for n, p in tb.read_csv(taxi_csv, batch_size=999)
        .split({"a": 0.7, "b": 0.2, "c": 0.1})
        .items()
    }
    for name in first:
        assert first[name].equals(again[name])  # batch boundaries do not matter
    assert sum(t.num_rows for t in first.values()) == 15_002
    for name, ratio in {"a": 0.7, "b": 0.2, "c": 0.1}.items():
        assert first[name].num_rows / 15_002 == pytest.approx(ratio, abs=0.02)


def test_key_column_keeps_groups_together(taxi_csv: Path) -> None:
    parts = tb.read_csv(taxi_csv).split(key="company")
    companies = [set(p.to_table().column("company").to_pylist()) for p in parts.values()]
    assert not companies[0] & companies[1]


def test_hash_is_independent_of_type_width_order_and_source() -> None:
    a = pa.table({"i": pa.array([1, 2, None], pa.int64()), "s": ["x", "yy", None]})
    b = pa.table(
        {
            "s": pa.array(["x", "yy", None], pa.large_string()),
            "i": pa.array([1, 2, None], pa.int32()),
        }
    )
    c = pa.table({"i": pa.array([1.0, 2.0, None]), "s": ["x", "yy", None]})
    assert np.array_equal(hash_rows(a), hash_rows(b))
    assert np.array_equal(hash_rows(a), hash_rows(c))
    d = pa.table({"i": [1, 2, 3], "s": ["x", "yy", None]})
    assert not np.array_equal(hash_rows(a), hash_rows(d))


def test_hash_values_are_pinned() -> None:
    # These numbers must never change: they decide which split every user's row is in.
    assert hash_column(pa.array([0, 1, -1])).tolist() == [
        16294208416658607535,
        16490336266968443936,
        15999695513772384452,
    ]
    assert hash_column(pa.array(["", "a", "taxi"])).tolist() == [
        9778341649765264521,
        16473794344879083124,
        11375250287143854458,
    ]


def test_string_hash_distinguishes_neighbours() -> None:
    values = pa.array(["ab", "ba", "a", "b", "", "abc", "aab"])
    assert len(set(hash_column(values).tolist())) == len(values)
    sliced = pa.array(["zz", "ab", "ba"]).slice(1)
    assert hash_column(sliced).tolist() == hash_column(pa.array(["ab", "ba"])).tolist()


def test_normalize_splits() -> None:
    assert normalize_splits(None) == {"train": 2, "eval": 1}
    assert normalize_splits({"a": 0.8, "b": 0.2}) == {"a": 4, "b": 1}
    assert normalize_splits({"a": 6, "b": 3}) == {"a": 2, "b": 1}
    with pytest.raises(ConfigError, match="ratios must be positive"):
        normalize_splits({"a": 0})
    with pytest.raises(ConfigError, match="is empty"):
        normalize_splits({})


def test_unknown_key_column(taxi_csv: Path) -> None:
    with pytest.raises(SchemaError, match=r"Split key \['nope'\] not found"):
        tb.read_csv(taxi_csv).split(key="nope")
