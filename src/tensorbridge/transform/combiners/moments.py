"""Moment-like reductions: mean and variance, min and max, sum, and size.

:class:`MeanVarCombiner`, :class:`MinMaxCombiner`, :class:`SumCombiner` and
:class:`SizeCombiner` reduce a numeric input over all of its elements, or per element of
the shape after the batch axis (``reduce_instance_dims=False``), into small fixed-size
accumulators that merge in any partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from tensorbridge.transform.combiners.base import (
    Combiner,
    _check_bool,
    _check_float_dtype,
    _instance_shape,
    _numeric,
    _promote,
    _rows,
    _same_kind,
    _same_shape,
    _unpack,
)
from tensorbridge.transform.combiners.exact import _exact_group_sums, _exact_to_float

__all__ = ["MeanVarCombiner", "MinMaxCombiner", "SizeCombiner", "SumCombiner"]


# ---------------------------------------------------------------------------------------
# Mean and variance
# ---------------------------------------------------------------------------------------


def _numeric_rows(
    values: Sequence[Any], reduce_instance_dims: bool, combiner: str
) -> tuple[np.ndarray, tuple[int, ...], np.ndarray]:
    """The one numeric input of a batch: the array, its instance shape, and its rows."""
    (array,) = _unpack(values, 1, combiner, "the values")
    array = _numeric(array, combiner)
    shape = _instance_shape(array, reduce_instance_dims)
    return array, shape, _rows(array, reduce_instance_dims, combiner)


class _FoldingCombiner(Combiner):
    """A combiner whose batches become partial accumulators folded in by ``_combine``."""

    def _partial(self, values: Sequence[Any]) -> Any:
        raise NotImplementedError

    @staticmethod
    def _combine(a: Any, b: Any) -> Any:
        raise NotImplementedError

    def add_input(self, acc: Any, values: Sequence[Any]) -> Any:
        """Add one batch: ``values`` is ``[x]``, a numeric array."""
        return self._combine(acc, self._partial(values))

    def merge(self, accs: Sequence[Any]) -> Any:
        """Fold the accumulators into an empty one, in order."""
        result = self.create()
        for acc in accs:
            result = self._combine(result, acc)
        return result


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
        _, shape, x = _numeric_rows(values, self.reduce_instance_dims, "MeanVarCombiner")
        x = x.astype(np.float64)
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


class MinMaxCombiner(_FoldingCombiner):
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
        array, shape, x = _numeric_rows(values, self.reduce_instance_dims, "MinMaxCombiner")
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


class SumCombiner(_FoldingCombiner):
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
        array, shape, x = _numeric_rows(values, self.reduce_instance_dims, "SumCombiner")
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
