"""TFX module file of the taxi benchmark peer: ``preprocessing_fn`` and ``run_fn``.

Follows tfx/examples/chicago_taxi_pipeline/taxi_utils_native_keras.py (TFX 1.16.0), with
the training budget of tensorbridge's taxi pipeline instead of the example's fixed
``TrainArgs(num_steps=1000)`` / ``EvalArgs(num_steps=150)``:

* ``preprocessing_fn``: verbatim from the TFX example (z-scores, vocabularies with
  top_k=1000 and 10 OOV buckets, 10 quantile buckets, categoricals passed through, label
  ``tips > 0.2 * fare``), the same as ``tensorbridge.examples.taxi.preprocessing_fn``.
* model: the TFX wide & deep Keras model with hidden units [100, 70, 48, 34]
  (``max(2, int(100 * 0.7**i))``), wide part = one-hot of the 2 vocabularies (1010), the
  4 buckets (10) and hour/day/month (24/31/13); binary cross-entropy, Adam(0.001). Its
  inputs are the 12 features the model reads (as ``tensorbridge.examples.taxi
  .model_features``); the TFX example also declares the 4 unused categoricals.
* training: ``epochs`` (custom_config, default 8) full passes over the train split with
  batch size 40 (custom_config ``batch_size``): ``steps_per_epoch = ceil(train_rows /
  40)``, so ``train_steps = epochs * ceil(train_rows / 40)``; validation after each
  epoch on the whole eval split (``ceil(eval_rows / 40)`` steps), as tensorbridge's
  trainer does. The row counts are read from the transformed examples, since the split
  sizes are only known after ExampleGen. ``MirroredStrategy`` as in the TFX example.
* signatures: ``serving_default`` (serialized tf.Example without label -> TFT layer ->
  model) and ``transform_features`` (used by the Evaluator as preprocessing function).
"""

import json
import math
import os
from typing import List

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFT/TFMA 1.16 need Keras 2 (tf_keras)

import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402
from absl import logging  # noqa: E402
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs  # noqa: E402
from tfx_bsl.tfxio import dataset_options  # noqa: E402

# Categorical features are assumed to each have a maximum value in the dataset.
_MAX_CATEGORICAL_FEATURE_VALUES = [24, 31, 13]

_CATEGORICAL_FEATURE_KEYS = [
    "trip_start_hour",
    "trip_start_day",
    "trip_start_month",
    "pickup_census_tract",
    "dropoff_census_tract",
    "pickup_community_area",
    "dropoff_community_area",
]

_DENSE_FLOAT_FEATURE_KEYS = ["trip_miles", "fare", "trip_seconds"]

# Number of buckets used by tf.transform for encoding each feature.
_FEATURE_BUCKET_COUNT = 10

_BUCKET_FEATURE_KEYS = [
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
]

# Number of vocabulary terms used for encoding VOCAB_FEATURES by tf.transform
_VOCAB_SIZE = 1000

# Count of out-of-vocab buckets in which unrecognized VOCAB_FEATURES are hashed.
_OOV_SIZE = 10

_VOCAB_FEATURE_KEYS = ["payment_type", "company"]

# Keys
_LABEL_KEY = "tips"
_FARE_KEY = "fare"

_EPOCHS = 8
_BATCH_SIZE = 40


def _transformed_name(key):
    return key + "_xf"


def _transformed_names(keys):
    return [_transformed_name(key) for key in keys]


def _model_feature_names() -> List[str]:
    """The transformed features the model reads (the first 3 categoricals only)."""
    keys = (
        _DENSE_FLOAT_FEATURE_KEYS
        + _VOCAB_FEATURE_KEYS
        + _BUCKET_FEATURE_KEYS
        + _CATEGORICAL_FEATURE_KEYS[: len(_MAX_CATEGORICAL_FEATURE_VALUES)]
    )
    return _transformed_names(keys)


def _fill_in_missing(x):
    """Replace missing values in a SparseTensor.

    Fills in missing values of `x` with '' or 0, and converts to a dense tensor.
    """
    if not isinstance(x, tf.sparse.SparseTensor):
        return x

    default_value = "" if x.dtype == tf.string else 0
    return tf.squeeze(
        tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default_value
        ),
        axis=1,
    )


def _model_inputs(features):
    return {name: features[name] for name in _model_feature_names()}


def _get_tf_examples_serving_signature(model, tf_transform_output):
    """Returns a serving signature that accepts `tensorflow.Example`."""
    model.tft_layer_inference = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized_tf_example):
        raw_feature_spec = tf_transform_output.raw_feature_spec()
        # Remove label feature since these will not be present at serving time.
        raw_feature_spec.pop(_LABEL_KEY)
        raw_features = tf.io.parse_example(serialized_tf_example, raw_feature_spec)
        transformed_features = model.tft_layer_inference(raw_features)
        outputs = model(_model_inputs(transformed_features))
        return {"outputs": outputs}

    return serve_tf_examples_fn


def _get_transform_features_signature(model, tf_transform_output):
    """Returns a serving signature that applies tf.Transform to features."""
    model.tft_layer_eval = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features_fn(serialized_tf_example):
        raw_feature_spec = tf_transform_output.raw_feature_spec()
        raw_features = tf.io.parse_example(serialized_tf_example, raw_feature_spec)
        return model.tft_layer_eval(raw_features)

    return transform_features_fn


def _input_fn(
    file_pattern: List[str],
    data_accessor: DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    batch_size: int,
    *,
    training: bool,
) -> tf.data.Dataset:
    """(features, label) batches: training repeats and shuffles, eval is one ordered pass."""
    options = dataset_options.TensorFlowDatasetOptions(
        batch_size=batch_size,
        label_key=_transformed_name(_LABEL_KEY),
        shuffle=training,
        num_epochs=None if training else 1,
    )
    dataset = data_accessor.tf_dataset_factory(
        file_pattern, options, tf_transform_output.transformed_metadata.schema
    )
    return dataset.map(lambda features, label: (_model_inputs(features), label))


def _count_records(file_patterns: List[str]) -> int:
    files = [f for pattern in file_patterns for f in tf.io.gfile.glob(pattern)]
    gzip = [f for f in files if f.endswith(".gz")]
    plain = [f for f in files if not f.endswith(".gz")]
    count = 0
    for group, compression in ((gzip, "GZIP"), (plain, "")):
        if group:
            dataset = tf.data.TFRecordDataset(group, compression_type=compression)
            count += int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
    return count


def _build_keras_model(hidden_units: List[int] = None) -> tf.keras.Model:
    """Creates the TFX wide & deep Keras model for classifying taxi data."""
    deep_input = {
        colname: tf.keras.layers.Input(name=colname, shape=(1,), dtype=tf.float32)
        for colname in _transformed_names(_DENSE_FLOAT_FEATURE_KEYS)
    }
    wide_vocab_input = {
        colname: tf.keras.layers.Input(name=colname, shape=(1,), dtype="int32")
        for colname in _transformed_names(_VOCAB_FEATURE_KEYS)
    }
    wide_bucket_input = {
        colname: tf.keras.layers.Input(name=colname, shape=(1,), dtype="int32")
        for colname in _transformed_names(_BUCKET_FEATURE_KEYS)
    }
    categorical_keys = _CATEGORICAL_FEATURE_KEYS[: len(_MAX_CATEGORICAL_FEATURE_VALUES)]
    wide_categorical_input = {
        colname: tf.keras.layers.Input(name=colname, shape=(1,), dtype="int32")
        for colname in _transformed_names(categorical_keys)
    }
    input_layers = {
        **deep_input,
        **wide_vocab_input,
        **wide_bucket_input,
        **wide_categorical_input,
    }

    # Normalization() is never adapted in the TFX example: it is the identity.
    deep = tf.keras.layers.concatenate(
        [tf.keras.layers.Normalization()(layer) for layer in deep_input.values()]
    )
    for numnodes in hidden_units or [100, 70, 50, 25]:
        deep = tf.keras.layers.Dense(numnodes)(deep)

    wide_layers = []
    for key in _transformed_names(_VOCAB_FEATURE_KEYS):
        wide_layers.append(
            tf.keras.layers.CategoryEncoding(num_tokens=_VOCAB_SIZE + _OOV_SIZE)(input_layers[key])
        )
    for key in _transformed_names(_BUCKET_FEATURE_KEYS):
        wide_layers.append(
            tf.keras.layers.CategoryEncoding(num_tokens=_FEATURE_BUCKET_COUNT)(input_layers[key])
        )
    for key, num_tokens in zip(
        _transformed_names(categorical_keys), _MAX_CATEGORICAL_FEATURE_VALUES
    ):
        wide_layers.append(
            tf.keras.layers.CategoryEncoding(num_tokens=num_tokens)(input_layers[key])
        )
    wide = tf.keras.layers.concatenate(wide_layers)

    output = tf.keras.layers.Dense(1, activation="sigmoid")(
        tf.keras.layers.concatenate([deep, wide])
    )
    output = tf.keras.layers.Reshape((1,))(output)

    model = tf.keras.Model(input_layers, output)
    model.compile(
        loss="binary_crossentropy",
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.001),
        metrics=[tf.keras.metrics.BinaryAccuracy()],
    )
    model.summary(print_fn=logging.info)
    return model


# TFX Transform will call this function.
def preprocessing_fn(inputs):
    """tf.transform's callback function for preprocessing inputs."""
    outputs = {}
    for key in _DENSE_FLOAT_FEATURE_KEYS:
        # If sparse make it dense, setting nan's to 0 or '', and apply zscore.
        outputs[_transformed_name(key)] = tft.scale_to_z_score(_fill_in_missing(inputs[key]))

    for key in _VOCAB_FEATURE_KEYS:
        # Build a vocabulary for this feature.
        outputs[_transformed_name(key)] = tft.compute_and_apply_vocabulary(
            _fill_in_missing(inputs[key]), top_k=_VOCAB_SIZE, num_oov_buckets=_OOV_SIZE
        )

    for key in _BUCKET_FEATURE_KEYS:
        outputs[_transformed_name(key)] = tft.bucketize(
            _fill_in_missing(inputs[key]), _FEATURE_BUCKET_COUNT
        )

    for key in _CATEGORICAL_FEATURE_KEYS:
        outputs[_transformed_name(key)] = _fill_in_missing(inputs[key])

    # Was this passenger a big tipper?
    taxi_fare = _fill_in_missing(inputs[_FARE_KEY])
    tips = _fill_in_missing(inputs[_LABEL_KEY])
    outputs[_transformed_name(_LABEL_KEY)] = tf.where(
        tf.math.is_nan(taxi_fare),
        tf.cast(tf.zeros_like(taxi_fare), tf.int64),
        # Test if the tip was > 20% of the fare.
        tf.cast(tf.greater(tips, tf.multiply(taxi_fare, tf.constant(0.2))), tf.int64),
    )

    return outputs


# TFX Trainer will call this function.
def run_fn(fn_args: FnArgs):
    """Train the model: ``epochs`` full passes over train, batch size 40."""
    config = fn_args.custom_config or {}
    epochs = int(config.get("epochs", _EPOCHS))
    batch_size = int(config.get("batch_size", _BATCH_SIZE))
    # Number of nodes in the first layer of the DNN
    first_dnn_layer_size = 100
    num_dnn_layers = 4
    dnn_decay_factor = 0.7

    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

    train_rows = _count_records(fn_args.train_files)
    eval_rows = _count_records(fn_args.eval_files)
    steps_per_epoch = math.ceil(train_rows / batch_size)
    eval_steps = math.ceil(eval_rows / batch_size)
    train_steps = fn_args.train_steps or epochs * steps_per_epoch
    logging.info(
        "train rows %d, eval rows %d: %d epochs x %d steps (batch %d), eval %d steps",
        train_rows,
        eval_rows,
        epochs,
        steps_per_epoch,
        batch_size,
        eval_steps,
    )

    train_dataset = _input_fn(
        fn_args.train_files, fn_args.data_accessor, tf_transform_output, batch_size, training=True
    )
    eval_dataset = _input_fn(
        fn_args.eval_files, fn_args.data_accessor, tf_transform_output, batch_size, training=False
    )

    mirrored_strategy = tf.distribute.MirroredStrategy()
    with mirrored_strategy.scope():
        model = _build_keras_model(
            # Construct layers sizes with exponetial decay
            hidden_units=[
                max(2, int(first_dnn_layer_size * dnn_decay_factor**i))
                for i in range(num_dnn_layers)
            ]
        )

    # Write logs to path
    tensorboard_callback = tf.keras.callbacks.TensorBoard(
        log_dir=fn_args.model_run_dir, update_freq="epoch"
    )

    history = model.fit(
        train_dataset,
        epochs=math.ceil(train_steps / steps_per_epoch),
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_dataset,
        callbacks=[tensorboard_callback],
        verbose=2,
    )

    signatures = {
        "serving_default": _get_tf_examples_serving_signature(model, tf_transform_output),
        "transform_features": _get_transform_features_signature(model, tf_transform_output),
    }
    tf.saved_model.save(model, fn_args.serving_model_dir, signatures=signatures)

    info = {
        "train_rows": train_rows,
        "eval_rows": eval_rows,
        "epochs": epochs,
        "batch_size": batch_size,
        "steps_per_epoch": steps_per_epoch,
        "train_steps": train_steps,
        "eval_steps": eval_steps,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "train_info.json"), "w") as f:
        f.write(json.dumps(info))
