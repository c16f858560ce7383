"""Analyzers: full-pass statistics with TF.Transform's names, parameters and semantics.

Each analyzer returns a tensor whose value is computed over the whole data set (see
:mod:`tensorbridge.transform.context` for how). The math lives in
:mod:`tensorbridge.transform.combiners`, mergeable so that partitions combine on any
engine.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from tensorbridge._optional import import_optional
from tensorbridge.errors import TransformError
from tensorbridge.transform import combiners as c
from tensorbridge.transform.context import PENDING_PREFIX, PendingAnalyzer, current

__all__ = [
    "covariance",
    "max",
    "mean",
    "min",
    "pca",
    "quantiles",
    "size",
    "sum",
    "var",
    "vocabulary",
]


def _tf() -> Any:
    return import_optional("tensorflow")


def _values(x: Any) -> Any:
    """The present values of a dense, sparse or ragged tensor."""
    tf = _tf()
    if isinstance(x, tf.SparseTensor):
        return x.values
    if isinstance(x, tf.RaggedTensor):
        return x.flat_values
    if isinstance(x, tf.Tensor):
        return x
    raise TransformError(
        f"Analyzers take a tf.Tensor, tf.SparseTensor or tf.RaggedTensor, got {type(x).__name__}."
    )


def _check_numeric(x: Any, analyzer: str) -> None:
    tf = _tf()
    dtype = _values(x).dtype
    if not (dtype.is_integer or dtype.is_floating):
        features = current().features_of(x) or ["(computed value)"]
        raise TransformError(
            f"{analyzer} needs numbers, but feature {', '.join(map(repr, features))} is a "
            f"{dtype.name} tensor. For strings use tbt.compute_and_apply_vocabulary (or "
            "tbt.hash_strings); to use a numeric string, convert it with "
            "tf.strings.to_number first."
        )
    del tf


def analyze(
    kind: str,
    inputs: list[Any],
    combiner: Any,
    outputs: dict[str, tuple[list[int], Any]],
    *,
    name: str | None,
    source: Any,
) -> dict[str, Any]:
    """Register an analyzer in the active trace; return its results or placeholders.

    ``outputs`` maps each result name to ``(shape, tf dtype)``.
    """
    tf = _tf()
    context = current()
    features = context.features_of(source)
    key = context.analyzer_key(kind, name, features)
    known = context.results.get(key)
    if known is not None:
        return {
            out: tf.constant(np.asarray(known[out]), dtype=dtype, shape=shape)
            for out, (shape, dtype) in outputs.items()
        }
    dense_inputs = [_values(t) for t in inputs]
    ready = not context.depends_on_pending(*dense_inputs)
    context.pending[key] = PendingAnalyzer(key, kind, combiner, dense_inputs, features, ready)
    # Placeholders are named tb_pending_*, so anything computed from them (another
    # analyzer's input, say) is recognised as depending on this analyzer.
    safe = "".join(ch if ch.isalnum() else "_" for ch in key)
    placeholders = {}
    for out, (shape, dtype) in outputs.items():
        zeros = tf.fill(shape, "") if dtype == tf.string else tf.zeros(shape, dtype=dtype)
        placeholders[out] = tf.identity(zeros, name=f"{PENDING_PREFIX}_{safe}_{out}")
    return placeholders


def _stat_dtype(x: Any, output_dtype: Any) -> Any:
    tf = _tf()
    if output_dtype is not None:
        return tf.as_dtype(output_dtype)
    dtype = _values(x).dtype
    return tf.float64 if dtype == tf.float64 else tf.float32


def _instance_shape(x: Any, reduce_instance_dims: bool) -> list[int]:
    if reduce_instance_dims:
        return []
    shape = _values(x).shape.as_list()[1:]
    if any(d is None for d in shape):
        raise TransformError(
            f"reduce_instance_dims=False needs a fully known shape after the batch "
            f"dimension; got {_values(x).shape}."
        )
    return shape


def mean_and_var(
    x: Any, reduce_instance_dims: bool = True, name: str | None = None, output_dtype: Any = None
) -> tuple[Any, Any]:
    """Mean and population variance of ``x`` in one analyzer (NaN and inf ignored)."""
    _check_numeric(x, "mean/var")
    dtype = _stat_dtype(x, output_dtype)
    shape = _instance_shape(x, reduce_instance_dims)
    combiner = c.MeanVarCombiner(
        reduce_instance_dims=reduce_instance_dims, output_dtype=np.dtype(dtype.as_numpy_dtype)
    )
    result = analyze(
        "mean_and_var",
        [x],
        combiner,
        {"mean": (shape, dtype), "var": (shape, dtype)},
        name=name,
        source=x,
    )
    return result["mean"], result["var"]


def mean(
    x: Any, reduce_instance_dims: bool = True, name: str | None = None, output_dtype: Any = None
) -> Any:
    """The mean of ``x`` over the whole data set; NaN and inf values are ignored.

    Integer inputs give float32. An empty data set gives 0.

    Examples
    --------
    >>> def preprocessing_fn(inputs):  # doctest: +SKIP
    ...     return {"fare_centered": inputs["fare"] - tbt.mean(inputs["fare"])}
    """
    return mean_and_var(x, reduce_instance_dims, name, output_dtype)[0]


def var(
    x: Any, reduce_instance_dims: bool = True, name: str | None = None, output_dtype: Any = None
) -> Any:
    """The population variance of ``x`` (``ddof=0``, as TF.Transform); NaN and inf ignored."""
    return mean_and_var(x, reduce_instance_dims, name, output_dtype)[1]


def min_and_max(
    x: Any, reduce_instance_dims: bool = True, name: str | None = None
) -> tuple[Any, Any]:
    """Minimum and maximum of ``x`` in one analyzer (NaN ignored)."""
    tf = _tf()
    _check_numeric(x, "min/max")
    in_dtype = _values(x).dtype
    dtype = tf.float32 if in_dtype in (tf.float16, tf.float32) else in_dtype
    shape = _instance_shape(x, reduce_instance_dims)
    combiner = c.MinMaxCombiner(reduce_instance_dims=reduce_instance_dims)
    result = analyze(
        "min_and_max",
        [x],
        combiner,
        {"min": (shape, dtype), "max": (shape, dtype)},
        name=name,
        source=x,
    )
    return result["min"], result["max"]


def min(x: Any, reduce_instance_dims: bool = True, name: str | None = None) -> Any:
    """The minimum of ``x`` (NaN ignored; empty data: +inf for floats, the dtype's max for ints)."""
    return min_and_max(x, reduce_instance_dims, name)[0]


def max(x: Any, reduce_instance_dims: bool = True, name: str | None = None) -> Any:
    """The maximum of ``x`` (NaN ignored; empty data: -inf for floats, the dtype's min for ints)."""
    return min_and_max(x, reduce_instance_dims, name)[1]


def sum(x: Any, reduce_instance_dims: bool = True, name: str | None = None) -> Any:
    """The sum of ``x``: integers as int64, float16 as float32; empty data gives 0."""
    tf = _tf()
    _check_numeric(x, "sum")
    in_dtype = _values(x).dtype
    dtype = (
        tf.int64 if in_dtype.is_integer else (tf.float64 if in_dtype == tf.float64 else tf.float32)
    )
    shape = _instance_shape(x, reduce_instance_dims)
    result = analyze("sum", [x], c.SumCombiner(), {"sum": (shape, dtype)}, name=name, source=x)
    return result["sum"]


def size(x: Any, reduce_instance_dims: bool = True, name: str | None = None) -> Any:
    """The number of elements of ``x`` (for a sparse tensor: present values only)."""
    tf = _tf()
    del reduce_instance_dims
    result = analyze("size", [x], c.SizeCombiner(), {"size": ([], tf.int64)}, name=name, source=x)
    return result["size"]


def vocabulary(
    x: Any,
    *,
    top_k: int | None = None,
    frequency_threshold: int | None = None,
    vocab_filename: str | None = None,
    store_frequency: bool = False,
    name: str | None = None,
) -> Any:
    """Compute the vocabulary of ``x`` and return its file name, for :func:`apply_vocabulary`.

    Tokens are ordered by count, most frequent first, ties in reverse lexicographic order
    (TF.Transform's rule, also for integer tokens, which become their decimal text).
    ``frequency_threshold`` keeps tokens seen at least that often; ``top_k`` keeps the
    first ``top_k``. Empty tokens and tokens holding a newline are dropped. An empty
    vocabulary holds one dummy token, as in TF.Transform.
    """
    tf = _tf()
    context = current()
    dtype = _values(x).dtype
    if not (dtype == tf.string or dtype.is_integer):
        features = context.features_of(x) or ["(computed value)"]
        raise TransformError(
            f"vocabulary needs strings or integers, but feature {', '.join(map(repr, features))} "
            f"is a {dtype.name} tensor. Bucketize floats with tbt.bucketize first."
        )
    chosen = vocab_filename or name
    if chosen is not None and not all(ch.isalnum() or ch in "._-" for ch in chosen):
        raise TransformError(
            f"vocab_filename/name {chosen!r} may hold only letters, digits, '.', '_' and '-'."
        )
    combiner = c.VocabularyCombiner(
        top_k=top_k, frequency_threshold=frequency_threshold, store_frequency=store_frequency
    )
    result = analyze(
        "vocabulary", [x], combiner, {"filename": ([], tf.string)}, name=chosen, source=x
    )
    # Known: a constant holding the vocabulary's name (its file name among the assets).
    # Pending: a placeholder that apply_vocabulary recognises.
    return result["filename"]


def quantiles(
    x: Any,
    num_buckets: int,
    epsilon: float | None = None,
    name: str | None = None,
    reduce_instance_dims: bool = True,
) -> Any:
    """The ``num_buckets - 1`` quantile boundaries of ``x``, shape ``[1, num_buckets - 1]``.

    Boundaries are data values, duplicates kept (TF.Transform's rule); NaN is ignored.
    Exact up to 10 million values per analyzer, then a KLL sketch whose rank error is at
    most ``epsilon / 2`` (default ``epsilon = min(1 / num_buckets, 0.01)``).
    """
    tf = _tf()
    _check_numeric(x, "quantiles")
    if not reduce_instance_dims:
        raise TransformError("quantiles(reduce_instance_dims=False) is not supported yet.")
    combiner = c.QuantilesCombiner(num_buckets, epsilon=epsilon)
    width = builtins.max(num_buckets - 1, 0)
    result = analyze(
        "quantiles", [x], combiner, {"boundaries": ([width], tf.float32)}, name=name, source=x
    )
    return tf.reshape(result["boundaries"], [1, width])


def covariance(x: Any, dtype: Any = None, name: str | None = None) -> Any:
    """The biased covariance matrix ``E[(x - mean)(x - mean)^T]`` of a ``[batch, d]`` tensor."""
    tf = _tf()
    _check_numeric(x, "covariance")
    width = _rank2_width(x, "covariance")
    out = tf.as_dtype(dtype) if dtype is not None else tf.float32
    combiner = c.CovarianceCombiner(output_dtype=np.dtype(out.as_numpy_dtype))
    result = analyze(
        "covariance", [x], combiner, {"covariance": ([width, width], out)}, name=name, source=x
    )
    return result["covariance"]


def pca(x: Any, output_dim: int | None = None, dtype: Any = None, name: str | None = None) -> Any:
    """The top ``output_dim`` principal axes of ``x`` as a ``[d, output_dim]`` matrix."""
    tf = _tf()
    _check_numeric(x, "pca")
    width = _rank2_width(x, "pca")
    columns = output_dim if output_dim is not None else width
    out = tf.as_dtype(dtype) if dtype is not None else tf.float32
    combiner = c.PcaCombiner(output_dim=output_dim, output_dtype=np.dtype(out.as_numpy_dtype))
    result = analyze("pca", [x], combiner, {"pca": ([width, columns], out)}, name=name, source=x)
    return result["pca"]


def document_frequency(x: Any, vocab_size: int, name: str | None = None) -> tuple[Any, Any]:
    """Documents containing each term id, and the number of documents (for tfidf)."""
    tf = _tf()
    ragged = _as_ragged(x)
    combiner = c.DocumentFrequencyCombiner(vocab_size)
    result = analyze(
        "document_frequency",
        [ragged.flat_values, ragged.row_splits],
        combiner,
        {"document_frequency": ([vocab_size], tf.int64), "num_documents": ([], tf.int64)},
        name=name,
        source=x,
    )
    return result["document_frequency"], result["num_documents"]


def _as_ragged(x: Any) -> Any:
    tf = _tf()
    if isinstance(x, tf.SparseTensor):
        return tf.RaggedTensor.from_sparse(x)
    if isinstance(x, tf.RaggedTensor):
        return x
    return tf.RaggedTensor.from_tensor(x)


def _rank2_width(x: Any, analyzer: str) -> int:
    shape = _values(x).shape
    if shape.rank != 2 or shape[1] is None:
        raise TransformError(
            f"{analyzer} needs a dense [batch, d] tensor with a known d, got shape {shape}. "
            "Stack features with tf.stack([...], axis=1)."
        )
    return int(shape[1])
