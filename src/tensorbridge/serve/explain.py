"""Integrated gradients for a served model: the ``:explain`` endpoint's attributions.

Integrated gradients (Sundararajan et al., 2017) attribute a prediction ``f(x)`` to the
inputs by integrating the gradient along the straight path from a baseline ``b`` to
``x``: ``attr_i = (x_i - b_i) * mean over a in [0, 1] of df/dx_i(b + a (x - b))``. The
attributions add up to ``f(x) - f(b)`` (completeness); what they miss, the
``convergence_delta``, measures how well the integral was approximated.

The gradients are taken on the exported model's ``serving_default`` signature, whose
inputs are the **raw** features, so attributions are already per raw feature: the
transform inside the model (z-scores, for instance) is differentiated through.

Cost (bounded and reported as ``model_calls``): for ``R`` rows and ``steps`` intervals
the path has ``R * (steps + 1)`` points, evaluated in batches of at most ``max_batch``
rows, plus one call on the request itself (its predictions, and which inputs have a
gradient path at all)::

    model_calls = 1 + ceil(R * (steps + 1) / max_batch)    # 1 when no input is attributed

With the defaults (``max_rows=16``, ``steps`` at most 256, ``max_batch=1024``) that is at
most 6 calls of at most 1024 rows each.
"""

from __future__ import annotations

import contextlib
import math
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tensorbridge._optional import import_optional
from tensorbridge.serve.errors import RequestError

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_STEPS",
    "MAX_STEPS",
    "ExplainableModel",
    "Explanation",
    "integrated_gradients",
    "model_calls_for",
]

DEFAULT_STEPS = 32
MAX_STEPS = 256
DEFAULT_MAX_ROWS = 16
DEFAULT_MAX_BATCH = 1024
#: A row's ``convergence_delta`` above this fraction of ``|f(x) - f(b)|`` gets a note.
DELTA_WARNING = 0.05

_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
#: signature -> {(candidate inputs, output): inputs with a gradient path}
_CONNECTED: weakref.WeakKeyDictionary[Any, dict[tuple[tuple[str, ...], str], frozenset[str]]] = (
    weakref.WeakKeyDictionary()
)
_CONNECTED_LOCK = threading.Lock()

_NOTES = [
    "Integrated gradients along the straight line from the baseline to the request "
    "(trapezoid rule); attributions are in the output's units and add up to "
    "prediction - baseline_prediction, up to convergence_delta.",
    "Inputs listed in skipped (strings, integers, missing values, and inputs the model "
    "only bucketizes) keep their request value at every point of the path, so they get "
    "no attribution.",
    "Bucketized inputs (quantile buckets, for instance) are piecewise constant in the "
    "model: their gradient is zero almost everywhere (or absent), so integrated gradients "
    "give them ~0 attribution even when the bucket matters.",
]


class _InputLike(Protocol):
    """What explain reads from an input spec (``serve.model.InputSpec`` has it)."""

    @property
    def dtype(self) -> str: ...

    @property
    def raw_dtype(self) -> str: ...

    @property
    def optional(self) -> bool: ...


class ExplainableModel(Protocol):
    """A loaded model explain can work on (``serve.model.ServedModel`` is one).

    ``signature`` is the loaded ``serving_default`` ConcreteFunction (called with one
    keyword argument per input), ``inputs`` the signature's inputs in order, and
    ``manifest`` the ``tensorbridge.json`` beside the model (or None).
    """

    @property
    def inputs(self) -> Mapping[str, _InputLike]:
        """The signature's inputs by name, in order."""

    @property
    def signature(self) -> Any:
        """The loaded ``serving_default`` ConcreteFunction."""

    @property
    def manifest(self) -> Mapping[str, Any] | None:
        """``tensorbridge.json``, or None for a plain SavedModel."""


@dataclass
class Explanation:
    """Integrated-gradients attributions for a batch of request rows.

    Attributes
    ----------
    attributions : list of dict
        Per row: attributed raw feature -> attribution (missing values get 0.0).
    baseline_prediction, prediction : list of float
        ``f(baseline)`` and ``f(x)`` per row, for the explained output.
    model_calls : int
        Model calls made: ``1 + ceil(rows * (steps + 1) / max_batch)``, or 1 when no
        input could be attributed.
    convergence_delta : list of float
        Per row, ``|sum(attributions) - (prediction - baseline_prediction)|``.
    steps : int
        Intervals of the path integral.
    output : str
        The explained output (column 0 of an ``[n, 1]`` output).
    baseline : dict
        The baseline value of each attributed feature.
    baseline_source : dict
        Where each baseline came from: ``"request"``, ``"serving_baseline"`` (the
        manifest's serving-data mean), ``"training_mean"`` (the transform's z-score mean)
        or ``"zero"``.
    skipped : dict
        Inputs not attributed -> why (held at their request value along the path).
    missing : list of list of str
        Per row, attributed features whose value was missing (NaN): held, attribution 0.
    notes : list of str
        Caveats for the reader (method, bucketized inputs, large deltas).
    """

    attributions: list[dict[str, float]]
    baseline_prediction: list[float]
    prediction: list[float]
    model_calls: int
    convergence_delta: list[float]
    steps: int = DEFAULT_STEPS
    output: str = ""
    baseline: dict[str, float] = field(default_factory=dict)
    baseline_source: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    missing: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    method: str = "integrated_gradients"

    def to_json(self) -> dict[str, Any]:
        """The ``:explain`` response body (KServe V1 style, with ``predictions``).

        Non-finite numbers (a NaN prediction from a NaN input) are ``null``, so the body
        is strict JSON.
        """
        rows = []
        for i, attributions in enumerate(self.attributions):
            row: dict[str, Any] = {
                "attributions": {k: _json_float(v) for k, v in attributions.items()},
                "baseline_prediction": _json_float(self.baseline_prediction[i]),
                "prediction": _json_float(self.prediction[i]),
                "convergence_delta": _json_float(self.convergence_delta[i]),
            }
            if i < len(self.missing) and self.missing[i]:
                row["missing"] = list(self.missing[i])
            rows.append(row)
        return {
            "predictions": [_json_float(v) for v in self.prediction],
            "explanations": rows,
            "method": self.method,
            "output": self.output,
            "steps": self.steps,
            "model_calls": self.model_calls,
            "baseline": dict(self.baseline),
            "baseline_source": dict(self.baseline_source),
            "skipped": dict(self.skipped),
            "notes": list(self.notes),
        }


def _json_float(value: float) -> float | None:
    """A float for strict JSON: NaN and infinities (a NaN prediction) become null."""
    return float(value) if math.isfinite(value) else None


def model_calls_for(rows: int, steps: int, *, max_batch: int = DEFAULT_MAX_BATCH) -> int:
    """The model calls :func:`integrated_gradients` makes when some input is attributed."""
    return 1 + math.ceil(rows * (steps + 1) / max_batch)


def integrated_gradients(
    model: ExplainableModel,
    inputs: Mapping[str, np.ndarray],
    *,
    steps: int = DEFAULT_STEPS,
    baseline: Mapping[str, float] | None = None,
    output: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> Explanation:
    """Integrated-gradients attributions of ``model``'s prediction to its numeric inputs.

    Float inputs (float32/float64 in the signature, and a float raw feature) are
    attributed: each moves in a straight line from its baseline to the request value
    while the others are held at their request value: strings, integers (int64 inputs,
    and optional integers that travel as float64, since the model casts them back to
    int64), and inputs without any gradient path to the output (bucketized features:
    the bucketize op has no gradient). Those are listed in ``skipped`` with the reason.
    A missing value (NaN) of an attributed feature is held too: attribution 0, listed
    in the row's ``missing``.

    The baseline of a feature is, in order: ``baseline[name]``; the mean of the serving
    baseline in the manifest (``serving_baseline.features[name].mean``); the training
    z-score mean (``training_statistics.analyzers["mean_and_var_<name>"].mean``); 0.0.

    Known limitation: a feature the model bucketizes is piecewise constant, so its
    gradient is zero almost everywhere and integrated gradients give it ~0 attribution
    however much its bucket matters. Where the bucketize has no gradient at all (as in
    tensorbridge's transform), the feature is held at the request value and listed in
    ``skipped``, which keeps completeness; a zero-but-present gradient instead shows up
    as a larger ``convergence_delta``.

    Parameters
    ----------
    model : ExplainableModel
        A loaded model (``ServedModel``): ``signature``, ``inputs`` and ``manifest``.
    inputs : mapping of str to numpy.ndarray
        Every signature input, 1-D arrays of one length (as ``ServedModel.predict``
        takes them, optional values already replaced by their sentinels).
    steps : int
        Intervals of the trapezoid rule, 1 to 256; the path has ``steps + 1`` points.
    baseline : mapping of str to float, optional
        Baseline values for some attributed features.
    output : str, optional
        The output to explain; default the signature's only (or first) output. It must
        have one value per row (``[n]`` or ``[n, 1]``, column 0 is explained).
    max_rows : int
        The most request rows explained at once.
    max_batch : int
        The most path points per model call.

    Returns
    -------
    Explanation
        Attributions, predictions, convergence deltas and the cost.

    Raises
    ------
    RequestError
        Too many rows, ``steps`` out of range, an unknown or non-numeric baseline
        feature, an unknown output, or inputs that do not match the signature.
    """
    tf = import_optional("tensorflow")
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, not {max_batch}")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise RequestError(
            f"steps must be an integer, not {steps!r}",
            field="steps",
            expected=f"an integer from 1 to {MAX_STEPS}",
        )
    steps = int(steps)
    if not 1 <= steps <= MAX_STEPS:
        raise RequestError(
            f"steps must be from 1 to {MAX_STEPS} (the cost grows with it), not {steps}",
            field="steps",
            expected=f"an integer from 1 to {MAX_STEPS}",
        )
    specs = model.inputs
    rows = _check_inputs(specs, inputs, max_rows)
    signature = model.signature
    output_name = _choose_output(signature, output)

    skipped: dict[str, str] = {}
    candidates: list[str] = []
    for name, spec in specs.items():
        reason = _static_skip_reason(spec)
        if reason is None:
            candidates.append(name)
        else:
            skipped[name] = reason
    _check_baseline(baseline, specs, skipped)

    connected = _connected_inputs(tf, signature, specs, candidates, output_name)
    attributed = []
    for name in candidates:
        if name in connected:
            attributed.append(name)
        else:
            skipped[name] = (
                "no gradient path to the output (the model bucketizes it or otherwise "
                "uses it piecewise-constantly): held at the request value"
            )
    # The request itself, without a tape: the same predictions as the predict endpoint.
    request = {name: _tensor(tf, inputs[name], specs[name].dtype) for name in specs}
    prediction = _select(signature(**request), output_name).numpy().astype(np.float64)
    model_calls = 1

    base_values, sources = _baselines(attributed, specs, model.manifest, baseline)
    x = {name: np.asarray(inputs[name], dtype=specs[name].dtype) for name in attributed}
    b = {name: np.full(rows, base_values[name], dtype=specs[name].dtype) for name in attributed}
    held_rows = {name: ~np.isfinite(x[name]) for name in attributed}
    for name in attributed:  # a missing value stays missing along the whole path
        b[name] = np.where(held_rows[name], x[name], b[name])

    points = rows * (steps + 1)
    alphas = np.tile(np.linspace(0.0, 1.0, steps + 1), rows)
    row_of = np.repeat(np.arange(rows), steps + 1)
    path: dict[str, np.ndarray] = {}
    for name in specs:
        if name in x:
            first = b[name].astype(np.float64)[row_of]
            last = x[name].astype(np.float64)[row_of]
            line = np.where(alphas == 1.0, last, first + alphas * (last - first))
            path[name] = line.astype(specs[name].dtype)
        else:
            path[name] = np.repeat(np.asarray(inputs[name]), steps + 1)

    grads = {name: np.zeros(points, dtype=np.float64) for name in attributed}
    path_outputs = np.zeros(points, dtype=np.float64)
    for low in range(0, points if attributed else 0, max_batch):
        high = min(low + max_batch, points)
        chunk = {name: _tensor(tf, path[name][low:high], specs[name].dtype) for name in specs}
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            for name in attributed:
                tape.watch(chunk[name])
            chunk_output = _select(signature(**chunk), output_name)
        chunk_grads = tape.gradient(chunk_output, [chunk[name] for name in attributed])
        model_calls += 1
        path_outputs[low:high] = chunk_output.numpy()
        for name, gradient in zip(attributed, chunk_grads, strict=True):
            if gradient is not None:
                grads[name][low:high] = gradient.numpy()

    weights = np.ones(steps + 1)
    weights[0] = weights[-1] = 0.5
    attributions: list[dict[str, float]] = [{} for _ in range(rows)]
    for name in attributed:
        per_point = np.nan_to_num(grads[name].reshape(rows, steps + 1), nan=0.0)
        mean_gradient = per_point @ weights / steps
        diff = x[name].astype(np.float64) - b[name].astype(np.float64)
        diff = np.where(held_rows[name], 0.0, diff)
        for i, value in enumerate(diff * mean_gradient):
            attributions[i][name] = float(value)
    if attributed:
        baseline_prediction = path_outputs.reshape(rows, steps + 1)[:, 0]
    else:
        baseline_prediction = prediction.copy()
    deltas = [
        abs(sum(attributions[i].values()) - (prediction[i] - baseline_prediction[i]))
        for i in range(rows)
    ]
    missing = [[name for name in attributed if held_rows[name][i]] for i in range(rows)]

    notes = list(_NOTES)
    loose = [
        i
        for i in range(rows)
        if deltas[i] > DELTA_WARNING * abs(prediction[i] - baseline_prediction[i])
        and deltas[i] > 1e-6
    ]
    if loose:
        notes.append(
            f"Rows {loose} have a convergence_delta above {DELTA_WARNING:.0%} of "
            "prediction - baseline_prediction: the path crosses a kink or jump (a "
            "bucket boundary, a clipped value); more steps may help."
        )
    return Explanation(
        attributions=attributions,
        baseline_prediction=[float(v) for v in baseline_prediction],
        prediction=[float(v) for v in prediction],
        model_calls=model_calls,
        convergence_delta=[float(d) for d in deltas],
        steps=steps,
        output=output_name,
        baseline={name: float(base_values[name]) for name in attributed},
        baseline_source=sources,
        skipped=skipped,
        missing=missing,
        notes=notes,
    )


def _check_inputs(
    specs: Mapping[str, _InputLike], inputs: Mapping[str, np.ndarray], max_rows: int
) -> int:
    """The number of rows; RequestError when the inputs do not fit the signature."""
    from tensorbridge.serve.model import check_batch

    rows = check_batch(specs, inputs)
    if rows == 0:
        raise RequestError("nothing to explain: the request has no rows", expected="1 row or more")
    if rows > max_rows:
        raise RequestError(
            f"explain takes at most {max_rows} rows per request (max_rows), got {rows}: "
            "each row costs steps + 1 model evaluations",
            expected=f"at most {max_rows} rows",
        )
    return int(rows)


def _static_skip_reason(spec: _InputLike) -> str | None:
    """Why an input cannot be attributed, from its dtypes alone (None: it may be)."""
    if spec.dtype == "string":
        return "string input: not differentiable, held at the request value"
    if spec.dtype not in _FLOAT_DTYPES:
        return f"{spec.dtype} input: not differentiable, held at the request value"
    if spec.raw_dtype not in _FLOAT_DTYPES:
        return (
            f"{spec.raw_dtype} feature sent as {spec.dtype} (an optional integer): the model "
            f"casts it back to {spec.raw_dtype}, so it is not differentiable; held at the "
            "request value"
        )
    return None


def _check_baseline(
    baseline: Mapping[str, float] | None,
    specs: Mapping[str, _InputLike],
    skipped: Mapping[str, str],
) -> None:
    for name, value in (baseline or {}).items():
        if name not in specs:
            raise RequestError(
                f"baseline names {name!r}, which is not an input of this model",
                field=f"baseline.{name}",
                expected="a numeric input of the model",
            )
        if name in skipped:
            raise RequestError(
                f"baseline names {name!r}, which is not attributed ({skipped[name]})",
                field=f"baseline.{name}",
                expected="a float input of the model",
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.number)
            or not math.isfinite(float(value))
        ):
            raise RequestError(
                f"baseline for {name!r} must be a finite number, not {value!r}",
                field=f"baseline.{name}",
                expected="a finite number",
            )


def _baselines(
    names: Sequence[str],
    specs: Mapping[str, _InputLike],
    manifest: Mapping[str, Any] | None,
    given: Mapping[str, float] | None,
) -> tuple[dict[str, float], dict[str, str]]:
    """Each attributed feature's baseline value and where it came from."""
    manifest = manifest or {}
    serving = (manifest.get("serving_baseline") or {}).get("features") or {}
    analyzers = (manifest.get("training_statistics") or {}).get("analyzers") or {}
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for name in names:
        candidates = [
            ("request", (given or {}).get(name)),
            ("serving_baseline", (serving.get(name) or {}).get("mean")),
            ("training_mean", (analyzers.get(f"mean_and_var_{name}") or {}).get("mean")),
        ]
        values[name], sources[name] = 0.0, "zero"
        for source, value in candidates:
            if _finite(value):
                # The value the model sees: the input's dtype (float32 rounds).
                values[name] = float(np.asarray(value, dtype=specs[name].dtype))
                sources[name] = source
                break
    return values, sources


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return False
    return math.isfinite(float(value))


def _choose_output(signature: Any, output: str | None) -> str:
    outputs = dict(getattr(signature, "structured_outputs", None) or {})
    if not outputs:
        raise RequestError("the model's signature has no named outputs to explain")
    name = output if output is not None else next(iter(outputs))
    if name not in outputs:
        raise RequestError(
            f"output {name!r} is not an output of this model: {sorted(outputs)}",
            field="output",
            expected=f"one of {sorted(outputs)}",
        )
    spec = outputs[name]
    shape = list(getattr(spec, "shape", []) or [])
    dtype = getattr(getattr(spec, "dtype", None), "name", "")
    if (
        dtype not in _FLOAT_DTYPES
        or len(shape) not in (1, 2)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise RequestError(
            f"output {name!r} ({dtype} {shape}) is not one float per row, so it cannot be "
            "explained",
            field="output",
            expected="a float output of shape [n] or [n, 1]",
        )
    return str(name)


def _select(outputs: Mapping[str, Any], name: str) -> Any:
    """The explained output as a float ``[n]`` tensor (column 0 of ``[n, 1]``)."""
    value = outputs[name]
    if len(value.shape) == 2:
        value = value[:, 0]
    return value


def _connected_inputs(
    tf: Any,
    signature: Any,
    specs: Mapping[str, _InputLike],
    candidates: Sequence[str],
    output: str,
) -> frozenset[str]:
    """The float inputs with a gradient path to ``output`` (traced once per model).

    ``tf.gradients`` in a traced graph gives None for an input the output does not
    depend on differentiably (a bucketize, a cast to an integer); no model call is made.
    """
    key = (tuple(candidates), output)
    with _CONNECTED_LOCK:
        try:
            cached = _CONNECTED.get(signature, {})
        except TypeError:  # not weak-referenceable: no cache
            cached = {}
        if key in cached:
            return cached[key]
        found: set[str] = set()
        input_specs = {
            name: tf.TensorSpec([None], tf.as_dtype(spec.dtype)) for name, spec in specs.items()
        }

        def probe(arguments: dict[str, Any]) -> Any:
            value = _select(signature(**arguments), output)
            gradients = tf.gradients(value, [arguments[name] for name in candidates])
            for name, gradient in zip(candidates, gradients, strict=True):
                if gradient is not None:
                    found.add(name)
            return value

        if candidates:
            tf.function(
                probe, input_signature=[input_specs], autograph=False
            ).get_concrete_function()
        result = frozenset(found)
        with contextlib.suppress(TypeError):  # not weak-referenceable: no cache
            _CONNECTED.setdefault(signature, {})[key] = result
        return result


def _tensor(tf: Any, values: np.ndarray, dtype: str) -> Any:
    if dtype == "string":
        return tf.constant(np.asarray(values, dtype=object), dtype=tf.string)
    return tf.constant(np.asarray(values), dtype=tf.as_dtype(dtype))
