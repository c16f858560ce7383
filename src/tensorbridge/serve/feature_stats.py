"""Statistics of the feature values a model version serves, compared with its training data.

:class:`ServingFeatureStats` keeps, per input feature of one served model version, a
running summary of the values it was asked to score, cheap enough to update on every
batch (vectorised numpy, a lock around the merge):

- every feature: rows seen and rows missing (the export's sentinels: NaN in a float
  input, ``""`` in an optional string input);
- numeric features: running mean and standard deviation (population, float64, merged
  batch by batch with Chan's formula), and counts in the training baseline's quantile
  buckets;
- categorical (string) features: value counts (at most 10,000 distinct values are kept;
  further new values count as ``"__other__"``), and *unseen* values: values the
  training data never had. Those are counted only when the baseline lists every
  distinct training value (``"complete": true``); a top-k list cannot tell a rare value
  from a new one.

Drift against the baseline (the export's ``serving_baseline``, see
:func:`tensorbridge.stats.serving_baseline.serving_baseline`):

- numeric: Jensen-Shannon divergence (log base 2, in [0, 1]) between the baseline's and
  the served values' shares of the buckets cut at the baseline's quantile boundaries.
  With the usual 9 decile boundaries each of the 10 buckets holds 10% of the training
  values. Boundaries that repeat (a value taking several deciles, like the zero tips)
  are merged with their neighbours into one bucket holding all their mass, and a served
  value equal to a boundary counts half in the bucket below and half in the bucket
  above (a value at a decile of discrete data, like an hour, straddles it). A baseline
  may instead give ``"bucket_fractions"`` (one per bucket, ``len(boundaries) + 1``):
  then bucket ``i`` is ``[boundaries[i-1], boundaries[i])`` and is compared as given;
- categorical: L-infinity distance between the value shares (the largest change of any
  one value's share). Against a top-k baseline, the values it does not list are pooled
  into one ``"__other__"`` value on both sides, its baseline share ``1 - sum(shares)``
  (baseline shares are shares of the non-missing values).

Both use :mod:`tensorbridge.stats.distance`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tensorbridge.stats.distance import jensen_shannon_divergence, l_infinity

if TYPE_CHECKING:
    from tensorbridge.serve.model import InputSpec

__all__ = ["MAX_DISTINCT_VALUES", "OTHER_VALUE", "TOP_VALUES", "ServingFeatureStats"]

#: Most distinct values counted per categorical feature; later new values pool here.
MAX_DISTINCT_VALUES = 10_000
#: The pooled value (beyond :data:`MAX_DISTINCT_VALUES`, or outside a top-k baseline).
OTHER_VALUE = "__other__"
#: Values listed in a report's ``top_values``.
TOP_VALUES = 10

FloatArray = npt.NDArray[np.float64]


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass
class _Numeric:
    """Running summary of one numeric feature."""

    edges: FloatArray | None = None  # bucket edges; None: no baseline buckets
    base_fractions: FloatArray | None = None
    half_at_edges: bool = True
    count: int = 0
    missing: int = 0
    n: int = 0  # finite values in the mean/std
    mean: float = 0.0
    m2: float = 0.0
    buckets: FloatArray | None = None

    def summarize(
        self, values: np.ndarray
    ) -> tuple[int, int, int, float, float, FloatArray | None]:
        """Summarize one batch: (count, missing, n, mean, m2, bucket counts); lock-free."""
        x = np.asarray(values, dtype=np.float64).ravel()
        nan = np.isnan(x)
        present = x[~nan]
        finite = present[np.isfinite(present)]
        n = int(finite.size)
        mean = float(finite.mean()) if n else 0.0
        m2 = float(np.sum((finite - mean) ** 2)) if n else 0.0
        counts: FloatArray | None = None
        if self.edges is not None:
            size = self.edges.size + 1
            if self.half_at_edges:
                low = np.searchsorted(self.edges, present, side="left")
                high = np.searchsorted(self.edges, present, side="right")
                counts = 0.5 * (
                    np.bincount(low, minlength=size) + np.bincount(high, minlength=size)
                ).astype(np.float64)
            else:
                index = np.searchsorted(self.edges, present, side="right")
                counts = np.bincount(index, minlength=size).astype(np.float64)
        return int(x.size), int(nan.sum()), n, mean, m2, counts

    def merge(self, part: tuple[int, int, int, float, float, FloatArray | None]) -> None:
        count, missing, n, mean, m2, counts = part
        self.count += count
        self.missing += missing
        if n:
            total = self.n + n
            delta = mean - self.mean
            self.mean += delta * n / total
            self.m2 += m2 + delta * delta * self.n * n / total
            self.n = total
        if counts is not None:
            self.buckets = counts if self.buckets is None else self.buckets + counts

    def drift(self) -> float | None:
        if self.base_fractions is None or self.buckets is None or self.buckets.sum() <= 0:
            return None
        return jensen_shannon_divergence(self.base_fractions, self.buckets)


@dataclass
class _Categorical:
    """Running summary of one categorical feature."""

    known: frozenset[str] | None = None  # every training value (complete baselines only)
    base_values: dict[str, float] | None = None
    complete: bool = False
    count: int = 0
    missing: int = 0
    unseen: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def drift(self) -> float | None:
        if self.base_values is None or not self.counts:
            return None
        if self.complete:
            distance, _ = l_infinity(self.base_values, self.counts)
            return distance
        listed = self.base_values
        base = dict(listed)
        base[OTHER_VALUE] = base.get(OTHER_VALUE, 0.0) + max(0.0, 1.0 - sum(listed.values()))
        served: dict[str, float] = {}
        for value, count in self.counts.items():
            key = value if value in listed else OTHER_VALUE
            served[key] = served.get(key, 0.0) + count
        distance, _ = l_infinity(base, served)
        return distance


_NUMERIC_DTYPES = frozenset(
    {
        "float16",
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "bool",
    }
)


def _bucket_layout(
    entry: Mapping[str, Any],
) -> tuple[FloatArray | None, FloatArray | None, bool]:
    """(bucket edges, baseline share per bucket, count boundary values half-half)."""
    boundaries = np.asarray(
        [float(b) for b in entry.get("boundaries") or () if b is not None], dtype=np.float64
    )
    boundaries = boundaries[np.isfinite(boundaries)]
    if boundaries.size == 0:
        return None, None, True
    boundaries = np.sort(boundaries)
    explicit = entry.get("bucket_fractions")
    if explicit is not None and len(explicit) == boundaries.size + 1:
        return boundaries, np.asarray(explicit, dtype=np.float64), False
    # Equal-mass buckets; a repeated boundary value merges the buckets around it.
    values, counts = np.unique(boundaries, return_counts=True)
    repeated = set(values[counts > 1].tolist())
    keep = np.array([b not in repeated for b in boundaries.tolist()])
    group = np.concatenate([[0], np.cumsum(keep)])  # group of bucket i: kept edges below it
    shares = np.bincount(group, minlength=int(keep.sum()) + 1).astype(np.float64)
    return boundaries[keep], shares / shares.sum(), True


def _strings(values: np.ndarray) -> npt.NDArray[np.str_]:
    """Values as a numpy unicode array (bytes decoded as UTF-8, numbers as text)."""
    array = np.asarray(values).ravel()
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8", errors="replace")
    if array.dtype.kind in "fiub":
        numbers = array.astype(np.float64)
        if np.all(np.isnan(numbers) | (numbers == np.round(numbers))):
            return np.where(
                np.isnan(numbers), "", np.nan_to_num(numbers).astype(np.int64).astype(str)
            )
        return np.where(np.isnan(numbers), "", numbers.astype(str))
    if array.dtype.kind == "O":
        return np.array(
            [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in array],
            dtype=str,
        )
    return array.astype(str)


class ServingFeatureStats:
    """Serving-time statistics of one model version's inputs, and drift from training.

    Parameters
    ----------
    inputs : mapping of str to InputSpec
        The model's inputs (:attr:`ServedModel.inputs <tensorbridge.serve.model.ServedModel>`).
        String inputs are categorical; others are numeric unless the baseline describes
        them as categorical.
    baseline : mapping, optional
        The export manifest's ``serving_baseline``; None: only counts, means and value
        counts (no drift, no unseen values).

    Notes
    -----
    :meth:`update` and :meth:`report` may be called from any thread.
    """

    def __init__(self, inputs: Mapping[str, InputSpec], baseline: Mapping[str, Any] | None) -> None:
        self._lock = threading.Lock()
        self._rows = 0
        self._baseline_rows = None if baseline is None else baseline.get("rows")
        entries: Mapping[str, Any] = (baseline or {}).get("features") or {}
        self._entries: dict[str, Mapping[str, Any]] = {}
        self._optional: dict[str, bool] = {}
        self._numeric: dict[str, _Numeric] = {}
        self._categorical: dict[str, _Categorical] = {}
        for name, spec in inputs.items():
            entry = entries.get(name)
            self._optional[name] = bool(spec.optional)
            kind = "categorical" if spec.dtype == "string" else "numeric"
            if spec.dtype not in _NUMERIC_DTYPES and spec.dtype != "string":
                kind = "categorical"
            if entry is not None and entry.get("kind") == "categorical":
                kind = "categorical"
            if entry is not None and entry.get("kind", kind) != kind:
                entry = None  # a numeric baseline for a string input cannot be compared
            if entry is not None:
                self._entries[name] = entry
            if kind == "numeric":
                edges, shares, half = _bucket_layout(entry) if entry else (None, None, True)
                self._numeric[name] = _Numeric(
                    edges=edges, base_fractions=shares, half_at_edges=half
                )
            else:
                values = None if entry is None else entry.get("values")
                base_values = (
                    None if values is None else {str(k): float(v) for k, v in values.items()}
                )
                complete = bool(entry.get("complete", False)) if entry is not None else False
                self._categorical[name] = _Categorical(
                    known=frozenset(base_values) if complete and base_values is not None else None,
                    base_values=base_values,
                    complete=complete,
                )

    @property
    def features(self) -> list[str]:
        """The features tracked, in input order."""
        return list(self._optional)

    def update(self, inputs: Mapping[str, np.ndarray]) -> dict[str, int]:
        """Add one batch of served inputs.

        Parameters
        ----------
        inputs : mapping of str to numpy.ndarray
            The batch as passed to ``predict`` (sentinels for missing optional values).
            Inputs this object does not track are ignored.

        Returns
        -------
        dict of str to int
            Per categorical feature with a complete baseline, the number of values in
            this batch the training data never had; features with none are left out.
        """
        numeric_parts = {
            name: stats.summarize(inputs[name])
            for name, stats in self._numeric.items()
            if name in inputs
        }
        categorical_parts: dict[str, tuple[int, int, list[str], list[int], int]] = {}
        for name, cat in self._categorical.items():
            if name not in inputs:
                continue
            text = _strings(inputs[name])
            missing_mask = text == ""
            if not self._optional[name] and np.asarray(inputs[name]).dtype.kind not in "fc":
                missing_mask = np.zeros(text.shape, dtype=bool)
            present = text[~missing_mask]
            uniques, counts = np.unique(present, return_counts=True)
            values = uniques.tolist()
            unseen = 0
            if cat.known is not None:
                new = np.fromiter((v not in cat.known for v in values), bool, len(values))
                unseen = int(counts[new].sum())
            categorical_parts[name] = (
                int(text.size),
                int(missing_mask.sum()),
                values,
                counts.tolist(),
                unseen,
            )
        rows = next((len(np.asarray(a).ravel()) for a in inputs.values()), 0)
        result: dict[str, int] = {}
        with self._lock:
            self._rows += rows
            for name, part in numeric_parts.items():
                self._numeric[name].merge(part)
            for name, (count, missing, values, counts_list, unseen) in categorical_parts.items():
                cat = self._categorical[name]
                cat.count += count
                cat.missing += missing
                cat.unseen += unseen
                table = cat.counts
                for value, n in zip(values, counts_list, strict=True):
                    if value in table:
                        table[value] += n
                    elif len(table) < MAX_DISTINCT_VALUES:
                        table[value] = n
                    else:
                        table[OTHER_VALUE] = table.get(OTHER_VALUE, 0) + n
                if unseen:
                    result[name] = unseen
        return result

    def drift(self) -> dict[str, float]:
        """Drift distance per feature that has a baseline and served values."""
        with self._lock:
            distances: dict[str, float | None] = {
                name: stats.drift() for name, stats in self._numeric.items()
            }
            distances.update((name, stats.drift()) for name, stats in self._categorical.items())
        return {name: value for name, value in distances.items() if value is not None}

    def report(self) -> dict[str, Any]:
        """JSON-ready summary: rows, and per feature its statistics, baseline and drift.

        Returns
        -------
        dict
            ``{"rows": n, "baseline_rows": N or None, "features": {name: {...}}}``; a
            numeric feature has ``kind="numeric"``, ``count``, ``missing``, ``mean``,
            ``std`` (None before any value), ``buckets`` (edges and both sides' shares,
            None without a baseline); a categorical one has ``kind="categorical"``,
            ``count``, ``missing``, ``top_values`` (``[[value, share], ...]``, 10 most
            common, shares of the non-missing values) and ``unseen`` (None unless the
            baseline is complete). Both have ``baseline`` (the training entry, its values
            cut to the 10 most common as ``top_values``; None without one) and ``drift``
            (``{"metric": "jensen_shannon" | "l_infinity", "value": v}``, or None).
        """
        with self._lock:
            features: dict[str, Any] = {}
            for name in self._optional:
                if name in self._numeric:
                    features[name] = self._numeric_report(name, self._numeric[name])
                else:
                    features[name] = self._categorical_report(name, self._categorical[name])
            return {"rows": self._rows, "baseline_rows": self._baseline_rows, "features": features}

    # ------------------------------------------------------------------ report parts

    def _baseline_report(self, name: str) -> dict[str, Any] | None:
        entry = self._entries.get(name)
        if entry is None:
            return None
        out = {k: v for k, v in entry.items() if k != "values"}
        values = entry.get("values")
        if values is not None:
            ranked = sorted(values.items(), key=lambda kv: (-float(kv[1]), str(kv[0])))
            out["top_values"] = [[str(v), float(f)] for v, f in ranked[:TOP_VALUES]]
        return out

    def _numeric_report(self, name: str, stats: _Numeric) -> dict[str, Any]:
        std = math.sqrt(stats.m2 / stats.n) if stats.n else math.nan
        drift = stats.drift()
        buckets = None
        if stats.edges is not None and stats.base_fractions is not None:
            total = float(stats.buckets.sum()) if stats.buckets is not None else 0.0
            buckets = {
                "edges": stats.edges.tolist(),
                "baseline_fractions": stats.base_fractions.tolist(),
                "serving_fractions": (stats.buckets / total).tolist()
                if stats.buckets is not None and total > 0
                else None,
            }
        return {
            "kind": "numeric",
            "count": stats.count,
            "missing": stats.missing,
            "mean": _json_float(stats.mean) if stats.n else None,
            "std": _json_float(std),
            "buckets": buckets,
            "baseline": self._baseline_report(name),
            "drift": None if drift is None else {"metric": "jensen_shannon", "value": drift},
        }

    def _categorical_report(self, name: str, stats: _Categorical) -> dict[str, Any]:
        present = sum(stats.counts.values())
        ranked = sorted(stats.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_VALUES]
        drift = stats.drift()
        return {
            "kind": "categorical",
            "count": stats.count,
            "missing": stats.missing,
            "distinct": len(stats.counts),
            "top_values": [[value, n / present] for value, n in ranked],
            "unseen": stats.unseen if stats.known is not None else None,
            "baseline": self._baseline_report(name),
            "drift": None if drift is None else {"metric": "l_infinity", "value": drift},
        }
