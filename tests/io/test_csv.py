from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pytest

import tensorbridge as tb
from tensorbridge.errors import BadInputError, ConfigError, SchemaError
from tensorbridge.io.csv import infer_column_type


def write(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# -- the taxi data ------------------------------------------------------------------------
def test_taxi_schema_and_counts_match_reference(taxi_csv: Path) -> None:
    taxi = tb.read_csv(taxi_csv)
    table = taxi.to_table()
    assert table.num_rows == 15_002
    assert table.num_columns == 18
    types = {f.name: str(f.type) for f in taxi.schema}
    assert types["fare"] == "double"
    assert types["trip_start_hour"] == "int64"
    assert types["payment_type"] == "string"
    assert types["company"] == "string"
    # Empty cells are nulls (REFERENCE.md section 4.2 counts).
    nulls = {name: table.column(name).null_count for name in table.column_names}
    assert nulls["company"] == 5_140
    assert nulls["pickup_census_tract"] == 15_001
    assert nulls["dropoff_census_tract"] == 4_241
    assert nulls["trip_seconds"] == 6
    assert nulls["dropoff_latitude"] == 483
    assert nulls["fare"] == 0
    fare = table.column("fare").to_numpy()
    assert fare.mean() == pytest.approx(11.7682, abs=1e-4)
    assert fare.std() == pytest.approx(11.5385, abs=1e-4)
    counts = dict(
        zip(
            *[v.to_pylist() for v in table.column("payment_type").value_counts().flatten()],
            strict=True,
        )
    )
    assert counts["Cash"] == 9_909 and counts["Credit Card"] == 4_975 and counts["Prcard"] == 1


# -- parsing ----------------------------------------------------------------------------
def test_inference_empty_cells_quotes_and_embedded_newlines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "id,price,name,flag,when\n"
        '1,2.5,"Smith, John",true,2024-01-02 03:04:05\n'
        '2,,"two\nlines",false,2024-02-03\n'
        "3,4,,TRUE,\n",
    )
    ds = tb.read_csv(path)
    assert [str(f.type) for f in ds.schema] == [
        "int64",
        "double",
        "string",
        "bool",
        "timestamp[us]",
    ]
    rows = ds.to_table().to_pylist()
    assert rows[0]["name"] == "Smith, John"
    assert rows[1]["name"] == "two\nlines"
    assert rows[1]["price"] is None
    assert rows[2]["name"] is None
    assert rows[2]["when"] is None
    assert [r["flag"] for r in rows] == [True, False, True]


def test_schema_override_partial_and_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, "zip,amount\n02139,5\n10001,7\n")
    assert tb.read_csv(path).schema.field("zip").type == pa.int64()
    ds = tb.read_csv(path, schema={"zip": "string", "amount": pa.float32()})
    table = ds.to_table()
    assert table.column("zip").to_pylist() == ["02139", "10001"]
    assert table.schema.field("amount").type == pa.float32()


def test_schema_override_unknown_column_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(
        SchemaError, match=r"names column\(s\) \['c'\].*Its columns are: \['a', 'b'\]"
    ):
        tb.read_csv(path, schema={"c": "int64"})
    with pytest.raises(SchemaError, match="Unknown type 'integr' for field 'a'"):
        tb.read_csv(path, schema={"a": "integr"})


def test_na_values_and_nan(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y\n1.5,N/A\nNaN,3\n")
    ds = tb.read_csv(path, na_values=["N/A"])
    table = ds.to_table()
    assert table.column("y").to_pylist() == [None, 3]
    x = table.column("x").to_pylist()
    assert x[0] == 1.5 and x[1] != x[1]  # NaN stays a NaN value, not a null


def test_all_empty_column_is_string(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,\n2,\n")
    assert tb.read_csv(path).schema.field("b").type == pa.string()


def test_infer_column_type_rules() -> None:
    assert infer_column_type(pa.array(["1", None, "-3"])) == pa.int64()
    assert infer_column_type(pa.array(["1", "2.5"])) == pa.float64()
    assert infer_column_type(pa.array(["True", "false"])) == pa.bool_()
    assert infer_column_type(pa.array(["2024-01-01", "2024-01-02 10:00:00"])) == pa.timestamp("us")
    assert infer_column_type(pa.array(["1", "x"])) == pa.string()
    assert infer_column_type(pa.array([None, None], pa.string())) == pa.string()


def test_directory_glob_gzip_and_tsv(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    write(tmp_path / "d", "a,b\n1,x\n2,y\n", "part1.csv")
    (tmp_path / "d" / "part2.csv.gz").write_bytes(gzip.compress(b"a,b\n3,z\n"))
    ds = tb.read_csv(tmp_path / "d")
    assert ds.to_table().column("a").to_pylist() == [1, 2, 3]
    assert tb.read_csv(str(tmp_path / "d" / "*.csv")).count_rows() == 2
    tsv = write(tmp_path, "a\tb\n1\tx y\n", "t.tsv")
    assert tb.read_csv(tsv, delimiter="\t").to_table().column("b").to_pylist() == ["x y"]


def test_headerless_with_column_names(tmp_path: Path) -> None:
    path = write(tmp_path, "1,x\n2,y\n")
    table = tb.read_csv(path, column_names=["n", "s"]).to_table()
    assert table.column_names == ["n", "s"]
    assert table.num_rows == 2


def test_small_batches_stream(tmp_path: Path) -> None:
    path = write(tmp_path, "a\n" + "".join(f"{i}\n" for i in range(1000)))
    batches = list(tb.read_csv(path, batch_size=128).iter_batches())
    assert max(b.num_rows for b in batches) == 128
    assert sum(b.num_rows for b in batches) == 1000


# -- malformed input: errors name file, line, column and a fix ---------------------------
def test_wrong_number_of_fields_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'a,b,c\n1,2,3\n4,"x\ny",6\n7,8\n9,10,11\n')
    with pytest.raises(BadInputError) as info:
        tb.read_csv(path, schema={"b": "string"}).to_table()
    message = str(info.value)
    assert f"{path}, line 5: expected 3 fields but found 2" in message
    assert "on_bad_rows='skip'" in message
    assert info.value.line == 5 and info.value.path == str(path)


def test_value_that_does_not_parse_names_line_column_and_fix(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i * 1.5}\n" for i in range(20))
    path = write(tmp_path, "id,fare\n" + rows + '21,"N/A"\n22,3.0\n')
    with pytest.raises(BadInputError) as info:
        tb.read_csv(path, schema={"fare": "float64"}).to_table()
    message = str(info.value)
    assert f"{path}, line 22, column 'fare': 'N/A' is not a valid double" in message
    assert "declared in schema=" in message
    assert "na_values" in message
    assert info.value.column == "fare"


def test_type_inferred_from_first_rows_then_breaks(tmp_path: Path) -> None:
    path = write(tmp_path, "n\n" + "1\n" * 50 + "1.5\n")
    with pytest.raises(
        BadInputError,
        match=r"line 52, column 'n': '1.5' is not a valid int64.*"
        r"inferred from the first 10 rows",
    ):
        tb.read_csv(path, infer_rows=10).to_table()
    assert tb.read_csv(path, infer_rows=None).schema.field("n").type == pa.float64()


def test_invalid_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, b"a,name\n1,ok\n2,caf\xe9\n")
    with pytest.raises(
        BadInputError, match=r"line 3, column 'name': the value is not valid UTF-8.*iconv"
    ):
        tb.read_csv(path).to_table()
    # Declared as string explicitly, the error comes from the typed read instead.
    with pytest.raises(BadInputError, match=r"line 3, column 'name'"):
        tb.read_csv(path, schema={"name": "string"}).to_table()
    # Declared as bytes, the data is read as is.
    raw = tb.read_csv(path, schema={"name": "binary"}).to_table()
    assert raw.column("name").to_pylist() == [b"ok", b"caf\xe9"]


def test_skip_bad_rows_reports_count_and_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        b"id,fare,name\n"
        b"1,1.5,a\n"
        b"2,oops,b\n"  # line 3: bad float
        b'3,2.5,"multi\nline"\n'  # lines 4-5
        b"4,3.5\n"  # line 6: too few fields
        b"5,4.5,caf\xe9\n"  # line 7: bad UTF-8
        b"6,5.5,f\n",
    )
    ds = tb.read_csv(path, schema={"fare": "float64", "name": "string"}, on_bad_rows="skip")
    table = ds.to_table()
    assert table.column("id").to_pylist() == [1, 3, 6]
    assert table.column("name").to_pylist() == ["a", "multi\nline", "f"]
    report = ds.bad_rows
    assert report.count == 3
    assert [(r.line, r.reason.split(":")[0]) for r in report.examples] == [
        (3, "column 'fare'"),
        (6, "expected 3 fields, found 2"),
        (7, "column 'name'"),
    ]
    assert "Skipped 3 bad row(s)" in report.summary()
    # Reading again starts a new report instead of adding to the old one.
    ds.count_rows()
    assert ds.bad_rows.count == 3


def test_skip_and_raise_give_the_same_rows_on_clean_data(taxi_csv: Path) -> None:
    strict = tb.read_csv(taxi_csv).to_table()
    lenient = tb.read_csv(taxi_csv, on_bad_rows="skip")
    assert lenient.to_table().equals(strict)
    assert lenient.bad_rows.count == 0


def test_header_problems(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="names column 'a' twice"):
        tb.read_csv(write(tmp_path, "a,a\n1,2\n"))
    with pytest.raises(BadInputError, match="column 2 of the header has no name"):
        tb.read_csv(write(tmp_path, "a,\n1,2\n", "b.csv"))
    with pytest.raises(BadInputError, match="is empty"):
        tb.read_csv(write(tmp_path, "", "c.csv"))


def test_files_with_different_headers(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    write(tmp_path / "d", "a,b\n1,2\n", "1.csv")
    write(tmp_path / "d", "a,c\n1,2\n", "2.csv")
    with pytest.raises(SchemaError, match=r"2.csv, line 1: the header \['a', 'c'\] differs"):
        tb.read_csv(tmp_path / "d").to_table()


def test_bad_arguments(tmp_path: Path) -> None:
    path = write(tmp_path, "a\n1\n")
    with pytest.raises(ConfigError, match="does not exist"):
        tb.read_csv(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match="on_bad_rows must be 'raise' or 'skip'"):
        tb.read_csv(path, on_bad_rows="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="delimiter must be one character"):
        tb.read_csv(path, delimiter="::")


def test_inference_spans_files_when_the_first_is_short(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    write(tmp_path / "d", "a,b,c\n1,,x\n", "1.csv")
    write(tmp_path / "d", "a,b,c\n2.5,7,y\n", "2.csv")
    ds = tb.read_csv(tmp_path / "d")
    assert [str(f.type) for f in ds.schema] == ["double", "int64", "string"]
    assert ds.to_table().column("a").to_pylist() == [1.0, 2.5]


def test_inference_paths_agree(taxi_csv: Path) -> None:
    assert tb.read_csv(taxi_csv).schema.equals(tb.read_csv(taxi_csv, infer_rows=None).schema)


def test_temporal_inference_edge_cases(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "clock,utc,offset,day,flag\n"
        "10:30:00,2024-01-01T10:00:00Z,2024-01-01 10:00:00+01:00,2024-01-02,tRuE\n",
    )
    for infer_rows in (100, None):
        ds = tb.read_csv(path, infer_rows=infer_rows)
        types = {f.name: str(f.type) for f in ds.schema}
        assert types["clock"] == "string"  # times of day stay text
        assert types["utc"] == "timestamp[us, tz=UTC]"
        assert types["offset"] == "timestamp[us, tz=UTC]"
        assert types["day"] == "timestamp[us]"
        assert types["flag"] == "string"  # only true/True/TRUE and false/False/FALSE are bools
        row = ds.to_table().to_pylist()[0]
        assert row["offset"].hour == 9  # 10:00 at +01:00 is 09:00 UTC


def test_the_first_bad_row_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n3\n4,x\n")
    with pytest.raises(BadInputError, match=r"line 3: expected 2 fields but found 1"):
        tb.read_csv(path, schema={"b": "int64"}).to_table()


def test_skip_mode_bools_match_the_strict_reader(tmp_path: Path) -> None:
    path = write(tmp_path, "f\ntrue\nFALSE\ntRuE\n\n")
    strict = tb.read_csv(path, schema={"f": "bool"}, on_bad_rows="skip")
    assert strict.to_table().column("f").to_pylist() == [True, False]
    assert strict.bad_rows.count == 1
