"""One loaded model version: the SavedModel's ``serving_default`` signature and its manifest.

A :class:`ServedModel` knows the signature's inputs and outputs (names, dtypes, shapes),
reads ``tensorbridge.json`` when the export wrote one (which inputs are optional and
their sentinels, the label, sample rows), runs predictions on numpy columns from any
thread, warms itself up, and describes itself in TF Serving's and the Open Inference
Protocol's metadata JSON. A plain SavedModel without a manifest is served too: every
input is then required.

The served signature takes one value per row per input: a ``[batch]`` tensor (or
``[batch, 1]``). Models whose inputs have other shapes are refused at load time with a
:class:`~tensorbridge.serve.errors.ModelLoadError` that says so.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tensorbridge._optional import import_optional
from tensorbridge.serve.errors import ModelLoadError, RequestError
from tensorbridge.train.export import MANIFEST, OUTPUT_NAME

__all__ = ["SIGNATURE", "InputSpec", "ServedModel", "v2_datatype"]

#: The signature every served model must have (TF Serving's default).
SIGNATURE = "serving_default"

#: Signature dtypes the server can feed, by TensorFlow's dtype name.
_SUPPORTED_INPUT_DTYPES = ("float32", "float64", "int64", "int32", "bool", "string")

#: Open Inference Protocol (V2) datatype of a numpy/TensorFlow dtype name.
_V2_DATATYPES = {
    "bool": "BOOL",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "string": "BYTES",
    "object": "BYTES",
}


def v2_datatype(dtype: str) -> str:
    """The V2 datatype (``"FP32"``, ``"BYTES"``...) of a dtype name such as ``"float32"``.

    Parameters
    ----------
    dtype : str
        A numpy or TensorFlow dtype name (``"string"`` and ``"object"`` are ``BYTES``).

    Returns
    -------
    str
        The datatype; ``"BYTES"`` for anything not numeric or boolean.
    """
    return _V2_DATATYPES.get(dtype, "BYTES")


@dataclass(frozen=True)
class InputSpec:
    """One input of the served signature.

    Attributes
    ----------
    name : str
        The input's name in the signature (a raw feature for exports of tensorbridge).
    dtype : str
        The signature dtype: ``"float32"``, ``"float64"``, ``"int64"``, ``"int32"``,
        ``"bool"`` or ``"string"``.
    optional : bool
        Whether the value may be missing (from the manifest; False without one).
    missing_value : str or None
        The manifest's sentinel for a missing value: ``"NaN"``, ``'""'`` or None.
    raw_dtype : str
        The feature's own dtype (the manifest's ``dtype``): ``"int64"`` for an optional
        integer that travels as float64, otherwise equal to ``dtype``.
    rank : int
        1 for a ``[batch]`` input, 2 for a ``[batch, 1]`` one.
    """

    name: str
    dtype: str
    optional: bool
    missing_value: str | None
    raw_dtype: str
    rank: int = 1

    @property
    def sentinel(self) -> Any:
        """The value fed for a missing one (NaN or ``""``), or None when it cannot be missing."""
        if not self.optional:
            return None
        if self.dtype == "string":
            return ""
        if self.dtype.startswith("float"):
            return float("nan")
        return None


def check_batch(
    specs: Mapping[str, Any], inputs: Mapping[str, np.ndarray], where: str = "this model"
) -> int:
    """The number of rows of a batch of model inputs.

    Raises RequestError unless the batch has exactly the inputs ``specs`` names, each a
    1-D array, all of one length.
    """
    extra = [name for name in inputs if name not in specs]
    if extra:
        raise RequestError(
            f"Unknown input {extra[0]!r} for {where}.",
            field=extra[0],
            expected=f"one of {list(specs)}",
        )
    rows: int | None = None
    for name, spec in specs.items():
        if name not in inputs:
            raise RequestError(
                f"Input {name!r} is missing.", field=name, expected=f"{spec.dtype} values"
            )
        array = np.asarray(inputs[name])
        if array.ndim != 1:
            raise RequestError(
                f"Input {name!r} has shape {list(array.shape)}; one value per row is expected.",
                field=name,
                expected="a 1-D array",
            )
        if rows is None:
            rows = len(array)
        elif len(array) != rows:
            raise RequestError(
                f"Input {name!r} has {len(array)} rows, but the others have {rows}.",
                field=name,
                expected=f"{rows} rows",
            )
    return rows or 0


class ServedModel:
    """One loaded version of a model, ready to predict from several threads.

    Build it with :meth:`load`.

    Attributes
    ----------
    name : str
        The model's name in the repository.
    version : int
        The version number.
    path : pathlib.Path
        The version directory (the SavedModel).
    manifest : dict or None
        ``tensorbridge.json``, or None for a plain SavedModel.
    inputs : dict of str to InputSpec
        The signature's inputs, in the manifest's order (sorted by name without one).
    outputs : dict of str to str
        Output name to dtype, e.g. ``{"probabilities": "float32"}``.
    output_shapes : dict of str to list of int
        Output name to shape, -1 for unknown dimensions, e.g. ``[-1, 1]``.

    Examples
    --------
    >>> model = ServedModel.load("taxi", 1, Path("models/taxi/1"))  # doctest: +SKIP
    >>> model.predict(model.sample_inputs(2))["probabilities"].shape  # doctest: +SKIP
    (2, 1)
    """

    def __init__(
        self,
        *,
        name: str,
        version: int,
        path: Path,
        loaded: Any,
        function: Any,
        manifest: dict[str, Any] | None,
        inputs: dict[str, InputSpec],
        outputs: dict[str, str],
        output_shapes: dict[str, list[int]],
        signature_def: dict[str, Any],
    ) -> None:
        self.name = name
        self.version = version
        self.path = path
        self.manifest = manifest
        self.inputs = inputs
        self.outputs = outputs
        self.output_shapes = output_shapes
        # The loaded object owns the variables; the signature only holds weak references.
        self._loaded = loaded
        self._function = function
        self._signature_def = signature_def
        self._tf = import_optional("tensorflow")
        self._flat_order = _flat_order(function, inputs)

    def __repr__(self) -> str:
        return f"ServedModel({self.name!r}, version={self.version}, path={str(self.path)!r})"

    # ----------------------------------------------------------------- loading
    @classmethod
    def load(cls, name: str, version: int, path: Path) -> ServedModel:
        """Load the SavedModel at ``path`` and read its manifest.

        Parameters
        ----------
        name : str
            The model's name.
        version : int
            The version number.
        path : pathlib.Path
            A SavedModel directory with a ``serving_default`` signature, and optionally
            ``tensorbridge.json``.

        Returns
        -------
        ServedModel

        Raises
        ------
        ModelLoadError
            When the directory is missing, is not a SavedModel, has no
            ``serving_default`` signature, has inputs the server cannot feed, or has a
            manifest that does not describe it; the message names the path and why.
        """
        path = Path(path)
        where = f"model {name!r} version {version} at {path}"
        if not path.is_dir():
            raise ModelLoadError(f"Cannot load {where}: the directory does not exist.")
        if not (path / "saved_model.pb").exists() and not (path / "saved_model.pbtxt").exists():
            raise ModelLoadError(
                f"Cannot load {where}: it is not a SavedModel (no saved_model.pb in it)."
            )
        manifest = _read_manifest(path, where)
        tf = import_optional("tensorflow")
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelLoadError(
                f"Cannot load {where}: TensorFlow could not read the SavedModel: {reason}"
            ) from err
        signatures = dict(getattr(loaded, "signatures", {}) or {})
        if SIGNATURE not in signatures:
            raise ModelLoadError(
                f"Cannot load {where}: the SavedModel has no {SIGNATURE!r} signature "
                f"(it has: {sorted(signatures) or 'none'}). Export it with "
                f"signatures={{{SIGNATURE!r}: ...}}."
            )
        function = signatures[SIGNATURE]
        inputs = _input_specs(function, manifest, where)
        outputs, output_shapes = _output_specs(function, where)
        signature_def = _signature_def(path, inputs, outputs, output_shapes)
        return cls(
            name=name,
            version=int(version),
            path=path,
            loaded=loaded,
            function=function,
            manifest=manifest,
            inputs=inputs,
            outputs=outputs,
            output_shapes=output_shapes,
            signature_def=signature_def,
        )

    # ------------------------------------------------------------- prediction
    @property
    def signature(self) -> Any:
        """The loaded ``serving_default`` ConcreteFunction (keyword arguments per input)."""
        return self._function

    def predict(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run ``serving_default`` on one batch.

        Parameters
        ----------
        inputs : mapping of str to numpy.ndarray
            Every signature input as a 1-D array, all of one length ``n`` (strings as an
            object array of ``str``), missing optional values already replaced by their
            sentinels (as :mod:`tensorbridge.serve.codec` decodes them).

        Returns
        -------
        dict of str to numpy.ndarray
            Every output, first dimension ``n``.

        Raises
        ------
        RequestError
            When an input is missing or unknown, or the arrays differ in length.

        Notes
        -----
        Safe to call from several threads at once (TensorFlow functions are).
        """
        tf = self._tf
        check_batch(self.inputs, inputs, f"{self.name} version {self.version}")
        feeds: dict[str, Any] = {}
        for name, spec in self.inputs.items():
            array = np.asarray(inputs[name])
            if spec.dtype == "string":
                if array.dtype != object:
                    array = array.astype(object)
            else:
                array = array.astype(spec.dtype, copy=False)
            if spec.rank == 2:
                array = array.reshape(-1, 1)
            # A numpy array of the right dtype converts faster without a dtype to check.
            feeds[name] = (
                tf.constant(array, dtype=spec.dtype)
                if spec.dtype == "string"
                else tf.constant(array)
            )
        if self._flat_order is not None:
            # The tensors already have the signature's dtypes and ranks: call the graph
            # function directly, without TensorFlow's per-call argument binding and
            # casting (about 0.15 ms of a 0.5 ms call on the taxi model).
            flat = [feeds[name] for name in self._flat_order]
            result = self._function._call_flat(flat, self._function.captured_inputs)
        else:
            result = self._function(**feeds)
        return {name: result[name].numpy() for name in self.outputs}

    def sample_inputs(self, rows: int = 8) -> dict[str, np.ndarray]:
        """A batch of ``rows`` typical inputs, for warm-up and smoke tests.

        The manifest's ``samples`` (raw row dicts, None for missing) when there are any,
        repeated as needed; otherwise synthesized values: 0, ``False`` or ``""`` for
        every input, with optional inputs missing (their sentinel) on every other row,
        so both paths through the model run.

        Parameters
        ----------
        rows : int
            The batch size.

        Returns
        -------
        dict of str to numpy.ndarray
            Ready for :meth:`predict`.

        Raises
        ------
        ModelLoadError
            When the manifest's samples do not fit the signature.
        """
        from tensorbridge.serve.codec import decode_rows

        rows = max(1, int(rows))
        samples = (self.manifest or {}).get("samples") or []
        if samples:
            known = set(self.inputs)
            try:
                picked = [samples[i % len(samples)] for i in range(rows)]
                picked = [{k: v for k, v in row.items() if k in known} for row in picked]
                return decode_rows(picked, self)
            except (RequestError, AttributeError, KeyError, TypeError) as err:
                raise ModelLoadError(
                    f"The manifest's samples of {self.name} version {self.version} do not "
                    f"fit its signature: {err}"
                ) from err
        typical = {"string": "", "bool": False}
        synthesized: list[dict[str, Any]] = []
        for i in range(rows):
            row: dict[str, Any] = {}
            for name, spec in self.inputs.items():
                missing = spec.optional and spec.sentinel is not None and i % 2 == 1
                row[name] = None if missing else typical.get(spec.dtype, 0)
            synthesized.append(row)
        return decode_rows(synthesized, self)

    def warm_up(self, rounds: int = 3, *, batch_sizes: Sequence[int] = (1, 8)) -> float:
        """Run predictions on sample batches so the first real request is fast.

        Parameters
        ----------
        rounds : int
            How many times each batch size runs.
        batch_sizes : sequence of int
            The batch sizes to run (e.g. add the micro-batcher's maximum).

        Returns
        -------
        float
            Seconds spent.

        Raises
        ------
        ModelLoadError
            When a prediction fails or returns outputs of the wrong length.
        """
        start = time.perf_counter()
        sizes = sorted({max(1, int(size)) for size in batch_sizes}) or [1]
        samples = self.sample_inputs(max(sizes))
        for _ in range(max(1, rounds)):
            for size in sizes:
                batch = {name: values[:size] for name, values in samples.items()}
                try:
                    result = self.predict(batch)
                except Exception as err:
                    raise ModelLoadError(
                        f"Warm-up of {self.name} version {self.version} ({self.path}) failed "
                        f"on a batch of {size}: {type(err).__name__}: {err}"
                    ) from err
                for output, values in result.items():
                    if values.ndim == 0 or values.shape[0] != size:
                        raise ModelLoadError(
                            f"Warm-up of {self.name} version {self.version}: output {output!r} "
                            f"has shape {list(values.shape)} for a batch of {size}; its first "
                            "dimension must be the batch."
                        )
        return time.perf_counter() - start

    # --------------------------------------------------------------- metadata
    @property
    def task(self) -> str | None:
        """``"binary"`` for a binary classifier, else None.

        A binary classifier has one ``[n, 1]`` float output named ``probabilities`` and a
        label in its manifest.
        """
        if self.manifest is None or not self.manifest.get("label") or len(self.outputs) != 1:
            return None
        (name, dtype), shape = next(iter(self.outputs.items())), self.output_shapes
        if name == OUTPUT_NAME and dtype.startswith("float") and shape[name] == [-1, 1]:
            return "binary"
        return None

    def signature_metadata_v1(self) -> dict[str, Any]:
        """TF Serving's ``GetModelMetadataResponse`` as JSON (``GET .../metadata``).

        Returns
        -------
        dict
            ``{"model_spec": {...}, "metadata": {"signature_def": {"signature_def":
            {"serving_default": {"inputs", "outputs", "method_name"}}}}}`` with TF Serving's
            field names and value types (dtype enums like ``"DT_FLOAT"``, sizes as strings).
        """
        return {
            "model_spec": {
                "name": self.name,
                "signature_name": "",
                "version": str(self.version),
            },
            "metadata": {
                "signature_def": {"signature_def": {SIGNATURE: copy.deepcopy(self._signature_def)}}
            },
        }

    def metadata_v2(self, versions: list[int]) -> dict[str, Any]:
        """The Open Inference Protocol's model metadata (``GET /v2/models/<name>``).

        Parameters
        ----------
        versions : list of int
            The versions of this model being served.

        Returns
        -------
        dict
            ``{"name", "versions", "platform", "inputs", "outputs"}``; versions as strings,
            datatypes such as ``"FP32"``, shapes with -1 for the batch.
        """
        return {
            "name": self.name,
            "versions": [str(v) for v in versions],
            "platform": "tensorflow_savedmodel",
            "inputs": [
                {
                    "name": spec.name,
                    "datatype": v2_datatype(spec.dtype),
                    "shape": [-1] if spec.rank == 1 else [-1, 1],
                }
                for spec in self.inputs.values()
            ],
            "outputs": [
                {
                    "name": name,
                    "datatype": v2_datatype(dtype),
                    "shape": list(self.output_shapes[name]),
                }
                for name, dtype in self.outputs.items()
            ],
        }


# ------------------------------------------------------------------ helpers
def _read_manifest(path: Path, where: str) -> dict[str, Any] | None:
    file = path / MANIFEST
    if not file.exists():
        return None
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"Cannot load {where}: {MANIFEST} is unreadable: {err}") from err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("inputs", []), list):
        raise ModelLoadError(
            f"Cannot load {where}: {MANIFEST} is not an object with an 'inputs' list."
        )
    return manifest


def _dtype_name(dtype: Any) -> str:
    return "string" if dtype.name == "string" else str(dtype.name)


def _input_specs(
    function: Any, manifest: dict[str, Any] | None, where: str
) -> dict[str, InputSpec]:
    args, kwargs = function.structured_input_signature
    if args:
        raise ModelLoadError(
            f"Cannot load {where}: {SIGNATURE} takes positional inputs; a signature takes "
            "named tensors."
        )
    specs: dict[str, InputSpec] = {}
    entries = {e["name"]: e for e in (manifest or {}).get("inputs", []) if "name" in e}
    if manifest is not None:
        unknown = sorted(set(entries) - set(kwargs))
        undescribed = sorted(set(kwargs) - set(entries))
        if unknown or undescribed:
            raise ModelLoadError(
                f"Cannot load {where}: {MANIFEST} does not describe this SavedModel "
                f"(inputs only in the manifest: {unknown}; only in {SIGNATURE}: {undescribed})."
            )
    order = list(entries) if manifest is not None else sorted(kwargs)
    for name in order:
        tensor = kwargs[name]
        dtype = _dtype_name(tensor.dtype)
        shape = tensor.shape
        if dtype not in _SUPPORTED_INPUT_DTYPES:
            raise ModelLoadError(
                f"Cannot load {where}: input {name!r} has dtype {dtype}; the server feeds "
                f"{', '.join(_SUPPORTED_INPUT_DTYPES)}."
            )
        dims = shape.as_list() if shape.rank is not None else None
        if dims is None or dims[1:] not in ([], [1]):
            raise ModelLoadError(
                f"Cannot load {where}: input {name!r} has shape {dims}; the server feeds "
                "one value per row ([batch] or [batch, 1])."
            )
        entry = entries.get(name, {})
        declared = entry.get("signature_dtype", dtype)
        if declared != dtype:
            raise ModelLoadError(
                f"Cannot load {where}: {MANIFEST} says input {name!r} is {declared}, "
                f"but {SIGNATURE} takes {dtype}."
            )
        specs[name] = InputSpec(
            name=name,
            dtype=dtype,
            optional=bool(entry.get("optional", False)),
            missing_value=entry.get("missing_value"),
            raw_dtype=str(entry.get("dtype", dtype)),
            rank=len(dims),
        )
    return specs


def _output_specs(function: Any, where: str) -> tuple[dict[str, str], dict[str, list[int]]]:
    structured = function.structured_outputs
    if not isinstance(structured, Mapping) or not structured:
        raise ModelLoadError(f"Cannot load {where}: {SIGNATURE} has no named outputs.")
    outputs: dict[str, str] = {}
    shapes: dict[str, list[int]] = {}
    for name in sorted(structured):
        tensor = structured[name]
        outputs[name] = _dtype_name(tensor.dtype)
        dims = tensor.shape.as_list() if tensor.shape.rank is not None else [None]
        shapes[name] = [-1 if d is None else int(d) for d in dims]
    return outputs, shapes


_TF_ENUMS = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "float16": "DT_HALF",
    "int8": "DT_INT8",
    "int16": "DT_INT16",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
    "uint8": "DT_UINT8",
    "uint16": "DT_UINT16",
    "uint32": "DT_UINT32",
    "uint64": "DT_UINT64",
    "bool": "DT_BOOL",
    "string": "DT_STRING",
}


def _tensor_info(name: str, dtype: str, dims: list[int]) -> dict[str, Any]:
    return {
        "dtype": dtype,
        "tensor_shape": {
            "dim": [{"size": str(d), "name": ""} for d in dims],
            "unknown_rank": False,
        },
        "name": name,
    }


def _signature_def(
    path: Path,
    inputs: Mapping[str, InputSpec],
    outputs: Mapping[str, str],
    output_shapes: Mapping[str, list[int]],
) -> dict[str, Any]:
    """The ``serving_default`` SignatureDef as TF Serving prints it in JSON.

    Read from ``saved_model.pb`` (for the real tensor names); when that fails, built from
    the loaded signature with TensorFlow's usual names.
    """
    try:
        from tensorflow.core.framework import types_pb2
        from tensorflow.core.protobuf import saved_model_pb2

        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
        found = proto.meta_graphs[0].signature_def[SIGNATURE]

        def info(item: Any) -> dict[str, Any]:
            shape = item.tensor_shape
            body = _tensor_info(
                item.name, types_pb2.DataType.Name(item.dtype), [d.size for d in shape.dim]
            )
            body["tensor_shape"]["unknown_rank"] = bool(shape.unknown_rank)
            return body

        return {
            "inputs": {k: info(found.inputs[k]) for k in sorted(found.inputs)},
            "outputs": {k: info(found.outputs[k]) for k in sorted(found.outputs)},
            "method_name": found.method_name or "tensorflow/serving/predict",
        }
    except Exception:
        return {
            "inputs": {
                name: _tensor_info(
                    f"{SIGNATURE}_{name}:0", _TF_ENUMS[spec.dtype], [-1, 1][: spec.rank]
                )
                for name, spec in sorted(inputs.items())
            },
            "outputs": {
                name: _tensor_info(
                    f"StatefulPartitionedCall:{i}",
                    _TF_ENUMS.get(dtype, "DT_INVALID"),
                    output_shapes[name],
                )
                for i, (name, dtype) in enumerate(sorted(outputs.items()))
            },
            "method_name": "tensorflow/serving/predict",
        }


def _flat_order(function: Any, inputs: Mapping[str, InputSpec]) -> list[str] | None:
    """The signature's inputs in its flat calling order, when it can be called flat.

    None (call it with keyword arguments) when this TensorFlow has no flat call or the
    signature's parameters are not exactly the inputs.
    """
    function_type = getattr(function, "function_type", None)
    if function_type is None or not callable(getattr(function, "_call_flat", None)):
        return None
    order = [parameter.name for parameter in function_type.parameters.values()]
    return order if sorted(order) == sorted(inputs) else None
