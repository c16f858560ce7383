"""Export the serving model: the transform_fn and the Keras model in one SavedModel.

The exported model takes **raw** features, so the preprocessing runs inside it, as
trained. Signatures:

* ``serving_default``: one dense ``[batch]`` tensor per raw feature (the label is not an
  input). A feature that can be missing is given with a sentinel for missing values:
  NaN for floats, NaN in a float64 tensor for integers (exact up to 2**53; the value is
  cast back to int64), and ``""`` for strings (a CSV's empty cell).
* ``from_examples``: serialized ``tf.Example`` protos (TFX's serving signature), where a
  missing feature is simply absent.

The object API ``loaded.serve_sparse(inputs)`` takes the transform's own inputs
(optional features as ``[batch, 1]`` SparseTensors) for servers that build them from JSON
``null``. ``tensorbridge.json`` beside the model describes the inputs, the sentinels,
the label and the outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tensorbridge import __version__
from tensorbridge._optional import import_optional
from tensorbridge.errors import ConfigError
from tensorbridge.io.paths import PathLike, atomic_directory
from tensorbridge.stats.serving_baseline import sample_rows, serving_baseline
from tensorbridge.transform.inputs import InputColumn, tensor_specs

MANIFEST = "tensorbridge.json"
OUTPUT_NAME = "probabilities"


def _signature_dtype(column: InputColumn) -> str:
    """The dtype of a raw input in ``serving_default`` (optional ints travel as float64)."""
    return "float64" if column.optional and column.dtype == "int64" else column.dtype


def _sentinel(column: InputColumn) -> str | None:
    if not column.optional:
        return None
    return '""' if column.dtype == "string" else "NaN"


def encode_raw_rows(
    rows: Sequence[Mapping[str, Any]], manifest: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """Raw rows (dicts, ``None`` for missing) as ``serving_default`` inputs.

    Raises ConfigError when a required feature is missing or ``None``.
    """
    arrays: dict[str, np.ndarray] = {}
    for entry in manifest["inputs"]:
        name, dtype, optional = entry["name"], entry["signature_dtype"], entry["optional"]
        values = [row.get(name) for row in rows]
        if not optional and any(v is None for v in values):
            raise ConfigError(
                f"Raw feature {name!r} is required (it had no missing values in training) "
                "but a row lacks it."
            )
        if dtype == "string":
            arrays[name] = np.array(["" if v is None else str(v) for v in values], dtype=object)
        else:
            filled = [np.nan if v is None else v for v in values]
            arrays[name] = np.array(filled, dtype=np.dtype(dtype))
    return arrays


def export_serving_model(
    model: Any,
    transform_output: Any,
    export_dir: PathLike,
    *,
    features: Sequence[str],
    raw_label_columns: Sequence[str] = (),
    label: str | None = None,
    statistics: Any = None,
    samples: Sequence[Mapping[str, Any]] | None = None,
    extra_manifest: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the serving SavedModel (transform_fn + model) and its manifest, atomically.

    Parameters
    ----------
    model : keras.Model or path
        The trained model; it takes the transformed ``features`` as a dict.
    transform_output : TransformOutput
        The analyzed transform (its transform_fn runs inside the exported model).
    export_dir : path
        The directory to write (a SavedModel plus ``tensorbridge.json``).
    features : list of str
        The transformed features the model reads.
    raw_label_columns : list of str
        Raw columns that only feed the label (e.g. ``"tips"``): not serving inputs.
    label : str, optional
        The transformed label's name, recorded in the manifest.
    statistics : tensorbridge.stats.Statistics, optional
        Statistics of the raw training data: recorded as the manifest's
        ``serving_baseline``, which the model server compares live traffic with (drift,
        skew, categorical values never seen in training).
    samples : list of dict, optional
        A few raw rows (e.g. from the eval split): the manifest's ``samples``, which the
        model server sends to a new version before routing traffic to it.
    """
    tf = import_optional("tensorflow")
    keras = import_optional("keras")
    model_path = str(model) if isinstance(model, str | Path) else None
    if isinstance(model, str | Path):
        model = keras.models.load_model(model)
    columns: list[InputColumn] = list(transform_output.input_columns)
    known = {c.name for c in columns}
    unknown = [name for name in raw_label_columns if name not in known]
    if unknown:
        raise ConfigError(
            f"raw_label_columns {unknown} are not inputs of the transform: {sorted(known)}."
        )
    outputs = {c.name for c in transform_output.output_columns}
    missing = [name for name in features if name not in outputs]
    if missing:
        raise ConfigError(
            f"features {missing} are not outputs of the transform: {sorted(outputs)}."
        )
    serving = [c for c in columns if c.name not in raw_label_columns]
    label_inputs = [c for c in columns if c.name in raw_label_columns]

    module = tf.Module()
    module.transform = tf.saved_model.load(str(transform_output.transform_fn_dir))
    module.model = model

    def predict(raw: dict[str, Any]) -> dict[str, Any]:
        raw = dict(raw)
        rows = _batch_size(tf, raw)
        for column in label_inputs:  # the label does not exist at serving time
            dtype = tf.as_dtype(column.dtype)
            if column.optional:
                raw[column.name] = tf.SparseTensor(
                    tf.zeros([0, 2], tf.int64), tf.zeros([0], dtype), tf.stack([rows, 1])
                )
            else:
                raw[column.name] = tf.zeros([rows], dtype)
        transformed = module.transform(raw)
        return {OUTPUT_NAME: module.model({name: transformed[name] for name in features})}

    dense_spec = {
        c.name: tf.TensorSpec([None], tf.as_dtype(_signature_dtype(c)), name=c.name)
        for c in serving
    }

    def serve_dense(inputs: dict[str, Any]) -> dict[str, Any]:
        raw = {}
        for column in serving:
            values = inputs[column.name]
            if not column.optional:
                raw[column.name] = values
                continue
            absent = tf.equal(values, "") if column.dtype == "string" else tf.math.is_nan(values)
            if column.dtype == "int64":
                values = tf.cast(tf.where(absent, tf.zeros_like(values), values), tf.int64)
            raw[column.name] = _present_as_sparse(tf, values, absent)
        return predict(raw)

    parse_spec = {
        c.name: tf.io.VarLenFeature(tf.as_dtype(c.dtype))
        if c.optional
        else tf.io.FixedLenFeature([], tf.as_dtype(c.dtype))
        for c in serving
    }

    def serve_serialized(serialized: Any) -> dict[str, Any]:
        parsed = tf.io.parse_example(serialized, parse_spec)
        rows = tf.shape(serialized, out_type=tf.int64)[0]
        raw = {
            name: tf.SparseTensor(value.indices, value.values, tf.stack([rows, 1]))
            if isinstance(value, tf.SparseTensor)
            else value
            for name, value in parsed.items()
        }
        return predict(raw)

    serve = tf.function(serve_dense, input_signature=[dense_spec])
    serve_examples = tf.function(
        serve_serialized, input_signature=[tf.TensorSpec([None], tf.string, name="examples")]
    )
    module.serve = serve
    module.serve_examples = serve_examples
    module.serve_sparse = tf.function(predict, input_signature=[dict(tensor_specs(serving))])
    manifest = {
        "format": "tensorbridge.serving/1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tensorbridge_version": __version__,
        "signatures": {"serving_default": "raw features", "from_examples": "serialized tf.Example"},
        "inputs": [
            {
                "name": c.name,
                "dtype": c.dtype,
                "signature_dtype": _signature_dtype(c),
                "optional": c.optional,
                "missing_value": _sentinel(c),
            }
            for c in serving
        ],
        "raw_label_columns": list(raw_label_columns),
        "label": label,
        "features": list(features),
        "outputs": [{"name": OUTPUT_NAME, "dtype": "float32"}],
        "training_statistics": transform_output.statistics_summary,
        "lineage": {
            "export_id": uuid.uuid4().hex,
            "transform_dir": str(Path(transform_output.output_dir).resolve()),
            "transform_fingerprint": _fingerprint(
                Path(transform_output.output_dir) / "transform_metadata.json"
            ),
            "model_fingerprint": _fingerprint(Path(model_path)) if model_path else None,
        },
        "evaluation": None,
        "serving_baseline": None
        if statistics is None
        else serving_baseline(statistics, [c.name for c in serving]),
        "samples": sample_rows(samples or [], [c.name for c in serving]),
        **dict(extra_manifest or {}),
    }
    with atomic_directory(export_dir, overwrite=overwrite) as tmp:
        tf.saved_model.save(
            module,
            str(tmp),
            signatures={
                "serving_default": serve.get_concrete_function(),
                "from_examples": serve_examples.get_concrete_function(),
            },
        )
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return Path(export_dir)


def _batch_size(tf: Any, raw: Mapping[str, Any]) -> Any:
    first = next(iter(raw.values()))
    if isinstance(first, tf.SparseTensor):
        return first.dense_shape[0]
    return tf.shape(first, out_type=tf.int64)[0]


def _present_as_sparse(tf: Any, values: Any, absent: Any) -> Any:
    """The present values of a dense [batch] tensor as a [batch, 1] SparseTensor."""
    rows = tf.shape(values, out_type=tf.int64)[0]
    keep = tf.where(tf.logical_not(absent))[:, 0]
    indices = tf.stack([keep, tf.zeros_like(keep)], axis=1)
    return tf.SparseTensor(indices, tf.gather(values, keep), tf.stack([rows, 1]))


def _fingerprint(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def record_evaluation(export_dir: PathLike, evaluation: Any) -> dict[str, Any]:
    """Add an evaluation's summary (blessing, overall metrics, checks) to ``tensorbridge.json``.

    The manifest is rewritten atomically (a temporary file, then a rename).
    """
    path = Path(export_dir) / MANIFEST
    manifest = json.loads(path.read_text())
    overall = getattr(evaluation, "overall", None)
    metrics = getattr(overall, "metrics", {}) if overall is not None else {}
    manifest["evaluation"] = {
        "blessed": getattr(evaluation, "blessed", None),
        "overall": {k: (None if v != v else v) for k, v in metrics.items()},  # NaN -> null
        "failures": [str(check) for check in getattr(evaluation, "failures", [])],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)
    return manifest
