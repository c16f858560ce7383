"""Quantile bucket boundaries: exact while the values fit, then a KLL sketch.

:class:`QuantilesCombiner` keeps the values exactly up to ``max_exact_values`` and then
switches to Apache DataSketches' ``kll_doubles_sketch``, whose ``k`` comes from
:func:`kll_k_for_epsilon`.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorbridge.errors import ConfigError
from tensorbridge.transform.combiners.base import (
    Combiner,
    _check_bool,
    _instance_shape,
    _is_int,
    _numeric,
    _rows,
    _same_shape,
    _unpack,
)

__all__ = ["QuantilesCombiner", "kll_k_for_epsilon"]

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
