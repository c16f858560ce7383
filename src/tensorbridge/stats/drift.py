"""Drift and skew: compare two data sets' statistics feature by feature (TFDV comparators).

:func:`compare` is TFDV's ``drift_comparator`` / ``skew_comparator`` check together with
the data-set size comparator (``num_examples_drift_comparator``): it measures, for every
feature both data sets have, how far the current distribution is from the base one, and
turns every distance above its threshold into an :class:`~tensorbridge.stats.results.Anomaly`
named as TFDV names it.

- Categorical features (STRING, BYTES, and INT features with string statistics): L-infinity
  distance and Jensen-Shannon divergence over the rank-histogram value counts.
- Numeric features (INT, FLOAT): Jensen-Shannon divergence over buckets cut at both
  sides' deciles, each side's mass read from its percentiles
  (:func:`~tensorbridge.stats.quantile_alignment.align_quantiles`). This is a deliberate
  difference from TFDV, which re-bucket the equal-width histograms assuming uniform mass
  per bucket (:func:`~tensorbridge.stats.distance.align_histograms`, still available): on
  skewed data that raises false alarms (0.25 between two random halves of the taxi data),
  which rules out default thresholds.

Examples
--------
>>> import pyarrow as pa
>>> import tensorbridge as tb
>>> base = tb.stats.compute(pa.table({"x": [1.0, 2.0, 3.0, 4.0]}))
>>> report = compare(base, base)
>>> report.ok, report.features[0].value
(True, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tensorbridge.errors import ConfigError
from tensorbridge.stats.distance import (
    FloatArray,
    align_counts,
    jensen_shannon_divergence,
    l_infinity,
    moved_values,
)
from tensorbridge.stats.model import FeatureStatistics, NumericStatistics, Statistics
from tensorbridge.stats.quantile_alignment import align_quantiles
from tensorbridge.stats.results import Anomaly, DriftReport, FeatureDrift, MovedValue
from tensorbridge.stats.thresholds import DEFAULT_THRESHOLDS, ComparatorThresholds

__all__ = ["compare"]

Kind = Literal["drift", "skew"]

#: (base name, current name) in messages: TFDV's control and treatment names.
_NAMES: dict[str, tuple[str, str]] = {
    "drift": ("previous", "current"),
    "skew": ("training", "serving"),
}

#: The data set the size comparator compares with, in messages (TFDV: "previous span").
_SIZE_BASE_NAMES = {"drift": "previous span", "skew": "training data"}

_NO_THRESHOLDS = ComparatorThresholds()


@dataclass(frozen=True)
class _Side:
    """One feature's distribution on one side: value counts or a histogram, or nothing."""

    categorical: bool
    counts: Mapping[str, float] | None = None
    numeric: NumericStatistics | None = None


def _side(feature: FeatureStatistics) -> _Side | None:
    """The distribution to compare, or None for a feature of no comparable kind."""
    if feature.type in ("STRING", "BYTES") or (
        feature.type == "INT" and feature.string is not None
    ):
        counts = feature.string.value_counts() if feature.string is not None else {}
        return _Side(categorical=True, counts=counts)
    if feature.type in ("INT", "FLOAT"):
        return _Side(categorical=False, numeric=feature.numeric)
    return None


def _pair(base: FeatureStatistics, current: FeatureStatistics) -> tuple[_Side, _Side] | None:
    """The two sides to compare, of the same kind, or None when they cannot be compared.

    An INT feature that has string statistics on one side only is compared as numeric
    when both sides have numeric statistics; a feature whose type changed between
    categorical and numeric is skipped (schema validation reports the type change).
    """
    b, c = _side(base), _side(current)
    if b is None or c is None:
        return None
    if b.categorical == c.categorical:
        return b, c
    if base.numeric is not None and current.numeric is not None:
        b = _side(FeatureStatistics(base.name, "INT", base.arrow_type, base.common, base.numeric))
        c = _side(
            FeatureStatistics(
                current.name, "INT", current.arrow_type, current.common, current.numeric
            )
        )
        if b is not None and c is not None:
            return b, c
    return None


def _pct(share: float) -> str:
    return f"{share * 100:.3g}%"


def _six(value: float) -> str:
    """TFDV's ``absl::SixDigits``."""
    return f"{value:.6g}"


def _moved_sentence(
    moved: Sequence[MovedValue], what: str, base_name: str, current_name: str
) -> str:
    if not moved:
        return ""
    top = moved[0]
    return (
        f" The {what} that moved most is {top.label}: {_pct(top.base_share)} of {base_name} "
        f"values, {_pct(top.current_share)} of {current_name} values."
    )


def _empty_sentence(
    base_total: float, current_total: float, base_name: str, current_name: str
) -> str:
    if base_total == 0:
        return f" The {base_name} data has no values of this feature."
    if current_total == 0:
        return f" The {current_name} data has no values of this feature."
    return ""


def _fix_sentence(kind: Kind, metric_path: str, feature: str, value: float) -> str:
    return (
        f" If this change is expected, raise `{kind}_comparator.{metric_path}.threshold` for "
        f"feature {feature!r} in the schema (to at least {_six(value)}), or set it to None to "
        "switch the check off; otherwise investigate what changed in the data."
    )


def _compare_feature(
    name: str,
    base: _Side,
    current: _Side,
    limits: ComparatorThresholds,
    kind: Kind,
) -> tuple[list[FeatureDrift], list[Anomaly]] | None:
    base_name, current_name = _NAMES[kind]
    labels: list[str]
    base_counts: FloatArray
    current_counts: FloatArray
    if base.categorical:
        labels, base_counts, current_counts = align_counts(base.counts or {}, current.counts or {})
        what = "value"
    else:
        labels, base_counts, current_counts = align_quantiles(base.numeric, current.numeric)
        what = "range"
    base_total, current_total = float(base_counts.sum()), float(current_counts.sum())
    if base_total == 0 and current_total == 0:
        return None
    moved = moved_values(labels, base_counts, current_counts)
    between = f"between {current_name} and {base_name}"
    tail = _moved_sentence(moved, what, base_name, current_name) + _empty_sentence(
        base_total, current_total, base_name, current_name
    )
    checks: list[tuple[FeatureDrift, str, str, dict[str, object]]] = []
    if base.categorical:
        linf, top = l_infinity(
            dict(zip(labels, base_counts.tolist(), strict=True)),
            dict(zip(labels, current_counts.tolist(), strict=True)),
        )
        checks.append(
            (
                FeatureDrift(name, "L_INFTY", linf, limits.infinity_norm, moved),
                f"L-infinity distance {between}",
                f" The feature value with maximum difference is: {top}.",
                {"max_difference_value": top},
            )
        )
    # One side empty: 1.0 (jensen_shannon_divergence's rule), all mass where the other has none.
    jsd = jensen_shannon_divergence(base_counts, current_counts)
    checks.append(
        (
            FeatureDrift(
                name, "JENSEN_SHANNON_DIVERGENCE", jsd, limits.jensen_shannon_divergence, moved
            ),
            f"approximate Jensen-Shannon divergence {between}",
            "",
            {},
        )
    )
    anomalies = [
        _exceeded(drift, what_is, named, extra, tail, kind)
        for drift, what_is, named, extra in checks
        if drift.exceeded
    ]
    return [drift for drift, *_ in checks], anomalies


#: Anomaly type and the schema's threshold field, per metric.
_METRIC_NAMES = {
    "L_INFTY": ("COMPARATOR_L_INFTY_HIGH", "infinity_norm"),
    "JENSEN_SHANNON_DIVERGENCE": ("COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
                                  "jensen_shannon_divergence"),
}  # fmt: skip


def _exceeded(
    drift: FeatureDrift,
    what_is: str,
    named: str,
    extra: dict[str, object],
    tail: str,
    kind: Kind,
) -> Anomaly:
    """The anomaly for a distance above its threshold (TFDV's wording, plus the fix)."""
    assert drift.threshold is not None
    anomaly_type, field = _METRIC_NAMES[drift.metric]
    return Anomaly(
        feature=drift.feature,
        type=anomaly_type,
        severity="ERROR",
        short_description=f"High {what_is}",
        description=(
            f"The {what_is} is {_six(drift.value)} (up to six significant digits), above "
            f"the threshold {_six(drift.threshold)}.{named}"
            + tail
            + _fix_sentence(kind, field, drift.feature, drift.value)
        ),
        details={
            "metric": drift.metric,
            "value": drift.value,
            "threshold": drift.threshold,
            **extra,
            "moved": [m.to_dict() for m in drift.moved],
        },
    )


def _check_fractions(num_examples: tuple[float | None, float | None]) -> None:
    if not isinstance(num_examples, tuple) or len(num_examples) != 2:
        raise ConfigError(
            f"num_examples must be a (min_fraction, max_fraction) pair; got {num_examples!r}. "
            "Use None for a bound you do not want checked, e.g. (0.5, None)."
        )
    for which, value in zip(("min_fraction", "max_fraction"), num_examples, strict=True):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ConfigError(
                f"num_examples {which} must be a finite number >= 0 or None; got {value!r}."
            )
    low, high = num_examples
    if low is not None and high is not None and low > high:
        raise ConfigError(
            f"num_examples min_fraction {low} is above max_fraction {high}; swap them."
        )


def _size_anomalies(
    base_examples: int,
    current_examples: int,
    num_examples: tuple[float | None, float | None],
    kind: Kind,
) -> list[Anomaly]:
    """TFDV's ``num_examples_drift_comparator`` on ``current / base``."""
    low, high = num_examples
    control = _SIZE_BASE_NAMES[kind]
    fix = (
        f" If this is expected, widen `dataset_constraints.num_examples_{kind}_comparator` "
        "(min_fraction_threshold / max_fraction_threshold) in the schema."
    )
    details = {"base_examples": base_examples, "current_examples": current_examples}
    if base_examples == 0:
        if high is None or current_examples == 0:
            return []
        return [
            Anomaly(
                None,
                "COMPARATOR_HIGH_NUM_EXAMPLES",
                "ERROR",
                f"High num examples in current dataset versus the {control}, which has 0.",
                f"The {control} has 0 examples, so there is a high number of examples in the "
                f"current dataset versus the {control}." + fix,
                {**details, "ratio": None, "threshold": high},
            )
        ]
    ratio = current_examples / base_examples
    if high is not None and ratio > high:
        return [
            Anomaly(
                None,
                "COMPARATOR_HIGH_NUM_EXAMPLES",
                "ERROR",
                f"High num examples in current dataset versus the {control}.",
                f"The ratio of num examples in the current dataset versus the {control} is "
                f"{_six(ratio)} (up to six significant digits), which is above the threshold "
                f"{_six(high)} ({current_examples} vs {base_examples} examples)." + fix,
                {**details, "ratio": ratio, "threshold": high},
            )
        ]
    if low is not None and ratio < low:
        return [
            Anomaly(
                None,
                "COMPARATOR_LOW_NUM_EXAMPLES",
                "ERROR",
                f"Low num examples in current dataset versus the {control}.",
                f"The ratio of num examples in the current dataset versus the {control} is "
                f"{_six(ratio)} (up to six significant digits), which is below the threshold "
                f"{_six(low)} ({current_examples} vs {base_examples} examples)." + fix,
                {**details, "ratio": ratio, "threshold": low},
            )
        ]
    return []


def compare(
    base: Statistics,
    current: Statistics,
    *,
    kind: Kind = "drift",
    thresholds: Mapping[str, ComparatorThresholds] | None = None,
    defaults: ComparatorThresholds | None = DEFAULT_THRESHOLDS,
    num_examples: tuple[float | None, float | None] = (None, None),
    features: Sequence[str] | None = None,
) -> DriftReport:
    """Distances between two data sets' distributions, feature by feature, with anomalies.

    Parameters
    ----------
    base : Statistics
        The baseline: the previous span (``kind="drift"``) or the training data
        (``kind="skew"``).
    current : Statistics
        The data to check: the current span, or the serving data.
    kind : {"drift", "skew"}
        Only changes the wording ("between current and previous" / "between serving and
        training") and the schema field the fix hint names (``drift_comparator`` /
        ``skew_comparator``).
    thresholds : mapping of str to ComparatorThresholds, optional
        Per-feature thresholds (e.g. from the schema's comparators); a feature not in it
        uses ``defaults``. A threshold of None switches that check off for the feature.
    defaults : ComparatorThresholds or None
        Thresholds for the other features; None switches every check off for them (the
        distances are still reported).
    num_examples : (min_fraction, max_fraction)
        Bounds on ``current.num_examples / base.num_examples``; outside them gives
        ``COMPARATOR_LOW_NUM_EXAMPLES`` / ``COMPARATOR_HIGH_NUM_EXAMPLES``. None: not
        checked. A base with 0 examples gives the high anomaly (when a max is set and the
        current data set has examples) and never the low one, as in TFDV.
    features : sequence of str, optional
        Only check these features.

    Returns
    -------
    DriftReport
        One :class:`FeatureDrift` per metric per feature (categorical: ``L_INFTY`` then
        ``JENSEN_SHANNON_DIVERGENCE``; numeric: ``JENSEN_SHANNON_DIVERGENCE``), in the base
        data's column order, and the anomalies (the data-set size ones first).

    Raises
    ------
    ConfigError
        For an unknown ``kind``, bad ``num_examples`` bounds, or ``features`` naming a
        feature neither data set has.

    Notes
    -----
    - Only the default slices are compared, and only features present in both: a
      feature on one side only is left to schema validation (``SCHEMA_MISSING_COLUMN`` /
      ``SCHEMA_NEW_COLUMN``), as is a feature that changed between categorical and numeric.
    - A feature with values on one side only gets Jensen-Shannon divergence 1.0 (all of
      its mass is where the other side has none); its L-infinity distance is the largest
      share on the side with values. A feature with no values on either side is skipped.
    - Numeric features are compared on buckets cut at both sides' deciles; a value that
      holds 1% or more of a side (including -inf / +inf) is a point bucket such as
      ``"[0]"`` or ``"[inf]"``, and NaNs are a ``"NaN"`` bucket (see
      :func:`~tensorbridge.stats.quantile_alignment.align_quantiles`).
    """
    if kind not in _NAMES:
        raise ConfigError(f"kind must be 'drift' or 'skew'; got {kind!r}.")
    _check_fractions(num_examples)
    base_slice, current_slice = base.default, current.default
    names = [name for name in base_slice.features if name in current_slice.features]
    if features is not None:
        if isinstance(features, str):
            raise ConfigError(
                f"features must be a list of feature names; got the string {features!r}. "
                f"Use features=[{features!r}]."
            )
        known = set(base_slice.features) | set(current_slice.features)
        unknown = [f for f in features if f not in known]
        if unknown:
            raise ConfigError(
                f"Unknown feature(s) {unknown} in features=; the data sets have "
                f"{sorted(known)}. Check the spelling."
            )
        wanted = set(features)
        names = [name for name in names if name in wanted]

    anomalies = _size_anomalies(base.num_examples, current.num_examples, num_examples, kind)
    drifts: list[FeatureDrift] = []
    fallback = defaults if defaults is not None else _NO_THRESHOLDS
    for name in names:
        pair = _pair(base_slice[name], current_slice[name])
        if pair is None:
            continue
        limits = thresholds[name] if thresholds is not None and name in thresholds else fallback
        try:
            found = _compare_feature(name, pair[0], pair[1], limits, kind)
        except ConfigError as exc:
            raise ConfigError(f"Feature {name!r}: {exc}") from None
        if found is not None:
            drifts.extend(found[0])
            anomalies.extend(found[1])
    return DriftReport(
        kind=kind,
        base_examples=base.num_examples,
        current_examples=current.num_examples,
        features=tuple(drifts),
        anomalies=tuple(anomalies),
    )
