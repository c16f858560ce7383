"""Token counting for vocabularies, ordered and filtered as TF.Transform does.

:class:`VocabularyCombiner` counts string or integer tokens (or sums their weights
exactly), and :data:`DUMMY_STRING_TOKEN` / :data:`DUMMY_INTEGER_TOKEN` stand in for an
empty vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tensorbridge.errors import BadInputError, ConfigError
from tensorbridge.transform.combiners.base import (
    Combiner,
    _check_bool,
    _is_int,
    _same_kind,
    _unpack,
)
from tensorbridge.transform.combiners.exact import _exact_group_sums, _exact_to_float

__all__ = ["DUMMY_INTEGER_TOKEN", "DUMMY_STRING_TOKEN", "VocabularyCombiner"]

#: The token of an empty string vocabulary (TF.Transform's ``_EMPTY_VOCABULARY_DUMMY``).
DUMMY_STRING_TOKEN = b"49d0cd50-04bb-48c0-bc6f-5b575dce351a"
#: The token of an empty integer vocabulary.
DUMMY_INTEGER_TOKEN = b"-1"


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
