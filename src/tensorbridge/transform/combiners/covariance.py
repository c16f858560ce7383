"""Second moments of ``[n, d]`` inputs: covariance and principal axes.

:class:`CovarianceCombiner` accumulates the count, the sum of vectors and the sum of
outer products in float64; :class:`PcaCombiner` shares that accumulator and extracts the
eigenvectors of the resulting covariance instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.errors import BadInputError, ConfigError
from tensorbridge.transform.combiners.base import (
    Combiner,
    _check_float_dtype,
    _is_int,
    _numeric,
    _unpack,
)

__all__ = ["CovarianceCombiner", "PcaCombiner"]


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
