"""The written files (atomic), their contents, and the console table."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from tensorbridge.errors import ConfigError
from tensorbridge.evaluate import ChangeThreshold, EvalResult, Slice, ValueThreshold, evaluate


@pytest.fixture
def table() -> pa.Table:
    return pa.table(
        {
            "label": [0, 1, 1, 1, 1, 0, 1, 0, 1],
            "p": [0.1, 0.8, 0.6, 0.3, 0.4, 0.7, 0.9, 0.2, 0.55],
            "base": [0.2, 0.6, 0.5, 0.4, 0.6, 0.3, 0.7, 0.1, 0.45],
            "city": ["b", "a", "b", None, "a", "b", None, "a", "c"],
        }
    )


@pytest.fixture
def result(table: pa.Table) -> EvalResult:
    return evaluate(
        table,
        label="label",
        prediction="p",
        baseline_prediction="base",
        slices=[Slice("city")],
        thresholds={
            "auc": [ValueThreshold(lower=0.6), ChangeThreshold(absolute=-0.5)],
            "accuracy": ValueThreshold(lower=0.9, slices=Slice("city")),
        },
        min_slice_size=2,
        model_name="taxi <v2>",
    )


def strict_json(path: Path) -> dict[str, object]:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    data: dict[str, object] = json.loads(path.read_text(), parse_constant=refuse)
    return data


def test_write_creates_every_file(result: EvalResult, tmp_path: Path) -> None:
    out = result.write(tmp_path / "eval")
    assert sorted(p.name for p in out.iterdir()) == [
        "NOT_BLESSED",
        "evaluation.json",
        "report.html",
        "slice_metrics.parquet",
    ]
    assert (out / "NOT_BLESSED").read_bytes() == b""
    assert [p.name for p in tmp_path.iterdir()] == ["eval"]  # no temporary leftovers


def test_parquet_holds_one_row_per_slice(result: EvalResult, tmp_path: Path) -> None:
    out = result.write(tmp_path / "eval")
    table = pq.read_table(out / "slice_metrics.parquet")
    assert table.column_names[:5] == ["slice", "slice_key", "slice_value", "count", "reported"]
    assert "auc" in table.column_names and "baseline_auc" in table.column_names
    rows = table.to_pylist()
    assert [r["slice"] for r in rows] == [
        "Overall",
        "city:a",
        "city:b",
        "city:c",
        "city:(missing)",
    ]
    assert [(r["slice_key"], r["slice_value"], r["count"]) for r in rows] == [
        ("", "", 9),
        ("city", "a", 3),
        ("city", "b", 3),
        ("city", "c", 1),
        ("city", "(missing)", 2),
    ]
    for row, item in zip(rows, result.slices, strict=True):
        for name in result.metric_names:
            if not item.reported:
                assert row[name] is None
            elif math.isnan(item.metrics[name]):
                assert math.isnan(row[name])
            else:
                assert row[name] == item.metrics[name]
                assert row[f"baseline_{name}"] == item.baseline_metrics[name]
    assert rows[3]["reported"] is False  # city:c has 1 example < min_slice_size=2


def test_json_holds_everything(result: EvalResult, tmp_path: Path) -> None:
    out = result.write(tmp_path / "eval")
    data = strict_json(out / "evaluation.json")
    assert data["model_name"] == "taxi <v2>"
    assert data["example_count"] == 9
    assert data["baseline_prediction"] == "base"
    slices = data["slices"]
    assert isinstance(slices, list)
    missing = slices[4]
    assert missing["features"] == [{"column": "city", "value": None}]
    assert missing["metrics"]["auc"] is None  # one class: NaN is written as null
    assert any("auc is undefined" in note for note in missing["notes"])
    validation = data["validation"]
    assert isinstance(validation, dict)
    assert validation["blessed"] is False
    assert validation["summary"] == result.summary
    assert len(validation["checks"]) == len(result.checks)
    plots = data["plots"]
    assert isinstance(plots, dict)
    assert set(plots) == {"candidate", "baseline"}
    assert set(plots["candidate"]) == {"roc_curve", "pr_curve", "calibration"}
    assert len(plots["candidate"]["calibration"]) == 10
    assert plots["candidate"]["roc_curve"]["thresholds"][0] is None


def test_blessed_file(table: pa.Table, tmp_path: Path) -> None:
    evaluate(
        table,
        label="label",
        prediction="p",
        thresholds={"auc": ValueThreshold(lower=0.5)},
        output_dir=tmp_path / "ok",
    )
    assert (tmp_path / "ok" / "BLESSED").exists()
    assert not (tmp_path / "ok" / "NOT_BLESSED").exists()


def test_no_blessing_file_without_thresholds(table: pa.Table, tmp_path: Path) -> None:
    evaluate(table, label="label", prediction="p", output_dir=tmp_path / "plain")
    names = {p.name for p in (tmp_path / "plain").iterdir()}
    assert names == {"evaluation.json", "report.html", "slice_metrics.parquet"}
    assert strict_json(tmp_path / "plain" / "evaluation.json")["validation"]["blessed"] is None  # type: ignore[index]


def test_failed_write_leaves_no_directory(
    result: EvalResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        result.write(tmp_path / "eval")
    assert list(tmp_path.iterdir()) == []


def test_existing_directory_needs_overwrite(result: EvalResult, tmp_path: Path) -> None:
    result.write(tmp_path / "eval")
    with pytest.raises(ConfigError, match=r"already exists\. Pass overwrite=True"):
        result.write(tmp_path / "eval")
    result.write(tmp_path / "eval", overwrite=True)
    assert (tmp_path / "eval" / "report.html").exists()


def test_unknown_report_metric(result: EvalResult, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot draw 'mse' per slice"):
        result.write(tmp_path / "eval", report_metric="mse")
    assert not (tmp_path / "eval").exists()


def test_print_table_highlights_failures(result: EvalResult) -> None:
    console = Console(
        record=True, width=120, force_terminal=True, color_system="standard", file=io.StringIO()
    )
    result.print_table(console)
    text = console.export_text(clear=False)
    assert "Overall" in text and "city" in text and "(missing)" in text
    assert "not blessed: " in text
    assert "✗ accuracy on city:a" in text
    styled = console.export_text(styles=True)
    assert "\x1b[1;37;41m" in styled  # a failed cell: bold white on red


def test_print_table_metric_choice(result: EvalResult) -> None:
    console = Console(record=True, width=200, file=io.StringIO())
    result.print_table(console, metrics=["auc", "mean_label"])
    header = console.export_text().splitlines()[2]
    assert "AUC" in header and "Mean label" in header and "Log loss" not in header
    with pytest.raises(ConfigError, match="not binary metrics"):
        result.print_table(console, metrics=["rmse"])


def test_result_lookup_and_repr(result: EvalResult) -> None:
    assert result.slice("city:b").count == 3
    with pytest.raises(ConfigError, match="No slice named 'city:z'"):
        result.slice("city:z")
    assert repr(result).startswith("<EvalResult 'taxi <v2>': binary, 9 examples, 5 slices")


def test_regression_outputs(tmp_path: Path) -> None:
    t = pa.table({"y": [1.0, 2.0, 3.0, 4.0], "yhat": [1.5, 2.0, 2.5, 5.0], "g": [1, 1, 2, 2]})
    result = evaluate(
        t,
        label="y",
        prediction="yhat",
        task="regression",
        slices=[Slice("g")],
        thresholds={"rmse": ValueThreshold(upper=1.0)},
        output_dir=tmp_path / "reg",
    )
    assert result.overall.metrics["mae"] == pytest.approx(0.5)
    assert result.blessed is True
    rows = pq.read_table(tmp_path / "reg" / "slice_metrics.parquet").to_pylist()
    assert [r["slice"] for r in rows] == ["Overall", "g:1", "g:2"]
    assert set(strict_json(tmp_path / "reg" / "evaluation.json")["plots"]["candidate"]) == {  # type: ignore[index]
        "calibration"
    }
