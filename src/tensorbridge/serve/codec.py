"""Request and response JSON of TF Serving's REST API (V1) and the Open Inference Protocol (V2).

Pure functions between JSON-decoded Python objects and numpy columns; no HTTP here.
Decoding validates every value against the model's signature and manifest and raises
:class:`~tensorbridge.serve.errors.RequestError` naming the ``field`` and what was
``expected``, e.g. ``fare: row 3: expected float32 number, got 'abc'``.

Rules, the same for every protocol:

* every input the model takes must be given unless it is optional; a JSON ``null`` (or
  an absent key in a row, or an absent column) for an optional input becomes its
  sentinel (NaN, or ``""`` for strings); for a required one it is an error;
* an unknown (extra) input is an error;
* numbers go to numeric inputs (ints are fine for floats; floats without a fraction are
  fine for ints), booleans only to boolean inputs, strings only to string inputs;
  ``NaN``/``Infinity`` literals are accepted for floats; ``{"b64": "..."}`` is accepted
  for strings (it must decode to UTF-8 text);
* a batch is 1 to ``max_rows`` rows, and every input has one value per row.

Outputs are returned as Python lists; float32 values are rounded to their shortest
decimal form (``0.73``, not ``0.7300000190734863``), as TF Serving prints them. NaN
stays a float NaN: the app writes it as the ``NaN`` token, as TF Serving does.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tensorbridge.serve.errors import RequestError
from tensorbridge.serve.model import SIGNATURE, InputSpec, v2_datatype

if TYPE_CHECKING:
    from tensorbridge.serve.model import ServedModel

__all__ = [
    "V2_DATATYPES",
    "Decoded",
    "decode_rows",
    "decode_v1_examples",
    "decode_v1_predict",
    "decode_v2_infer",
    "encode_v1_classify",
    "encode_v1_predict",
    "encode_v1_regress",
    "encode_v2_infer",
    "expected_value",
]


class Decoded(NamedTuple):
    """A decoded request, ready for :meth:`ServedModel.predict`.

    Attributes
    ----------
    inputs : dict of str to numpy.ndarray
        Every model input as a 1-D array of ``rows`` values (sentinels filled in).
    rows : int
        The batch size.
    style : str
        ``"row"`` (V1 ``instances`` or ``examples``), ``"columnar"`` (V1 ``inputs``) or
        ``"v2"``; :func:`encode_v1_predict` answers in the same style.
    unseen : dict of str to int
        Reserved for unseen categorical values per feature (filled by feature stats).
    """

    inputs: dict[str, np.ndarray]
    rows: int
    style: str
    unseen: dict[str, int]


#: V2 datatypes and their little-endian numpy dtypes (None: BYTES).
V2_DATATYPES: dict[str, str | None] = {
    "BOOL": "|b1",
    "INT8": "|i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "|u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    "BYTES": None,
}
_V2_INTS = frozenset(k for k in V2_DATATYPES if k.startswith(("INT", "UINT")))
_V2_FLOATS = frozenset({"FP16", "FP32", "FP64"})
_V2_ACCEPTED = {
    "float": _V2_FLOATS | _V2_INTS,
    "int": _V2_INTS,
    "int_as_float": _V2_INTS | _V2_FLOATS,
    "bool": frozenset({"BOOL"}),
    "string": frozenset({"BYTES"}),
}


class _Absent:
    """A key absent from a row (reported as "missing" rather than "null")."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "nothing"


_ABSENT = _Absent()
_EMPTY = (type(None), _Absent)
_ALLOWED: dict[str, frozenset[type]] = {
    "float": frozenset({float, int}),
    "int": frozenset({int, float}),
    "int_as_float": frozenset({int, float}),
    "bool": frozenset({bool}),
    "string": frozenset({str}),
}
_EXACT_FLOAT64_INT = 2**53


# ------------------------------------------------------------ value columns
def _kind(spec: InputSpec) -> str:
    if spec.dtype == "string":
        return "string"
    if spec.dtype == "bool":
        return "bool"
    if spec.dtype.startswith("int"):
        return "int"
    if spec.raw_dtype.startswith(("int", "uint")):
        return "int_as_float"  # an optional integer that travels as float64
    return "float"


def expected_value(spec: InputSpec) -> str:
    """What one value of ``spec`` must be, for error messages (e.g. ``"float32 number"``).

    Parameters
    ----------
    spec : InputSpec
        The input.

    Returns
    -------
    str
        ``"<dtype> number"``, ``"<dtype> integer"``, ``"string"`` or ``"boolean"``, with
        ``" or null"`` for an optional input.
    """
    kind = _kind(spec)
    if kind == "float":
        text = f"{spec.dtype} number"
    elif kind in ("int", "int_as_float"):
        text = f"{spec.raw_dtype if kind == 'int_as_float' else spec.dtype} integer"
    else:
        text = "boolean" if kind == "bool" else "string"
    return f"{text} or null" if spec.sentinel is not None else text


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad_value(spec: InputSpec, row: int, value: Any, why: str = "") -> RequestError:
    expected = expected_value(spec)
    return RequestError(
        f"{spec.name}: row {row}: expected {expected}, got {_show(value)}{why}.",
        field=spec.name,
        expected=expected,
    )


def _missing_value(spec: InputSpec, row: int, value: Any) -> RequestError:
    how = "is missing" if value is _ABSENT else "is null"
    return RequestError(
        f"{spec.name}: row {row}: the value {how}, but this input is required (it had no "
        "missing values in training, so the model has no sentinel for it).",
        field=spec.name,
        expected=expected_value(spec),
    )


def _b64_text(spec: InputSpec, row: int, value: dict[Any, Any]) -> str:
    encoded = value.get("b64")
    if len(value) != 1 or type(encoded) is not str:
        raise _bad_value(spec, row, value, ' (a string or {"b64": "<base64>"} goes here)')
    try:
        altchars = b"-_" if ("-" in encoded or "_" in encoded) else None
        raw = base64.b64decode(encoded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as err:
        raise RequestError(
            f"{spec.name}: row {row}: the b64 value is not valid base64 ({err}).",
            field=spec.name,
            expected="base64 text",
        ) from err
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestError(
            f"{spec.name}: row {row}: the b64 value decodes to bytes that are not UTF-8 text.",
            field=spec.name,
            expected="base64 of UTF-8 text",
        ) from err


def _first(values: Sequence[Any], test: Any) -> int:
    return next(i for i, v in enumerate(values) if test(v))


def _convert(spec: InputSpec, values: list[Any]) -> np.ndarray:
    """One input's values (JSON scalars, None or _ABSENT) as the signature's numpy column."""
    kind = _kind(spec)
    types = set(map(type, values))
    if list in types and spec.rank == 2:  # a [batch, 1] input: [v] per row is fine
        values = [v[0] if type(v) is list and len(v) == 1 else v for v in values]
        types = set(map(type, values))
    if dict in types and kind == "string":
        values = [_b64_text(spec, i, v) if type(v) is dict else v for i, v in enumerate(values)]
        types = set(map(type, values))
    if types.intersection(_EMPTY):
        fill = spec.sentinel
        if fill is None:
            row = _first(values, lambda v: v is None or v is _ABSENT)
            raise _missing_value(spec, row, values[row])
        values = [fill if (v is None or v is _ABSENT) else v for v in values]
        types = set(map(type, values))
    allowed = _ALLOWED[kind]
    if not types <= allowed:
        row = _first(values, lambda v: type(v) not in allowed)
        raise _bad_value(spec, row, values[row])
    if kind == "string":
        column = np.empty(len(values), dtype=object)
        column[:] = values
        return column
    if kind == "bool":
        return np.array(values, dtype=bool)
    if kind == "int":
        return _ints(spec, values, types)
    return _floats(spec, values, whole=kind == "int_as_float")


def _wide_floats(spec: InputSpec, values: list[Any]) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:
        row = _first(values, lambda v: type(v) is int and abs(v) > 1e308)
        raise _bad_value(spec, row, values[row], " (too large)") from None


def _floats(spec: InputSpec, values: list[Any], *, whole: bool) -> np.ndarray:
    wide = _wide_floats(spec, values)
    if whole:  # integers carried as float64: no fractions, no infinities, exact
        finite = np.isfinite(wide)
        bad = (finite & (wide != np.floor(wide))) | (~finite & ~np.isnan(wide))
        if not spec.optional:
            bad |= np.isnan(wide)
        bad |= np.abs(wide) > _EXACT_FLOAT64_INT
        edge = np.abs(wide) == _EXACT_FLOAT64_INT  # 2**53 + 1 rounds to 2**53
        if edge.any():
            bad |= edge & np.array(
                [type(v) is int and abs(v) != _EXACT_FLOAT64_INT for v in values]
            )
        if bad.any():
            row = int(np.argmax(bad))
            raise _bad_value(spec, row, values[row], " (a whole number up to 2**53)")
        return wide
    if spec.dtype == "float64":
        return wide
    with np.errstate(over="ignore"):  # overflow is reported below, with the row
        narrow = wide.astype(spec.dtype)
    overflow = np.isinf(narrow) & np.isfinite(wide)
    if overflow.any():
        row = int(np.argmax(overflow))
        raise _bad_value(spec, row, values[row], f" (out of the {spec.dtype} range)")
    return narrow


def _ints(spec: InputSpec, values: list[Any], types: set[type]) -> np.ndarray:
    if float in types:
        for row, v in enumerate(values):
            if type(v) is float and not (math.isfinite(v) and v.is_integer()):
                raise _bad_value(spec, row, v)
        values = [int(v) for v in values]
    info = np.iinfo(spec.dtype)
    try:
        column = np.array(values, dtype=np.int64)
    except OverflowError:
        row = _first(values, lambda v: not info.min <= v <= info.max)
        raise _bad_value(spec, row, values[row], f" (out of the {spec.dtype} range)") from None
    if spec.dtype != "int64":
        outside = (column < info.min) | (column > info.max)
        if outside.any():
            row = int(np.argmax(outside))
            raise _bad_value(spec, row, values[row], f" (out of the {spec.dtype} range)")
        column = column.astype(spec.dtype)
    return column


def _unknown_input(name: Any, model: ServedModel, where: str) -> RequestError:
    names = ", ".join(model.inputs)
    return RequestError(
        f"{where}unknown input {str(name)!r}; {model.name} takes: {names}.",
        field=str(name),
        expected=f"one of: {names}",
    )


def _check_rows(rows: int, max_rows: int, field: str) -> None:
    if rows == 0:
        raise RequestError(
            f"{field}: the batch is empty; send at least one row.",
            field=field,
            expected="at least one row",
        )
    if rows > max_rows:
        raise RequestError(
            f"{field}: {rows} rows is more than the limit of {max_rows} per request; "
            "split the batch.",
            field=field,
            expected=f"at most {max_rows} rows",
        )


def _columns_from_rows(rows: Sequence[Any], model: ServedModel, field: str) -> dict[str, list[Any]]:
    known = model.inputs
    for i, row in enumerate(rows):
        if type(row) is not dict:
            raise RequestError(
                f"{field}: row {i}: expected an object of input name -> value, got {_show(row)}.",
                field=field,
                expected="an object per row",
            )
        if not known.keys() >= row.keys():
            extra = next(k for k in row if k not in known)
            raise _unknown_input(extra, model, f"{field}: row {i}: ")
    first = list(rows[0]) if rows else []
    if len(first) == len(known) and all(list(row) == first for row in rows):
        # Every row has every input, in one order (as clients usually send them): transpose
        # in C rather than looking each value up.
        columns = zip(*(row.values() for row in rows), strict=True)
        return {name: list(column) for name, column in zip(first, columns, strict=True)}
    return {name: [row.get(name, _ABSENT) for row in rows] for name in known}


def _decode_columns(columns: Mapping[str, list[Any]], model: ServedModel) -> dict[str, np.ndarray]:
    return {name: _convert(spec, columns[name]) for name, spec in model.inputs.items()}


def decode_rows(rows: Sequence[Mapping[str, Any]], model: ServedModel) -> dict[str, np.ndarray]:
    """Raw row dicts (``None`` or an absent key for missing) as :meth:`predict` inputs.

    The V1 row-format path without a row limit, for in-process callers (warm-up samples,
    tests, explanations).

    Parameters
    ----------
    rows : sequence of dict
        One dict per row, input name -> JSON-like value.
    model : ServedModel
        The model whose signature the rows must fit.

    Returns
    -------
    dict of str to numpy.ndarray

    Raises
    ------
    RequestError
        As :func:`decode_v1_predict` does.
    """
    return _decode_columns(_columns_from_rows(list(rows), model, "rows"), model)


# ------------------------------------------------------------------ V1 requests
def _object(body: Any, expected: str) -> dict[str, Any]:
    if type(body) is not dict:
        raise RequestError(
            f"The request body must be a JSON object, got {_show(body)}.",
            expected=expected,
        )
    return body


def _check_keys(body: Mapping[str, Any], allowed: Collection[str], where: str) -> None:
    for key in body:
        if key not in allowed:
            raise RequestError(
                f"{where}: unknown field {str(key)!r}; allowed: {', '.join(allowed)}.",
                field=str(key),
                expected=f"one of: {', '.join(allowed)}",
            )


def _check_signature(body: Mapping[str, Any]) -> None:
    name = body.get("signature_name", SIGNATURE)
    if name not in (SIGNATURE, ""):  # TF Serving reads "" as the default signature
        raise RequestError(
            f"Signature {_show(name)} is not served; the model's only served signature is "
            f"{SIGNATURE!r} (leave signature_name out, or set it to {SIGNATURE!r}).",
            field="signature_name",
            expected=SIGNATURE,
        )


def _is_row_object(value: Any, only_input: str) -> bool:
    """A row object, not a bare ``{"b64": ...}`` value of a model with one input."""
    return type(value) is dict and not (value.keys() == {"b64"} and only_input != "b64")


def decode_v1_predict(body: Any, model: ServedModel, *, max_rows: int) -> Decoded:
    """Decode a TF Serving ``:predict`` body: ``instances`` (rows) or ``inputs`` (columns).

    Parameters
    ----------
    body : Any
        The JSON-decoded body: ``{"signature_name"?, "instances": [...]}`` or
        ``{"signature_name"?, "inputs": {...} | [...]}``. With exactly one model input, a
        list of plain values is allowed for either.
    model : ServedModel
        The model answering.
    max_rows : int
        The largest batch accepted.

    Returns
    -------
    Decoded
        Style ``"row"`` or ``"columnar"``.

    Raises
    ------
    RequestError
        For anything that does not fit the signature (see the module's rules), both or
        neither of ``instances`` and ``inputs``, or another ``signature_name``.
    """
    body = _object(body, '{"instances": [...]} or {"inputs": {...}}')
    _check_keys(body, ("signature_name", "instances", "inputs"), "request")
    _check_signature(body)
    if "instances" in body and "inputs" in body:
        raise RequestError(
            'The body has both "instances" and "inputs"; send rows in "instances" or '
            'columns in "inputs", not both.',
            field="inputs",
            expected='"instances" or "inputs", not both',
        )
    only = next(iter(model.inputs)) if len(model.inputs) == 1 else None
    if "instances" in body:
        instances = body["instances"]
        if type(instances) is not list:
            raise RequestError(
                f'"instances" must be a list with one item per row, got {_show(instances)}.',
                field="instances",
                expected="a list with one item per row",
            )
        _check_rows(len(instances), max_rows, "instances")
        if only is not None and not any(_is_row_object(v, only) for v in instances):
            columns = {only: instances}
        else:
            columns = _columns_from_rows(instances, model, "instances")
        return Decoded(_decode_columns(columns, model), len(instances), "row", {})
    if "inputs" not in body:
        raise RequestError(
            'The body needs "instances" (a list of rows) or "inputs" (columns).',
            field="instances",
            expected='"instances" or "inputs"',
        )
    given = body["inputs"]
    if only is not None and type(given) is list:
        given = {only: given}
    if type(given) is not dict or not given:
        raise RequestError(
            f'"inputs" must be an object of input name -> list of values, got {_show(given)}.',
            field="inputs",
            expected="an object of input name -> list of values",
        )
    rows, first = -1, ""
    for name, values in given.items():
        if name not in model.inputs:
            raise _unknown_input(name, model, "inputs: ")
        if type(values) is not list:
            raise RequestError(
                f"{name}: expected a list with one value per row, got {_show(values)}.",
                field=name,
                expected="a list with one value per row",
            )
        if rows < 0:
            rows, first = len(values), name
        elif len(values) != rows:
            raise RequestError(
                f"{name}: {len(values)} values, but {first!r} has {rows}; every input needs "
                "one value per row.",
                field=name,
                expected=f"{rows} values",
            )
    _check_rows(rows, max_rows, "inputs")
    columns = {}
    for name, spec in model.inputs.items():
        if name in given:
            columns[name] = given[name]
        elif spec.sentinel is not None:
            columns[name] = [None] * rows
        else:
            raise RequestError(
                f'{name}: the required input is missing from "inputs".',
                field=name,
                expected=expected_value(spec),
            )
    return Decoded(_decode_columns(columns, model), rows, "columnar", {})


def _unlist(values: list[Any]) -> list[Any]:
    """tf.Example feature values are lists: ``[v]`` is ``v`` and ``[]`` is missing."""
    if list not in set(map(type, values)):
        return values
    unwrapped = []
    for v in values:
        if type(v) is list and len(v) <= 1:
            v = v[0] if v else None
        unwrapped.append(v)
    return unwrapped


def decode_v1_examples(body: Any, model: ServedModel, *, max_rows: int) -> Decoded:
    """Decode a ``:classify``/``:regress``/``:explain`` body (tf.Example style).

    Parameters
    ----------
    body : Any
        ``{"signature_name"?, "context"?: {feature: value}, "examples": [{feature: value}]}``.
        Context features apply to every example (a feature may not be in both). As in a
        tf.Example, a value may be a one-element list, and ``[]`` means missing.
    model : ServedModel
        The model answering.
    max_rows : int
        The largest batch accepted.

    Returns
    -------
    Decoded
        Style ``"row"``.

    Raises
    ------
    RequestError
        As :func:`decode_v1_predict`.
    """
    body = _object(body, '{"examples": [...]}')
    _check_keys(body, ("signature_name", "context", "examples"), "request")
    _check_signature(body)
    examples = body.get("examples", _ABSENT)
    if type(examples) is not list:
        raise RequestError(
            f'"examples" must be a list with one object per example, got {_show(examples)}.',
            field="examples",
            expected="a list with one object per example",
        )
    _check_rows(len(examples), max_rows, "examples")
    context = body.get("context", {})
    if type(context) is not dict:
        raise RequestError(
            f'"context" must be an object of feature -> value, got {_show(context)}.',
            field="context",
            expected="an object of feature -> value",
        )
    for name in context:
        if name not in model.inputs:
            raise _unknown_input(name, model, "context: ")
    rows = examples
    if context:
        rows = []
        for i, example in enumerate(examples):
            if type(example) is dict:
                both = next((k for k in example if k in context), None)
                if both is not None:
                    raise RequestError(
                        f"examples: row {i}: {both!r} is given both in the context and in "
                        "the example; give it in one place.",
                        field=str(both),
                        expected="a feature in the context or in the examples, not both",
                    )
                example = {**context, **example}
            rows.append(example)
    columns = _columns_from_rows(rows, model, "examples")
    columns = {name: _unlist(values) for name, values in columns.items()}
    return Decoded(_decode_columns(columns, model), len(rows), "row", {})


# ----------------------------------------------------------------- V1 responses
def _json_values(array: np.ndarray, *, b64: bool = False) -> Any:
    """An output array as nested Python lists (shortest floats, text for strings)."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        if array.dtype.itemsize < 8:  # shortest decimal of the float32/float16 value
            return array.astype(str).astype(np.float64).tolist()
        return array.tolist()
    if array.dtype.kind in "OSU":
        flat = np.empty(array.size, dtype=object)
        for i, item in enumerate(array.reshape(-1).tolist()):
            raw = item.encode("utf-8") if isinstance(item, str) else bytes(item)
            flat[i] = (
                {"b64": base64.b64encode(raw).decode("ascii")}
                if b64
                else raw.decode("utf-8", errors="replace")
            )
        return flat.reshape(array.shape).tolist()
    return array.tolist()


def encode_v1_predict(outputs: Mapping[str, np.ndarray], style: str) -> dict[str, Any]:
    """A TF Serving ``:predict`` response in the request's style.

    Parameters
    ----------
    outputs : mapping of str to numpy.ndarray
        The model's outputs (first dimension: the batch).
    style : str
        ``"row"``: ``{"predictions": [...]}``, each prediction the row of the single
        output (``[0.73]`` for a ``[n, 1]`` output) or, with several outputs, an object
        of output name -> row. ``"columnar"``: ``{"outputs": value}`` with one output,
        else ``{"outputs": {name: value}}``.

    Returns
    -------
    dict
        JSON-ready; output names ending in ``_bytes`` are ``{"b64": ...}``.
    """
    values = {
        name: _json_values(array, b64=name.endswith("_bytes")) for name, array in outputs.items()
    }
    if style == "row":
        if len(values) == 1:
            return {"predictions": next(iter(values.values()))}
        rows = len(next(iter(values.values()), []))
        return {
            "predictions": [
                {name: column[i] for name, column in values.items()} for i in range(rows)
            ]
        }
    if style == "columnar":
        if len(values) == 1:
            return {"outputs": next(iter(values.values()))}
        return {"outputs": values}
    raise ValueError(f"style must be 'row' or 'columnar', got {style!r}")


def _single_output(outputs: Mapping[str, np.ndarray], model: ServedModel, what: str) -> np.ndarray:
    if len(outputs) != 1:
        raise RequestError(
            f"{model.name} version {model.version} has {len(outputs)} outputs "
            f"({', '.join(outputs)}); {what} needs a model with one. Use :predict.",
            expected="a model with one output",
        )
    array = np.asarray(next(iter(outputs.values())))
    if array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[1] != 1):
        raise RequestError(
            f"{model.name} version {model.version}'s output has shape "
            f"{[-1, *array.shape[1:]]}; {what} needs one value per example. Use :predict.",
            expected="an output of shape [n] or [n, 1]",
        )
    return array.reshape(-1)


def encode_v1_classify(outputs: Mapping[str, np.ndarray], model: ServedModel) -> dict[str, Any]:
    """A TF Serving ``:classify`` response for a binary classifier.

    Returns
    -------
    dict
        ``{"results": [[["0", 1 - p], ["1", p]], ...]}``, one list of (label, score)
        pairs per example.

    Raises
    ------
    RequestError
        When the model is not a binary classifier (:attr:`ServedModel.task`).
    """
    if model.task != "binary":
        raise RequestError(
            f"{model.name} version {model.version} is not a binary classifier (one [n, 1] "
            "probability output and a label); :classify needs one. Use :predict or :regress.",
            expected="a binary classifier",
        )
    positive = _json_values(_single_output(outputs, model, ":classify").astype(np.float32))
    # 1 - p of p's shortest decimal, at float32 precision: 0.1 for 0.9, not 0.100000024
    negative = _json_values((1.0 - np.array(positive, dtype=np.float64)).astype(np.float32))
    return {"results": [[["0", q], ["1", p]] for q, p in zip(negative, positive, strict=True)]}


def encode_v1_regress(outputs: Mapping[str, np.ndarray], model: ServedModel) -> dict[str, Any]:
    """A TF Serving ``:regress`` response: ``{"results": [value, ...]}``, one per example.

    Raises
    ------
    RequestError
        When the model has several outputs, or one with more than one value per row.
    """
    return {"results": _json_values(_single_output(outputs, model, ":regress"))}


# ------------------------------------------------------------------------ V2
def _v2_shape(value: Any, name: str, max_rows: int) -> list[int]:
    valid = (
        type(value) is list
        and len(value) in (1, 2)
        and all(type(d) is int and d >= 0 for d in value)
        and (len(value) == 1 or value[1] == 1)
    )
    if not valid:
        raise RequestError(
            f"{name}: shape {_show(value)} does not fit an input with one value per row; "
            "use [n] or [n, 1].",
            field=name,
            expected="shape [n] or [n, 1]",
        )
    shape: list[int] = value
    _check_rows(shape[0], max_rows, name)
    return shape


def _v2_data(value: Any, name: str) -> list[Any]:
    if type(value) is not list:
        raise RequestError(
            f"{name}: data must be a list (flat, or nested by the shape), got {_show(value)}.",
            field=name,
            expected="a list of values",
        )
    if list not in set(map(type, value)):
        return value
    flat: list[Any] = []
    for item in value:
        if type(item) is list:
            if list in set(map(type, item)):
                raise RequestError(
                    f"{name}: data is nested deeper than its shape.",
                    field=name,
                    expected="data nested at most as deep as [n, 1]",
                )
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def _v2_binary(chunk: bytes, datatype: str, count: int, name: str) -> list[Any]:
    code = V2_DATATYPES[datatype]
    if code is None:  # BYTES: 4-byte little-endian length, then the bytes, per element
        items: list[Any] = []
        pos = 0
        while pos < len(chunk):
            if pos + 4 > len(chunk):
                break
            (length,) = struct.unpack_from("<I", chunk, pos)
            piece = chunk[pos + 4 : pos + 4 + length]
            if len(piece) != length:
                break
            pos += 4 + length
            try:
                items.append(piece.decode("utf-8"))
            except UnicodeDecodeError as err:
                raise RequestError(
                    f"{name}: element {len(items)} of the binary data is not UTF-8 text.",
                    field=name,
                    expected="UTF-8 text",
                ) from err
        if pos != len(chunk) or len(items) != count:
            raise RequestError(
                f"{name}: the binary BYTES data does not hold {count} length-prefixed elements.",
                field=name,
                expected=f"{count} elements, each a 4-byte length and the bytes",
            )
        return items
    dtype = np.dtype(code)
    if len(chunk) != count * dtype.itemsize:
        raise RequestError(
            f"{name}: binary_data_size is {len(chunk)} bytes, but {count} {datatype} values "
            f"take {count * dtype.itemsize}.",
            field=name,
            expected=f"{count * dtype.itemsize} bytes",
        )
    values: list[Any] = np.frombuffer(chunk, dtype=dtype).tolist()
    return values


def _check_v2_range(column: np.ndarray, values: list[Any], datatype: str, spec: InputSpec) -> None:
    if datatype not in _V2_INTS or datatype == "INT64":
        return
    info = np.iinfo(np.dtype(V2_DATATYPES[datatype]))
    outside = (column < info.min) | (column > info.max)
    if np.any(outside):
        row = int(np.argmax(outside))
        raise RequestError(
            f"{spec.name}: row {row}: {_show(values[row])} is out of the {datatype} range.",
            field=spec.name,
            expected=f"{datatype} values",
        )


def decode_v2_infer(
    body: Any,
    model: ServedModel,
    *,
    max_rows: int,
    binary: bytes | None = None,
) -> tuple[Decoded, str | None, list[str] | None]:
    """Decode an Open Inference Protocol ``/infer`` body.

    Parameters
    ----------
    body : Any
        ``{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "data",
        "parameters"?}], "outputs"?: [{"name", "parameters"?}]}``.
    model : ServedModel
        The model answering.
    max_rows : int
        The largest batch accepted.
    binary : bytes, optional
        The binary part of the body (after ``Inference-Header-Content-Length`` bytes of
        JSON), for inputs sent with the binary tensor extension
        (``parameters.binary_data_size``), as tritonclient does by default.

    Returns
    -------
    tuple
        ``(decoded, request id or None, requested output names or None for all)``.

    Raises
    ------
    RequestError
        For an unknown, missing or duplicated input, a datatype that does not fit the
        signature, a shape other than ``[n]``/``[n, 1]``, a data count other than the
        shape's, inputs of different batch sizes, and bad values (module rules).

    Notes
    -----
    Requests for binary outputs (``binary_data``, ``binary_data_output``) are accepted
    and answered in JSON, which clients read as well.
    """
    body = _object(body, '{"inputs": [{"name", "shape", "datatype", "data"}]}')
    _check_keys(body, ("id", "parameters", "inputs", "outputs"), "request")
    request_id = body.get("id")
    if request_id is not None and type(request_id) is not str:
        raise RequestError(
            f'"id" must be a string, got {_show(request_id)}.', field="id", expected="a string"
        )
    if type(body.get("parameters", {})) is not dict:
        raise RequestError(
            '"parameters" must be an object.', field="parameters", expected="an object"
        )
    items = body.get("inputs")
    if type(items) is not list or not items:
        raise RequestError(
            f'"inputs" must be a non-empty list of input tensors, got {_show(items)}.',
            field="inputs",
            expected='a list of {"name", "shape", "datatype", "data"}',
        )
    decoded: dict[str, np.ndarray] = {}
    rows, first = -1, ""
    offset = 0
    for j, item in enumerate(items):
        if type(item) is not dict:
            raise RequestError(
                f"inputs[{j}] must be an object, got {_show(item)}.",
                field="inputs",
                expected='{"name", "shape", "datatype", "data"}',
            )
        name = item.get("name")
        if type(name) is not str:
            raise RequestError(
                f"inputs[{j}] has no name.", field="inputs", expected="a name for every input"
            )
        spec = model.inputs.get(name)
        if spec is None:
            raise _unknown_input(name, model, "inputs: ")
        if name in decoded:
            raise RequestError(
                f"{name}: the input is given twice.", field=name, expected="each input once"
            )
        _check_keys(item, ("name", "shape", "datatype", "data", "parameters"), name)
        datatype = item.get("datatype")
        accepted = _V2_ACCEPTED[_kind(spec)]
        if datatype not in accepted:
            native = v2_datatype(spec.dtype)
            known = "" if datatype in V2_DATATYPES else " (not a V2 datatype)"
            raise RequestError(
                f"{name}: datatype {_show(datatype)}{known} does not fit the model's "
                f"{spec.dtype} input; send {native} (accepted: {', '.join(sorted(accepted))}).",
                field=name,
                expected=native,
            )
        shape = _v2_shape(item.get("shape"), name, max_rows)
        count = math.prod(shape)
        parameters = item.get("parameters", {})
        if type(parameters) is not dict:
            raise RequestError(
                f"{name}: parameters must be an object.", field=name, expected="an object"
            )
        size = parameters.get("binary_data_size")
        if size is not None:
            if "data" in item:
                raise RequestError(
                    f"{name}: both data and binary_data_size are given; send one.",
                    field=name,
                    expected="data or binary_data_size, not both",
                )
            if binary is None or type(size) is not int or size < 0:
                raise RequestError(
                    f"{name}: binary_data_size is given, but the request has no binary part "
                    "(set the Inference-Header-Content-Length header) or the size is invalid.",
                    field=name,
                    expected="a binary part after the JSON header",
                )
            chunk = bytes(binary[offset : offset + size])
            if len(chunk) != size:
                raise RequestError(
                    f"{name}: the binary part ends before its {size} bytes.",
                    field=name,
                    expected=f"{size} bytes of binary data",
                )
            offset += size
            values = _v2_binary(chunk, datatype, count, name)
        else:
            if "data" not in item:
                raise RequestError(f"{name}: the input has no data.", field=name, expected="data")
            values = _v2_data(item["data"], name)
            if len(values) != count:
                raise RequestError(
                    f"{name}: shape {shape} holds {count} values, but data has {len(values)}.",
                    field=name,
                    expected=f"{count} values",
                )
        if rows < 0:
            rows, first = shape[0], name
        elif shape[0] != rows:
            raise RequestError(
                f"{name}: {shape[0]} rows, but {first!r} has {rows}; every input needs one "
                "value per row.",
                field=name,
                expected=f"{rows} rows",
            )
        column = _convert(spec, values)
        _check_v2_range(column, values, datatype, spec)
        decoded[name] = column
    if binary is not None and offset != len(binary):
        raise RequestError(
            f"The binary part has {len(binary)} bytes, but the inputs declare {offset}.",
            field="inputs",
            expected=f"{offset} bytes of binary data",
        )
    inputs: dict[str, np.ndarray] = {}
    for name, spec in model.inputs.items():
        if name in decoded:
            inputs[name] = decoded[name]
        elif spec.sentinel is not None:
            inputs[name] = _convert(spec, [None] * rows)
        else:
            raise RequestError(
                f"{name}: the required input is missing from inputs.",
                field=name,
                expected=v2_datatype(spec.dtype),
            )
    return Decoded(inputs, rows, "v2", {}), request_id, _v2_requested(body, model)


def _v2_requested(body: Mapping[str, Any], model: ServedModel) -> list[str] | None:
    wanted = body.get("outputs")
    if wanted is None:
        return None
    if type(wanted) is not list:
        raise RequestError(
            '"outputs" must be a list of {"name"}.', field="outputs", expected='a list of {"name"}'
        )
    names: list[str] = []
    for j, item in enumerate(wanted):
        name = item.get("name") if type(item) is dict else None
        if type(name) is not str:
            raise RequestError(
                f"outputs[{j}] must be an object with a name.",
                field="outputs",
                expected='{"name": "<output>"}',
            )
        if name not in model.outputs:
            raise RequestError(
                f"outputs: unknown output {name!r}; {model.name} has: {', '.join(model.outputs)}.",
                field=name,
                expected=f"one of: {', '.join(model.outputs)}",
            )
        _check_keys(item, ("name", "parameters"), f"outputs[{j}]")
        if name not in names:
            names.append(name)
    return names


def encode_v2_infer(
    outputs: Mapping[str, np.ndarray],
    model: ServedModel,
    *,
    request_id: str | None,
    requested: list[str] | None,
) -> dict[str, Any]:
    """An Open Inference Protocol ``/infer`` response.

    Parameters
    ----------
    outputs : mapping of str to numpy.ndarray
        The model's outputs.
    model : ServedModel
        The model that answered (its name and version go in the body).
    request_id : str, optional
        The request's ``id``, echoed when given.
    requested : list of str, optional
        The outputs to return (all when None).

    Returns
    -------
    dict
        ``{"model_name", "model_version", "id"?, "outputs": [{"name", "datatype",
        "shape", "data"}]}`` with flat row-major data.
    """
    names = list(outputs) if requested is None else requested
    tensors = []
    for name in names:
        array = np.asarray(outputs[name])
        kind = "string" if array.dtype.kind in "OSU" else array.dtype.name
        tensors.append(
            {
                "name": name,
                "datatype": v2_datatype(kind),
                "shape": list(array.shape),
                "data": _json_values(array.reshape(-1)),
            }
        )
    response: dict[str, Any] = {"model_name": model.name, "model_version": str(model.version)}
    if request_id is not None:
        response["id"] = request_id
    response["outputs"] = tensors
    return response
