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


WIDE_CATEGORY_SIZES = {
    "trip_start_hour": 24,
    "trip_start_day": 31,
    "trip_start_month": 13,
}
HIDDEN_UNITS = [100, 70, 48, 34]  # max(2, int(100 * 0.7**i)), as TFX


def model_features() -> list[str]:
    """The transformed features the taxi model reads (the label is not one of them)."""
    keys = (
        DENSE_FLOAT_FEATURE_KEYS
        + VOCAB_FEATURE_KEYS
        + BUCKET_FEATURE_KEYS
        + list(WIDE_CATEGORY_SIZES)
    )
    return [transformed_name(key) for key in keys]


def build_keras_model(hyperparameters: Mapping[str, Any] | None = None) -> Any:
    """The TFX taxi wide & deep model (``taxi_utils_native_keras._build_keras_model``).

    Deep: the 3 z-scored floats through Dense layers of 100, 70, 48 and 34 units with no
    activation, as in TFX. Wide: one-hot encodings of the 2 vocabularies (1,000 tokens
    + 10 OOV buckets), the 4 coordinate buckets (10) and hour/day/month (24/31/13).
    Both meet in ``Dense(1, sigmoid)``; binary cross-entropy, Adam(0.001).
    """
    keras = import_optional("keras")
    hyperparameters = dict(hyperparameters or {})
    learning_rate = float(hyperparameters.get("learning_rate", 0.001))
    deep_inputs = {
        transformed_name(k): keras.Input(shape=(), name=transformed_name(k), dtype="float32")
        for k in DENSE_FLOAT_FEATURE_KEYS
    }
    sizes = {transformed_name(k): VOCAB_SIZE + OOV_SIZE for k in VOCAB_FEATURE_KEYS}
    sizes |= {transformed_name(k): FEATURE_BUCKET_COUNT for k in BUCKET_FEATURE_KEYS}
    sizes |= {transformed_name(k): n for k, n in WIDE_CATEGORY_SIZES.items()}
    wide_inputs = {name: keras.Input(shape=(), name=name, dtype="int64") for name in sizes}
    deep = keras.layers.Concatenate()(
        [keras.layers.Reshape((1,))(tensor) for tensor in deep_inputs.values()]
    )
    for units in hyperparameters.get("hidden_units", HIDDEN_UNITS):
        deep = keras.layers.Dense(units)(deep)
    wide = keras.layers.Concatenate()(
        [
            keras.layers.CategoryEncoding(num_tokens=sizes[name], output_mode="one_hot")(
                keras.layers.Reshape((1,))(tensor)
            )
            for name, tensor in wide_inputs.items()
        ]
    )
    output = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()([deep, wide]))
    model = keras.Model({**deep_inputs, **wide_inputs}, output)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=[
            keras.metrics.BinaryAccuracy(name="binary_accuracy"),
            keras.metrics.AUC(name="auc"),
        ],
    )
    return model
