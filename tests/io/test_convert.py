"""Tests for tensorbridge.io.convert: Arrow -> numpy / masked numpy / TensorFlow."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorbridge.errors import SchemaError
from tensorbridge.io.convert import (
    schema_to_tensor_specs,
    to_masked_numpy,
    to_numpy,
    to_tensors,
)

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _data_address(arr: pa.Array) -> int:
    """Address of the first value of a fixed-width Arrow array (slice offset included)."""
    return arr.buffers()[1].address + arr.offset * (arr.type.bit_width // 8)


def _fsl_values_address(arr: pa.FixedSizeListArray) -> int:
    """Address of the first leaf value of a (possibly sliced) fixed_size_list array."""
    child = arr.values
    return _data_address(child) + arr.offset * arr.type.list_size * (child.type.bit_width // 8)


def _tf() -> Any:
    return pytest.importorskip("tensorflow")


def _tensor_address(tf: Any, tensor: Any) -> int:
    """Address of a CPU tensor's buffer, read through DLPack (no copy)."""

    class _Exporter:
        def __dlpack__(self, **_: object) -> object:
            return tf.experimental.dlpack.to_dlpack(tensor)

        def __dlpack_device__(self) -> tuple[int, int]:
            return (1, 0)

    return int(np.from_dlpack(_Exporter()).ctypes.data)


def _numeric_batch() -> pa.RecordBatch:
    return pa.record_batch(
        {
            "i8": pa.array(range(10), pa.int8()),
            "u16": pa.array(range(10), pa.uint16()),
            "i32": pa.array(range(10), pa.int32()),
            "i64": pa.array(range(10), pa.int64()),
            "u64": pa.array(range(10), pa.uint64()),
            "f16": pa.array(np.arange(10, dtype=np.float16)),
            "f32": pa.array(np.arange(10, dtype=np.float32)),
            "f64": pa.array(np.arange(10, dtype=np.float64) / 2),
        }
    )


# ---------------------------------------------------------------------------------------------
# to_numpy: zero copy
# ---------------------------------------------------------------------------------------------


def test_import_does_not_import_tensorflow() -> None:
    code = (
        "import sys, tensorbridge.io.convert as c; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'; "
        "assert sorted(c.__all__) == "
        "['schema_to_tensor_specs', 'to_masked_numpy', 'to_numpy', 'to_tensors']"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_numeric_columns_are_zero_copy() -> None:
    batch = _numeric_batch()
    out = to_numpy(batch)
    assert list(out) == batch.schema.names
    for name in batch.schema.names:
        arr = batch.column(name)
        assert out[name].dtype == np.dtype(arr.type.to_pandas_dtype())
        assert out[name].ctypes.data == _data_address(arr), name
        assert out[name].tolist() == arr.to_pylist()
        assert not out[name].flags.writeable


def test_numeric_columns_of_a_sliced_batch_are_zero_copy() -> None:
    batch = _numeric_batch().slice(3, 5)
    out = to_numpy(batch, ["i64", "f32"])
    for name in ("i64", "f32"):
        arr = batch.column(name)
        assert arr.offset == 3
        assert out[name].ctypes.data == _data_address(arr)
        assert out[name].tolist() == arr.to_pylist()


def test_single_chunk_table_is_zero_copy_and_multi_chunk_is_combined() -> None:
    single = pa.table({"x": pa.array(np.arange(6, dtype=np.int64))})
    out = to_numpy(single)
    assert np.shares_memory(out["x"], np.frombuffer(single.column("x").chunk(0).buffers()[1]))
    assert out["x"].ctypes.data == _data_address(single.column("x").chunk(0))

    multi = pa.Table.from_batches(
        [pa.record_batch({"x": [1, 2]}), pa.record_batch({"x": [3]}), pa.record_batch({"x": [4]})]
    )
    assert multi.column("x").num_chunks == 3
    np.testing.assert_array_equal(to_numpy(multi)["x"], [1, 2, 3, 4])


def test_empty_table_without_chunks() -> None:
    table = pa.table({"x": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    empty = pa.Table.from_batches([], schema=table.schema)
    out = to_numpy(empty)
    assert out["x"].shape == (0,)
    assert out["x"].dtype == np.int64
    assert out["s"].dtype == object


def test_columns_selection_order_and_unknown_column() -> None:
    batch = _numeric_batch()
    assert list(to_numpy(batch, ["f64", "i8"])) == ["f64", "i8"]
    assert list(to_numpy(batch, "i8")) == ["i8"]
    with pytest.raises(SchemaError, match=r"Unknown column\(s\) \['nope'\].*'i8', 'u16'"):
        to_numpy(batch, ["i8", "nope"])


def test_not_arrow_input_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"pyarrow\.RecordBatch or pyarrow\.Table, got dict"):
        to_numpy({"x": [1, 2]})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# to_numpy: nulls
# ---------------------------------------------------------------------------------------------


def test_nulls_without_fill_raise_with_count_and_fix() -> None:
    batch = pa.record_batch({"ok": [1, 2, 3, 4], "col": pa.array([1, None, None, 4])})
    with pytest.raises(
        SchemaError,
        match=(
            r"Column 'col' \(int64\) has 2 null value\(s\) among 4 rows.*"
            r"fill_null=\{'col': 0\}.*to_masked_numpy"
        ),
    ):
        to_numpy(batch)
    # the column without nulls alone is fine
    np.testing.assert_array_equal(to_numpy(batch, ["ok"])["ok"], [1, 2, 3, 4])


def test_null_error_suggests_a_fill_of_the_right_type() -> None:
    batch = pa.record_batch({"s": pa.array(["a", None])})
    with pytest.raises(SchemaError, match=r"fill_null=\{'s': ''\}"):
        to_numpy(batch)


def test_fill_null_scalar_applies_to_every_column() -> None:
    batch = pa.record_batch(
        {
            "i": pa.array([1, None, 3], pa.int32()),
            "f": pa.array([None, 2.5, 3.0]),
            "b": pa.array([True, None, False]),
            "s": pa.array(["a", "b", "c"]),  # no nulls: the int fill is never used here
        }
    )
    out = to_numpy(batch, fill_null=0)
    assert out["i"].dtype == np.int32
    assert out["i"].tolist() == [1, 0, 3]
    assert out["f"].tolist() == [0.0, 2.5, 3.0]
    assert out["b"].dtype == np.bool_
    assert out["b"].tolist() == [True, False, False]
    assert out["s"].tolist() == ["a", "b", "c"]


def test_fill_null_mapping_per_column_and_filled_columns_are_copies() -> None:
    ints = pa.array([1, None, 3, None], pa.int64())
    batch = pa.record_batch(
        {"i": ints, "s": pa.array([None, "x", None, "y"]), "u": pa.array([None, 1, 2, 3])}
    )
    out = to_numpy(batch, ["i", "s"], fill_null={"i": -1, "s": "?", "u": 0})
    assert out["i"].dtype == np.int64  # never NaN, never float
    assert out["i"].tolist() == [1, -1, 3, -1]
    assert out["s"].tolist() == ["?", "x", "?", "y"]
    assert out["i"].ctypes.data != _data_address(ints)
    # a column missing from the mapping still raises
    with pytest.raises(SchemaError, match="Column 'u'"):
        to_numpy(batch, fill_null={"i": -1, "s": "?"})


def test_fill_null_mapping_with_unknown_column() -> None:
    batch = pa.record_batch({"i": pa.array([1, None])})
    with pytest.raises(SchemaError, match=r"fill_null names unknown column\(s\) \['j'\]"):
        to_numpy(batch, fill_null={"j": 0})


@pytest.mark.parametrize(
    ("column", "fill", "match"),
    [
        (pa.array([1, None]), 0.5, r"0\.5 \(float\) does not fit column 'c' of type int64"),
        (pa.array([1, None]), float("nan"), "expected an integer"),
        (pa.array([1, None]), "0", "expected an integer"),
        (pa.array([1, None]), True, "expected an integer"),
        (pa.array([1, None], pa.int8()), 1000, "does not fit column 'c' of type int8"),
        (pa.array(["a", None]), 0, r"expected a str.*fill_null=\{'c': ''\}"),
        (pa.array([True, None]), 2, r"expected a bool \(or 0/1\)"),
        (pa.array([b"a", None]), "a", "expected bytes"),
    ],
)
def test_fill_values_that_do_not_fit_raise(column: pa.Array, fill: object, match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        to_numpy(pa.record_batch({"c": column}), fill_null=fill)


def test_integral_float_fills_an_int_column() -> None:
    out = to_numpy(pa.record_batch({"c": pa.array([1, None])}), fill_null=-1.0)
    assert out["c"].dtype == np.int64
    assert out["c"].tolist() == [1, -1]


# ---------------------------------------------------------------------------------------------
# to_numpy: other types
# ---------------------------------------------------------------------------------------------


def test_bool_string_binary_dictionary_columns() -> None:
    batch = pa.record_batch(
        {
            "b": pa.array([True, False, True]),
            "s": pa.array(["a", "é", ""]),
            "ls": pa.array(["x", "y", "z"], pa.large_string()),
            "bin": pa.array([b"\x00", b"ab", b""]),
            "fbin": pa.array([b"ab", b"cd", b"ef"], pa.binary(2)),
            "dict": pa.array(["red", "blue", "red"]).dictionary_encode(),
            "dict_int": pa.array([10, 20, 10]).dictionary_encode(),
        }
    )
    out = to_numpy(batch)
    assert out["b"].dtype == np.bool_
    assert out["b"].tolist() == [True, False, True]
    for name in ("s", "ls", "dict"):
        assert out[name].dtype == object
        assert all(type(v) is str for v in out[name])
    assert out["s"].tolist() == ["a", "é", ""]
    assert out["ls"].tolist() == ["x", "y", "z"]
    assert out["dict"].tolist() == ["red", "blue", "red"]
    assert out["bin"].dtype == object
    assert out["bin"].tolist() == [b"\x00", b"ab", b""]
    assert all(type(v) is bytes for v in out["bin"])
    assert out["fbin"].tolist() == [b"ab", b"cd", b"ef"]
    assert out["dict_int"].dtype == np.int64
    assert out["dict_int"].tolist() == [10, 20, 10]


def test_sliced_dictionary_column_with_nulls() -> None:
    column = pa.array(["a", None, "b", "a"]).dictionary_encode()
    batch = pa.record_batch({"d": column}).slice(1)
    with pytest.raises(SchemaError, match="has 1 null value"):
        to_numpy(batch)
    assert to_numpy(batch, fill_null="?")["d"].tolist() == ["?", "b", "a"]


def test_timestamp_and_date_columns() -> None:
    ts = pa.array([0, 1_500, 3_000_000], pa.timestamp("ms"))
    ts_tz = pa.array([1, 2, 3], pa.timestamp("us", tz="Europe/Paris"))
    batch = pa.record_batch(
        {
            "ts": ts,
            "ts_tz": ts_tz,
            "d32": pa.array([dt.date(2024, 1, 1), dt.date(1970, 1, 2), dt.date(1969, 12, 31)]),
            "d64": pa.array([86_400_000, 0, -86_400_000], pa.date64()),
            "dur": pa.array([1, 2, 3], pa.duration("s")),
        }
    )
    out = to_numpy(batch)
    assert out["ts"].dtype == np.dtype("datetime64[ms]")
    assert out["ts"].view(np.int64).tolist() == [0, 1_500, 3_000_000]
    assert out["ts"].ctypes.data == _data_address(ts)  # zero copy
    assert out["ts_tz"].dtype == np.dtype("datetime64[us]")
    assert out["ts_tz"].ctypes.data == _data_address(ts_tz)
    assert out["d32"].dtype == np.dtype("datetime64[D]")
    assert out["d32"].tolist() == [dt.date(2024, 1, 1), dt.date(1970, 1, 2), dt.date(1969, 12, 31)]
    assert out["d64"].dtype == np.dtype("datetime64[ms]")
    assert out["dur"].dtype == np.dtype("timedelta64[s]")
    assert out["dur"].view(np.int64).tolist() == [1, 2, 3]


def test_timestamp_nulls_fill_with_int_or_datetime() -> None:
    batch = pa.record_batch({"t": pa.array([5, None], pa.timestamp("s"))})
    with pytest.raises(SchemaError, match=r"Column 't' \(timestamp\[s\]\) has 1 null"):
        to_numpy(batch)
    assert to_numpy(batch, fill_null=0)["t"].view(np.int64).tolist() == [5, 0]
    filled = to_numpy(batch, fill_null=dt.datetime(1970, 1, 1, 0, 1))["t"]
    assert filled.view(np.int64).tolist() == [5, 60]


def test_fixed_size_list_is_2d_and_zero_copy() -> None:
    values = pa.array(np.arange(12, dtype=np.float32))
    column = pa.FixedSizeListArray.from_arrays(values, 3)
    out = to_numpy(pa.record_batch({"v": column}))["v"]
    assert out.shape == (4, 3)
    assert out.dtype == np.float32
    assert out.tolist() == column.to_pylist()
    assert out.ctypes.data == _fsl_values_address(column)
    assert np.shares_memory(out, np.frombuffer(values.buffers()[1], dtype=np.float32))


def test_fixed_size_list_of_a_sliced_batch_is_zero_copy() -> None:
    column = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(20, dtype=np.int64)), 4)
    batch = pa.record_batch({"v": column, "i": pa.array(range(5))}).slice(2, 2)
    sliced = batch.column("v")
    assert sliced.offset == 2
    out = to_numpy(batch)["v"]
    assert out.shape == (2, 4)
    assert out.tolist() == [[8, 9, 10, 11], [12, 13, 14, 15]]
    assert out.ctypes.data == _fsl_values_address(sliced)


def test_nested_fixed_size_list_is_3d() -> None:
    typ = pa.list_(pa.list_(pa.int16(), 2), 3)
    rows = [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]], [[0, 0], [0, 0], [1, 1]]]
    batch = pa.record_batch({"m": pa.array(rows, typ)}).slice(1)
    out = to_numpy(batch)["m"]
    assert out.shape == (2, 3, 2)
    assert out.dtype == np.int16
    assert out.tolist() == rows[1:]


def test_fixed_size_list_nulls_at_both_levels() -> None:
    column = pa.array([[1, 2], None, [3, None]], pa.list_(pa.int64(), 2))
    batch = pa.record_batch({"v": column})
    with pytest.raises(SchemaError, match=r"has 3 null value\(s\) \(1 null list\(s\) among 3 rows"):
        to_numpy(batch)
    assert to_numpy(batch, fill_null=-1)["v"].tolist() == [[1, 2], [-1, -1], [3, -1]]


def test_variable_length_list_is_refused_by_numpy() -> None:
    batch = pa.record_batch({"l": pa.array([[1], [2, 3]])})
    with pytest.raises(SchemaError, match=r"Column 'l'.*to_tensors.*fixed_size_list"):
        to_numpy(batch)


@pytest.mark.parametrize(
    ("typ", "match"),
    [
        (pa.struct([("a", pa.int8())]), "struct<a: int8>.*flatten"),
        (pa.map_(pa.string(), pa.int8()), "map<string, int8>.*maps are not supported"),
        (pa.decimal128(5, 2), r"decimal128\(5, 2\).*cast the column to float64"),
        (pa.list_(pa.list_(pa.int8())), "nested variable-length lists"),
        (pa.time32("s"), r"time32\[s\].*Supported:"),
    ],
)
def test_unsupported_types(typ: pa.DataType, match: str) -> None:
    batch = pa.record_batch({"c": pa.array([None], typ)})
    with pytest.raises(SchemaError, match=rf"Column 'c' has the Arrow type .*{match}"):
        to_numpy(batch)


# ---------------------------------------------------------------------------------------------
# to_masked_numpy
# ---------------------------------------------------------------------------------------------


def test_masked_arrays_keep_int_dtype_and_masks() -> None:
    batch = pa.record_batch(
        {
            "i": pa.array([1, None, 3], pa.int16()),
            "f": pa.array([None, 2.0, 3.0]),
            "b": pa.array([None, True, False]),
            "s": pa.array(["a", None, "c"]),
            "y": pa.array([b"a", b"b", None]),
            "t": pa.array([None, 1, 2], pa.timestamp("us")),
            "full": pa.array([7, 8, 9]),
        }
    )
    out = to_masked_numpy(batch)
    assert out["i"].dtype == np.int16
    assert out["i"].mask.tolist() == [False, True, False]
    assert out["i"].data.tolist() == [1, 0, 3]
    assert out["i"].filled().tolist() == [1, 0, 3]
    assert out["f"].mask.tolist() == [True, False, False]
    assert out["f"].data.tolist() == [0.0, 2.0, 3.0]
    assert out["b"].dtype == np.bool_
    assert out["b"].data.tolist() == [False, True, False]
    assert out["s"].data.tolist() == ["a", "", "c"]
    assert out["s"].mask.tolist() == [False, True, False]
    assert out["y"].data.tolist() == [b"a", b"b", b""]
    assert out["t"].dtype == np.dtype("datetime64[us]")
    assert out["t"].data.view(np.int64).tolist() == [0, 1, 2]
    assert out["full"].mask.tolist() == [False, False, False]
    assert out["full"].data.ctypes.data == _data_address(batch.column("full"))


def test_masked_fixed_size_list_and_dictionary() -> None:
    batch = pa.record_batch(
        {
            "v": pa.array([[1, None], None, [3, 4]], pa.list_(pa.int32(), 2)),
            "d": pa.array(["a", None, "a"]).dictionary_encode(),
        }
    )
    out = to_masked_numpy(batch)
    assert out["v"].shape == (3, 2)
    assert out["v"].dtype == np.int32
    assert out["v"].mask.tolist() == [[False, True], [True, True], [False, False]]
    assert out["v"].data.tolist() == [[1, 0], [0, 0], [3, 4]]
    assert out["d"].data.tolist() == ["a", "", "a"]
    assert out["d"].mask.tolist() == [False, True, False]


def test_masked_refuses_variable_length_lists() -> None:
    with pytest.raises(SchemaError, match="to_tensors"):
        to_masked_numpy(pa.record_batch({"l": pa.array([[1], None])}))


# ---------------------------------------------------------------------------------------------
# property test
# ---------------------------------------------------------------------------------------------

_KINDS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any], object]] = {
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1), 0),
    "float64": (pa.float64(), st.floats(allow_nan=False), 0),
    "bool": (pa.bool_(), st.booleans(), 0),
    "string": (pa.string(), st.text(max_size=5), ""),
}


@st.composite
def _tables(draw: st.DrawFn) -> pa.Table:
    size = draw(st.integers(0, 200))
    kinds = draw(st.lists(st.sampled_from(sorted(_KINDS)), min_size=1, max_size=4))
    columns = {}
    for index, kind in enumerate(kinds):
        typ, values, _ = _KINDS[kind]
        null_rate = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
        nulls = draw(st.lists(st.floats(0, 1), min_size=size, max_size=size))
        data = draw(st.lists(values, min_size=size, max_size=size))
        column = [None if r < null_rate else v for r, v in zip(nulls, data, strict=True)]
        columns[f"{kind}_{index}"] = pa.array(column, typ)
    table = pa.table(columns)
    # random chunking and slicing, so offsets and combined chunks are exercised too
    cut = draw(st.integers(0, size))
    table = pa.concat_tables([table.slice(0, cut), table.slice(cut)])
    start = draw(st.integers(0, size))
    return table.slice(start, draw(st.integers(0, size - start)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tables())
def test_masked_and_filled_numpy_round_trip(table: pa.Table) -> None:
    masked = to_masked_numpy(table)
    fills = {name: _KINDS[name.split("_")[0]][2] for name in table.column_names}
    filled = to_numpy(table, fill_null=fills)
    for name in table.column_names:
        expected = table.column(name).to_pylist()
        column_masked = masked[name]
        assert column_masked.shape == (len(expected),)
        assert column_masked.mask.tolist() == [v is None for v in expected]
        if pa.types.is_integer(table.schema.field(name).type):
            assert column_masked.dtype == np.int64
            assert filled[name].dtype == np.int64
        for row, value in enumerate(expected):
            if value is not None:
                assert column_masked.data[row] == value
        fill = fills[name]
        assert filled[name].tolist() == [fill if v is None else v for v in expected]


# ---------------------------------------------------------------------------------------------
# to_tensors
# ---------------------------------------------------------------------------------------------


def test_tensor_dtypes_and_shapes() -> None:
    tf = _tf()
    batch = pa.record_batch(
        {
            **{name: _numeric_batch().column(name) for name in _numeric_batch().schema.names},
            "b": pa.array([True, False] * 5),
            "s": pa.array([str(i) for i in range(10)]),
            "y": pa.array([bytes([i]) for i in range(10)]),
            "t": pa.array(range(10), pa.timestamp("ns")),
            "d": pa.array(range(10), pa.date32()),
            "v": pa.FixedSizeListArray.from_arrays(pa.array(np.arange(30.0)), 3),
            "m": pa.FixedSizeListArray.from_arrays(
                pa.FixedSizeListArray.from_arrays(pa.array(np.arange(40, dtype=np.int32)), 2), 2
            ),
            "cat": pa.array(["a", "b"] * 5).dictionary_encode(),
        }
    )
    out = to_tensors(batch)
    expected = {
        "i8": tf.int8,
        "u16": tf.uint16,
        "i32": tf.int32,
        "i64": tf.int64,
        "u64": tf.uint64,
        "f16": tf.float16,
        "f32": tf.float32,
        "f64": tf.float64,
        "b": tf.bool,
        "s": tf.string,
        "y": tf.string,
        "t": tf.int64,
        "d": tf.int32,
        "v": tf.float64,
        "m": tf.int32,
        "cat": tf.string,
    }
    assert {name: t.dtype for name, t in out.items()} == expected
    for name, tensor in out.items():
        if name not in ("v", "m"):
            assert tensor.shape == (10,), name
    assert out["v"].shape == (10, 3)
    assert out["m"].shape == (10, 2, 2)
    assert out["f64"].numpy().tolist() == batch.column("f64").to_pylist()
    assert out["s"].numpy().tolist() == [str(i).encode() for i in range(10)]
    assert out["y"].numpy().tolist() == [bytes([i]) for i in range(10)]
    assert out["t"].numpy().tolist() == list(range(10))
    assert out["d"].numpy().tolist() == list(range(10))
    assert out["v"].numpy().tolist() == batch.column("v").to_pylist()
    assert out["m"].numpy().tolist() == batch.column("m").to_pylist()
    assert out["cat"].numpy().tolist() == [b"a", b"b"] * 5


def test_tensor_shares_the_aligned_arrow_buffer() -> None:
    tf = _tf()
    # built by Arrow (pa.array(ndarray) would wrap numpy's memory, which is not 64-byte aligned)
    values = pa.array(range(64), pa.float32())
    assert _data_address(values) % 64 == 0  # Arrow allocates 64-byte aligned buffers
    vectors = pa.FixedSizeListArray.from_arrays(values, 4)
    out = {
        **to_tensors(pa.record_batch({"x": values})),
        **to_tensors(pa.record_batch({"v": vectors})),
    }
    assert _tensor_address(tf, out["x"]) == _data_address(values)
    assert _tensor_address(tf, out["v"]) == _data_address(values)
    assert out["v"].shape == (16, 4)
    # TF ops on the shared buffer work and leave the Arrow data alone
    assert float(tf.reduce_sum(out["x"] * 2.0)) == 2.0 * sum(range(64))
    assert values.to_pylist() == list(map(float, range(64)))


def test_tensor_from_an_unaligned_slice_is_copied_safely() -> None:
    tf = _tf()
    batch = pa.record_batch({"x": pa.array(np.arange(100, dtype=np.int64))}).slice(3, 50)
    assert _data_address(batch.column("x")) % 64 != 0
    tensor = to_tensors(batch)["x"]
    # these kernels abort the process on misaligned buffers; they must run fine here
    assert tensor[:3].numpy().tolist() == [3, 4, 5]
    assert int(tf.reduce_sum(tensor + 1)) == sum(range(3, 53)) + 50


def test_tensor_null_policy_matches_numpy() -> None:
    _tf()
    batch = pa.record_batch({"col": pa.array([1.0, None]), "s": pa.array([None, "b"])})
    with pytest.raises(SchemaError, match=r"Column 'col' \(double\) has 1 null.*fill_null="):
        to_tensors(batch)
    out = to_tensors(batch, fill_null={"col": -1.0, "s": ""})
    assert out["col"].numpy().tolist() == [1.0, -1.0]
    assert out["s"].numpy().tolist() == [b"", b"b"]


def test_ragged_tensor_from_list_columns() -> None:
    tf = _tf()
    batch = pa.record_batch(
        {
            "l": pa.array([[1, 2], [], [3, 4, 5], [6]], pa.list_(pa.int32())),
            "ls": pa.array([["a"], ["b", "c"], [], ["d"]], pa.large_list(pa.string())),
            "lf": pa.array(
                [[[1.0, 2.0]], [], [[3.0, 4.0], [5.0, 6.0]], []],
                pa.list_(pa.list_(pa.float32(), 2)),
            ),
        }
    )
    out = to_tensors(batch)
    assert isinstance(out["l"], tf.RaggedTensor)
    assert out["l"].dtype == tf.int32
    assert out["l"].row_splits.dtype == tf.int64
    assert out["l"].to_list() == [[1, 2], [], [3, 4, 5], [6]]
    assert out["ls"].dtype == tf.string
    assert out["ls"].to_list() == [[b"a"], [b"b", b"c"], [], [b"d"]]
    assert out["lf"].shape.as_list() == [4, None, 2]
    assert out["lf"].to_list() == [[[1.0, 2.0]], [], [[3.0, 4.0], [5.0, 6.0]], []]


def test_ragged_tensor_from_a_sliced_batch() -> None:
    _tf()
    rows = [[0], [1, 2], [3, 4, 5], [], [6, 7], [8]]
    batch = pa.record_batch(
        {"l": pa.array(rows), "s": pa.array([[str(v) for v in r] for r in rows])}
    ).slice(2, 3)
    assert batch.column("l").offsets.to_pylist()[0] == 3  # the slice starts mid-buffer
    out = to_tensors(batch)
    assert out["l"].row_splits.numpy().tolist() == [0, 3, 3, 5]
    assert out["l"].to_list() == [[3, 4, 5], [], [6, 7]]
    assert out["s"].to_list() == [[b"3", b"4", b"5"], [], [b"6", b"7"]]


def test_ragged_nulls_raise_or_fill() -> None:
    _tf()
    batch = pa.record_batch({"l": pa.array([[1, None], None, [3]])})
    with pytest.raises(SchemaError, match=r"Column 'l' \(list<item: int64>\) has 1 null row"):
        to_tensors(batch)
    only_inner = pa.record_batch({"l": pa.array([[1, None], [3]])})
    with pytest.raises(SchemaError, match=r"Column 'l' \(list<item: int64>\) has 1 null value"):
        to_tensors(only_inner)
    out = to_tensors(batch, fill_null={"l": 0})
    assert out["l"].to_list() == [[1, 0], [], [3]]
    # a sliced column whose null row is backed by a non-empty sub-list
    backed = pa.ListArray.from_arrays(
        pa.array([0, 2, 4, 5], pa.int32()),
        pa.array([1, 2, 9, 9, 3]),
        mask=pa.array([False, True, False]),
    )
    assert backed.to_pylist() == [[1, 2], None, [3]]
    out = to_tensors(pa.record_batch({"l": backed}).slice(1), fill_null=0)
    assert out["l"].to_list() == [[], [3]]


def test_empty_batch_to_tensors() -> None:
    _tf()
    batch = pa.record_batch(
        {"x": pa.array([0.5], pa.float32()), "s": pa.array(["a"]), "l": pa.array([[1]])}
    ).slice(1)
    out = to_tensors(batch)
    assert out["x"].shape == (0,)
    assert out["s"].shape == (0,)
    assert out["l"].to_list() == []


# ---------------------------------------------------------------------------------------------
# schema_to_tensor_specs
# ---------------------------------------------------------------------------------------------


def test_schema_to_tensor_specs() -> None:
    tf = _tf()
    schema = pa.schema(
        [
            ("i", pa.int64()),
            ("f", pa.float32()),
            ("b", pa.bool_()),
            ("s", pa.large_string()),
            ("t", pa.timestamp("ms")),
            ("d", pa.date32()),
            ("cat", pa.dictionary(pa.int8(), pa.string())),
            ("v", pa.list_(pa.float32(), 3)),
            ("m", pa.list_(pa.list_(pa.uint8(), 2), 4)),
            ("l", pa.list_(pa.int16())),
            ("lv", pa.large_list(pa.list_(pa.float64(), 2))),
        ]
    )
    specs = schema_to_tensor_specs(schema)
    assert specs["i"] == tf.TensorSpec([None], tf.int64)
    assert specs["f"] == tf.TensorSpec([None], tf.float32)
    assert specs["b"] == tf.TensorSpec([None], tf.bool)
    assert specs["s"] == tf.TensorSpec([None], tf.string)
    assert specs["t"] == tf.TensorSpec([None], tf.int64)
    assert specs["d"] == tf.TensorSpec([None], tf.int32)
    assert specs["cat"] == tf.TensorSpec([None], tf.string)
    assert specs["v"] == tf.TensorSpec([None, 3], tf.float32)
    assert specs["m"] == tf.TensorSpec([None, 4, 2], tf.uint8)
    assert specs["l"] == tf.RaggedTensorSpec([None, None], tf.int16, 1, tf.int64)
    assert specs["lv"] == tf.RaggedTensorSpec([None, None, 2], tf.float64, 1, tf.int64)
    assert list(schema_to_tensor_specs(schema, ["l", "i"])) == ["l", "i"]


def test_specs_match_the_converted_tensors() -> None:
    _tf()
    batch = pa.record_batch(
        {
            "i": pa.array([1, 2], pa.uint8()),
            "v": pa.array([[1, 2], [3, 4]], pa.list_(pa.int64(), 2)),
            "l": pa.array([["a"], []]),
        }
    )
    specs = schema_to_tensor_specs(batch.schema)
    for name, tensor in to_tensors(batch).items():
        assert specs[name].is_compatible_with(tensor), name


@pytest.mark.parametrize(
    ("typ", "match"),
    [
        (pa.struct([("a", pa.int8())]), r"Column 'c' has the Arrow type struct<a: int8>"),
        (pa.map_(pa.string(), pa.int8()), r"Column 'c' has the Arrow type map<string, int8>"),
        (pa.list_(pa.list_(pa.int8())), r"list<item: list<item: int8>>.*nested variable-length"),
        (pa.list_(pa.struct([("a", pa.int8())])), r"\(the part struct<a: int8> of it\)"),
    ],
)
def test_specs_for_unsupported_types(typ: pa.DataType, match: str) -> None:
    _tf()
    with pytest.raises(SchemaError, match=match):
        schema_to_tensor_specs(pa.schema([("ok", pa.int8()), ("c", typ)]))


def test_specs_unknown_column() -> None:
    _tf()
    with pytest.raises(SchemaError, match=r"Unknown column\(s\) \['z'\]; the data has columns"):
        schema_to_tensor_specs(pa.schema([("a", pa.int8())]), ["z"])
