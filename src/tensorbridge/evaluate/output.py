"""Files of an evaluation: ``evaluation.json``, ``slice_metrics.parquet``, ``report.html``."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tensorbridge.io.paths import PathLike, atomic_directory

if TYPE_CHECKING:
    from tensorbridge.evaluate.result import EvalResult

__all__ = ["BLESSED_FILE", "NOT_BLESSED_FILE", "result_to_dict", "slice_table", "write_result"]

BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
FORMAT_VERSION = 1


def _jsonable(value: Any) -> Any:
    """A slice value or metric as JSON: NaN -> null, dates -> ISO text, bytes -> text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, decimal.Decimal | dt.timedelta):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def result_to_dict(result: EvalResult) -> dict[str, Any]:
    """Everything in an :class:`EvalResult` as a JSON-ready dict."""
    slices = []
    for item in result.slices:
        slices.append(
            {
                "slice": item.name,
                "slice_key": item.slice_key,
                "slice_value": item.slice_value,
                "features": [
                    {"column": column, "value": _jsonable(value)} for column, value in item.key
                ],
                "count": item.count,
                "reported": item.reported,
                "metrics": _jsonable(item.metrics),
                "baseline_metrics": _jsonable(item.baseline_metrics),
                "diff": _jsonable(item.diff),
                "notes": list(item.notes),
            }
        )
    rules = [
        {
            "metric": rule.metric,
            "kind": rule.kind,
            "bound": rule.bound,
            "slices": rule.where,
        }
        for rule in result.rules
    ]
    return {
        "format_version": FORMAT_VERSION,
        "model_name": result.model_name,
        "task": result.task,
        "label": result.label,
        "prediction": result.prediction,
        "baseline_prediction": result.baseline_prediction,
        "data": result.data,
        "example_count": result.example_count,
        "min_slice_size": result.min_slice_size,
        "created_at": result.created_at,
        "slicing_specs": [
            {"columns": list(spec.columns), "values": _jsonable(dict(spec.values))}
            for spec in result.slicing_specs
        ],
        "metrics": list(result.metric_names),
        "slices": slices,
        "validation": {
            "blessed": result.blessed,
            "summary": result.summary,
            "thresholds": rules,
            "checks": [check.to_dict() for check in result.checks],
            "notes": list(result.notes),
        },
        "plots": _jsonable(result.plots),
    }


def slice_table(result: EvalResult) -> pa.Table:
    """The slice metrics as a table, one row per slice.

    Columns: ``slice``, ``slice_key``, ``slice_value``, ``count``, ``reported``, every
    metric, and ``baseline_<metric>`` with a baseline. Metrics of slices below
    ``min_slice_size`` are null; NaN metrics stay NaN.
    """
    columns: dict[str, pa.Array] = {
        "slice": pa.array([s.name for s in result.slices], pa.string()),
        "slice_key": pa.array([s.slice_key for s in result.slices], pa.string()),
        "slice_value": pa.array([s.slice_value for s in result.slices], pa.string()),
        "count": pa.array([s.count for s in result.slices], pa.int64()),
        "reported": pa.array([s.reported for s in result.slices], pa.bool_()),
    }
    for name in result.metric_names:
        columns[name] = pa.array([s.metrics.get(name) for s in result.slices], pa.float64())
    if result.baseline_prediction is not None:
        for name in result.metric_names:
            columns[f"baseline_{name}"] = pa.array(
                [s.baseline_metrics.get(name) for s in result.slices], pa.float64()
            )
    return pa.table(columns)


def write_result(
    result: EvalResult,
    output_dir: PathLike,
    *,
    overwrite: bool = False,
    report_metric: str | None = None,
) -> Path:
    """Write the files of an evaluation into ``output_dir`` atomically."""
    import pyarrow.parquet as pq

    from tensorbridge.evaluate.report import render_report

    html = render_report(result, metric=report_metric)
    document = json.dumps(result_to_dict(result), indent=2, allow_nan=False)
    with atomic_directory(output_dir, overwrite=overwrite) as tmp:
        (tmp / "evaluation.json").write_text(document + "\n", encoding="utf-8")
        pq.write_table(slice_table(result), tmp / "slice_metrics.parquet")
        (tmp / "report.html").write_text(html, encoding="utf-8")
        if result.blessed is not None:
            (tmp / (BLESSED_FILE if result.blessed else NOT_BLESSED_FILE)).write_bytes(b"")
    return Path(output_dir)
