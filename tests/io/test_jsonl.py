from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import tensorbridge as tb
from tensorbridge.errors import BadInputError


def write(tmp_path: Path, text: str | bytes, name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_reads_types_nulls_and_nested(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"id": 1, "fare": 2.5, "tags": ["a", "b"], "who": {"name": "x"}}\n'
        "\n"
        '{"id": 2, "fare": null, "tags": [], "who": {"name": null}}\n'
        '{"id": 3, "tags": ["c"], "who": {"name": "z"}}\n',
    )
    ds = tb.read_json(path)
    assert ds.schema.field("id").type == pa.int64()
    assert ds.schema.field("tags").type == pa.list_(pa.string())
    rows = ds.to_table().to_pylist()
    assert [r["fare"] for r in rows] == [2.5, None, None]
    assert rows[1]["tags"] == []


def test_schema_override(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n')
    table = tb.read_json(path, schema={"a": "float64"}).to_table()
    assert table.schema.field("a").type == pa.float64()
    assert table.column("b").to_pylist() == ["x", "y"]


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n{"a": 2}\n\n{"a": \n{"a": 4}\n')
    with pytest.raises(BadInputError, match=rf"{path}, line 4: not valid JSON"):
        tb.read_json(path, infer_rows=2).to_table()


def test_wrong_type_names_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n' * 5 + '{"a": "seven"}\n')
    with pytest.raises(BadInputError, match=r"line 6, field 'a': 'seven' is not a valid int64"):
        tb.read_json(path, infer_rows=3).to_table()


def test_skip_reports_bad_lines(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n{"a": "x"}\n[1, 2]\n{"a": 4}\n{"b": 5}\n', "s.jsonl")
    ds = tb.read_json(path, schema={"a": "int64"}, infer_rows=1, on_bad_rows="skip")
    assert ds.to_table().column("a").to_pylist() == [1, 4]
    assert ds.bad_rows.count == 3
    assert [r.line for r in ds.bad_rows.examples] == [2, 3, 5]
    assert "not in the schema" in ds.bad_rows.examples[2].reason


def test_empty_file_needs_schema(tmp_path: Path) -> None:
    path = write(tmp_path, "\n")
    with pytest.raises(BadInputError, match="holds no JSON records"):
        tb.read_json(path)
    assert tb.read_json(path, schema={"a": "int64"}).count_rows() == 0


def test_skip_mode_infers_from_the_good_lines(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\nnot json\n{"a": 2, "b": "x"}\n', "i.jsonl")
    ds = tb.read_json(path, on_bad_rows="skip")
    assert ds.schema.names == ["a", "b"]
    assert ds.to_table().column("a").to_pylist() == [1, 2]
    assert ds.bad_rows.count == 1 and ds.bad_rows.examples[0].line == 2


def test_mixed_kinds_ask_for_a_declared_type(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n{"a": "x"}\n', "m.jsonl")
    with pytest.raises(BadInputError, match=r"line 2, field 'a'"):
        tb.read_json(path, schema={"a": "int64"})
    with pytest.raises(BadInputError, match="Declare it with schema"):
        tb.read_json(path, on_bad_rows="skip")


def test_dates_timestamps_and_field_order(tmp_path: Path) -> None:
    path = write(
        tmp_path, '{"when": "2024-01-02 03:04:05", "d": "2024-01-02", "n": 1}\n', "t.jsonl"
    )
    ds = tb.read_json(path, schema={"d": "date32"})
    assert ds.schema.names == ["when", "d", "n"]  # the order of the file, declared or not
    assert ds.schema.field("when").type == pa.timestamp("us")
    assert ds.schema.field("d").type == pa.date32()
    row = ds.to_table().to_pylist()[0]
    assert str(row["d"]) == "2024-01-02" and row["when"].hour == 3


def test_kind_conflict_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n{"a": 2}\n{"a": "three"}\n', "k.jsonl")
    with pytest.raises(
        BadInputError, match=r"line 3, field 'a': a string where earlier lines hold a number"
    ):
        tb.read_json(path, on_bad_rows="skip")


def test_skip_reason_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, '{"a": 1}\n{"a": "x"}\n', "f.jsonl")
    ds = tb.read_json(path, schema={"a": "int64"}, on_bad_rows="skip")
    ds.to_table()
    assert ds.bad_rows.examples[0].reason.startswith("field 'a': 'x' is not a valid int64")
