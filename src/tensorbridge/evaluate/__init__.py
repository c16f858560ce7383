"""Model evaluation: metrics overall and per slice, thresholds, baseline -> blessing.

The TFMA/TFX Evaluator's job without TensorFlow or Beam: :func:`evaluate` takes a
:class:`~tensorbridge.Dataset` or an Arrow table with labels and predictions, computes
exact metrics for the overall slice and every :class:`Slice`, checks
:class:`ValueThreshold` and :class:`ChangeThreshold` rules as TFMA does, and blesses the
model (or not) as TFX does. :class:`EvalResult` prints a table, and writes JSON, Parquet
and a self-contained HTML report.

Importing this package does not import TensorFlow.

Examples
--------
>>> import pyarrow as pa
>>> from tensorbridge.evaluate import evaluate, ValueThreshold
>>> table = pa.table({"label": [0, 1, 1, 0], "p": [0.2, 0.7, 0.4, 0.1]})
>>> result = evaluate(table, label="label", prediction="p",
...                   thresholds={"auc": ValueThreshold(lower=0.9)})
>>> result.overall.metrics["auc"], result.blessed
(1.0, True)
"""

from __future__ import annotations

from tensorbridge.evaluate.api import evaluate
from tensorbridge.evaluate.metrics import compute_metrics
from tensorbridge.evaluate.records import SliceMetrics, ThresholdCheck
from tensorbridge.evaluate.result import EvalResult
from tensorbridge.evaluate.slicing import Slice
from tensorbridge.evaluate.thresholds import ChangeThreshold, ValueThreshold

__all__ = [
    "ChangeThreshold",
    "EvalResult",
    "Slice",
    "SliceMetrics",
    "ThresholdCheck",
    "ValueThreshold",
    "compute_metrics",
    "evaluate",
]
