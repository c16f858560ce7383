"""Mappers: per-row transformations, some built on analyzers, as in TF.Transform."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensorbridge._optional import import_optional
from tensorbridge.errors import TransformError
from tensorbridge.transform import analyzers
from tensorbridge.transform.context import current

__all__ = [
    "apply_buckets",
    "apply_vocabulary",
    "bag_of_words",
    "bucketize",
    "compute_and_apply_vocabulary",
    "fill_missing",
    "hash_strings",
    "ngrams",
    "scale_by_min_max",
    "scale_to_0_1",
    "scale_to_z_score",
    "tfidf",
]


def _tf() -> Any:
    return import_optional("tensorflow")


def _map_values(x: Any, function: Callable[[Any], Any]) -> Any:
    """Apply ``function`` to the values of a dense, sparse or ragged tensor."""
    tf = _tf()
    if isinstance(x, tf.SparseTensor):
        return tf.SparseTensor(x.indices, function(x.values), x.dense_shape)
    if isinstance(x, tf.RaggedTensor):
        return x.with_flat_values(function(x.flat_values))
    return function(x)


def fill_missing(x: Any, default_value: Any) -> Any:
    """A dense ``[batch]`` tensor: the values of ``x``, ``default_value`` where missing.

    Inputs with missing values arrive as ``tf.SparseTensor`` of shape ``[batch, 1]``
    (as in TF.Transform); this is TFX's ``_fill_in_missing``. A dense ``x`` is returned
    unchanged.

    Examples
    --------
    >>> def preprocessing_fn(inputs):  # doctest: +SKIP
    ...     company = tbt.fill_missing(inputs["company"], "")
    ...     return {"company_xf": tbt.compute_and_apply_vocabulary(company, top_k=1000)}
    """
    tf = _tf()
    if isinstance(x, tf.SparseTensor):
        shape = tf.stack([x.dense_shape[0], 1])
        dense = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, shape),
            default_value=tf.constant(default_value, dtype=x.dtype),
        )
        return tf.squeeze(dense, axis=1)
    if isinstance(x, tf.RaggedTensor):
        return tf.squeeze(
            x.to_tensor(default_value=tf.constant(default_value, x.dtype), shape=[None, 1]), 1
        )
    return x


def scale_to_z_score(
    x: Any, elementwise: bool = False, name: str | None = None, output_dtype: Any = None
) -> Any:
    """``(x - mean) / std`` with the population std over the whole data set.

    As TF.Transform: NaN inputs stay NaN and do not affect the statistics; when the std
    is 0 the result is ``x - mean`` (so a constant feature becomes 0); integer inputs
    give float32.
    """
    tf = _tf()
    x_mean, x_var = analyzers.mean_and_var(
        x, reduce_instance_dims=not elementwise, name=name, output_dtype=output_dtype
    )
    std = tf.sqrt(x_var)

    def scale(values: Any) -> Any:
        values = tf.cast(values, x_mean.dtype)
        centered = values - x_mean
        safe_std = tf.where(std == 0, tf.ones_like(std), std)
        return tf.where(std == 0, centered, centered / safe_std)

    return _map_values(x, scale)


def scale_by_min_max(
    x: Any,
    output_min: float = 0.0,
    output_max: float = 1.0,
    elementwise: bool = False,
    name: str | None = None,
) -> Any:
    """Scale ``x`` linearly from its [min, max] over the data set to [output_min, output_max].

    As TF.Transform: when ``min >= max`` (a single value, or no data) the result is
    ``sigmoid(x)`` mapped onto the output range.
    """
    tf = _tf()
    if output_min >= output_max:
        raise ValueError("output_min must be less than output_max")
    x_min, x_max = analyzers.min_and_max(x, reduce_instance_dims=not elementwise, name=name)
    low = tf.cast(x_min, tf.float32)
    high = tf.cast(x_max, tf.float32)

    def scale(values: Any) -> Any:
        values = tf.cast(values, tf.float32)
        span = output_max - output_min
        degenerate = low >= high
        width = tf.where(degenerate, tf.ones_like(high), high - low)
        linear = (values - low) / width * span + output_min
        fallback = tf.sigmoid(values) * span + output_min
        return tf.where(degenerate, fallback, linear)

    return _map_values(x, scale)


def scale_to_0_1(x: Any, elementwise: bool = False, name: str | None = None) -> Any:
    """Scale ``x`` to [0, 1] by its min and max over the data set."""
    return scale_by_min_max(x, 0.0, 1.0, elementwise=elementwise, name=name)


def apply_vocabulary(
    x: Any,
    deferred_vocab_filename_tensor: Any,
    *,
    default_value: int = -1,
    num_oov_buckets: int = 0,
    name: str | None = None,
) -> Any:
    """Map tokens to their line number in a vocabulary (0 = most frequent).

    Tokens not in the vocabulary get ``default_value``, or with ``num_oov_buckets > 0``
    a bucket in ``[vocab_size, vocab_size + num_oov_buckets)`` chosen by the same
    fingerprint hash TF.Transform uses (``tf.lookup.StaticVocabularyTable``).
    """
    tf = _tf()
    del name
    if num_oov_buckets < 0:
        raise TransformError(f"num_oov_buckets must be >= 0, got {num_oov_buckets}.")
    context = current()
    values = (
        x.values
        if isinstance(x, tf.SparseTensor)
        else (x.flat_values if isinstance(x, tf.RaggedTensor) else x)
    )
    key_dtype = tf.string if values.dtype == tf.string else tf.int64
    if isinstance(deferred_vocab_filename_tensor, str):
        filename = deferred_vocab_filename_tensor
    elif context.depends_on_pending(deferred_vocab_filename_tensor):
        # The vocabulary is not computed yet: a placeholder that keeps the dependency.
        marker = tf.cast(tf.strings.length(deferred_vocab_filename_tensor), tf.int64)
        return _map_values(x, lambda v: tf.zeros_like(v, dtype=tf.int64) + marker)
    else:
        filename = tf.get_static_value(deferred_vocab_filename_tensor)
        if filename is None:
            raise TransformError(
                "apply_vocabulary needs the result of tbt.vocabulary(...) or a file path."
            )
        if hasattr(filename, "item"):  # a 0-d numpy array
            filename = filename.item()
        filename = filename.decode() if isinstance(filename, bytes) else str(filename)
    table = context.lookup_table(filename, key_dtype, default_value, num_oov_buckets)
    return _map_values(x, lambda v: table.lookup(tf.cast(v, key_dtype)))


def compute_and_apply_vocabulary(
    x: Any,
    *,
    default_value: int = -1,
    top_k: int | None = None,
    frequency_threshold: int | None = None,
    num_oov_buckets: int = 0,
    vocab_filename: str | None = None,
    name: str | None = None,
) -> Any:
    """Compute the vocabulary of ``x`` and map ``x`` to indices (see :func:`vocabulary`).

    Examples
    --------
    >>> def preprocessing_fn(inputs):  # doctest: +SKIP
    ...     payment = tbt.fill_missing(inputs["payment_type"], "")
    ...     return {"payment_xf": tbt.compute_and_apply_vocabulary(
    ...         payment, top_k=1000, num_oov_buckets=10)}
    """
    filename = analyzers.vocabulary(
        x,
        top_k=top_k,
        frequency_threshold=frequency_threshold,
        vocab_filename=vocab_filename,
        name=name,
    )
    return apply_vocabulary(
        x, filename, default_value=default_value, num_oov_buckets=num_oov_buckets
    )


def apply_buckets(x: Any, bucket_boundaries: Any, name: str | None = None) -> Any:
    """Bucket index ``i`` with ``b[i-1] <= x < b[i]``; below ``b[0]`` is 0, NaN the last bucket.

    Values equal to a boundary go to the upper bucket, as in TF.Transform.
    """
    tf = _tf()
    del name
    boundaries = tf.reshape(tf.cast(bucket_boundaries, tf.float32), [-1])
    count = tf.cast(tf.size(boundaries), tf.int64)

    def bucket(values: Any) -> Any:
        flat = tf.reshape(tf.cast(values, tf.float32), [-1])
        index = tf.searchsorted(boundaries, flat, side="right", out_type=tf.int64)
        index = tf.where(tf.math.is_nan(flat), count, index)
        return tf.reshape(index, tf.shape(values, out_type=tf.int64))

    return _map_values(x, bucket)


def bucketize(
    x: Any,
    num_buckets: int,
    epsilon: float | None = None,
    elementwise: bool = False,
    name: str | None = None,
) -> Any:
    """Bucket ``x`` into ``num_buckets`` quantile buckets computed over the data set.

    Returns int64 bucket indices in ``[0, num_buckets)`` (fewer when values repeat).
    """
    if not isinstance(num_buckets, int) or isinstance(num_buckets, bool) or num_buckets < 1:
        raise TransformError(f"num_buckets must be an int >= 1, got {num_buckets!r}.")
    if elementwise:
        raise TransformError("bucketize(elementwise=True) is not supported yet.")
    boundaries = analyzers.quantiles(x, num_buckets, epsilon=epsilon, name=name)
    return apply_buckets(x, boundaries)


def hash_strings(strings: Any, hash_buckets: int, key: Any = None, name: str | None = None) -> Any:
    """Hash strings into ``[0, hash_buckets)`` with TF's fast fingerprint, or keyed.

    With a 2-element ``key`` (two uint64) the keyed, slower strong hash is used.
    """
    tf = _tf()
    del name
    values = strings.values if isinstance(strings, tf.SparseTensor) else strings
    if getattr(values, "dtype", None) != tf.string:
        raise TransformError(f"hash_strings needs strings, got {getattr(values, 'dtype', None)}.")
    if key is None:
        return _map_values(strings, lambda v: tf.strings.to_hash_bucket_fast(v, hash_buckets))
    return _map_values(
        strings, lambda v: tf.strings.to_hash_bucket_strong(v, hash_buckets, list(key))
    )


def ngrams(
    tokens: Any, ngram_range: tuple[int, int], separator: str, name: str | None = None
) -> Any:
    """N-grams of each row of tokens, by start position then length (TF.Transform's order).

    ``tokens`` is a 2-D ``tf.SparseTensor`` (or ``tf.RaggedTensor``) of strings; the result
    is a ``tf.SparseTensor``. Example: ``["One", "was"]`` with ``(1, 2)`` gives
    ``["One", "One was", "was"]``.
    """
    tf = _tf()
    del name
    low, high = ngram_range
    if not 1 <= low <= high:
        raise TransformError(f"ngram_range must satisfy 1 <= low <= high, got {ngram_range}.")
    ragged = tokens if isinstance(tokens, tf.RaggedTensor) else tf.RaggedTensor.from_sparse(tokens)
    pieces, keys, owners = [], [], []
    for n in range(low, high + 1):
        grams = tf.strings.ngrams(ragged, n, separator=separator)
        gram_rows = tf.cast(grams.value_rowids(), tf.int64)
        gram_pos = tf.range(tf.size(grams.flat_values, out_type=tf.int64)) - tf.gather(
            tf.cast(grams.row_starts(), tf.int64), gram_rows
        )
        pieces.append(grams.flat_values)
        owners.append(gram_rows)
        keys.append(gram_pos * (high + 1) + n)
    values = tf.concat(pieces, 0)
    owner = tf.concat(owners, 0)
    key = tf.concat(keys, 0)
    order = tf.argsort(
        owner * tf.cast(tf.reduce_max(tf.concat([key, [0]], 0)) + 1, tf.int64) + key, stable=True
    )
    result = tf.RaggedTensor.from_value_rowids(
        tf.gather(values, order), tf.gather(owner, order), nrows=ragged.nrows(out_type=tf.int64)
    )
    return result.to_sparse()


def bag_of_words(
    tokens: Any, ngram_range: tuple[int, int], separator: str, name: str | None = None
) -> Any:
    """The distinct n-grams of each row (set semantics; order not kept), as a SparseTensor."""
    tf = _tf()
    grams = tf.RaggedTensor.from_sparse(ngrams(tokens, ngram_range, separator, name))
    rows = tf.cast(grams.value_rowids(), tf.int64)
    joined = tf.strings.join([tf.strings.as_string(rows), grams.flat_values], separator="\x00")
    unique, first = tf.unique(joined)
    del unique
    keep = tf.math.unsorted_segment_min(
        tf.range(tf.size(first, out_type=tf.int64)),
        tf.cast(first, tf.int64),
        tf.cast(tf.reduce_max(tf.concat([first, [-1]], 0)) + 1, tf.int64),
    )
    kept = tf.sort(keep)
    result = tf.RaggedTensor.from_value_rowids(
        tf.gather(grams.flat_values, kept),
        tf.gather(rows, kept),
        nrows=grams.nrows(out_type=tf.int64),
    )
    return result.to_sparse()


def tfidf(x: Any, vocab_size: int, smooth: bool = True, name: str | None = None) -> tuple[Any, Any]:
    """TF-IDF weights of term ids (e.g. from ``compute_and_apply_vocabulary``).

    ``tf = count(term in doc) / doc size``; ``idf = 1 + log((N + 1) / (df + 1))`` when
    ``smooth`` (default), else ``1 + log(N / df)``. Returns ``(term ids, weights)`` as
    SparseTensors with each document's distinct term ids in ascending order.
    """
    tf = _tf()
    document_frequency, num_documents = analyzers.document_frequency(x, vocab_size, name=name)
    ragged = tf.RaggedTensor.from_sparse(x) if isinstance(x, tf.SparseTensor) else x
    terms = tf.cast(ragged.flat_values, tf.int64)
    rows = tf.cast(ragged.value_rowids(), tf.int64)
    nrows = ragged.nrows(out_type=tf.int64)
    combined = tf.sort(rows * vocab_size + terms)
    unique, _, counts = tf.unique_with_counts(combined, out_idx=tf.int64)
    unique_rows = unique // vocab_size
    unique_terms = unique % vocab_size
    doc_sizes = tf.math.unsorted_segment_sum(tf.ones_like(rows), rows, nrows)
    term_frequency = tf.cast(counts, tf.float32) / tf.cast(
        tf.gather(doc_sizes, unique_rows), tf.float32
    )
    df = tf.cast(tf.gather(document_frequency, unique_terms), tf.float32)
    n = tf.cast(num_documents, tf.float32)
    idf = 1.0 + tf.math.log((n + 1.0) / (df + 1.0)) if smooth else 1.0 + tf.math.log(n / df)
    ids = tf.RaggedTensor.from_value_rowids(unique_terms, unique_rows, nrows=nrows)
    weights = tf.RaggedTensor.from_value_rowids(term_frequency * idf, unique_rows, nrows=nrows)
    return ids.to_sparse(), weights.to_sparse()
