"""Drift and skew thresholds: per-feature comparator settings and tensorbridge's defaults.

TFDV's comparators are inert until a threshold is set in the schema. tensorbridge ships
defaults (see :data:`DEFAULT_THRESHOLDS` and docs/stats.md for the reasoning); a
feature's ``drift_comparator`` / ``skew_comparator`` in the schema overrides them, and a
threshold of None switches that check off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_THRESHOLDS", "ComparatorThresholds"]


@dataclass(frozen=True)
class ComparatorThresholds:
    """Thresholds of one comparator (TFDV's ``FeatureComparator``).

    Parameters
    ----------
    infinity_norm : float or None
        Maximum L-infinity distance between the two normalized value-count vectors
        (categorical features only): the largest change in any one value's share.
    jensen_shannon_divergence : float or None
        Maximum Jensen-Shannon divergence (log base 2, in [0, 1]), numeric and
        categorical features.
    """

    infinity_norm: float | None = None
    jensen_shannon_divergence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain form, as written in a schema file (unset thresholds left out)."""
        out: dict[str, Any] = {}
        if self.infinity_norm is not None:
            out["infinity_norm"] = {"threshold": self.infinity_norm}
        if self.jensen_shannon_divergence is not None:
            out["jensen_shannon_divergence"] = {"threshold": self.jensen_shannon_divergence}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComparatorThresholds:
        """Inverse of :meth:`to_dict` (TFDV's ``{"infinity_norm": {"threshold": x}}`` form)."""

        def threshold(key: str) -> float | None:
            entry = data.get(key)
            if entry is None:
                return None
            value = entry.get("threshold") if isinstance(entry, Mapping) else entry
            return None if value is None else float(value)

        return cls(threshold("infinity_norm"), threshold("jensen_shannon_divergence"))


#: Used for every feature the schema says nothing about. L-infinity 0.1: some value's
#: share moved by 10 percentage points. JSD 0.05 (log 2): a normal feature whose mean
#: moves by 0.5 standard deviations scores 0.045, by 1 sd 0.16. Between two random
#: samples of the same taxi data the largest values over all features were L-inf 0.04 and
#: JSD 0.039 (1,000 rows each), 0.015 and 0.016 (10,000), 0.004 and 0.016 (100,000), so
#: neither default fires on sampling noise. See docs/stats.md ("Default thresholds").
DEFAULT_THRESHOLDS = ComparatorThresholds(infinity_norm=0.1, jensen_shannon_divergence=0.05)
