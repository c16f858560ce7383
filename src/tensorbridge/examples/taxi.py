"""The TFX Chicago taxi example: features and the reference ``preprocessing_fn``.

A faithful port of ``taxi_utils_native_keras.py`` from TFX's chicago_taxi_pipeline
example (the preprocessing in shared/REFERENCE.md section 4.3), written against
``tensorbridge.transform``: z-scores for the dense floats, vocabularies with 10 OOV
buckets for the strings, 10 quantile buckets for the coordinates, categorical ints
passed through, and the label ``tips > 0.2 * fare``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tensorbridge._optional import import_optional

DENSE_FLOAT_FEATURE_KEYS = ["trip_miles", "fare", "trip_seconds"]
VOCAB_FEATURE_KEYS = ["payment_type", "company"]
VOCAB_SIZE = 1000
OOV_SIZE = 10
BUCKET_FEATURE_KEYS = [
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
]
FEATURE_BUCKET_COUNT = 10
CATEGORICAL_FEATURE_KEYS = [
    "trip_start_hour",
    "trip_start_day",
    "trip_start_month",
    "pickup_census_tract",
    "dropoff_census_tract",
    "pickup_community_area",
    "dropoff_community_area",
]
LABEL_KEY = "tips"
FARE_KEY = "fare"


def transformed_name(key: str) -> str:
    """The output name of a feature (TFX's ``_transformed_name``)."""
    return key + "_xf"


def _fill_in_missing(x: Any) -> Any:
    """Missing values become '' for strings and 0 for numbers (TFX's ``_fill_in_missing``)."""
    tf = import_optional("tensorflow")
    from tensorbridge import transform as tbt

    default = "" if x.dtype == tf.string else 0
    return tbt.fill_missing(x, default)


def preprocessing_fn(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The TFX taxi ``preprocessing_fn``."""
    tf = import_optional("tensorflow")
    from tensorbridge import transform as tbt

    outputs: dict[str, Any] = {}
    for key in DENSE_FLOAT_FEATURE_KEYS:
        # Missing values count as 0 in the mean and variance, as in TFX.
        outputs[transformed_name(key)] = tbt.scale_to_z_score(_fill_in_missing(inputs[key]))
    for key in VOCAB_FEATURE_KEYS:
        outputs[transformed_name(key)] = tbt.compute_and_apply_vocabulary(
            _fill_in_missing(inputs[key]),
            top_k=VOCAB_SIZE,
            num_oov_buckets=OOV_SIZE,
            vocab_filename=f"vocab_{key}",
        )
    for key in BUCKET_FEATURE_KEYS:
        outputs[transformed_name(key)] = tbt.bucketize(
            _fill_in_missing(inputs[key]), FEATURE_BUCKET_COUNT
        )
    for key in CATEGORICAL_FEATURE_KEYS:
        outputs[transformed_name(key)] = _fill_in_missing(inputs[key])
    taxi_fare = _fill_in_missing(inputs[FARE_KEY])
    tips = _fill_in_missing(inputs[LABEL_KEY])
    outputs[transformed_name(LABEL_KEY)] = tf.where(
        tf.math.is_nan(taxi_fare),
        tf.cast(tf.zeros_like(taxi_fare), tf.int64),
        # Test if the tip was > 20% of the fare.
        tf.cast(tf.greater(tips, tf.multiply(taxi_fare, tf.constant(0.2))), tf.int64),
    )
    return outputs
