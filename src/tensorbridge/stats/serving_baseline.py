"""What the server compares serving traffic with: a compact summary of the training data.

:func:`serving_baseline` turns training statistics (:mod:`tensorbridge.stats`) into the
``serving_baseline`` entry of an export's ``tensorbridge.json``: per numeric feature the
mean, standard deviation, missing fraction and the 9 boundaries of 10 equal-mass
buckets; per string feature the missing fraction and the value frequencies, with
``complete`` telling whether every distinct training value is listed (then a value the
server has never seen is a real "unseen category", a skew signal).
:func:`sample_rows` picks the raw rows the server warms a new version up with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["MAX_BASELINE_VALUES", "sample_rows", "serving_baseline"]

#: Most string values kept per feature (the statistics' rank histogram holds 1000).
MAX_BASELINE_VALUES = 1000


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def serving_baseline(statistics: Any, features: Iterable[str]) -> dict[str, Any]:
    """The ``serving_baseline`` manifest entry of ``features``, from training statistics.

    Parameters
    ----------
    statistics : tensorbridge.stats.Statistics or DatasetStatistics
        Statistics of the training data (the default slice is used).
    features : iterable of str
        The raw serving inputs to describe; features without statistics are left out.

    Returns
    -------
    dict
        ``{"rows": N, "features": {name: {...}}}``, JSON values only.
    """
    dataset = getattr(statistics, "default", statistics)
    rows = int(dataset.num_examples)
    described: dict[str, Any] = {}
    for name in features:
        if name not in dataset.features:
            continue
        feature = dataset.features[name]
        missing = feature.common.num_missing / rows if rows else 0.0
        if feature.numeric is not None:
            numeric = feature.numeric
            quantiles = numeric.quantiles
            boundaries = [_finite(quantiles[q]) for q in range(10, 100, 10)] if quantiles else []
            described[name] = {
                "kind": "numeric",
                "mean": _finite(numeric.mean),
                "std": _finite(numeric.std_dev),
                "missing_fraction": missing,
                "boundaries": [b for b in boundaries if b is not None],
            }
        elif feature.string is not None:
            strings = feature.string
            total = strings.values_total or 1
            counts = list(strings.value_counts().items())[:MAX_BASELINE_VALUES]
            described[name] = {
                "kind": "categorical",
                "missing_fraction": missing,
                "unique": strings.unique,
                "complete": strings.unique <= len(counts),
                "values": {value: count / total for value, count in counts},
            }
    return {"rows": rows, "features": described}


def sample_rows(
    rows: Sequence[Mapping[str, Any]], inputs: Iterable[str], *, count: int = 8
) -> list[dict[str, Any]]:
    """Up to ``count`` raw rows restricted to ``inputs``, JSON-ready (NaN as None)."""
    names = list(inputs)
    picked: list[dict[str, Any]] = []
    for row in rows[:count]:
        clean: dict[str, Any] = {}
        for name in names:
            value = row.get(name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            clean[name] = value
        picked.append(clean)
    return picked
