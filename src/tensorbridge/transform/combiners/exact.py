"""Exact float summation, independent of batching and merge order.

Every finite float64 is an integer multiple of ``2**-1126``, so sums are kept as Python
integers in those units and rounded to float64 once, at the end. Used by
:class:`~tensorbridge.transform.combiners.SumCombiner` and by the weighted
:class:`~tensorbridge.transform.combiners.VocabularyCombiner`. ``_EXACT_CHUNK`` and
``_DENSE_KEYS`` only tune speed and memory; the sums never depend on them.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

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
