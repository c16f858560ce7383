"""InfraValidator: load the exported model in a fresh process and send it requests."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.artifacts import Examples, InfraBlessing, Model
from tensorbridge.pipeline.component import component
from tensorbridge.pipeline.components._common import (
    Input,
    Output,
    pick_split,
    read_split,
    split_names,
    write_json,
)
from tensorbridge.pipeline.components.evaluator import load_manifest

__all__ = ["INFRA_BLESSING_FILE", "PROBE_CODE", "InfraValidator"]

INFRA_BLESSING_FILE = "infra_blessing.json"
#: Marks the probe's JSON report on its standard output.
_MARK = "@@tensorbridge-infra-report@@"

#: What the fresh process runs (``python -c``): only TensorFlow and the standard library,
#: never tensorbridge, as a server would. It reads ``{"model_dir", "inputs"}`` as JSON
#: on stdin and prints one report line.
PROBE_CODE = f"""
import json, math, sys, time
report = {{"ok": False, "error": None, "outputs": {{}}, "timings": {{}}}}
try:
    started = time.perf_counter()
    import tensorflow as tf
    report["timings"]["import_s"] = time.perf_counter() - started
    request = json.load(sys.stdin)
    started = time.perf_counter()
    loaded = tf.saved_model.load(request["model_dir"])
    serving = loaded.signatures["serving_default"]
    report["timings"]["load_s"] = time.perf_counter() - started
    specs = serving.structured_input_signature[1]
    inputs = request["inputs"]
    absent = sorted(set(specs) - set(inputs))
    if absent:
        raise KeyError("the request lacks the signature inputs %s" % absent)
    rows = len(next(iter(inputs.values())))

    def call(lo, hi):
        tensors = {{k: tf.constant(v[lo:hi], dtype=specs[k].dtype) for k, v in inputs.items()}}
        return serving(**tensors)

    started = time.perf_counter()
    outputs = call(0, rows)
    report["timings"]["batch_request_s"] = time.perf_counter() - started
    problems = []
    for name, value in outputs.items():
        shape = [int(d) for d in value.shape]
        finite = True
        if value.dtype.is_floating:
            finite = bool(tf.reduce_all(tf.math.is_finite(value)).numpy())
        report["outputs"][name] = {{"shape": shape, "dtype": value.dtype.name, "finite": finite}}
        if not shape or shape[0] != rows:
            problems.append("output %s has shape %s for a batch of %d" % (name, shape, rows))
        if not finite:
            problems.append("output %s has NaN or infinite values" % name)
    latencies = []
    for row in range(rows):
        started = time.perf_counter()
        single = call(row, row + 1)
        latencies.append(time.perf_counter() - started)
        for name, value in single.items():
            if value.shape[0] != 1:
                problems.append("a single-row request gave %s the shape %s" % (name, value.shape))
    if latencies:
        report["timings"]["single_request_mean_s"] = sum(latencies) / len(latencies)
        report["timings"]["single_request_max_s"] = max(latencies)
    report["requests"] = 1 + len(latencies)
    report["error"] = "; ".join(problems) or None
    report["ok"] = not problems
except BaseException as err:
    report["error"] = "%s: %s" % (type(err).__name__, err)
print({_MARK!r} + json.dumps(report), flush=True)
"""


def _request(rows: list[dict[str, Any]], manifest: dict[str, Any]) -> dict[str, list[Any]]:
    """``serving_default`` inputs for raw rows, as JSON lists (NaN kept: Python reads it)."""
    from tensorbridge.train.export import encode_raw_rows

    return {name: values.tolist() for name, values in encode_raw_rows(rows, manifest).items()}


def _probe(model_dir: Path, inputs: dict[str, list[Any]], timeout_s: float) -> dict[str, Any]:
    """Run :data:`PROBE_CODE` in a fresh interpreter; its report, or one saying what failed."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    request = json.dumps({"model_dir": str(model_dir.resolve()), "inputs": inputs})
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE_CODE],
            input=request,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        stderr = err.stderr or ""
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        return {
            "ok": False,
            "error": f"the model did not load and answer within timeout_s={timeout_s:g} s",
            "stderr_tail": stderr[-2000:],
            "timings": {"total_s": time.perf_counter() - started},
        }
    report: dict[str, Any] = {"ok": False, "timings": {}}
    lines = [line for line in done.stdout.splitlines() if line.startswith(_MARK)]
    if lines:
        report = json.loads(lines[-1][len(_MARK) :])
    else:
        report["error"] = f"the serving process exited with code {done.returncode} and no report"
    report.setdefault("timings", {})["total_s"] = time.perf_counter() - started
    report["exit_code"] = done.returncode
    if not report.get("ok"):
        report["stderr_tail"] = done.stderr[-2000:]
    return report


@component
def InfraValidator(  # noqa: N802 - components are named like TFX's, in CamelCase
    model: Input[Model],
    examples: Input[Examples],
    blessing: Output[InfraBlessing],
    num_requests: int = 8,
    timeout_s: float = 120,
    split: str = "eval",
) -> None:
    """Check that the exported model loads and answers in a fresh process (TFX's InfraValidator).

    ``num_requests`` raw rows of ``split`` are encoded here with
    :func:`tensorbridge.train.encode_raw_rows` and handed as JSON to a new Python process
    that imports only TensorFlow (not tensorbridge), loads the SavedModel and calls its
    ``serving_default`` signature: once with all rows as one batch, then once per row.
    The model is blessed when it loads and every answer has the right batch size and
    finite values, within ``timeout_s``.

    Parameters
    ----------
    model : Input[Model]
        Trainer's exported serving model.
    examples : Input[Examples]
        The raw examples (ExampleGen's output).
    blessing : Output[InfraBlessing]
        Receives ``infra_blessing.json`` (``blessed``, the outputs' shapes and dtypes,
        timings of import, load and requests, any ``error`` with the process's stderr
        tail) and an ``INFRA_BLESSED`` or ``INFRA_NOT_BLESSED`` marker (TFX's layout).
    num_requests : int
        Raw rows sent (at most the split's row count).
    timeout_s : float
        Seconds the process may take to start, load the model and answer.
    split : str
        The split the rows come from.

    Notes
    -----
    Metadata: ``blessed``, ``error`` and ``load_s``. A model that fails the check is not
    an error of this component: it records ``blessed: false`` so that the Pusher skips
    the model, as in TFX.
    """
    if isinstance(num_requests, bool) or not isinstance(num_requests, int) or num_requests < 1:
        raise ConfigError(
            f"InfraValidator: num_requests={num_requests!r} must be an integer >= 1, e.g. 8."
        )
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not timeout_s > 0:
        raise ConfigError(
            f"InfraValidator: timeout_s={timeout_s!r} must be a positive number of seconds."
        )
    splits = split_names(examples, "InfraValidator", "examples")
    pick_split(splits, split, "InfraValidator", "split")
    manifest = load_manifest(model.path, "InfraValidator")
    rows = read_split(examples, split, "local").head(num_requests).to_pylist()
    if not rows:
        raise ConfigError(
            f"InfraValidator: the {split!r} split has no rows to send; pass split= naming a "
            "split with data."
        )
    report = _probe(model.path, _request(rows, manifest), float(timeout_s))
    blessed = bool(report.get("ok"))
    document = {
        "blessed": blessed,
        "num_requests": len(rows),
        "error": report.get("error"),
        "outputs": report.get("outputs", {}),
        "timings": {k: round(v, 4) for k, v in report.get("timings", {}).items()},
        "requests": report.get("requests", 0),
        "exit_code": report.get("exit_code"),
        "stderr_tail": report.get("stderr_tail"),
    }
    write_json(blessing.path / INFRA_BLESSING_FILE, document)
    (blessing.path / ("INFRA_BLESSED" if blessed else "INFRA_NOT_BLESSED")).write_text("")
    load_s = document["timings"].get("load_s")
    blessing.metadata.update(
        {
            "blessed": blessed,
            "error": document["error"],
            "load_s": load_s if isinstance(load_s, float) and math.isfinite(load_s) else None,
        }
    )
