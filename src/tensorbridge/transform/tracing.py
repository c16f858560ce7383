"""Tracing a ``preprocessing_fn`` into TF functions, and running them on Arrow batches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from tensorbridge._optional import import_optional
from tensorbridge.engine.base import Accumulator
from tensorbridge.errors import TensorbridgeError, TransformError
from tensorbridge.transform.context import TraceContext, activate
from tensorbridge.transform.inputs import InputColumn, Inputs, batch_to_inputs, tensor_specs
from tensorbridge.transform.outputs import (
    OutputColumn,
    describe_outputs,
    output_schema,
    outputs_to_batch,
)

PreprocessingFn = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass
class Traced:
    """One trace: the module to save, its function, and what the trace found."""

    module: Any
    function: Any
    context: TraceContext
    outputs: list[OutputColumn]


def _register_inputs(context: TraceContext, inputs: Mapping[str, Any]) -> None:
    tf = import_optional("tensorflow")
    for name, tensor in inputs.items():
        parts = (
            [tensor.indices, tensor.values, tensor.dense_shape]
            if isinstance(tensor, tf.SparseTensor)
            else [tensor]
        )
        for part in parts:
            context.input_tensors[part.name] = name


def trace(
    preprocessing_fn: PreprocessingFn,
    columns: Sequence[InputColumn],
    results: Mapping[str, dict[str, Any]],
    vocabulary_dir: Path,
    *,
    final: bool,
) -> Traced:
    """Trace ``preprocessing_fn`` once.

    With ``final=False`` the function returns the inputs of the analyzers that are ready
    (an analysis pass); with ``final=True`` it returns the transformed features, every
    analyzer being a constant by then.
    """
    tf = import_optional("tensorflow")
    module = tf.Module()
    module.tb_tables = []
    module.tb_assets = []
    found: dict[str, Any] = {}

    def body(inputs: dict[str, Any]) -> Any:
        context = TraceContext(results, vocabulary_dir, module)
        _register_inputs(context, inputs)
        with activate(context):
            try:
                outputs = preprocessing_fn(Inputs(inputs))
            except TensorbridgeError:
                raise
            except Exception as err:
                raise TransformError(
                    f"preprocessing_fn raised {type(err).__name__}: {err}"
                ) from err
        found["context"] = context
        found["outputs"] = describe_outputs(outputs)
        context.output_tensors = list(outputs.values())
        if final:
            if context.pending:
                raise TransformError(f"Analyzers {sorted(context.pending)} have no results yet.")
            return {column.name: outputs[column.name] for column in found["outputs"]}
        return {key: p.inputs for key, p in context.pending.items() if p.ready}

    function = tf.function(body, input_signature=[tensor_specs(columns)], autograph=False)
    function.get_concrete_function()
    module.transform_fn = function
    module.__call__ = function
    return Traced(module, function, found["context"], found["outputs"])


def save(traced: Traced, path: Path) -> None:
    """Save a traced module as a SavedModel (its vocabularies become assets)."""
    tf = import_optional("tensorflow")
    tf.saved_model.save(traced.module, str(path))
    remember(str(path), traced.function)


_LIVE: dict[str, Any] = {}
_LOADED: dict[str, Any] = {}
_LOCK = threading.Lock()


def remember(path: str, function: Any) -> None:
    """Keep a live function for ``path``, so this process need not load it from disk."""
    with _LOCK:
        _LIVE[path] = function


def load_function(path: str) -> Any:
    """The transform function saved at ``path`` (live if traced here, else loaded once)."""
    with _LOCK:
        function = _LIVE.get(path)
        if function is not None:
            return function
        loaded = _LOADED.get(path)
        if loaded is None:
            tf = import_optional("tensorflow")
            loaded = tf.saved_model.load(path)
            _LOADED[path] = loaded
        return loaded.transform_fn


def run_function(path: str, batch: pa.RecordBatch, columns: Sequence[InputColumn]) -> Any:
    """Call the function saved at ``path`` on a batch; TF errors become TransformError."""
    tf = import_optional("tensorflow")
    inputs = batch_to_inputs(batch, columns)
    try:
        return load_function(path)(inputs)
    except tf.errors.OpError as err:
        raise TransformError(
            f"The preprocessing_fn failed on a batch of {batch.num_rows} rows: "
            f"{_reason(err.message)}. Outputs must keep one row per input row and shapes must "
            "agree for every batch size."
        ) from None


def _reason(message: str) -> str:
    """The useful line of a TF runtime error (without TF's stack of definition sites)."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    node = next((ln for ln in reversed(lines) if ln.startswith("[[{{node")), "")
    reason = next(
        (ln for ln in reversed(lines) if not ln.startswith(("[[", "File ", "Detected at"))),
        lines[-1] if lines else message,
    )
    return f"{reason} (at {node.strip('[]{} ')})" if node else reason


class PhaseAccumulator(Accumulator[dict[str, Any], dict[str, Any]]):
    """One analysis pass: run the phase function on each batch, feed the combiners."""

    def __init__(self, path: str, columns: Sequence[InputColumn], combiners: dict[str, Any]):
        self.path = path
        self.columns = list(columns)
        self.combiners = combiners

    def create(self) -> dict[str, Any]:
        """One empty accumulator per analyzer."""
        return {key: combiner.create() for key, combiner in self.combiners.items()}

    def add_batch(self, acc: dict[str, Any], batch: pa.RecordBatch) -> dict[str, Any]:
        """Compute the analyzers' inputs for a batch and add them."""
        if batch.num_rows == 0:
            return acc
        outputs = run_function(self.path, batch, self.columns)
        for key, combiner in self.combiners.items():
            acc[key] = combiner.add_input(acc[key], [t.numpy() for t in outputs[key]])
        return acc

    def merge(self, accs: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Merge per analyzer, in order."""
        return {key: c.merge([a[key] for a in accs]) for key, c in self.combiners.items()}

    def extract(self, acc: dict[str, Any]) -> dict[str, Any]:
        """The analyzers' results."""
        return {key: c.extract(acc[key]) for key, c in self.combiners.items()}


class TransformBatch:
    """Apply a saved transform_fn to Arrow batches (picklable, for any engine)."""

    def __init__(self, path: str, columns: Sequence[InputColumn], outputs: Sequence[OutputColumn]):
        self.path = path
        self.columns = list(columns)
        self.outputs = list(outputs)
        self.__name__ = "transform_fn"

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The transformed features of one batch."""
        if batch.num_rows == 0:
            return pa.RecordBatch.from_pylist([], schema=output_schema(self.outputs))
        outputs = run_function(self.path, batch, self.columns)
        return outputs_to_batch(outputs, self.outputs, batch.num_rows)
