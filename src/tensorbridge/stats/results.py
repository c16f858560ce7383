"""What validation and drift checks find: anomalies and per-feature distances.

These are plain frozen dataclasses with ``to_dict``, shared by
:mod:`tensorbridge.stats.anomalies`, :mod:`tensorbridge.stats.drift`, the tables and the
HTML report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Anomaly", "DriftReport", "FeatureDrift", "MovedValue", "Severity"]

Severity = Literal["ERROR", "WARNING"]


@dataclass(frozen=True)
class Anomaly:
    """One problem found in the data, named with TFDV's anomaly type where one applies.

    Parameters
    ----------
    feature : str or None
        The feature it is about; None for data-set-level anomalies (e.g. the number of
        examples changed).
    type : str
        TFDV's anomaly type name, e.g. ``"SCHEMA_MISSING_COLUMN"``,
        ``"ENUM_TYPE_UNEXPECTED_STRING_VALUES"``, ``"COMPARATOR_L_INFTY_HIGH"``.
    severity : "ERROR" or "WARNING"
    short_description : str
        A few words, e.g. ``"Unexpected string values"``.
    description : str
        A full sentence with the numbers and how to fix it (or accept it in the schema).
    details : mapping
        Machine-readable numbers behind the description (JSON-ready values only), e.g.
        ``{"unexpected": [{"value": "Bitcoin", "count": 12, "share": 0.0012}]}``.
    """

    feature: str | None
    type: str
    severity: Severity
    short_description: str
    description: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "feature": self.feature,
            "type": self.type,
            "severity": self.severity,
            "short_description": self.short_description,
            "description": self.description,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Anomaly:
        """Inverse of :meth:`to_dict`."""
        return cls(
            data["feature"],
            data["type"],
            data["severity"],
            data["short_description"],
            data["description"],
            dict(data.get("details", {})),
        )


@dataclass(frozen=True)
class MovedValue:
    """A value (category, or numeric range like ``"[1.5, 3.0)"``) whose share moved."""

    label: str
    base_share: float
    current_share: float

    @property
    def change(self) -> float:
        """``current_share - base_share`` (positive: more common now)."""
        return self.current_share - self.base_share

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "label": self.label,
            "base_share": self.base_share,
            "current_share": self.current_share,
            "change": self.change,
        }


@dataclass(frozen=True)
class FeatureDrift:
    """One distance between a feature's two distributions and its threshold.

    ``metric`` is ``"L_INFTY"`` (categorical only) or ``"JENSEN_SHANNON_DIVERGENCE"``
    (log base 2, in [0, 1]). ``threshold`` is None when the check is switched off for
    this feature (the value is still reported). ``moved`` lists the values whose share
    changed most, largest absolute change first (at most 5).
    """

    feature: str
    metric: Literal["L_INFTY", "JENSEN_SHANNON_DIVERGENCE"]
    value: float
    threshold: float | None
    moved: tuple[MovedValue, ...] = ()

    @property
    def exceeded(self) -> bool:
        """True when a threshold is set and the distance is above it."""
        return self.threshold is not None and self.value > self.threshold

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "feature": self.feature,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "exceeded": self.exceeded,
            "moved": [m.to_dict() for m in self.moved],
        }


@dataclass(frozen=True)
class DriftReport:
    """Distances between a baseline and a current data set, feature by feature.

    ``kind`` is ``"drift"`` (two spans of the same data, e.g. last week vs this week) or
    ``"skew"`` (training vs serving data). ``anomalies`` holds the TFDV-named anomalies
    for every exceeded threshold (``COMPARATOR_L_INFTY_HIGH``,
    ``COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH``, and the data-set size checks
    ``COMPARATOR_LOW_NUM_EXAMPLES`` / ``COMPARATOR_HIGH_NUM_EXAMPLES``).
    """

    kind: Literal["drift", "skew"]
    base_examples: int
    current_examples: int
    features: tuple[FeatureDrift, ...]
    anomalies: tuple[Anomaly, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no threshold was exceeded."""
        return not self.anomalies

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "kind": self.kind,
            "base_examples": self.base_examples,
            "current_examples": self.current_examples,
            "ok": self.ok,
            "features": [f.to_dict() for f in self.features],
            "anomalies": [a.to_dict() for a in self.anomalies],
        }
