"""Checks that take a schema: validation, drift between spans, training/serving skew.

With :func:`~tensorbridge.stats.anomalies.validate_statistics` (``tb.stats.validate``,
what TFX's ExampleValidator does), these are what most users call after
:func:`~tensorbridge.stats.compute`: ``drift`` and ``skew``. Thresholds come
from the schema's per-feature ``drift_comparator`` / ``skew_comparator`` where set, and
from :data:`~tensorbridge.stats.thresholds.DEFAULT_THRESHOLDS` elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tensorbridge.stats.drift import compare
from tensorbridge.stats.model import Statistics
from tensorbridge.stats.results import DriftReport
from tensorbridge.stats.schema import Schema
from tensorbridge.stats.thresholds import DEFAULT_THRESHOLDS, ComparatorThresholds

__all__ = ["drift", "skew"]


def _compare(
    base: Statistics,
    current: Statistics,
    schema: Schema | None,
    kind: Literal["drift", "skew"],
    features: Sequence[str] | None,
    defaults: ComparatorThresholds | None,
) -> DriftReport:
    thresholds: dict[str, ComparatorThresholds] = {}
    skipped: set[str] = set()
    num_examples: tuple[float | None, float | None] = (None, None)
    if schema is not None:
        for feature in schema.features:
            if feature.deprecated:
                skipped.add(feature.name)
                continue
            own = feature.drift_comparator if kind == "drift" else feature.skew_comparator
            if own is not None:
                thresholds[feature.name] = own
        constraints = schema.dataset_constraints
        comparator = constraints.num_examples_drift_comparator if constraints else None
        if kind == "drift" and comparator is not None:
            num_examples = (comparator.min_fraction_threshold, comparator.max_fraction_threshold)
    names = list(features) if features is not None else None
    if skipped:
        names = [n for n in (names or list(base.default.features)) if n not in skipped]
    return compare(
        base,
        current,
        kind=kind,
        thresholds=thresholds,
        defaults=defaults,
        num_examples=num_examples,
        features=names,
    )


def drift(
    previous: Statistics,
    current: Statistics,
    *,
    schema: Schema | None = None,
    features: Sequence[str] | None = None,
    defaults: ComparatorThresholds | None = DEFAULT_THRESHOLDS,
) -> DriftReport:
    """Distances between a previous span and the current one, per feature.

    L-infinity for categorical features, Jensen-Shannon divergence (log 2) for all;
    per-feature ``drift_comparator`` thresholds in ``schema`` override ``defaults``
    (pass ``defaults=None`` to check only what the schema sets, as TFDV does).

    Examples
    --------
    >>> import pyarrow as pa
    >>> import tensorbridge as tb
    >>> last = tb.stats.compute(pa.table({"pay": ["cash"] * 60 + ["card"] * 40}))
    >>> now = tb.stats.compute(pa.table({"pay": ["cash"] * 40 + ["card"] * 60}))
    >>> report = tb.stats.drift(last, now)
    >>> [(d.metric, round(d.value, 3), d.exceeded) for d in report.features]
    [('L_INFTY', 0.2, True), ('JENSEN_SHANNON_DIVERGENCE', 0.029, False)]
    >>> report.anomalies[0].type
    'COMPARATOR_L_INFTY_HIGH'
    """
    return _compare(previous, current, schema, "drift", features, defaults)


def skew(
    training: Statistics,
    serving: Statistics,
    *,
    schema: Schema | None = None,
    features: Sequence[str] | None = None,
    defaults: ComparatorThresholds | None = DEFAULT_THRESHOLDS,
) -> DriftReport:
    """Distances between training and serving data, with the schema's ``skew_comparator``.

    Same metrics as :func:`drift`; only the thresholds (``skew_comparator``) and the
    wording of the anomalies differ.
    """
    return _compare(training, serving, schema, "skew", features, defaults)
