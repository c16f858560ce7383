"""Keras training throughput: make_tf_dataset over Parquet vs in-memory numpy, in one run.

Data: 1,000,000 synthetic rows shaped like the transformed taxi data (16 numeric feature
columns: 10 float32 z-scores, 6 int64 ids/buckets; an int64 0/1 label), written with
tensorbridge as Parquet shards (4 files of 262,144 rows, row groups of 65,536 rows). The same
Dense 64-32-1 model (same seed) trains with batch 512 from

(a) ``make_tf_dataset`` over the Parquet (shuffled across files, row groups and rows), and
(b) ``tf.data.Dataset.from_tensor_slices(arrays).batch(512)`` over in-memory numpy arrays.

Both feed the same concatenating ``map`` and ``prefetch``. The script prints examples/s of
the first epoch (includes tracing) and of a second, steady-state epoch, and the ratio.

    uv run python benchmarks/bench_input_pipeline.py [--rows 1000000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import tensorbridge as tb
from tensorbridge.train import make_arrays, make_tf_dataset

FLOATS = [f"dense_{i}_xf" for i in range(10)]
INTS = [f"cat_{i}_xf" for i in range(6)]
FEATURES = FLOATS + INTS
LABEL = "tips_xf"
BATCH = 512
SEED = 42


def synthesize(rows: int) -> pa.Table:
    rng = np.random.default_rng(SEED)
    cols: dict[str, np.ndarray] = {}
    for name in FLOATS:
        cols[name] = rng.standard_normal(rows, dtype=np.float32)
    for i, name in enumerate(INTS):
        cols[name] = rng.integers(0, 10 + 5 * i, size=rows, dtype=np.int64)
    cols[LABEL] = (cols[FLOATS[0]] + 0.5 * cols[FLOATS[1]] > 0).astype(np.int64)
    return pa.table(cols)


def to_matrix(tf, features, label):
    parts = [tf.cast(features[name], tf.float32)[:, None] for name in FEATURES]
    return tf.concat(parts, axis=1), tf.cast(label, tf.float32)


def build_model(keras):
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input(shape=(len(FEATURES),)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def train(tf, keras, dataset, rows: int, epochs: int) -> tuple[list[float], float]:
    model = build_model(keras)
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    history = model.fit(dataset, epochs=epochs, verbose=0, callbacks=[Timer()])
    return [rows / t for t in times], float(history.history["loss"][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the Parquet")
    args = parser.parse_args()

    import tensorflow as tf

    keras = tf.keras
    table = synthesize(args.rows)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "transformed"
        t0 = time.perf_counter()
        written = tb.from_arrow(table).write_parquet(
            path, rows_per_file=262_144, row_group_size=65_536
        )
        print(f"wrote {written} in {time.perf_counter() - t0:.1f} s")
        del table

        # (b) in memory: the whole data as numpy arrays.
        features, label = make_arrays(path, label=LABEL, features=FEATURES)
        in_memory = (
            tf.data.Dataset.from_tensor_slices((features, label))
            .batch(BATCH)
            .map(lambda f, y: to_matrix(tf, f, y), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
        )
        # (a) streamed from Parquet.
        streamed = make_tf_dataset(
            path, label=LABEL, features=FEATURES, batch_size=BATCH, seed=SEED
        ).map(lambda f, y: to_matrix(tf, f, y), num_parallel_calls=tf.data.AUTOTUNE)

        mem_rates, mem_loss = train(tf, keras, in_memory, args.rows, args.epochs)
        pq_rates, pq_loss = train(tf, keras, streamed, args.rows, args.epochs)

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    print(
        f"python {platform.python_version()}, tensorflow {tf.__version__}, "
        f"{os.cpu_count()} CPUs, devices {devices}"
    )
    print(f"rows {args.rows:,}, batch {BATCH}, {len(FEATURES)} features, Dense 64-32-1")
    for epoch in range(args.epochs):
        ratio = pq_rates[epoch] / mem_rates[epoch]
        print(
            f"epoch {epoch + 1}: in-memory {mem_rates[epoch]:,.0f} ex/s, "
            f"parquet {pq_rates[epoch]:,.0f} ex/s, ratio {ratio:.1%}"
        )
    print(f"final loss: in-memory {mem_loss:.4f}, parquet {pq_loss:.4f}")


if __name__ == "__main__":
    main()
