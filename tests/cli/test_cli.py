from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import tensorbridge as tb
from tensorbridge.cli import cli, main


def run(*args: str) -> object:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("inspect", "head", "split", "convert", "push", "engines"):
        assert command in result.output
    for command in ("inspect", "head", "split", "convert", "push", "engines"):
        assert run(command, "--help").exit_code == 0


def test_inspect_json(taxi_csv: Path) -> None:
    result = run("inspect", str(taxi_csv), "--json")
    payload = json.loads(result.output)
    assert payload["rows"] == 15_002
    missing = {c["name"]: c["missing"] for c in payload["columns"]}
    assert missing["company"] == 5_140
    assert {c["name"]: c["type"] for c in payload["columns"]}["fare"] == "double"


def test_inspect_table_and_head(taxi_csv: Path) -> None:
    assert "15,002 rows" in run("inspect", str(taxi_csv)).output
    output = run("head", str(taxi_csv), "-n", "2").output
    assert "payment_type" in output and "row 2" in output


def test_split_writes_parquet(taxi_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "splits"
    result = run(
        "split",
        str(taxi_csv),
        str(out),
        "--ratio",
        "train=3",
        "--ratio",
        "eval=1",
        "--key",
        "company",
    )
    assert result.exit_code == 0, result.output
    counts = {name: tb.read_parquet(out / name).count_rows() for name in ("train", "eval")}
    assert sum(counts.values()) == 15_002
    expected = {
        n: p.count_rows()
        for n, p in tb.read_csv(taxi_csv).split({"train": 3, "eval": 1}, key="company").items()
    }
    assert counts == expected


def test_convert_then_inspect_parquet(taxi_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "taxi.parquet.d"
    assert (
        run(
            "convert",
            str(taxi_csv),
            str(out),
            "--rows-per-file",
            "4000",
            "--row-group-size",
            "1000",
        ).exit_code
        == 0
    )
    assert len(list(out.glob("*.parquet"))) == 4
    payload = json.loads(run("inspect", str(out), "--json").output)
    assert payload["rows"] == 15_002


def test_bad_rows_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n4,5\n")
    result = CliRunner().invoke(
        cli, ["convert", str(bad), str(tmp_path / "o"), "--on-bad-rows", "skip"]
    )
    assert result.exit_code == 0
    assert "Skipped 1 bad row(s)" in result.output
    assert f"{bad}:3: expected 2 fields, found 1" in result.output


def test_errors_exit_1_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    with pytest.raises(SystemExit) as info:
        main(["inspect", str(bad)])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "BadInputError" in err and "line 3" in err
    with pytest.raises(SystemExit) as info:
        main(["split", str(bad), str(tmp_path / "o"), "--ratio", "train"])
    assert info.value.code == 2


def test_engines_lists_local() -> None:
    output = run("engines").output
    assert "local" in output and "spark" in output


def test_types_with_brackets_and_csv_options(tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text("when;zip;fare\n2024-01-02 03:04:05;02139;N/A\n")
    result = run(
        "inspect",
        str(data),
        "--delimiter",
        ";",
        "--schema",
        "zip=string",
        "--na-value",
        "N/A",
        "--json",
    )
    payload = json.loads(result.output)
    types = {c["name"]: c["type"] for c in payload["columns"]}
    assert types == {"when": "timestamp[us]", "zip": "string", "fare": "string"}
    assert {c["name"]: c["missing"] for c in payload["columns"]}["fare"] == 1
    table = run("inspect", str(data), "--delimiter", ";").output
    assert "timestamp[us]" in table
    assert "02139" in run("head", str(data), "--delimiter", ";", "--schema", "zip=string").output


def test_error_messages_keep_brackets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,2\n")
    with pytest.raises(SystemExit):
        main(["inspect", str(data), "--schema", "c=int64"])
    assert "['c']" in capsys.readouterr().err


def test_push_refuses_without_blessing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "NOT_BLESSED").write_text("")
    with pytest.raises(SystemExit) as info:
        main(
            [
                "push",
                str(tmp_path / "model"),
                str(tmp_path / "repo"),
                "--name",
                "taxi",
                "--evaluation",
                str(tmp_path / "eval"),
            ]
        )
    assert info.value.code == 1
    assert "did not bless it" in capsys.readouterr().err
    result = run(
        "push",
        str(tmp_path / "model"),
        str(tmp_path / "repo"),
        "--name",
        "taxi",
        "--evaluation",
        str(tmp_path / "eval"),
        "--force",
        "--reason",
        "demo",
    )
    assert "version 1" in result.output and "forced" in result.output
