"""The statistics data model: what :func:`tensorbridge.stats.compute` returns.

The classes mirror TFDV's ``DatasetFeatureStatisticsList`` proto (field names included,
so a TFDV user finds ``num_non_missing``, ``std_dev``, ``top_values``,
``rank_histogram``...), as frozen dataclasses that turn into plain JSON and back.

Examples
--------
>>> bucket = Bucket(low_value=0.0, high_value=1.0, sample_count=3.0)
>>> Bucket.from_dict(bucket.to_dict()) == bucket
True
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tensorbridge.errors import ConfigError, SchemaError

__all__ = [
    "DEFAULT_SLICE",
    "Bucket",
    "CommonStatistics",
    "DatasetStatistics",
    "FeatureStatistics",
    "FeatureType",
    "Histogram",
    "NumericStatistics",
    "RankBucket",
    "Statistics",
    "StringStatistics",
    "TopValue",
]

#: The name of the slice holding every example (TFDV's default slice key).
DEFAULT_SLICE = "All Examples"

#: Feature types, as TFDV names them: integers (and booleans), floats, UTF-8 strings and
#: raw bytes.
FeatureType = Literal["INT", "FLOAT", "STRING", "BYTES"]

#: The format version written into every statistics JSON file.
FORMAT_VERSION = 1


def _float(value: Any) -> float:
    """JSON has no NaN/inf: they travel as the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, str):
        return float(value.replace("Infinity", "inf"))
    return float(value)


def _json_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


@dataclass(frozen=True)
class Bucket:
    """One histogram bucket: ``[low_value, high_value]`` holding ``sample_count`` values."""

    low_value: float
    high_value: float
    sample_count: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "low_value": _json_float(self.low_value),
            "high_value": _json_float(self.high_value),
            "sample_count": self.sample_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bucket:
        """Inverse of :meth:`to_dict`."""
        return cls(
            _float(data["low_value"]), _float(data["high_value"]), float(data["sample_count"])
        )


@dataclass(frozen=True)
class Histogram:
    """A numeric histogram.

    ``STANDARD`` buckets have equal widths between the finite minimum and maximum;
    ``QUANTILES`` buckets hold equal counts. NaNs are never in a bucket: they are counted
    in ``num_nan``. In a ``STANDARD`` histogram -inf values are in the first bucket and
    +inf values in the last (TFDV keeps them out of the bucket bounds the same way).
    """

    type: Literal["STANDARD", "QUANTILES"]
    buckets: tuple[Bucket, ...]
    num_nan: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "type": self.type,
            "num_nan": self.num_nan,
            "buckets": [b.to_dict() for b in self.buckets],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        """Inverse of :meth:`to_dict`."""
        return cls(
            data["type"],
            tuple(Bucket.from_dict(b) for b in data["buckets"]),
            int(data.get("num_nan", 0)),
        )


@dataclass(frozen=True)
class CommonStatistics:
    """Presence and valency, for every feature type.

    A row is *missing* a feature when its value is null; an empty list is present with
    zero values (as in TFDV). Scalar columns have one value per present row.
    """

    num_non_missing: int
    num_missing: int
    min_num_values: int
    max_num_values: int
    avg_num_values: float
    tot_num_values: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CommonStatistics:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(data["num_non_missing"]),
            int(data["num_missing"]),
            int(data["min_num_values"]),
            int(data["max_num_values"]),
            float(data["avg_num_values"]),
            int(data["tot_num_values"]),
        )


@dataclass(frozen=True)
class NumericStatistics:
    """Statistics of an INT or FLOAT feature's values (NaN excluded, counted in ``num_nan``).

    ``mean`` and ``std_dev`` (population, ``ddof=0``) are float64 over the non-NaN values,
    +-inf included (so an inf value makes the mean inf or NaN, as in TFDV). ``min`` and
    ``max`` include +-inf. ``quantiles`` holds 101 values, at ranks 0%, 1%, ..., 100%
    (``quantiles[50]`` is the ``median``); they are exact up to the accumulator's exact
    limit and within a KLL sketch's rank error beyond it. Everything is NaN when there
    are no non-NaN values.
    """

    mean: float
    std_dev: float
    num_zeros: int
    min: float
    max: float
    median: float
    num_nan: int
    num_pos_inf: int
    num_neg_inf: int
    quantiles: tuple[float, ...]
    histograms: tuple[Histogram, ...]
    exact_quantiles: bool = True

    def histogram(self, kind: Literal["STANDARD", "QUANTILES"] = "STANDARD") -> Histogram | None:
        """The histogram of ``kind``, or None when there are no values."""
        for histogram in self.histograms:
            if histogram.type == kind:
                return histogram
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "mean": _json_float(self.mean),
            "std_dev": _json_float(self.std_dev),
            "num_zeros": self.num_zeros,
            "min": _json_float(self.min),
            "max": _json_float(self.max),
            "median": _json_float(self.median),
            "num_nan": self.num_nan,
            "num_pos_inf": self.num_pos_inf,
            "num_neg_inf": self.num_neg_inf,
            "exact_quantiles": self.exact_quantiles,
            "quantiles": [_json_float(q) for q in self.quantiles],
            "histograms": [h.to_dict() for h in self.histograms],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericStatistics:
        """Inverse of :meth:`to_dict`."""
        return cls(
            mean=_float(data["mean"]),
            std_dev=_float(data["std_dev"]),
            num_zeros=int(data["num_zeros"]),
            min=_float(data["min"]),
            max=_float(data["max"]),
            median=_float(data["median"]),
            num_nan=int(data["num_nan"]),
            num_pos_inf=int(data["num_pos_inf"]),
            num_neg_inf=int(data["num_neg_inf"]),
            quantiles=tuple(_float(q) for q in data["quantiles"]),
            histograms=tuple(Histogram.from_dict(h) for h in data["histograms"]),
            exact_quantiles=bool(data.get("exact_quantiles", True)),
        )


@dataclass(frozen=True)
class TopValue:
    """A frequent value and its count."""

    value: str
    frequency: float


@dataclass(frozen=True)
class RankBucket:
    """One bucket of a rank histogram: the value at rank ``low_rank`` and its count.

    As in TFDV with ``num_rank_histogram_buckets=1000``, each bucket is one rank
    (``low_rank == high_rank``) and ``label`` is the value.
    """

    low_rank: int
    high_rank: int
    label: str
    sample_count: float


@dataclass(frozen=True)
class StringStatistics:
    """Statistics of a STRING or BYTES feature's values.

    ``top_values`` (20) and ``rank_histogram`` (1000 ranks) are ordered by count, then by
    value, both descending: on equal counts the larger value comes first (TFDV's and
    TF.Transform's tie rule). ``avg_length`` is total UTF-8 bytes over the number of
    values. BYTES values are shown as their UTF-8 decoding with invalid bytes replaced.
    ``values_total`` is the number of values the counts are out of.
    """

    unique: int
    top_values: tuple[TopValue, ...]
    avg_length: float
    rank_histogram: tuple[RankBucket, ...]
    values_total: int
    invalid_utf8_count: int = 0

    def value_counts(self) -> dict[str, float]:
        """``{value: count}`` of the values in the rank histogram (the 1000 most frequent)."""
        return {b.label: b.sample_count for b in self.rank_histogram}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "unique": self.unique,
            "avg_length": _json_float(self.avg_length),
            "values_total": self.values_total,
            "invalid_utf8_count": self.invalid_utf8_count,
            "top_values": [asdict(v) for v in self.top_values],
            "rank_histogram": [asdict(b) for b in self.rank_histogram],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StringStatistics:
        """Inverse of :meth:`to_dict`."""
        return cls(
            unique=int(data["unique"]),
            top_values=tuple(
                TopValue(str(v["value"]), float(v["frequency"])) for v in data["top_values"]
            ),
            avg_length=_float(data["avg_length"]),
            rank_histogram=tuple(
                RankBucket(
                    int(b["low_rank"]), int(b["high_rank"]), str(b["label"]), b["sample_count"]
                )
                for b in data["rank_histogram"]
            ),
            values_total=int(data["values_total"]),
            invalid_utf8_count=int(data.get("invalid_utf8_count", 0)),
        )


@dataclass(frozen=True)
class FeatureStatistics:
    """Everything known about one feature (column) in one slice.

    ``numeric`` is set for INT and FLOAT features, ``string`` for STRING and BYTES.
    ``arrow_type`` is the column's Arrow type as text (for list columns, the list type).
    """

    name: str
    type: FeatureType
    arrow_type: str
    common: CommonStatistics
    numeric: NumericStatistics | None = None
    string: StringStatistics | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "arrow_type": self.arrow_type,
            "common": self.common.to_dict(),
        }
        if self.numeric is not None:
            out["numeric"] = self.numeric.to_dict()
        if self.string is not None:
            out["string"] = self.string.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureStatistics:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            type=data["type"],
            arrow_type=str(data["arrow_type"]),
            common=CommonStatistics.from_dict(data["common"]),
            numeric=NumericStatistics.from_dict(data["numeric"]) if "numeric" in data else None,
            string=StringStatistics.from_dict(data["string"]) if "string" in data else None,
        )


@dataclass(frozen=True)
class DatasetStatistics:
    """Statistics of one slice of the data: its size and every feature, in column order."""

    name: str
    num_examples: int
    features: Mapping[str, FeatureStatistics] = field(default_factory=dict)

    def __getitem__(self, feature: str) -> FeatureStatistics:
        try:
            return self.features[feature]
        except KeyError:
            raise KeyError(
                f"No feature {feature!r} in slice {self.name!r}; it has {list(self.features)}."
            ) from None

    def __iter__(self) -> Iterator[FeatureStatistics]:
        return iter(self.features.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "name": self.name,
            "num_examples": self.num_examples,
            "features": [f.to_dict() for f in self.features.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetStatistics:
        """Inverse of :meth:`to_dict`."""
        features = [FeatureStatistics.from_dict(f) for f in data["features"]]
        return cls(str(data["name"]), int(data["num_examples"]), {f.name: f for f in features})


@dataclass(frozen=True)
class Statistics:
    """The statistics of a data set: the default slice first, then any other slices.

    Slices from ``slice_by="payment_type"`` are named ``payment_type=Cash`` (one per
    value, null as ``payment_type=<null>``); per-label statistics from ``label="tips"``
    are named ``tips=1``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> import tensorbridge as tb
    >>> stats = tb.stats.compute(pa.table({"x": [1.0, 2.0, None]}))
    >>> stats.default["x"].common.num_missing
    1
    """

    slices: tuple[DatasetStatistics, ...]
    source: str = ""

    @property
    def default(self) -> DatasetStatistics:
        """The slice with every example."""
        return self.slices[0]

    @property
    def num_examples(self) -> int:
        """Number of examples in the whole data set."""
        return self.default.num_examples

    def slice(self, name: str) -> DatasetStatistics:
        """The slice called ``name`` (e.g. ``"payment_type=Cash"``)."""
        for dataset in self.slices:
            if dataset.name == name:
                return dataset
        raise KeyError(f"No slice {name!r}; the slices are {[s.name for s in self.slices]}.")

    def __getitem__(self, feature: str) -> FeatureStatistics:
        return self.default[feature]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (with a format version)."""
        return {
            "format": "tensorbridge.statistics",
            "version": FORMAT_VERSION,
            "source": self.source,
            "slices": [s.to_dict() for s in self.slices],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Statistics:
        """Inverse of :meth:`to_dict`."""
        if data.get("format") != "tensorbridge.statistics":
            raise SchemaError(
                "This is not a tensorbridge statistics file (no 'format: "
                "tensorbridge.statistics'); write one with `tensorbridge stats DATA --json` "
                "or Statistics.save()."
            )
        return cls(
            tuple(DatasetStatistics.from_dict(s) for s in data["slices"]),
            str(data.get("source", "")),
        )

    def to_json(self, indent: int | None = None) -> str:
        """The statistics as JSON text (NaN and inf as strings, so it is strict JSON)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the statistics as JSON, atomically (temp file, then rename)."""
        target = os.fspath(path)
        tmp = f"{target}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.to_json(indent=1))
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Statistics:
        """Read statistics written by :meth:`save` (or ``tensorbridge stats --json``)."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise ConfigError(f"Statistics file {os.fspath(path)!r} does not exist.") from None
        except json.JSONDecodeError as exc:
            raise SchemaError(
                f"{os.fspath(path)}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})."
            ) from None
        return cls.from_dict(data)
