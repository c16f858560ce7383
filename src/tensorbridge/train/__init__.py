"""Keras training on tensorbridge data: input pipelines, checkpoints, resume, metrics.

Examples
--------
>>> from tensorbridge.train import train  # doctest: +SKIP
>>> result = train(transform_output, build_model, "out/train", label="tips_xf", epochs=5)
"""

from __future__ import annotations

from tensorbridge.train.export import encode_raw_rows, export_serving_model, record_evaluation
from tensorbridge.train.inputs import make_arrays, make_tf_dataset
from tensorbridge.train.trainer import TrainResult, train

__all__ = [
    "TrainResult",
    "encode_raw_rows",
    "export_serving_model",
    "make_arrays",
    "make_tf_dataset",
    "record_evaluation",
    "train",
]
