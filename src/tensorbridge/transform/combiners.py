"""Mergeable accumulators ("combiners") behind the TF.Transform-compatible analyzers.

Each analyzer reduces the whole data set to a few constants. The work is split over
Arrow batches on threads or Spark executors: every batch goes through
:meth:`Combiner.add_input`, partial accumulators are combined with
:meth:`Combiner.merge`, and :meth:`Combiner.extract` turns the final accumulator into
named numpy outputs. Combiners and accumulators are plain picklable objects, and merging
the same accumulators in the same order always gives bit-identical results.

The semantics follow TF.Transform 1.21:

* :class:`MeanVarCombiner` -- mean and population variance, NaN and +/-inf ignored.
* :class:`MinMaxCombiner` -- minimum and maximum, NaN ignored.
* :class:`SumCombiner` -- sum (exact: independent of batching and merge order).
* :class:`SizeCombiner` -- number of elements.
* :class:`VocabularyCombiner` -- token counts, ordered as TF.Transform orders them.
* :class:`QuantilesCombiner` -- bucket boundaries (exact, then a KLL sketch).
* :class:`CovarianceCombiner` and :class:`PcaCombiner` -- biased covariance, principal axes.
* :class:`DocumentFrequencyCombiner` -- documents containing each term id (for tf-idf).

``values`` passed to :meth:`Combiner.add_input` is a list of numpy arrays: the analyzer's
inputs for one batch, already reduced to the values that are present. Scalar outputs are
0-d numpy arrays.
"""

from __future__ import annotations

import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge.errors import BadInputError, ConfigError

__all__ = [
    "DUMMY_INTEGER_TOKEN",
    "DUMMY_STRING_TOKEN",
    "Combiner",
    "CovarianceCombiner",
    "DocumentFrequencyCombiner",
    "MeanVarCombiner",
    "MinMaxCombiner",
    "PcaCombiner",
    "QuantilesCombiner",
    "SizeCombiner",
    "SumCombiner",
    "VocabularyCombiner",
    "kll_k_for_epsilon",
]

#: The token of an empty string vocabulary (TF.Transform's ``_EMPTY_VOCABULARY_DUMMY``).
DUMMY_STRING_TOKEN = b"49d0cd50-04bb-48c0-bc6f-5b575dce351a"
#: The token of an empty integer vocabulary.
DUMMY_INTEGER_TOKEN = b"-1"

# ---------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------


class Combiner(ABC):
    """A mergeable accumulator: ``create``, ``add_input`` per batch, ``merge``, ``extract``.

    Subclasses are picklable (plain attributes only) and so are their accumulators.
    ``merge`` combines accumulators in the order given and does not modify them; merging
    the same accumulators in the same order gives bit-identical results.
    """

    @abstractmethod
    def create(self) -> Any:
        """Return a new, empty accumulator.

        Returns
        -------
        Any
            The accumulator of an empty data set.
        """

    @abstractmethod
    def add_input(self, acc: Any, values: Sequence[Any]) -> Any:
        """Add one batch to an accumulator.

        Parameters
        ----------
        acc : Any
            The accumulator so far; it may be modified in place.
        values : sequence of numpy.ndarray
            The analyzer's inputs for one batch (present values only).

        Returns
        -------
        Any
            The updated accumulator.
        """

    @abstractmethod
    def merge(self, accs: Sequence[Any]) -> Any:
        """Combine accumulators, in the order given, without modifying them.

        Parameters
        ----------
        accs : sequence
            Accumulators made by this combiner (or an equal one).

        Returns
        -------
        Any
            A new accumulator holding all of them.
        """

    @abstractmethod
    def extract(self, acc: Any) -> dict[str, Any]:
        """Compute the named outputs of an accumulator.

        Parameters
        ----------
        acc : Any
            The final accumulator.

        Returns
        -------
        dict of str to Any
            The analyzer's outputs (numpy arrays; 0-d for scalars).
        """

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(
            f"{name} must be True or False, got {value!r} ({type(value).__name__}); "
            f"pass {name}=True or {name}=False."
        )
    return bool(value)


def _check_float_dtype(name: str, value: Any) -> np.dtype[Any]:
    try:
        dtype = None if value is None else np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ConfigError(
            f"{name} must be float32 or float64, got {value!r}; "
            f"pass {name}=np.float32 (the default) or {name}=np.float64."
        )
    return dtype


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _unpack(values: Sequence[Any], expected: int, combiner: str, what: str) -> list[Any]:
    if isinstance(values, np.ndarray | pa.Array | pa.ChunkedArray) or len(values) != expected:
        got = (
            f"a bare {type(values).__name__}"
            if isinstance(values, np.ndarray | pa.Array | pa.ChunkedArray)
            else f"{len(values)} arrays"
        )
        raise BadInputError(
            f"{combiner}.add_input expects a list of {expected} array(s) ({what}), got {got}; "
            "wrap the batch's arrays in a list."
        )
    return list(values)


def _numeric(value: Any, combiner: str) -> np.ndarray:
    """The batch as a numpy array of a supported numeric dtype (ints or floats)."""
    array = value.to_numpy(zero_copy_only=False) if isinstance(value, pa.Array) else value
    array = np.asarray(array)
    if array.dtype.kind not in "iuf" or array.dtype == np.uint64:
        raise BadInputError(
            f"{combiner} needs integer or floating point values, got dtype {array.dtype}; "
            "cast the input to int64 or float first."
        )
    return array


def _rows(array: np.ndarray, reduce_instance_dims: bool, combiner: str) -> np.ndarray:
    """Flatten to 1-D (reduce) or to [rows, elements] (elementwise)."""
    if reduce_instance_dims:
        return array.reshape(-1)
    if array.ndim == 0:
        raise BadInputError(
            f"{combiner} with reduce_instance_dims=False needs a batch axis, got a scalar; "
            "pass arrays of shape [batch, ...]."
        )
    return array.reshape(array.shape[0], math.prod(array.shape[1:]))


def _instance_shape(array: np.ndarray, reduce_instance_dims: bool) -> tuple[int, ...]:
    return () if reduce_instance_dims else tuple(array.shape[1:])


def _same_shape(
    combiner: str, known: tuple[int, ...] | None, new: tuple[int, ...] | None
) -> tuple[int, ...] | None:
    if known is None:
        return new
    if new is not None and new != known:
        raise BadInputError(
            f"{combiner}: the per-instance shape changed from {known} to {new}; with "
            "reduce_instance_dims=False every batch must have the same shape after the batch axis."
        )
    return known


def _same_kind(combiner: str, known: str | None, new: str | None) -> str | None:
    if known is None:
        return new
    if new is not None and new != known:
        names = {"i": "integers", "f": "floats", "s": "strings"}
        raise BadInputError(
            f"{combiner}: batches mix {names.get(known, known)} and {names.get(new, new)}; "
            "every batch of one analyzer input must have the same kind of dtype."
        )
    return known


def _promote(known: np.dtype[Any] | None, new: np.dtype[Any] | None) -> np.dtype[Any] | None:
    if known is None:
        return new
    if new is None:
        return known
    return np.promote_types(known, new)


# -- exact float summation -------------------------------------------------------------
#
# Every finite float64 is an integer multiple of 2**-1126 when written as m * 2**(e - 53)
# with frexp's exponent e, so a sum of floats is an exact Python integer in those units.
# Sums computed this way do not depend on batching or merge order at all.

_UNIT_BITS = 1126  # values are integers in units of 2**-1126
_EXP_SLOTS = 2098  # frexp exponents -1073..1024 shifted to 0..2097
_LO_BITS = 26  # mantissas are split into hi * 2**26 + lo so bincount sums stay exact
_EXACT_CHUNK = 1 << 25  # at most 2**25 * 2**27 < 2**53 per float64 bin: exact
_DENSE_KEYS = 1 << 13  # bincount over the whole key space when it is this small


def _exact_group_sums(x: np.ndarray, groups: np.ndarray | None, num_groups: int) -> dict[int, int]:
    """Exact sums of finite float64 ``x`` per group, in units of ``2**-1126``.

    Parameters
    ----------
    x : numpy.ndarray
        1-D finite float64 values.
    groups : numpy.ndarray or None
        1-D int64 group of each value in ``[0, num_groups)``; None means one group (0).
    num_groups : int
        The number of groups.

    Returns
    -------
    dict of int to int
        Group to exact sum; groups whose sum is zero may be missing.
    """
    out: dict[int, int] = {}
    for start in range(0, x.size, _EXACT_CHUNK):
        chunk = x[start : start + _EXACT_CHUNK]
        mantissa, exponent = np.frexp(chunk)
        m = np.ldexp(mantissa, 53).astype(np.int64)
        hi = m >> _LO_BITS
        lo = m - (hi << _LO_BITS)
        keys = exponent.astype(np.int64) + 1073
        if groups is not None:
            keys = keys + groups[start : start + _EXACT_CHUNK].astype(np.int64) * _EXP_SLOTS
        key_space = max(num_groups, 1) * _EXP_SLOTS
        if key_space <= 4 * chunk.size + _DENSE_KEYS:
            hi_sum = np.bincount(keys, weights=hi.astype(np.float64), minlength=key_space)
            lo_sum = np.bincount(keys, weights=lo.astype(np.float64), minlength=key_space)
            used = np.flatnonzero((hi_sum != 0) | (lo_sum != 0))
            hi_sum, lo_sum = hi_sum[used], lo_sum[used]
        else:
            used, inverse = np.unique(keys, return_inverse=True)
            hi_sum = np.bincount(inverse, weights=hi.astype(np.float64), minlength=used.size)
            lo_sum = np.bincount(inverse, weights=lo.astype(np.float64), minlength=used.size)
        for key, h, low in zip(used.tolist(), hi_sum.tolist(), lo_sum.tolist(), strict=True):
            group, shift = divmod(key, _EXP_SLOTS)
            value = ((int(h) << _LO_BITS) + int(low)) << shift
            out[group] = out.get(group, 0) + value
    return out


def _exact_to_float(value: int) -> float:
    """The float64 nearest to ``value * 2**-1126`` (+/-inf when it is out of range)."""
    try:
        return float(Fraction(value, 1 << _UNIT_BITS))
    except OverflowError:
        return math.inf if value > 0 else -math.inf


# ---------------------------------------------------------------------------------------
# Mean and variance
# ---------------------------------------------------------------------------------------


@dataclass
class _MeanVarAcc:
    """Count, mean and population variance (float64), per element when elementwise."""

    count: np.ndarray = field(default_factory=lambda: np.zeros((), np.int64))
    mean: np.ndarray = field(default_factory=lambda: np.zeros((), np.float64))
    var: np.ndarray = field(default_factory=lambda: np.zeros((), np.float64))
    shape: tuple[int, ...] | None = None


def _combine_mean_var(a: _MeanVarAcc, b: _MeanVarAcc) -> _MeanVarAcc:
    """TF.Transform's pairwise update, the accumulator with more values first."""
    shape = _same_shape("MeanVarCombiner", a.shape, b.shape)
    a_total, b_total = int(a.count.sum()), int(b.count.sum())
    if b_total == 0 and (a.shape is not None or b.shape is None):
        return _MeanVarAcc(a.count, a.mean, a.var, shape)
    if a_total == 0:
        return _MeanVarAcc(b.count, b.mean, b.var, shape)
    if a_total < b_total:
        a, b = b, a
    total = a.count + b.count
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(total > 0, b.count / np.where(total > 0, total, 1), 0.0)
    mean = a.mean + weight * (b.mean - a.mean)
    var = a.var + weight * (b.var - a.var + (b.mean - mean) * (b.mean - a.mean))
    return _MeanVarAcc(total, np.asarray(mean, np.float64), np.asarray(var, np.float64), shape)


class MeanVarCombiner(Combiner):
    """Mean and population variance (``ddof=0``), ignoring NaN and +/-inf.

    Count, mean and variance are kept in float64. A batch's partial is computed with
    numpy over its finite values; partials are combined with TF.Transform's pairwise update
    ``mean = a_mean + (b_n / n) * (b_mean - a_mean)``,
    ``var = a_var + (b_n / n) * (b_var - a_var + (b_mean - mean) * (b_mean - a_mean))``,
    the accumulator holding more values always taken as ``a``.

    Parameters
    ----------
    reduce_instance_dims : bool, default True
        True: one mean/var over all elements. False: one per element of the shape after
        the batch axis.
    output_dtype : numpy dtype, default numpy.float32
        float32 or float64; the outputs are cast to it at the end.

    Notes
    -----
    ``extract`` returns ``{"mean", "var"}`` of ``output_dtype``: 0-d arrays, or arrays of
    the instance shape when elementwise. An empty data set gives mean 0 and var 0. When
    elementwise, an element that never had a finite value gives NaN for both (as
    TF.Transform does for elementwise sparse inputs); if no batch was ever added the
    instance shape is unknown and both outputs have shape ``(0,)``.
    """

    def __init__(self, reduce_instance_dims: bool = True, output_dtype: Any = np.float32) -> None:
        self.reduce_instance_dims = _check_bool("reduce_instance_dims", reduce_instance_dims)
        self.output_dtype = _check_float_dtype("output_dtype", output_dtype)

    def create(self) -> _MeanVarAcc:
        """Return the accumulator of an empty data set (count 0)."""
        return _MeanVarAcc(shape=() if self.reduce_instance_dims else None)

    def _partial(self, values: Sequence[Any]) -> _MeanVarAcc:
        (array,) = _unpack(values, 1, "MeanVarCombiner", "the values")
        array = _numeric(array, "MeanVarCombiner")
        shape = _instance_shape(array, self.reduce_instance_dims)
        x = _rows(array, self.reduce_instance_dims, "MeanVarCombiner").astype(np.float64)
        if self.reduce_instance_dims:
            finite = x[np.isfinite(x)]
            if finite.size == 0:
                return _MeanVarAcc(shape=shape)
            return _MeanVarAcc(
                np.asarray(finite.size, np.int64),
                np.asarray(finite.mean(), np.float64),
                np.asarray(finite.var(), np.float64),
                shape,
            )
        mask = np.isfinite(x)
        count = mask.sum(axis=0).astype(np.int64)
        safe = np.where(count > 0, count, 1)
        mean = np.where(mask, x, 0.0).sum(axis=0) / safe
        deviation = np.where(mask, x - mean, 0.0)
        var = (deviation * deviation).sum(axis=0) / safe
        return _MeanVarAcc(count, mean, var, shape)

    def add_input(self, acc: _MeanVarAcc, values: Sequence[Any]) -> _MeanVarAcc:
        """Add one batch: ``values`` is ``[x]``, a numeric array."""
        return _combine_mean_var(acc, self._partial(values))

    def merge(self, accs: Sequence[_MeanVarAcc]) -> _MeanVarAcc:
        """Combine accumulators in order with the pairwise update."""
        result = self.create()
        for acc in accs:
            result = _combine_mean_var(result, acc)
        return result

    def extract(self, acc: _MeanVarAcc) -> dict[str, Any]:
        """Return ``{"mean", "var"}`` as ``output_dtype`` arrays."""
        if self.reduce_instance_dims:
            mean, var = acc.mean.reshape(()), acc.var.reshape(())
        elif acc.shape is None:
            mean = var = np.zeros((0,))
        else:
            empty = np.broadcast_to(acc.count, acc.mean.shape) == 0
            mean = np.where(empty, np.nan, acc.mean).reshape(acc.shape)
            var = np.where(empty, np.nan, acc.var).reshape(acc.shape)
        return {
            "mean": np.asarray(mean, self.output_dtype),
            "var": np.asarray(var, self.output_dtype),
        }


# ---------------------------------------------------------------------------------------
# Min and max
# ---------------------------------------------------------------------------------------


@dataclass
class _MinMaxAcc:
    """Running min and max (float64 for floats, int64 for integers)."""

    kind: str | None = None  # "i", "f" or None before the first batch
    dtype: np.dtype[Any] | None = None  # the inputs' promoted dtype
    shape: tuple[int, ...] | None = None
    min: np.ndarray | None = None
    max: np.ndarray | None = None
    rows: int = 0


def _minmax_output_dtype(kind: str | None, dtype: np.dtype[Any] | None) -> np.dtype[Any]:
    if kind == "i" and dtype is not None:
        return dtype
    if kind == "f" and dtype == np.float64:
        return np.dtype(np.float64)
    return np.dtype(np.float32)


class MinMaxCombiner(Combiner):
    """Minimum and maximum; NaN ignored, +/-inf included.

    Parameters
    ----------
    reduce_instance_dims : bool, default True
        True: over all elements. False: per element of the shape after the batch axis.

    Notes
    -----
    ``extract`` returns ``{"min", "max"}``. Output dtype: float32 for float16/float32
    inputs, float64 for float64 inputs (TF.Transform keeps the input's float type), and the
    input's integer dtype for integers (uint64 is not supported). NaN is ignored (TF.Transform's
    dense path does not filter NaN explicitly; ignoring it gives the same answer when there
    is no NaN and a useful one when there is). An empty data set gives ``min=+inf``,
    ``max=-inf`` for floats and ``min=dtype max``, ``max=dtype min`` for integers. Before
    any batch the dtype is unknown; float32 is assumed.
    """

    def __init__(self, reduce_instance_dims: bool = True) -> None:
        self.reduce_instance_dims = _check_bool("reduce_instance_dims", reduce_instance_dims)

    def create(self) -> _MinMaxAcc:
        """Return the accumulator of an empty data set."""
        return _MinMaxAcc(shape=() if self.reduce_instance_dims else None)

    def _partial(self, values: Sequence[Any]) -> _MinMaxAcc:
        (array,) = _unpack(values, 1, "MinMaxCombiner", "the values")
        array = _numeric(array, "MinMaxCombiner")
        shape = _instance_shape(array, self.reduce_instance_dims)
        x = _rows(array, self.reduce_instance_dims, "MinMaxCombiner")
        kind = "f" if array.dtype.kind == "f" else "i"
        rows = int(x.shape[0])
        if kind == "f":
            x = x.astype(np.float64)
            lo = np.fmin.reduce(x, axis=0, initial=np.inf)
            hi = np.fmax.reduce(x, axis=0, initial=-np.inf)
        else:
            x = x.astype(np.int64)
            info = np.iinfo(np.int64)
            lo = np.minimum.reduce(x, axis=0, initial=info.max)
            hi = np.maximum.reduce(x, axis=0, initial=info.min)
        return _MinMaxAcc(kind, array.dtype, shape, np.asarray(lo), np.asarray(hi), rows)

    @staticmethod
    def _combine(a: _MinMaxAcc, b: _MinMaxAcc) -> _MinMaxAcc:
        kind = _same_kind("MinMaxCombiner", a.kind, b.kind)
        shape = _same_shape("MinMaxCombiner", a.shape, b.shape)
        dtype = _promote(a.dtype, b.dtype)
        if a.min is None or a.max is None:
            return _MinMaxAcc(kind, dtype, shape, b.min, b.max, a.rows + b.rows)
        if b.min is None or b.max is None:
            return _MinMaxAcc(kind, dtype, shape, a.min, a.max, a.rows + b.rows)
        return _MinMaxAcc(
            kind,
            dtype,
            shape,
            np.asarray(np.fmin(a.min, b.min)),
            np.asarray(np.fmax(a.max, b.max)),
            a.rows + b.rows,
        )

    def add_input(self, acc: _MinMaxAcc, values: Sequence[Any]) -> _MinMaxAcc:
        """Add one batch: ``values`` is ``[x]``, a numeric array."""
        return self._combine(acc, self._partial(values))

    def merge(self, accs: Sequence[_MinMaxAcc]) -> _MinMaxAcc:
        """Take the elementwise min and max of the accumulators."""
        result = self.create()
        for acc in accs:
            result = self._combine(result, acc)
        return result

    def extract(self, acc: _MinMaxAcc) -> dict[str, Any]:
        """Return ``{"min", "max"}`` (see the class notes for dtypes and empty data)."""
        out = _minmax_output_dtype(acc.kind, acc.dtype)
        shape = acc.shape if acc.shape is not None else (0,)
        if out.kind == "f":
            lo_default, hi_default = np.inf, -np.inf
        else:
            lo_default, hi_default = np.iinfo(out).max, np.iinfo(out).min
        if acc.min is None or acc.max is None or acc.rows == 0:
            lo = np.full(shape, lo_default, out)
            hi = np.full(shape, hi_default, out)
        else:
            with np.errstate(over="ignore"):
                lo = acc.min.reshape(shape).astype(out)
                hi = acc.max.reshape(shape).astype(out)
        return {"min": np.asarray(lo), "max": np.asarray(hi)}


# ---------------------------------------------------------------------------------------
# Sum and size
# ---------------------------------------------------------------------------------------


@dataclass
class _SumAcc:
    """Exact sums as Python ints per element (units 1 for ints, ``2**-1126`` for floats)."""

    kind: str | None = None
    dtype: np.dtype[Any] | None = None
    shape: tuple[int, ...] | None = None
    totals: list[int] | None = None
    nan: np.ndarray | None = None  # per element: a NaN was seen (floats)
    pos_inf: np.ndarray | None = None
    neg_inf: np.ndarray | None = None


def _or(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    if b is None:
        return a
    return a | b


class SumCombiner(Combiner):
    """Sum of the values: integers as int64, float16/float32 as float32, float64 as float64.

    Parameters
    ----------
    reduce_instance_dims : bool, default True
        True: over all elements. False: per element of the shape after the batch axis.

    Notes
    -----
    ``extract`` returns ``{"sum"}``. Floats are summed *exactly* (as integers in units of
    ``2**-1126``) and rounded once to float64, then cast to the output dtype, so the result
    does not depend on batching or merge order at all; it is at least as accurate as
    float64 accumulation. NaN is not ignored (as in TF.Transform): any NaN, or both +inf
    and -inf, gives NaN; +inf or -inf alone gives that infinity. Integer sums wrap modulo
    ``2**64`` like int64 arithmetic. uint64 inputs are not supported. An empty data set
    gives 0; before any batch the dtype is unknown and float32 is assumed.
    """

    def __init__(self, reduce_instance_dims: bool = True) -> None:
        self.reduce_instance_dims = _check_bool("reduce_instance_dims", reduce_instance_dims)

    def create(self) -> _SumAcc:
        """Return the accumulator of an empty data set."""
        return _SumAcc(shape=() if self.reduce_instance_dims else None)

    def _partial(self, values: Sequence[Any]) -> _SumAcc:
        (array,) = _unpack(values, 1, "SumCombiner", "the values")
        array = _numeric(array, "SumCombiner")
        shape = _instance_shape(array, self.reduce_instance_dims)
        x = _rows(array, self.reduce_instance_dims, "SumCombiner")
        if self.reduce_instance_dims:
            x = x.reshape(-1, 1)
        size = int(x.shape[1])
        if array.dtype.kind in "iu":
            totals = x.astype(np.int64).sum(axis=0, dtype=np.int64).tolist()
            return _SumAcc("i", array.dtype, shape, [int(t) for t in totals])
        x = x.astype(np.float64)
        finite = np.isfinite(x)
        nan = np.isnan(x).any(axis=0)
        pos_inf = (x == np.inf).any(axis=0)
        neg_inf = (x == -np.inf).any(axis=0)
        rows, cols = np.nonzero(finite)
        sums = _exact_group_sums(x[rows, cols], cols.astype(np.int64), size)
        totals = [sums.get(i, 0) for i in range(size)]
        return _SumAcc("f", array.dtype, shape, totals, nan, pos_inf, neg_inf)

    @staticmethod
    def _combine(a: _SumAcc, b: _SumAcc) -> _SumAcc:
        kind = _same_kind("SumCombiner", a.kind, b.kind)
        shape = _same_shape("SumCombiner", a.shape, b.shape)
        dtype = _promote(a.dtype, b.dtype)
        if a.totals is None:
            totals = b.totals
        elif b.totals is None:
            totals = a.totals
        else:
            totals = [x + y for x, y in zip(a.totals, b.totals, strict=True)]
        return _SumAcc(
            kind,
            dtype,
            shape,
            totals,
            _or(a.nan, b.nan),
            _or(a.pos_inf, b.pos_inf),
            _or(a.neg_inf, b.neg_inf),
        )

    def add_input(self, acc: _SumAcc, values: Sequence[Any]) -> _SumAcc:
        """Add one batch: ``values`` is ``[x]``, a numeric array."""
        return self._combine(acc, self._partial(values))

    def merge(self, accs: Sequence[_SumAcc]) -> _SumAcc:
        """Add up the exact partial sums."""
        result = self.create()
        for acc in accs:
            result = self._combine(result, acc)
        return result

    def extract(self, acc: _SumAcc) -> dict[str, Any]:
        """Return ``{"sum"}`` (int64, float32 or float64; see the class notes)."""
        shape = acc.shape if acc.shape is not None else (0,)
        if acc.kind == "i":
            wrapped = [((t + (1 << 63)) % (1 << 64)) - (1 << 63) for t in acc.totals or []]
            return {"sum": np.asarray(wrapped, np.int64).reshape(shape)}
        out = np.dtype(np.float64) if acc.dtype == np.float64 else np.dtype(np.float32)
        if acc.totals is None:
            return {"sum": np.zeros(shape, out)}
        result = np.asarray([_exact_to_float(t) for t in acc.totals], np.float64)
        assert acc.nan is not None and acc.pos_inf is not None and acc.neg_inf is not None
        result = np.where(acc.pos_inf, np.inf, result)
        result = np.where(acc.neg_inf, -np.inf, result)
        result = np.where(acc.nan | (acc.pos_inf & acc.neg_inf), np.nan, result)
        with np.errstate(over="ignore"):
            return {"sum": result.reshape(shape).astype(out)}


@dataclass
class _SizeAcc:
    count: int = 0
    rows: int = 0
    shape: tuple[int, ...] | None = None


class SizeCombiner(Combiner):
    """The number of elements.

    Parameters
    ----------
    reduce_instance_dims : bool, default True
        True: all elements. False: per element of the shape after the batch axis (the
        number of rows, as an array of the instance shape).

    Notes
    -----
    ``extract`` returns ``{"size"}`` as int64 (0-d when reducing). NaN values count.
    """

    def __init__(self, reduce_instance_dims: bool = True) -> None:
        self.reduce_instance_dims = _check_bool("reduce_instance_dims", reduce_instance_dims)

    def create(self) -> _SizeAcc:
        """Return a zero count."""
        return _SizeAcc(shape=() if self.reduce_instance_dims else None)

    def add_input(self, acc: _SizeAcc, values: Sequence[Any]) -> _SizeAcc:
        """Add one batch: ``values`` is ``[x]``, an array of any dtype."""
        (array,) = _unpack(values, 1, "SizeCombiner", "the values")
        if isinstance(array, pa.Array | pa.ChunkedArray):
            array = np.empty(len(array) - array.null_count, np.int8)
        array = np.asarray(array)
        if not self.reduce_instance_dims and array.ndim == 0:
            _rows(array, False, "SizeCombiner")
        shape = _instance_shape(array, self.reduce_instance_dims)
        rows = int(array.shape[0]) if array.ndim else 1
        return _SizeAcc(
            acc.count + int(array.size),
            acc.rows + rows,
            _same_shape("SizeCombiner", acc.shape, shape),
        )

    def merge(self, accs: Sequence[_SizeAcc]) -> _SizeAcc:
        """Add up the counts."""
        result = self.create()
        for acc in accs:
            shape = _same_shape("SizeCombiner", result.shape, acc.shape)
            result = _SizeAcc(result.count + acc.count, result.rows + acc.rows, shape)
        return result

    def extract(self, acc: _SizeAcc) -> dict[str, Any]:
        """Return ``{"size"}`` as int64."""
        if self.reduce_instance_dims:
            return {"size": np.asarray(acc.count, np.int64)}
        shape = acc.shape if acc.shape is not None else (0,)
        return {"size": np.full(shape, acc.rows, np.int64)}


# ---------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------


@dataclass
class _VocabAcc:
    """Token (bytes) to count, or to exact weight sum (units ``2**-1126``) when weighted."""

    counts: dict[bytes, int] = field(default_factory=dict)
    kind: str | None = None  # "s" (strings), "i" (integers) or None before any batch


def _token_array(value: Any) -> tuple[pa.Array, str, np.ndarray | None]:
    """The batch's tokens as an Arrow binary array, their kind, and the valid mask."""
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        array = value
    else:
        numpy_value = np.asarray(value)
        if numpy_value.dtype.kind == "f" or numpy_value.dtype.kind not in "iuUSO":
            raise BadInputError(
                f"VocabularyCombiner needs strings or integers, got dtype {numpy_value.dtype}; "
                "bucketize floats first, or cast them to strings."
            )
        try:
            array = pa.array(numpy_value.reshape(-1))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise BadInputError(
                f"VocabularyCombiner could not read the batch's tokens as strings or "
                f"integers ({exc}); pass one array of str, bytes or integers."
            ) from exc
    if isinstance(array.type, pa.DictionaryType):
        array = array.dictionary_decode()
    if pa.types.is_null(array.type):
        array = array.cast(pa.binary())
    valid = None if array.null_count == 0 else array.is_valid().to_numpy(zero_copy_only=False)
    if pa.types.is_integer(array.type):
        try:
            return array.cast(pa.int64()), "i", valid
        except pa.ArrowInvalid as exc:
            raise BadInputError(
                f"VocabularyCombiner: integer tokens must fit in int64 ({exc}); "
                "cast them to strings first."
            ) from exc
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array.cast(pa.large_binary()), "s", valid
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        return array.cast(pa.large_binary()), "s", valid
    raise BadInputError(
        f"VocabularyCombiner needs strings or integers, got Arrow type {array.type}; "
        "cast the input to string or int64 first."
    )


def _to_token_bytes(distinct: pa.Array, kind: str) -> list[bytes]:
    if kind == "i":
        distinct = distinct.cast(pa.string())
    return distinct.cast(pa.large_binary()).to_pylist()


class VocabularyCombiner(Combiner):
    r"""Token counts, ordered and filtered as TF.Transform's ``vocabulary`` analyzer.

    Parameters
    ----------
    top_k : int or None, default None
        Keep the first ``top_k`` tokens after ordering; must be > 0.
    frequency_threshold : int or float or None, default None
        Keep tokens whose count is >= this; must be >= 0.
    store_frequency : bool, default False
        Recorded for the vocabulary writer (write ``"count token"`` lines); ``extract``
        always returns the counts.
    weighted : bool, default False
        When True, ``add_input`` takes ``[tokens, weights]`` and each token's "count" is the
        sum of its weights (float64), as TF.Transform's ``weights=``.

    Notes
    -----
    ``extract`` returns ``{"tokens": list[bytes], "counts": numpy.ndarray}`` (counts int64;
    float64 when weighted). Tokens are bytes; integer tokens become their decimal text.
    Order: count descending, then token bytes in reverse lexicographic order (sort key
    ``(count, token)`` with ``reverse=True``). Tokens that are empty or contain ``b"\n"``
    or ``b"\r"`` are discarded first, then ``frequency_threshold``, then ``top_k``. An
    empty result is the single dummy token :data:`DUMMY_STRING_TOKEN` (or
    :data:`DUMMY_INTEGER_TOKEN` for integer inputs) with count 1. Before any batch the
    input is taken to be strings. Null values (Arrow nulls, None) are missing and ignored.
    Weighted sums are exact (independent of batching and merge order) and rounded once;
    weights must be finite.
    """

    def __init__(
        self,
        top_k: int | None = None,
        frequency_threshold: float | None = None,
        store_frequency: bool = False,
        weighted: bool = False,
    ) -> None:
        if top_k is not None and (not _is_int(top_k) or top_k <= 0):
            raise ConfigError(
                f"top_k must be a positive integer or None, got {top_k!r}; pass top_k=None to "
                "keep every token, or e.g. top_k=10000."
            )
        if frequency_threshold is not None and (
            isinstance(frequency_threshold, bool | np.bool_)
            or not isinstance(frequency_threshold, int | float | np.integer | np.floating)
            or not frequency_threshold >= 0
        ):
            raise ConfigError(
                f"frequency_threshold must be a number >= 0 or None, got "
                f"{frequency_threshold!r}; pass e.g. frequency_threshold=5 to keep tokens seen "
                "at least 5 times, or None to keep all."
            )
        self.top_k = None if top_k is None else int(top_k)
        self.frequency_threshold = frequency_threshold
        self.store_frequency = _check_bool("store_frequency", store_frequency)
        self.weighted = _check_bool("weighted", weighted)

    def create(self) -> _VocabAcc:
        """Return an empty token table."""
        return _VocabAcc()

    def add_input(self, acc: _VocabAcc, values: Sequence[Any]) -> _VocabAcc:
        """Add one batch: ``[tokens]``, or ``[tokens, weights]`` when ``weighted``."""
        expected, what = (2, "tokens and weights") if self.weighted else (1, "the tokens")
        unpacked = _unpack(values, expected, "VocabularyCombiner", what)
        array, kind, valid = _token_array(unpacked[0])
        acc.kind = _same_kind("VocabularyCombiner", acc.kind, kind)
        counts = acc.counts
        if not self.weighted:
            if valid is not None:
                array = array.drop_null()
            if len(array) == 0:
                return acc
            table = pc.value_counts(array)
            tokens = _to_token_bytes(table.field("values"), kind)
            for token, count in zip(tokens, table.field("counts").to_pylist(), strict=True):
                counts[token] = counts.get(token, 0) + count
            return acc
        weights = np.asarray(unpacked[1], dtype=np.float64).reshape(-1)
        if weights.shape[0] != len(array):
            raise BadInputError(
                f"VocabularyCombiner: {weights.shape[0]} weights for {len(array)} tokens; "
                "pass one weight per token."
            )
        if valid is not None:
            array, weights = array.filter(pa.array(valid)), weights[valid]
        if not np.isfinite(weights).all():
            raise BadInputError(
                "VocabularyCombiner: weights must be finite, got NaN or inf; "
                "drop or fill those rows first."
            )
        if len(array) == 0:
            return acc
        encoded = array.dictionary_encode()
        indices = np.asarray(encoded.indices, dtype=np.int64)
        tokens = _to_token_bytes(encoded.dictionary, kind)
        sums = _exact_group_sums(weights, indices, len(tokens))
        for index, token in enumerate(tokens):
            counts[token] = counts.get(token, 0) + sums.get(index, 0)
        return acc

    def merge(self, accs: Sequence[_VocabAcc]) -> _VocabAcc:
        """Add up the token tables (the first one is copied, not modified)."""
        result = _VocabAcc()
        for acc in accs:
            result.kind = _same_kind("VocabularyCombiner", result.kind, acc.kind)
            if not result.counts:
                result.counts = dict(acc.counts)
                continue
            counts = result.counts
            for token, count in acc.counts.items():
                counts[token] = counts.get(token, 0) + count
        return result

    def extract(self, acc: _VocabAcc) -> dict[str, Any]:
        """Return ``{"tokens", "counts"}`` ordered and filtered (see the class notes)."""
        items: list[tuple[float | int, bytes]]
        if self.weighted:
            items = [(_exact_to_float(n), t) for t, n in acc.counts.items()]
        else:
            items = [(n, t) for t, n in acc.counts.items()]
        items = [(n, t) for n, t in items if t and b"\n" not in t and b"\r" not in t]
        items.sort(reverse=True)
        if self.frequency_threshold is not None:
            items = [(n, t) for n, t in items if n >= self.frequency_threshold]
        if self.top_k is not None:
            items = items[: self.top_k]
        dtype = np.float64 if self.weighted else np.int64
        if not items:
            dummy = DUMMY_INTEGER_TOKEN if acc.kind == "i" else DUMMY_STRING_TOKEN
            return {"tokens": [dummy], "counts": np.ones(1, dtype)}
        return {
            "tokens": [t for _, t in items],
            "counts": np.asarray([n for n, _ in items], dtype),
        }


# ---------------------------------------------------------------------------------------
# Quantiles
# ---------------------------------------------------------------------------------------

_KLL_MIN_K = 8
_KLL_MAX_K = 65535


def _kll() -> Any:
    try:
        datasketches = importlib.import_module("datasketches")
    except ImportError as exc:  # pragma: no cover - datasketches is a dependency
        from tensorbridge.errors import MissingDependencyError

        raise MissingDependencyError(
            "QuantilesCombiner needs Apache DataSketches beyond max_exact_values values; "
            "install it with: pip install 'datasketches>=5.1'."
        ) from exc
    return datasketches.kll_doubles_sketch


def kll_k_for_epsilon(epsilon: float) -> int:
    """The smallest KLL ``k`` whose normalized rank error is at most ``epsilon / 2``.

    Parameters
    ----------
    epsilon : float
        The quantiles' error tolerance (in rank).

    Returns
    -------
    int
        ``k`` in ``[8, 65535]`` (65535 when even that is not accurate enough).
    """
    sketch = _kll()
    target = epsilon / 2
    lo, hi = _KLL_MIN_K, _KLL_MAX_K
    if sketch.get_normalized_rank_error(hi, False) > target:
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if sketch.get_normalized_rank_error(mid, False) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass
class _QuantilesAcc:
    """Exact values (a list of float64 arrays) or, past the limit, one KLL sketch per element.

    Reducing: 1-D arrays of non-NaN values. Elementwise: 2-D ``[rows, elements]`` arrays,
    NaN kept (ignored at extract). Sketches are pickled as their serialized bytes.
    """

    shape: tuple[int, ...] | None = None
    count: int = 0  # stored values (exact) or values added (sketch)
    exact: list[np.ndarray] | None = field(default_factory=list)
    sketches: list[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.sketches is not None:
            state["sketches"] = [bytes(s.serialize()) for s in self.sketches]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("sketches") is not None:
            sketch = _kll()
            state["sketches"] = [sketch.deserialize(b) for b in state["sketches"]]
        self.__dict__.update(state)


class QuantilesCombiner(Combiner):
    """Quantile bucket boundaries: ``num_buckets - 1`` data values, duplicates kept.

    Parameters
    ----------
    num_buckets : int
        Number of buckets, >= 1 (1 gives no boundaries).
    epsilon : float or None, default None
        Error tolerance in rank, in (0, 1); default ``min(1 / num_buckets, 0.01)``.
        Only the sketch path is approximate.
    reduce_instance_dims : bool, default True
        True: over all elements. False: per element of the shape after the batch axis.
    max_exact_values : int, default 10_000_000
        Values are kept exactly while at most this many are stored (NaN included when
        elementwise); beyond that a KLL sketch is used.

    Notes
    -----
    ``extract`` returns ``{"boundaries"}``, float32 of shape ``(num_buckets - 1,)`` (or
    ``instance_shape + (num_buckets - 1,)`` when elementwise). NaN is ignored; +/-inf are
    values. With the ``n`` values sorted as ``v``, boundary ``i`` (``1 <= i < num_buckets``)
    is ``v[floor(i * n / num_buckets)]``, which reproduces TF.Transform's tests; the exact
    path is deterministic. No values gives zeros.

    Beyond ``max_exact_values`` the values go into an Apache DataSketches
    ``kll_doubles_sketch`` with ``k`` chosen so that its normalized rank error is at most
    ``epsilon / 2`` (``k <= 65535``), queried at ranks ``i / num_buckets`` (nudged up one
    ulp) with ``inclusive=False``, the criterion that reproduces the exact rule while the
    sketch still holds every value. The results are then within the sketch's rank error,
    and not bit-reproducible (KLL compaction is randomized).
    """

    def __init__(
        self,
        num_buckets: int,
        epsilon: float | None = None,
        reduce_instance_dims: bool = True,
        max_exact_values: int = 10_000_000,
    ) -> None:
        if not _is_int(num_buckets) or num_buckets < 1:
            raise ConfigError(
                f"num_buckets must be an integer >= 1, got {num_buckets!r}; pass the number of "
                "quantile buckets, e.g. num_buckets=10."
            )
        if epsilon is not None and (
            isinstance(epsilon, bool | np.bool_)
            or not isinstance(epsilon, int | float | np.integer | np.floating)
            or not 0 < epsilon < 1
        ):
            raise ConfigError(
                f"epsilon must be a number in (0, 1) or None, got {epsilon!r}; pass e.g. "
                "epsilon=0.01, or None for min(1 / num_buckets, 0.01)."
            )
        if not _is_int(max_exact_values) or max_exact_values < 0:
            raise ConfigError(
                f"max_exact_values must be an integer >= 0, got {max_exact_values!r}; pass "
                "the number of values to keep exactly before switching to a sketch."
            )
        self.num_buckets = int(num_buckets)
        self.epsilon = float(epsilon) if epsilon is not None else min(1.0 / self.num_buckets, 0.01)
        self.reduce_instance_dims = _check_bool("reduce_instance_dims", reduce_instance_dims)
        self.max_exact_values = int(max_exact_values)

    @property
    def k(self) -> int:
        """The KLL ``k`` used beyond ``max_exact_values`` (from ``epsilon``)."""
        return kll_k_for_epsilon(self.epsilon)

    def create(self) -> _QuantilesAcc:
        """Return an empty exact accumulator."""
        return _QuantilesAcc(shape=() if self.reduce_instance_dims else None)

    def _values(self, values: Sequence[Any]) -> tuple[np.ndarray, tuple[int, ...]]:
        (array,) = _unpack(values, 1, "QuantilesCombiner", "the values")
        array = _numeric(array, "QuantilesCombiner")
        shape = _instance_shape(array, self.reduce_instance_dims)
        x = _rows(array, self.reduce_instance_dims, "QuantilesCombiner").astype(np.float64)
        if self.reduce_instance_dims:
            x = x[~np.isnan(x)]
        return x, shape

    def _new_sketches(self, shape: tuple[int, ...] | None) -> list[Any]:
        sketch, k = _kll(), self.k
        size = int(np.prod(shape)) if shape is not None else 1
        return [sketch(k) for _ in range(size)]

    def _update_sketches(self, sketches: list[Any], x: np.ndarray) -> None:
        if self.reduce_instance_dims:
            if x.size:
                sketches[0].update(x)
            return
        for j, sketch in enumerate(sketches):
            column = x[:, j]
            column = column[~np.isnan(column)]
            if column.size:
                sketch.update(np.ascontiguousarray(column))

    def _to_sketch(self, acc: _QuantilesAcc) -> _QuantilesAcc:
        sketches = self._new_sketches(acc.shape)
        for x in acc.exact or []:
            self._update_sketches(sketches, x)
        return _QuantilesAcc(acc.shape, acc.count, None, sketches)

    def add_input(self, acc: _QuantilesAcc, values: Sequence[Any]) -> _QuantilesAcc:
        """Add one batch: ``values`` is ``[x]``, a numeric array."""
        x, shape = self._values(values)
        acc.shape = _same_shape("QuantilesCombiner", acc.shape, shape)
        if acc.exact is not None and acc.count + x.size > self.max_exact_values:
            acc = self._to_sketch(acc)
        if acc.exact is not None:
            acc.exact.append(x)
        else:
            assert acc.sketches is not None
            self._update_sketches(acc.sketches, x)
        acc.count += int(x.size)
        return acc

    def merge(self, accs: Sequence[_QuantilesAcc]) -> _QuantilesAcc:
        """Concatenate exact values while they fit, else merge into sketches."""
        result = self.create()
        for acc in accs:
            shape = _same_shape("QuantilesCombiner", result.shape, acc.shape)
            count = result.count + acc.count
            if (
                result.exact is not None
                and acc.exact is not None
                and count <= self.max_exact_values
            ):
                result = _QuantilesAcc(shape, count, [*result.exact, *acc.exact])
                continue
            if result.exact is not None:
                result = self._to_sketch(_QuantilesAcc(shape, result.count, result.exact))
            assert result.sketches is not None
            if acc.exact is not None:
                self._update_sketches(result.sketches, self._stack(acc.exact, shape))
            else:
                assert acc.sketches is not None
                for mine, theirs in zip(result.sketches, acc.sketches, strict=True):
                    mine.merge(theirs)
            result = _QuantilesAcc(shape, count, None, result.sketches)
        return result

    def _stack(self, parts: list[np.ndarray], shape: tuple[int, ...] | None) -> np.ndarray:
        if self.reduce_instance_dims:
            return np.concatenate(parts) if parts else np.zeros(0)
        size = int(np.prod(shape)) if shape is not None else 0
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, size))

    def extract(self, acc: _QuantilesAcc) -> dict[str, Any]:
        """Return ``{"boundaries"}`` as float32 (see the class notes)."""
        width = self.num_buckets - 1
        shape = acc.shape if acc.shape is not None else (0,)
        size = int(np.prod(shape))
        ranks = np.arange(1, width + 1, dtype=np.int64)
        if acc.exact is not None:
            x = self._stack(acc.exact, acc.shape)
            if self.reduce_instance_dims:
                x = x.reshape(-1, 1)
            x = np.sort(x, axis=0)  # NaN sorts last
            n = (~np.isnan(x)).sum(axis=0).astype(np.int64)
            index = (ranks[:, None] * n[None, :]) // self.num_buckets
            index = np.minimum(index, np.maximum(n - 1, 0)[None, :])
            if x.shape[0] == 0:
                result = np.zeros((width, x.shape[1]))
            else:
                result = np.take_along_axis(x, index, axis=0)
                result = np.where(n[None, :] > 0, result, 0.0)
        else:
            assert acc.sketches is not None
            query = np.nextafter(ranks / self.num_buckets, 2.0).tolist()
            columns = []
            for sketch in acc.sketches:
                if sketch.is_empty() or width == 0:
                    columns.append(np.zeros(width))
                else:
                    columns.append(np.asarray(sketch.get_quantiles(query, False), np.float64))
            result = np.stack(columns, axis=1) if columns else np.zeros((width, 0))
        boundaries = result.T.reshape((*shape, width)) if size else np.zeros((*shape, width))
        if self.reduce_instance_dims:
            boundaries = boundaries.reshape(width)
        with np.errstate(over="ignore"):
            return {"boundaries": boundaries.astype(np.float32)}


# ---------------------------------------------------------------------------------------
# Covariance and PCA
# ---------------------------------------------------------------------------------------


@dataclass
class _CovarianceAcc:
    """Count, sum of vectors (d,) and sum of outer products (d, d), in float64."""

    count: int = 0
    sum: np.ndarray | None = None
    sum_outer: np.ndarray | None = None


class CovarianceCombiner(Combiner):
    """Biased covariance ``E[x x^T] - E[x] E[x]^T`` of ``[n, d]`` inputs.

    Parameters
    ----------
    output_dtype : numpy dtype, default numpy.float32
        float32 or float64.

    Notes
    -----
    ``extract`` returns ``{"covariance"}`` of shape ``(d, d)`` and ``output_dtype``. Sums
    are float64; NaN and inf are not filtered (they propagate, as in TF.Transform). No
    rows gives zeros; if no batch was ever added, ``d`` is unknown and the shape is
    ``(0, 0)``.
    """

    def __init__(self, output_dtype: Any = np.float32) -> None:
        self.output_dtype = _check_float_dtype("output_dtype", output_dtype)

    def create(self) -> _CovarianceAcc:
        """Return the accumulator of an empty data set."""
        return _CovarianceAcc()

    def add_input(self, acc: _CovarianceAcc, values: Sequence[Any]) -> _CovarianceAcc:
        """Add one batch: ``values`` is ``[x]`` with ``x`` of shape ``[n, d]``."""
        name = type(self).__name__
        (array,) = _unpack(values, 1, name, "the [n, d] values")
        array = _numeric(array, name)
        if array.ndim != 2:
            raise BadInputError(
                f"{name} needs a rank-2 [n, d] array, got shape {array.shape}; "
                "stack the features with np.stack(..., axis=1)."
            )
        x = array.astype(np.float64)
        partial = _CovarianceAcc(int(x.shape[0]), x.sum(axis=0), x.T @ x)
        return self._combine(acc, partial)

    def _combine(self, a: _CovarianceAcc, b: _CovarianceAcc) -> _CovarianceAcc:
        if a.sum is None or a.sum_outer is None:
            return _CovarianceAcc(a.count + b.count, b.sum, b.sum_outer)
        if b.sum is None or b.sum_outer is None:
            return _CovarianceAcc(a.count + b.count, a.sum, a.sum_outer)
        if a.sum.shape != b.sum.shape:
            raise BadInputError(
                f"{type(self).__name__}: the width d changed from {a.sum.shape[0]} to "
                f"{b.sum.shape[0]}; every batch must have the same number of columns."
            )
        return _CovarianceAcc(a.count + b.count, a.sum + b.sum, a.sum_outer + b.sum_outer)

    def merge(self, accs: Sequence[_CovarianceAcc]) -> _CovarianceAcc:
        """Add up counts, sums and sums of outer products."""
        result = self.create()
        for acc in accs:
            result = self._combine(result, acc)
        return result

    @staticmethod
    def _covariance(acc: _CovarianceAcc) -> np.ndarray:
        if acc.sum is None or acc.sum_outer is None:
            return np.zeros((0, 0))
        if acc.count == 0:
            return np.zeros_like(acc.sum_outer)
        mean = acc.sum / acc.count
        return np.asarray(acc.sum_outer / acc.count - np.outer(mean, mean))

    def extract(self, acc: _CovarianceAcc) -> dict[str, Any]:
        """Return ``{"covariance"}``, shape ``(d, d)``."""
        return {"covariance": self._covariance(acc).astype(self.output_dtype)}


class PcaCombiner(CovarianceCombiner):
    """Principal axes: eigenvectors of the biased covariance, largest eigenvalue first.

    Parameters
    ----------
    output_dim : int or None, default None
        Number of axes to keep (columns); None keeps all ``d``. Must be >= 1.
    output_dtype : numpy dtype, default numpy.float32
        float32 or float64.

    Notes
    -----
    ``extract`` returns ``{"pca"}`` of shape ``(d, output_dim)``: ``numpy.linalg.eigh`` of
    the covariance, columns reordered by descending eigenvalue (ties keep eigh's order
    reversed, as TF.Transform's ``argsort(...)[::-1]``). With no rows the result is
    ``np.eye(d, output_dim)``. An ``output_dim`` larger than ``d`` gives ``d`` columns
    when there is data (eigenvectors are sliced).
    """

    def __init__(self, output_dim: int | None = None, output_dtype: Any = np.float32) -> None:
        super().__init__(output_dtype=output_dtype)
        if output_dim is not None and (not _is_int(output_dim) or output_dim < 1):
            raise ConfigError(
                f"output_dim must be an integer >= 1 or None, got {output_dim!r}; pass the "
                "number of principal components to keep, or None for all of them."
            )
        self.output_dim = None if output_dim is None else int(output_dim)

    def extract(self, acc: _CovarianceAcc) -> dict[str, Any]:
        """Return ``{"pca"}``, shape ``(d, output_dim)``."""
        d = 0 if acc.sum is None else int(acc.sum.shape[0])
        columns = d if self.output_dim is None else self.output_dim
        if acc.count == 0:
            return {"pca": np.eye(d, columns, dtype=self.output_dtype)}
        _, vectors = np.linalg.eigh(self._covariance(acc))
        return {"pca": vectors[:, ::-1][:, :columns].astype(self.output_dtype)}


# ---------------------------------------------------------------------------------------
# Document frequency
# ---------------------------------------------------------------------------------------


@dataclass
class _DocumentFrequencyAcc:
    counts: np.ndarray
    num_documents: int = 0


class DocumentFrequencyCombiner(Combiner):
    """Per term id, the number of documents that contain it (for tf-idf).

    Parameters
    ----------
    vocab_size : int
        Term ids are in ``[0, vocab_size)``; must be >= 1.

    Notes
    -----
    ``add_input`` takes ``[values, row_splits]``: int term ids and the row splits of a
    ragged tensor (``len = num_documents + 1``). A term repeated inside one document
    counts once. Ids outside ``[0, vocab_size)`` are ignored (not counted; the document
    still counts). ``extract`` returns ``{"document_frequency": int64 (vocab_size,),
    "num_documents": int64 0-d}``.
    """

    def __init__(self, vocab_size: int) -> None:
        if not _is_int(vocab_size) or vocab_size < 1:
            raise ConfigError(
                f"vocab_size must be an integer >= 1, got {vocab_size!r}; pass the number of "
                "term ids including any OOV buckets."
            )
        self.vocab_size = int(vocab_size)

    def create(self) -> _DocumentFrequencyAcc:
        """Return zero counts."""
        return _DocumentFrequencyAcc(np.zeros(self.vocab_size, np.int64))

    def add_input(self, acc: _DocumentFrequencyAcc, values: Sequence[Any]) -> _DocumentFrequencyAcc:
        """Add one batch: ``[values, row_splits]`` (see the class notes)."""
        ids, splits = _unpack(values, 2, "DocumentFrequencyCombiner", "values and row_splits")
        ids = np.asarray(ids).reshape(-1)
        splits = np.asarray(splits).reshape(-1)
        if ids.dtype.kind not in "iu" or splits.dtype.kind not in "iu":
            raise BadInputError(
                f"DocumentFrequencyCombiner needs integer term ids and row splits, got "
                f"{ids.dtype} and {splits.dtype}; map tokens to ids first."
            )
        if (
            splits.size == 0
            or splits[0] != 0
            or splits[-1] != ids.size
            or (np.diff(splits) < 0).any()
        ):
            raise BadInputError(
                f"DocumentFrequencyCombiner: row_splits must start at 0, never decrease and "
                f"end at len(values)={ids.size}, got {splits[:10].tolist()}"
                f"{'...' if splits.size > 10 else ''}; pass a RaggedTensor's row_splits."
            )
        num_docs = int(splits.size - 1)
        ids = ids.astype(np.int64)
        doc = np.repeat(np.arange(num_docs, dtype=np.int64), np.diff(splits).astype(np.int64))
        keep = (ids >= 0) & (ids < self.vocab_size)
        ids, doc = ids[keep], doc[keep]
        if ids.size:
            if num_docs * self.vocab_size < (1 << 62):
                unique = np.unique(doc * self.vocab_size + ids) % self.vocab_size
            else:
                order = np.lexsort((ids, doc))
                ids, doc = ids[order], doc[order]
                first = np.ones(ids.size, bool)
                first[1:] = (ids[1:] != ids[:-1]) | (doc[1:] != doc[:-1])
                unique = ids[first]
            acc.counts = acc.counts + np.bincount(unique, minlength=self.vocab_size)
        acc.num_documents += num_docs
        return acc

    def merge(self, accs: Sequence[_DocumentFrequencyAcc]) -> _DocumentFrequencyAcc:
        """Add up the counts."""
        result = self.create()
        for acc in accs:
            if acc.counts.shape != result.counts.shape:
                raise BadInputError(
                    f"DocumentFrequencyCombiner: an accumulator has {acc.counts.shape[0]} "
                    f"counts, expected vocab_size={self.vocab_size}; merge accumulators of "
                    "the same combiner only."
                )
            result = _DocumentFrequencyAcc(
                result.counts + acc.counts, result.num_documents + acc.num_documents
            )
        return result

    def extract(self, acc: _DocumentFrequencyAcc) -> dict[str, Any]:
        """Return ``{"document_frequency", "num_documents"}`` as int64."""
        return {
            "document_frequency": acc.counts.astype(np.int64),
            "num_documents": np.asarray(acc.num_documents, np.int64),
        }
