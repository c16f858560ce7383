"""Evaluator: score raw examples with the exported model, compute metrics, bless or not."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.artifacts import (
    Examples,
    Model,
    ModelBlessing,
    ModelEvaluation,
    ModuleRef,
    TransformGraph,
)
from tensorbridge.pipeline.component import component, resolve_reference
from tensorbridge.pipeline.components._common import (
    Input,
    Output,
    json_ready,
    pick_split,
    read_split,
    split_names,
    write_json,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from tensorbridge.evaluate.slicing import Slice
    from tensorbridge.evaluate.thresholds import ValueThreshold

__all__ = [
    "BLESSING_FILE",
    "Evaluator",
    "load_manifest",
    "score_raw_rows",
    "taxi_label",
]

BLESSING_FILE = "blessing.json"
MANIFEST = "tensorbridge.json"
PREDICTION = "prediction"
#: Rows scored per call of the serving signature.
SCORE_BATCH = 4096
_THRESHOLD_KEYS = ("lower", "upper", "slices")


def taxi_label(table: pa.Table) -> np.ndarray:
    """The taxi example's label from raw rows: 1 when the tip is over 20% of the fare.

    The same rule, in the same float32 arithmetic, as ``tips_xf`` of
    ``tensorbridge.examples.taxi.preprocessing_fn`` (missing tips and fares count as 0).
    Use it as ``label_fn="tensorbridge.pipeline.components.evaluator:taxi_label"`` to
    evaluate the taxi model without the transform graph.
    """
    import numpy as np
    import pyarrow.compute as pc

    def column(name: str) -> np.ndarray:
        filled = pc.fill_null(table.column(name).cast("float64"), 0.0)
        return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.float32)

    tips, fare = column("tips"), column("fare")
    over = np.greater(tips, np.multiply(fare, np.float32(0.2)))
    return np.where(np.isnan(fare), 0, over.astype(np.int64)).astype(np.int64)


def load_manifest(model_dir: Path, component: str) -> dict[str, Any]:
    """The ``tensorbridge.json`` of an exported serving model, or a ConfigError."""
    path = model_dir / MANIFEST
    if not path.is_file():
        raise ConfigError(
            f"{component}: the model artifact at {str(model_dir)!r} has no {MANIFEST}; wire it "
            "to Trainer's model output (an export_serving_model directory)."
        )
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def score_raw_rows(model_dir: Path, table: pa.Table, manifest: Mapping[str, Any]) -> np.ndarray:
    """The exported model's ``probabilities`` for raw rows, via ``serving_default``.

    Rows are encoded with :func:`tensorbridge.train.encode_raw_rows` (missing values as
    the manifest's sentinels), as a server would, in batches of :data:`SCORE_BATCH`.
    """
    import numpy as np
    import tensorflow as tf

    from tensorbridge.train.export import OUTPUT_NAME, encode_raw_rows

    serving = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    specs = serving.structured_input_signature[1]
    names = [entry["name"] for entry in manifest["inputs"]]
    missing = [name for name in names if name not in table.column_names]
    if missing:
        raise ConfigError(
            f"The examples lack the model's raw input column(s) {missing}; score the raw "
            "examples (ExampleGen's output), not the transformed ones."
        )
    parts = []
    for start in range(0, table.num_rows, SCORE_BATCH):
        rows = table.slice(start, SCORE_BATCH).select(names).to_pylist()
        inputs = encode_raw_rows(rows, manifest)
        tensors = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
        parts.append(np.asarray(serving(**tensors)[OUTPUT_NAME]).reshape(-1))
    if not parts:
        return np.zeros(0, np.float64)
    return np.concatenate(parts).astype(np.float64)


def _slices(slices: Any) -> list[Slice]:
    from tensorbridge.evaluate.slicing import Slice

    if not isinstance(slices, list | tuple):
        raise ConfigError(
            f"Evaluator: slices={slices!r} must be a list of column names (or lists of "
            'names for crosses), e.g. ["trip_start_hour", ["company", "payment_type"]].'
        )
    specs = [Slice()]
    for item in slices:
        columns = [item] if isinstance(item, str) else item
        if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
            raise ConfigError(
                f"Evaluator: slices entry {item!r} must be a column name or a list of names."
            )
        specs.append(Slice(*columns))
    return specs


def _threshold(metric: str, spec: Any) -> ValueThreshold:
    from tensorbridge.evaluate.slicing import Slice
    from tensorbridge.evaluate.thresholds import ValueThreshold

    example = '{"auc": {"lower": 0.7}}'
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"Evaluator: thresholds[{metric!r}]={spec!r} must be a dict with lower and/or "
            f"upper (or a list of them), e.g. {example}."
        )
    unknown = [k for k in spec if k not in _THRESHOLD_KEYS]
    if unknown:
        hint = (
            " Change thresholds need a baseline model, which this component does not take."
            if {"absolute", "relative"} & set(unknown)
            else ""
        )
        raise ConfigError(
            f"Evaluator: thresholds[{metric!r}] has unknown key(s) {unknown}; the keys are "
            f"{list(_THRESHOLD_KEYS)}, e.g. {example}.{hint}"
        )
    where = spec.get("slices")
    scope: Any = Slice()
    if where == "all":
        scope = "all"
    elif where is not None:
        scope = _slices(where)[1:]
        if not scope:
            raise ConfigError(
                f"Evaluator: thresholds[{metric!r}]['slices'] is empty; give column names, "
                "'all', or leave it out for the overall slice."
            )
    try:
        return ValueThreshold(spec.get("lower"), spec.get("upper"), slices=scope)
    except ConfigError as err:
        raise ConfigError(f"Evaluator: thresholds[{metric!r}]: {err}") from None


def _thresholds(thresholds: Any, task: str) -> dict[str, list[ValueThreshold]]:
    from tensorbridge.evaluate.metrics import METRICS

    if not isinstance(thresholds, Mapping):
        raise ConfigError(
            f"Evaluator: thresholds={thresholds!r} must be a dict of metric -> bounds, e.g. "
            '{"auc": {"lower": 0.7}}.'
        )
    rules: dict[str, list[ValueThreshold]] = {}
    for metric, spec in thresholds.items():
        if metric not in METRICS[task]:
            raise ConfigError(
                f"Evaluator: thresholds names the metric {metric!r}, which task={task!r} does "
                f"not compute; the metrics are {list(METRICS[task])}."
            )
        specs = spec if isinstance(spec, list | tuple) else [spec]
        rules[str(metric)] = [_threshold(str(metric), s) for s in specs]
    return rules


def _labels(
    table: pa.Table,
    label: str,
    label_fn: str | None,
    transform_dir: Path | None,
) -> np.ndarray:
    import numpy as np

    if label_fn is not None:
        function = resolve_reference(str(label_fn))
        values = np.asarray(function(table))
        if values.shape != (table.num_rows,):
            raise ConfigError(
                f"Evaluator: label_fn={label_fn!r} returned an array of shape {values.shape} "
                f"for {table.num_rows} rows; it must return one label per row."
            )
        return values
    if label in table.column_names:
        return np.asarray(table.column(label).to_numpy(zero_copy_only=False))
    if transform_dir is None:
        raise ConfigError(
            f"Evaluator: the label {label!r} is not a column of the raw examples (they have "
            f"{table.column_names}). Pass transform_graph= (Transform's output) to compute "
            "it with the transform, label_fn='module:function' to compute it from the raw "
            "rows, or label= naming a raw column."
        )
    from tensorbridge.io.readers import from_arrow
    from tensorbridge.transform.api import TransformOutput

    transform = TransformOutput(transform_dir)
    outputs = [c.name for c in transform.output_columns]
    if label not in outputs:
        raise ConfigError(
            f"Evaluator: the label {label!r} is neither a raw column nor a transform output "
            f"({outputs}); pass label= naming one of them."
        )
    transformed = transform.transform(from_arrow(table, engine="local")).to_table()
    return np.asarray(transformed.column(label).to_numpy(zero_copy_only=False))


def _reasons(result: Any) -> list[str]:
    if result.blessed is None:
        return [*result.notes] or [result.summary]
    if result.blessed:
        return [result.summary]
    return [
        result.summary,
        *(f"{check.metric} on {check.slice}: {check.message}" for check in result.failures),
    ]


@component
def Evaluator(  # noqa: N802 - components are named like TFX's, in CamelCase
    examples: Input[Examples],
    model: Input[Model],
    evaluation: Output[ModelEvaluation],
    blessing: Output[ModelBlessing],
    transform_graph: Input[TransformGraph] | None = None,
    label: str | None = None,
    label_fn: ModuleRef | None = None,
    split: str = "eval",
    slices: list[str | list[str]] = [],  # noqa: B006 - never mutated
    thresholds: dict[str, Any] = {},  # noqa: B006 - never mutated
    task: str = "binary",
    min_slice_size: int = 1,
    model_name: str = "candidate",
) -> None:
    """Evaluate the exported model on raw examples and decide its blessing (TFX's Evaluator).

    The raw rows of ``split`` are scored through the model's ``serving_default``
    signature, as a server would (the transform runs inside the model), then
    :func:`tensorbridge.evaluate.evaluate` computes the metrics overall and per slice and
    checks the thresholds.

    Parameters
    ----------
    examples : Input[Examples]
        The **raw** examples (ExampleGen's output).
    model : Input[Model]
        Trainer's exported serving model.
    evaluation : Output[ModelEvaluation]
        Receives :meth:`tensorbridge.evaluate.EvalResult.write`'s directory:
        ``evaluation.json``, ``slice_metrics.parquet``, ``report.html`` and a
        ``BLESSED``/``NOT_BLESSED`` marker.
    blessing : Output[ModelBlessing]
        Receives ``blessing.json``: ``{"blessed": bool, "reasons": [...]}`` and a
        ``BLESSED`` or ``NOT_BLESSED`` marker file (TFX's layout).
    transform_graph : Input[TransformGraph], optional
        Transform's output. The label is usually a transformed column (the taxi model's
        ``tips_xf``): then it is computed by running this transform on the raw rows.
    label : str, optional
        The label column: a raw column, or a transformed one (needs ``transform_graph``).
        Default: the label recorded in the model's ``tensorbridge.json``.
    label_fn : ModuleRef, optional
        ``"module:function"`` taking the raw rows (a ``pyarrow.Table``) and returning
        one label per row; overrides the lookup above. For the taxi data:
        ``"tensorbridge.pipeline.components.evaluator:taxi_label"``.
    split : str
        The split to evaluate on.
    slices : list
        Columns to slice by (a list of names for a cross); the overall slice is always
        computed. E.g. ``["trip_start_hour"]``.
    thresholds : dict
        Metric -> bounds, ``{"auc": {"lower": 0.9}}`` (a
        :class:`~tensorbridge.evaluate.ValueThreshold`; a list of such dicts for several;
        ``"slices": [...]`` or ``"all"`` applies one per slice). No thresholds (the
        default) means not blessed, as in TFX.
    task : {"binary", "regression"}
        Chooses the metrics; ``binary`` reads the model output as the probability of 1.
    min_slice_size : int
        Smaller slices are listed without metrics.
    model_name : str
        The model's name in the report.

    Notes
    -----
    Metadata of ``evaluation``: ``blessed``, ``example_count``, ``failed_checks`` and the
    overall metrics (``auc``, ``binary_accuracy``, ...; NaN as null). Of ``blessing``:
    ``blessed`` and ``reasons``. The evaluation is not written into the model's
    ``tensorbridge.json`` (``record_evaluation``): input artifacts are never modified.
    """
    import pyarrow as pa

    from tensorbridge.evaluate.api import evaluate
    from tensorbridge.evaluate.inputs import check_task

    try:
        kind = check_task(task)
    except ConfigError as err:
        raise ConfigError(f"Evaluator: {err}") from None
    splits = split_names(examples, "Evaluator", "examples")
    pick_split(splits, split, "Evaluator", "split")
    specs = _slices(slices)
    rules = _thresholds(thresholds, kind)
    manifest = load_manifest(model.path, "Evaluator")
    label_name = label or manifest.get("label")
    if label_fn is None and not label_name:
        raise ConfigError(
            "Evaluator: no label: the model's tensorbridge.json records none; pass label= "
            "(a raw or transformed column) or label_fn='module:function'."
        )
    label_name = str(label_name or "label")
    raw = read_split(examples, split, "local").to_table()
    unknown = sorted({c for s in specs for c in s.columns} - set(raw.column_names))
    if unknown:
        raise ConfigError(
            f"Evaluator: slices name {unknown}, which are not columns of the raw examples "
            f"({raw.column_names})."
        )
    labels = _labels(
        raw, label_name, label_fn, transform_graph.path if transform_graph is not None else None
    )
    predictions = score_raw_rows(model.path, raw, manifest)
    prediction = PREDICTION if label_name != PREDICTION else f"{PREDICTION}_"
    columns = {label_name: pa.array(labels), prediction: pa.array(predictions)}
    for column in sorted({c for s in specs for c in s.columns} - set(columns)):
        columns[column] = raw.column(column)
    result = evaluate(
        pa.table(columns),
        label=label_name,
        prediction=prediction,
        slices=specs,
        thresholds=dict(rules),
        task=kind,
        min_slice_size=min_slice_size,
        output_dir=evaluation.path,
        model_name=model_name,
        overwrite=True,  # the runner's fresh, empty output directory
    )
    blessed = result.blessed is True
    reasons = _reasons(result)
    write_json(blessing.path / BLESSING_FILE, {"blessed": blessed, "reasons": reasons})
    (blessing.path / ("BLESSED" if blessed else "NOT_BLESSED")).write_text("")
    overall = json_ready(result.overall.metrics)
    evaluation.metadata.update(
        {
            **overall,
            "blessed": blessed,
            "example_count": result.example_count,
            "failed_checks": len(result.failures),
        }
    )
    blessing.metadata.update({"blessed": blessed, "reasons": reasons})
