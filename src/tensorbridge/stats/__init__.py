"""Statistics, schema, anomalies, drift and skew: what TFDV does, on both engines.

Examples
--------
>>> import pyarrow as pa
>>> import tensorbridge as tb
>>> stats = tb.stats.compute(pa.table({"x": [1, 2, 3]}))
>>> stats["x"].numeric.mean
2.0
"""

from __future__ import annotations

from tensorbridge.stats.anomalies import validate_statistics as validate
from tensorbridge.stats.api import compute
from tensorbridge.stats.checks import drift, skew
from tensorbridge.stats.model import (
    DEFAULT_SLICE,
    Bucket,
    CommonStatistics,
    DatasetStatistics,
    FeatureStatistics,
    Histogram,
    NumericStatistics,
    RankBucket,
    Statistics,
    StringStatistics,
    TopValue,
)
from tensorbridge.stats.results import Anomaly, DriftReport, FeatureDrift, MovedValue
from tensorbridge.stats.schema import Feature, Schema
from tensorbridge.stats.schema_file import load_schema, save_schema
from tensorbridge.stats.schema_inference import infer_schema
from tensorbridge.stats.thresholds import DEFAULT_THRESHOLDS, ComparatorThresholds

__all__ = [
    "DEFAULT_SLICE",
    "DEFAULT_THRESHOLDS",
    "Anomaly",
    "Bucket",
    "CommonStatistics",
    "ComparatorThresholds",
    "DatasetStatistics",
    "DriftReport",
    "FeatureDrift",
    "FeatureStatistics",
    "Histogram",
    "MovedValue",
    "NumericStatistics",
    "RankBucket",
    "Statistics",
    "StringStatistics",
    "TopValue",
    "Feature",
    "Schema",
    "compute",
    "drift",
    "infer_schema",
    "load_schema",
    "save_schema",
    "skew",
    "validate",
]
