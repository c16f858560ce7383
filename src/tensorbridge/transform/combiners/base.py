"""The :class:`Combiner` interface and the input checks shared by every combiner.

A combiner is a mergeable accumulator (``create``, ``add_input`` per batch, ``merge``,
``extract``). The private helpers here validate constructor arguments, unpack the list of
arrays given to ``add_input``, reshape numeric batches for reducing or elementwise
analysis, and reconcile the shape, kind and dtype that successive batches report.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from tensorbridge.errors import BadInputError, ConfigError

__all__ = ["Combiner"]


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
