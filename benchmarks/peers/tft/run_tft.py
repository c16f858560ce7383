#!/usr/bin/env python3
"""Reference ("peer") run of the TFX Chicago-taxi preprocessing with TF.Transform 1.21.

Usage (from the peer venv, see setup.sh):

    .venv/bin/python run_tft.py INPUT_CSV OUTPUT_DIR [--direct-num-workers N]

Reads INPUT_CSV (header line, empty cell = missing) with tfx_bsl's CsvTFXIO, runs
``tft_beam.AnalyzeAndTransformDataset`` with the exact ``preprocessing_fn`` of
tfx/examples/chicago_taxi_pipeline/taxi_utils_native_keras.py on Beam's DirectRunner,
writes the transformed data as tf.Example TFRecords (OUTPUT_DIR/transformed_data-*) and
the transform graph with ``tft_beam.WriteTransformFn`` (OUTPUT_DIR/transform_fn,
OUTPUT_DIR/transformed_metadata), then writes OUTPUT_DIR/tft_results.json with timings,
memory, and the analyzer results read back through ``tft.TFTransformOutput``.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import math
import os
import platform
import resource
import shutil
import struct
import sys
import threading
import time

T_PROCESS_START = time.perf_counter()

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import apache_beam as beam  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402
import tensorflow_transform.beam as tft_beam  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402
from tfx_bsl.public import tfxio  # noqa: E402

try:  # optional: sampled RSS of the whole process tree (matters in multi_processing mode)
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

T_IMPORTS_DONE = time.perf_counter()

# --------------------------------------------------------------------------------------
# Schema: every column is a VarLen feature so missing values are allowed.
# --------------------------------------------------------------------------------------
INT_COLUMNS = [
    "pickup_community_area",
    "trip_start_month",
    "trip_start_hour",
    "trip_start_day",
    "trip_start_timestamp",
    "pickup_census_tract",
    "dropoff_census_tract",
    "trip_seconds",
    "dropoff_community_area",
]
FLOAT_COLUMNS = [
    "fare",
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
    "trip_miles",
    "tips",
]
STRING_COLUMNS = ["payment_type", "company"]

RAW_FEATURE_SPEC = {
    **{c: tf.io.VarLenFeature(tf.int64) for c in INT_COLUMNS},
    **{c: tf.io.VarLenFeature(tf.float32) for c in FLOAT_COLUMNS},
    **{c: tf.io.VarLenFeature(tf.string) for c in STRING_COLUMNS},
}

# --------------------------------------------------------------------------------------
# The TFX taxi preprocessing (taxi_utils_native_keras.py), verbatim apart from the
# explicit vocab_filename= (so the vocabularies can be read back by name).
# --------------------------------------------------------------------------------------
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
_FEATURE_BUCKET_COUNT = 10
_BUCKET_FEATURE_KEYS = [
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
]
_VOCAB_SIZE = 1000
_OOV_SIZE = 10
_VOCAB_FEATURE_KEYS = ["payment_type", "company"]
_LABEL_KEY = "tips"
_FARE_KEY = "fare"


def _transformed_name(key):
    return key + "_xf"


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


def preprocessing_fn(inputs):
    """tf.transform's callback function for preprocessing inputs."""
    outputs = {}
    for key in _DENSE_FLOAT_FEATURE_KEYS:
        # If sparse make it dense, setting nan's to 0 or '', and apply zscore.
        outputs[_transformed_name(key)] = tft.scale_to_z_score(_fill_in_missing(inputs[key]))

    for key in _VOCAB_FEATURE_KEYS:
        # Build a vocabulary for this feature.
        outputs[_transformed_name(key)] = tft.compute_and_apply_vocabulary(
            _fill_in_missing(inputs[key]),
            top_k=_VOCAB_SIZE,
            num_oov_buckets=_OOV_SIZE,
            vocab_filename=key,  # only addition: lets TFTransformOutput find it by name
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


# --------------------------------------------------------------------------------------
# Memory measurement
# --------------------------------------------------------------------------------------
def _maxrss_mb(who):
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(who).ru_maxrss / 1024.0


class TreeRssSampler:
    """Samples the summed RSS of this process and all its descendants (needs psutil)."""

    def __init__(self, interval=0.1):
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            try:
                procs = [me] + me.children(recursive=True)
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
            except psutil.Error:
                pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)

    def start(self):
        if psutil is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        return None if psutil is None else self.peak_bytes / (1024.0 * 1024.0)


# --------------------------------------------------------------------------------------
# Pipeline
# --------------------------------------------------------------------------------------
def read_header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f))


def build_and_run_pipeline(
    input_csv, output_dir, num_workers, running_mode, compression, deep_copy
):
    column_names = read_header(input_csv)
    missing = set(RAW_FEATURE_SPEC) - set(column_names)
    if missing:
        raise SystemExit(f"input CSV lacks columns: {sorted(missing)}")
    schema = tft.DatasetMetadata.from_feature_spec(RAW_FEATURE_SPEC).schema

    tmp_dir = os.path.join(output_dir, "tmp")
    options = PipelineOptions(
        flags=[],  # do not let Beam parse this script's sys.argv
        runner="DirectRunner",
        direct_running_mode=running_mode,
        direct_num_workers=num_workers,
    )

    t_construct = time.perf_counter()
    pipeline = beam.Pipeline(options=options)
    # use_deep_copy_optimization=True is what TFX's Transform component sets: the source
    # is re-read for the transform phase instead of the raw PCollection being
    # materialized and fed to it.  It also avoids a Beam bug seen here (Beam 2.77): with
    # direct_num_workers > 1 and WITHOUT it, the transform phase silently dropped rows.
    with tft_beam.Context(temp_dir=tmp_dir, use_deep_copy_optimization=deep_copy):
        csv_tfxio = tfxio.CsvTFXIO(
            file_pattern=input_csv,
            column_names=column_names,
            schema=schema,
            skip_header_lines=1,
            telemetry_descriptors=["tensorbridge_peer"],
        )
        raw_data = pipeline | "ReadCsv" >> csv_tfxio.BeamSource()
        raw_dataset = (raw_data, csv_tfxio.TensorAdapterConfig())

        (transformed_data, _transformed_metadata), transform_fn = (
            raw_dataset
            | "AnalyzeAndTransform"
            >> tft_beam.AnalyzeAndTransformDataset(preprocessing_fn, output_record_batches=True)
        )

        encoder = tfxio.RecordBatchToExamplesEncoder()
        _ = (
            transformed_data
            | "EncodeExamples" >> beam.FlatMapTuple(lambda batch, _: encoder.encode(batch))
            | "WriteExamples"
            >> beam.io.WriteToTFRecord(
                os.path.join(output_dir, "transformed_data"),
                file_name_suffix=".tfrecord" + (".gz" if compression == "gzip" else ""),
                compression_type=(
                    beam.io.filesystem.CompressionTypes.GZIP
                    if compression == "gzip"
                    else beam.io.filesystem.CompressionTypes.UNCOMPRESSED
                ),
            )
        )
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(output_dir)

    t_run = time.perf_counter()
    result = pipeline.run()
    result.wait_until_finish()
    t_done = time.perf_counter()
    shutil.rmtree(tmp_dir, ignore_errors=True)
    return {
        "wall_seconds": t_done - t_run,
        "wall_seconds_total": t_done - t_construct,
        "pipeline_construction_seconds": t_run - t_construct,
    }


# --------------------------------------------------------------------------------------
# Reading the analyzer results back through TFTransformOutput
# --------------------------------------------------------------------------------------
class TransformProbe:
    """Applies the saved transform_fn to hand-made raw batches."""

    def __init__(self, tft_output):
        self.tft_output = tft_output

    @staticmethod
    def _sparse(values, dtype):
        n = len(values)
        idx = [[i, 0] for i, v in enumerate(values) if v is not None]
        vals = [v for v in values if v is not None]
        if not idx:
            return tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.constant([], dtype=dtype), [n, 1])
        return tf.SparseTensor(tf.constant(idx, tf.int64), tf.constant(vals, dtype=dtype), [n, 1])

    def raw_batch(self, columns, n):
        """columns: {name: list of python values or None}; other features get dummies."""
        batch = {}
        for name, spec in RAW_FEATURE_SPEC.items():
            if name in columns:
                values = columns[name]
            elif spec.dtype == tf.string:
                values = [b"x"] * n
            elif spec.dtype == tf.int64:
                values = [1] * n
            else:
                values = [1.0] * n
            batch[name] = self._sparse(values, spec.dtype)
        return batch

    def transform(self, columns, n):
        out = self.tft_output.transform_raw_features(self.raw_batch(columns, n))
        return {k: v.numpy() for k, v in out.items()}


def zscore_params(probe):
    """mean/var of each scale_to_z_score from the saved graph's output at two probe inputs.

    The transform computes out(x) = (x - mean) / sqrt(var) in float32 with constant
    (float32) mean and var.  out(0) = -mean/std and (out(X) - out(0)) / X = 1/std.  X is
    large (1e6, exactly representable) so that the difference is not eaten by float32
    rounding; the recovered constants are accurate to ~1e-7 relative (float32 precision).
    Extra probes verify linearity.
    """
    res = {}
    X = 1.0e6
    for key in _DENSE_FLOAT_FEATURE_KEYS:
        is_int = RAW_FEATURE_SPEC[key].dtype == tf.int64
        xs = [0, int(X), 1, 1000] if is_int else [0.0, X, 1.0, 1000.0]
        out = probe.transform({key: xs}, len(xs))[_transformed_name(key)].astype(np.float64)
        slope = (out[1] - out[0]) / X
        std = 1.0 / slope
        mean = -out[0] * std
        pred = (np.array(xs, dtype=np.float64) - mean) / std
        res[key] = {
            "mean": mean,
            "var": std * std,
            "std": std,
            "out_at_0": float(out[0]),
            "out_at_1": float(out[2]),
            "max_abs_linearity_error": float(np.max(np.abs(pred - out))),
        }
    return res


def graph_float_constants(output_dir):
    """All float32 Const nodes of the saved transform_fn's top-level graph.

    In TFT 1.x (TF2) the analyzer results are captured into the SavedModel as unnamed
    constants (Const, Const_1, ...); their order is not a stable API, so they are only
    used to *confirm* (and give the exact float32 of) the values found by probing.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(output_dir, "transform_fn", "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    scalars, vectors = [], []
    for node in sm.meta_graphs[0].graph_def.node:
        if node.op == "Const" and node.attr["dtype"].type == tf.float32.as_datatype_enum:
            v = tf.make_ndarray(node.attr["value"].tensor)
            (scalars if v.size == 1 else vectors).append(v.astype(np.float64).ravel())
    return [float(s[0]) for s in scalars], [v.tolist() for v in vectors]


def confirm_with_graph(zs, buckets, output_dir):
    scalars, vectors = graph_float_constants(output_dir)
    for params in zs.values():
        for name in ("mean", "var"):
            probe_val = params[name]
            best = min(scalars, key=lambda c: abs(c - probe_val), default=None)
            ok = best is not None and abs(best - probe_val) <= 1e-5 * max(abs(probe_val), 1e-6)
            params[name + "_probe"] = probe_val
            params[name + "_graph_float32"] = best if ok else None
            if ok:  # the exact float32 constant the transform uses
                params[name] = best
        if params["mean_graph_float32"] is not None and params["var_graph_float32"] is not None:
            params["std"] = math.sqrt(params["var"])
    for b in buckets.values():
        b["matches_graph_constant"] = any(v == b["boundaries"] for v in vectors)


def _f32_key(x):
    """Map a float32 to an int whose order equals the float order (-0.0 == 0.0)."""
    (bits,) = struct.unpack("<i", struct.pack("<f", x))
    return bits if bits >= 0 else -(bits & 0x7FFFFFFF)


def _f32_from_key(k):
    bits = k if k >= 0 else ((-k) | 0x80000000)
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]


def bucket_boundaries(probe):
    """Exact boundaries of each tft.bucketize, found by bisection over all float32 values.

    tft.apply_buckets is a monotone step function: bucket(x) = #{b in boundaries : b <= x}.
    Starting from [-FLT_MAX, FLT_MAX], every interval whose end points fall in different
    buckets is split (in the integer order of float32 bit patterns) until the ends are
    adjacent floats; the upper end is then a boundary (the smallest float32 with the
    higher bucket index). A jump of k buckets at one point means k equal boundaries.
    No data values are needed, and the result is exact (float32), independent of whether
    the quantile sketch returns data values or interpolated ones.
    """
    fmax = float(np.finfo(np.float32).max)
    res = {}
    for key in _BUCKET_FEATURE_KEYS:
        out_key = _transformed_name(key)

        def buckets(keys):
            xs = [_f32_from_key(k) for k in keys]
            return probe.transform({key: xs}, len(xs))[out_key].tolist()

        lo, hi = _f32_key(-fmax), _f32_key(fmax)
        b_lo, b_hi = buckets([lo, hi])
        pending = [(lo, hi, b_lo, b_hi)] if b_hi > b_lo else []
        found = []
        while pending:
            mids = [(a + b) // 2 for a, b, _, _ in pending]
            bm = buckets(mids)
            nxt = []
            for (a, b, ba, bb), m, bmid in zip(pending, mids, bm):
                for x0, x1, y0, y1 in ((a, m, ba, bmid), (m, b, bmid, bb)):
                    if y1 <= y0:
                        continue
                    if x1 - x0 == 1:
                        found.extend([_f32_from_key(x1)] * (y1 - y0))
                    else:
                        nxt.append((x0, x1, y0, y1))
            pending = nxt
        found.sort()
        res[key] = {
            "boundaries": found,
            "num_buckets": len(found) + 1,
            "bucket_at_min": b_lo,
            "bucket_at_max": b_hi,
        }
    return res


def parse_value(text, dtype):
    if text == "":
        return None
    if dtype == tf.string:
        return text.encode("utf-8")
    if dtype == tf.int64:
        return int(text)
    return float(text)


def first_rows(input_csv, n):
    with open(input_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = []
        for row in reader:
            if not row:
                continue
            rows.append(row)
            if len(rows) == n:
                break
    cols = {}
    for j, name in enumerate(header):
        if name in RAW_FEATURE_SPEC:
            cols[name] = [parse_value(r[j], RAW_FEATURE_SPEC[name].dtype) for r in rows]
    return cols, len(rows)


def _jsonable(arr):
    out = []
    for v in arr.tolist():
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        elif isinstance(v, float) and not math.isfinite(v):
            v = repr(v)
        out.append(v)
    return out


def read_back_transformed(output_dir, tft_output, first_n):
    """Reads the written TFRecords: row count, label positives, per-feature sums."""
    files = sorted(glob.glob(os.path.join(output_dir, "transformed_data-*")))
    compression = "GZIP" if files and files[0].endswith(".gz") else ""
    spec = tft_output.transformed_feature_spec()
    ds = tf.data.TFRecordDataset(files, compression_type=compression).batch(65536)
    ds = ds.map(lambda x: tf.io.parse_example(x, spec))
    n = 0
    sums = {k: 0.0 for k in spec}
    sumsq = {k: 0.0 for k in _DENSE_FLOAT_FEATURE_KEYS}
    head = None
    for batch in ds:
        b = {k: v.numpy() for k, v in batch.items()}
        if head is None:
            head = {k: v[:first_n] for k, v in b.items()}
        n += len(b["tips_xf"])
        for k, v in b.items():
            if v.dtype != object:
                sums[k] += float(np.sum(v.astype(np.float64)))
        for k in _DENSE_FLOAT_FEATURE_KEYS:
            sumsq[k] += float(np.sum(b[_transformed_name(k)].astype(np.float64) ** 2))
    return {
        "files": [os.path.basename(f) for f in files],
        "num_rows": n,
        "label_positives": int(round(sums["tips_xf"])),
        "z_score_output_mean": {
            k: sums[_transformed_name(k)] / max(n, 1) for k in _DENSE_FLOAT_FEATURE_KEYS
        },
        "z_score_output_mean_square": {k: sumsq[k] / max(n, 1) for k in _DENSE_FLOAT_FEATURE_KEYS},
        "feature_sums": {k: v for k, v in sums.items() if spec[k].dtype != tf.string},
    }, head


def count_csv_records(path):
    n = 0
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            if row:
                n += 1
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input_csv")
    ap.add_argument("output_dir")
    ap.add_argument(
        "--direct-num-workers",
        type=int,
        default=1,
        help="Beam DirectRunner workers (default 1 = in_memory mode)",
    )
    ap.add_argument(
        "--direct-running-mode",
        default=None,
        choices=["in_memory", "multi_threading", "multi_processing"],
        help="default: in_memory for 1 worker, multi_processing for >1",
    )
    ap.add_argument(
        "--compression",
        default="none",
        choices=["none", "gzip"],
        help="TFRecord compression of the transformed data (default none)",
    )
    ap.add_argument(
        "--no-deep-copy",
        dest="deep_copy",
        action="store_false",
        help="tft_beam.Context(use_deep_copy_optimization=False) (TFT's default; TFX uses "
        "True). Without it, multi-worker DirectRunner modes lost rows (Beam 2.77).",
    )
    ap.add_argument("--first-rows", type=int, default=50)
    args = ap.parse_args(argv)

    input_csv = os.path.abspath(args.input_csv)
    output_dir = os.path.abspath(args.output_dir)
    mode = args.direct_running_mode or (
        "in_memory" if args.direct_num_workers <= 1 else "multi_processing"
    )
    if os.path.exists(output_dir):
        shutil.rmtree(output_dir)
    os.makedirs(output_dir)

    sampler = TreeRssSampler().start()
    timings = build_and_run_pipeline(
        input_csv, output_dir, args.direct_num_workers, mode, args.compression, args.deep_copy
    )
    tree_peak = sampler.stop()
    rss_self = _maxrss_mb(resource.RUSAGE_SELF)
    rss_children = _maxrss_mb(resource.RUSAGE_CHILDREN)

    # ---- read everything back (not timed) ----
    tft_output = tft.TFTransformOutput(output_dir)
    probe = TransformProbe(tft_output)
    zs = zscore_params(probe)
    vocabs = {}
    for key in _VOCAB_FEATURE_KEYS:
        words = [
            w.decode("utf-8") if isinstance(w, bytes) else w
            for w in tft_output.vocabulary_by_name(key)
        ]
        vocabs[key] = {
            "size": len(words),
            "vocabulary": words,
            "vocabulary_size_by_name": int(tft_output.vocabulary_size_by_name(key)),
        }
    buckets = bucket_boundaries(probe)
    confirm_with_graph(zs, buckets, output_dir)
    readback, written_head = read_back_transformed(output_dir, tft_output, args.first_rows)
    input_rows = count_csv_records(input_csv)

    cols, n_first = first_rows(input_csv, args.first_rows)
    head = probe.transform(cols, n_first)
    first_rows_out = {k: _jsonable(head[k]) for k in sorted(head)}
    # Beam does not promise output order; report whether the written file happens to
    # start with the same rows (diagnostic only; the first_rows values come from applying
    # the saved transform_fn to the first rows of INPUT_CSV).
    same_order = (
        all(np.array_equal(written_head[k][:n_first], head[k]) for k in head)
        if written_head is not None
        else False
    )

    results = {
        "tool": "tensorflow_transform",
        "versions": {
            "tensorflow_transform": tft.__version__,
            "tensorflow": tf.__version__,
            "apache_beam": beam.__version__,
            "tfx_bsl": __import__("tfx_bsl").__version__,
            "numpy": np.__version__,
            "pyarrow": __import__("pyarrow").__version__,
            "python": platform.python_version(),
        },
        "input_csv": input_csv,
        "runner": {
            "name": "DirectRunner",
            "direct_running_mode": mode,
            "direct_num_workers": args.direct_num_workers,
            "use_deep_copy_optimization": args.deep_copy,
        },
        "output_format": "tfrecord(tf.Example)" + ("+gzip" if args.compression == "gzip" else ""),
        "wall_seconds": timings["wall_seconds"],
        "wall_seconds_total": timings["wall_seconds_total"],
        "pipeline_construction_seconds": timings["pipeline_construction_seconds"],
        "import_seconds": T_IMPORTS_DONE - T_PROCESS_START,
        "peak_rss_self_mb": rss_self,
        "peak_rss_children_mb": rss_children,
        "peak_rss_mb": max(rss_self, rss_children),
        "peak_rss_tree_sampled_mb": tree_peak,
        "num_rows": readback["num_rows"],
        "input_rows": input_rows,
        "row_count_ok": readback["num_rows"] == input_rows,
        "label_positives": readback["label_positives"],
        "z_score": zs,
        "vocabularies": vocabs,
        "buckets": buckets,
        "readback": readback,
        "first_rows": {
            "n": n_first,
            "written_output_starts_with_same_rows": bool(same_order),
            "values": first_rows_out,
        },
        "methods": {
            "z_score": zscore_params.__doc__.strip() + " Each probe value is then "
            "replaced by the float32 Const of the saved graph within 1e-5 "
            "relative (mean/var_graph_float32), if there is one.",
            "buckets": bucket_boundaries.__doc__.strip(),
            "peak_rss": "peak_rss_mb = max(ru_maxrss(RUSAGE_SELF), ru_maxrss(RUSAGE_CHILDREN)) "
            "measured right after the pipeline; RUSAGE_CHILDREN only covers "
            "children that have exited and been waited for, and is the max "
            "of one child, not a sum. peak_rss_tree_sampled_mb is the max over "
            "time of the summed RSS of this process and all descendants, "
            "sampled every 0.1 s with psutil.",
            "wall_seconds": "pipeline.run() + wait_until_finish() (read CSV, analyze, "
            "transform, encode + write TFRecords, write transform_fn); "
            "wall_seconds_total also includes Beam pipeline construction "
            "(tracing of preprocessing_fn). Python imports excluded.",
        },
    }
    path = os.path.join(output_dir, "tft_results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)

    # ---- summary ----
    print(f"rows={results['num_rows']} (input {input_rows}) label_positives={results['label_positives']}")
    print(
        f"wall_seconds={results['wall_seconds']:.2f} total={results['wall_seconds_total']:.2f} "
        f"peak_rss_mb={results['peak_rss_mb']:.0f} (self {rss_self:.0f}, children "
        f"{rss_children:.0f}, tree sampled {tree_peak if tree_peak is None else round(tree_peak)})"
    )
    for k, v in zs.items():
        print(f"z_score {k}: mean={v['mean']:.9g} var={v['var']:.9g}")
    for k, v in vocabs.items():
        print(f"vocab {k}: size={v['size']} first5={v['vocabulary'][:5]}")
    for k, v in buckets.items():
        print(f"buckets {k}: {v['boundaries']}")
    print(f"wrote {path}")
    if readback["num_rows"] != input_rows:
        print(
            f"ERROR: transformed output has {readback['num_rows']} rows but the input has "
            f"{input_rows}; results are not valid",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
