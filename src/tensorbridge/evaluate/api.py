"""``evaluate``: metrics overall and per slice, thresholds, baseline -> blessing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tensorbridge.errors import BadInputError, ConfigError, SchemaError
from tensorbridge.evaluate.curves import compute_plots
from tensorbridge.evaluate.inputs import (
    Task,
    check_labels,
    check_predictions,
    check_task,
    column_values,
)
from tensorbridge.evaluate.metrics import metric_values
from tensorbridge.evaluate.records import SliceMetrics
from tensorbridge.evaluate.result import EvalResult
from tensorbridge.evaluate.slicing import Slice, group_rows, normalize_slices
from tensorbridge.evaluate.thresholds import ThresholdsLike, normalize_thresholds, validate
from tensorbridge.io.dataset import Dataset
from tensorbridge.io.paths import PathLike

__all__ = ["evaluate"]

ARRAY = "(array)"


def evaluate(
    data: Dataset | pa.Table,
    *,
    label: str,
    prediction: str | npt.ArrayLike,
    baseline_prediction: str | npt.ArrayLike | None = None,
    slices: Slice | Iterable[Slice] = (Slice(),),  # noqa: B008 - Slice is immutable
    thresholds: ThresholdsLike | None = None,
    task: Task = "binary",
    min_slice_size: int = 1,
    output_dir: PathLike | None = None,
    model_name: str = "candidate",
    overwrite: bool = False,
) -> EvalResult:
    """Evaluate predictions overall and per slice, check thresholds and decide a blessing.

    Parameters
    ----------
    data : Dataset or pyarrow.Table
        The evaluation data. A :class:`~tensorbridge.Dataset` is read with only the
        columns needed (label, prediction columns, slice columns).
    label : str
        The label column: 0/1 (or bool) for ``task="binary"``, numbers for regression.
    prediction : str or array-like
        The candidate's prediction column, or an array with one prediction per row (in
        the data's order). For ``binary``: the probability of class 1.
    baseline_prediction : str or array-like, optional
        The baseline model's predictions on the same rows. Its metrics are computed on
        the same data and slices; change thresholds compare against them.
    slices : Slice or iterable of Slice, default (Slice(),)
        The slicing specs. The overall slice is always computed (first).
    thresholds : mapping of str to threshold(s), optional
        Metric name to a :class:`ValueThreshold`, a :class:`ChangeThreshold` or a list
        of them. Without thresholds the blessing is not decided (``blessed is None``).
    task : {"binary", "regression"}, default "binary"
        The task type, which chooses the metrics.
    min_slice_size : int, default 1
        Slices with fewer examples are listed with their count, but their metrics are
        not reported (nor checked).
    output_dir : path, optional
        Also write the result there (see :meth:`EvalResult.write`).
    model_name : str, default "candidate"
        The candidate's name in the report.
    overwrite : bool, default False
        Replace an existing ``output_dir``.

    Returns
    -------
    EvalResult
        Metrics per slice, the threshold checks and ``blessed`` (True, False or None).

    Examples
    --------
    >>> import pyarrow as pa
    >>> from tensorbridge.evaluate import evaluate, Slice, ValueThreshold
    >>> table = pa.table({
    ...     "label": [0, 0, 1, 1, 0, 1],
    ...     "p": [0.1, 0.4, 0.35, 0.8, 0.2, 0.9],
    ...     "city": ["a", "a", "a", "b", "b", "b"],
    ... })
    >>> result = evaluate(table, label="label", prediction="p", slices=[Slice("city")],
    ...                   thresholds={"auc": ValueThreshold(lower=0.7)})
    >>> [(s.name, s.count, round(s.metrics["auc"], 3)) for s in result.slices]
    [('Overall', 6, 0.889), ('city:a', 3, 0.5), ('city:b', 3, 1.0)]
    >>> result.blessed, result.summary
    (True, 'blessed: all 1 threshold checks passed')
    """
    kind = check_task(task)
    if not isinstance(label, str) or not label:
        raise ConfigError(f"label= must be a column name (str); got {label!r}.")
    if isinstance(min_slice_size, bool) or not isinstance(min_slice_size, int | np.integer):
        raise ConfigError(f"min_slice_size= must be an integer >= 1; got {min_slice_size!r}.")
    if min_slice_size < 1:
        raise ConfigError(f"min_slice_size={min_slice_size} must be at least 1.")
    if not isinstance(model_name, str) or not model_name:
        raise ConfigError(f"model_name= must be a non-empty str; got {model_name!r}.")
    specs = normalize_slices(slices)
    rules = normalize_thresholds(thresholds, kind, specs)

    needed = [label]
    for given in (prediction, baseline_prediction):
        if isinstance(given, str):
            needed.append(given)
    for spec in specs:
        needed.extend(spec.keys)
    table, description = _read(data, list(dict.fromkeys(needed)))
    if table.num_rows == 0:
        raise BadInputError(f"The data has no rows ({description}); there is nothing to evaluate.")

    labels = check_labels(column_values(table, label, "label"), kind, name=label)
    candidate, candidate_name = _predictions(table, prediction, kind, len(labels))
    baseline: np.ndarray | None = None
    baseline_name: str | None = None
    if baseline_prediction is not None:
        baseline, baseline_name = _predictions(table, baseline_prediction, kind, len(labels))

    sliced: list[SliceMetrics] = []
    for spec in specs:
        for key, rows in group_rows(table, spec):
            sliced.append(
                _slice_metrics(key, rows, labels, candidate, baseline, kind, min_slice_size)
            )
    plots = {"candidate": compute_plots(labels, candidate, kind)}
    if baseline is not None:
        plots["baseline"] = compute_plots(labels, baseline, kind)
    validation = validate(
        sliced,
        rules,
        task=kind,
        has_baseline=baseline is not None,
        min_slice_size=min_slice_size,
    )
    result = EvalResult(
        model_name=model_name,
        task=kind,
        label=label,
        prediction=candidate_name,
        baseline_prediction=baseline_name,
        data=description,
        example_count=len(labels),
        min_slice_size=int(min_slice_size),
        slicing_specs=specs,
        slices=tuple(sliced),
        checks=validation.checks,
        blessed=validation.blessed,
        summary=validation.summary,
        notes=validation.notes,
        rules=tuple(rules),
        plots=plots,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    if output_dir is not None:
        result.write(output_dir, overwrite=overwrite)
    return result


def _read(data: object, columns: list[str]) -> tuple[pa.Table, str]:
    if isinstance(data, Dataset):
        names = data.schema.names
        description = data.source.describe()
        reader = data
    elif isinstance(data, pa.Table | pa.RecordBatch):
        names = data.schema.names
        description = f"Arrow table ({data.num_rows:,} rows, {data.num_columns} columns)"
        reader = None
    else:
        hint = (
            " Wrap it with tb.from_pandas(df)."
            if type(data).__name__ == "DataFrame"
            else " Build one with tb.read_parquet(...), tb.read_csv(...) or pa.table(...)."
        )
        raise ConfigError(
            f"data= takes a tensorbridge Dataset or a pyarrow Table; got "
            f"{type(data).__module__}.{type(data).__name__}.{hint}"
        )
    missing = [c for c in columns if c not in names]
    if missing:
        raise SchemaError(
            f"Columns {missing} not found in the data; it has {names}. Check label=, "
            "prediction=, baseline_prediction= and the Slice(...) column names."
        )
    if reader is not None:
        return reader.select(columns).to_table(), description
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    return table.select(columns), description


def _predictions(
    table: pa.Table, given: str | npt.ArrayLike, task: Task, expected: int
) -> tuple[np.ndarray, str]:
    if isinstance(given, str):
        values = column_values(table, given, "prediction")
        return check_predictions(values, task, name=given, expected=expected), given
    return check_predictions(given, task, name=ARRAY, expected=expected), ARRAY


def _slice_metrics(
    key: tuple[tuple[str, Any], ...],
    rows: np.ndarray,
    labels: np.ndarray,
    candidate: np.ndarray,
    baseline: np.ndarray | None,
    task: Task,
    min_slice_size: int,
) -> SliceMetrics:
    count = len(rows)
    if count < min_slice_size:
        note = f"{count} example(s), fewer than min_slice_size={min_slice_size}: not reported."
        return SliceMetrics(key, count, notes=(note,))
    whole = count == len(labels)
    y = labels if whole else labels[rows]
    metrics, notes = metric_values(y, candidate if whole else candidate[rows], task)
    baseline_metrics: dict[str, float] = {}
    if baseline is not None:
        baseline_metrics, baseline_notes = metric_values(
            y, baseline if whole else baseline[rows], task
        )
        notes += [f"baseline: {note}" for note in baseline_notes if note not in notes]
    return SliceMetrics(key, count, metrics, baseline_metrics, tuple(notes))
