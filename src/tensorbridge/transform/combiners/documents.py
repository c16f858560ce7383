"""Document frequencies of term ids, for tf-idf.

:class:`DocumentFrequencyCombiner` counts, per term id, the documents (rows of a ragged
batch given as values and row splits) that contain it, and the number of documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.errors import BadInputError, ConfigError
from tensorbridge.transform.combiners.base import Combiner, _is_int, _unpack

__all__ = ["DocumentFrequencyCombiner"]


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
