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

The code is split by analyzer family: :mod:`.base` (the :class:`Combiner` interface and
shared input checks), :mod:`.exact` (exact float summation), :mod:`.moments` (mean/var,
min/max, sum, size), :mod:`.vocabulary`, :mod:`.quantiles`, :mod:`.covariance` (with
PCA) and :mod:`.documents` (document frequency). Import the public names from this
package; the module a class lives in is not part of the API.
"""

from __future__ import annotations

from tensorbridge.transform.combiners.base import Combiner
from tensorbridge.transform.combiners.covariance import CovarianceCombiner, PcaCombiner
from tensorbridge.transform.combiners.documents import DocumentFrequencyCombiner
from tensorbridge.transform.combiners.moments import (
    MeanVarCombiner,
    MinMaxCombiner,
    SizeCombiner,
    SumCombiner,
)
from tensorbridge.transform.combiners.quantiles import QuantilesCombiner, kll_k_for_epsilon
from tensorbridge.transform.combiners.vocabulary import (
    DUMMY_INTEGER_TOKEN,
    DUMMY_STRING_TOKEN,
    VocabularyCombiner,
)

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
