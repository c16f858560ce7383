"""The serving export: raw rows in, the same predictions as in training, TF alone."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

import tensorbridge as tb
import tensorbridge.transform as tbt
from tensorbridge.errors import ConfigError
from tensorbridge.examples import taxi
from tensorbridge.train.export import (
    MANIFEST,
    encode_raw_rows,
    export_serving_model,
    record_evaluation,
)

tf = pytest.importorskip("tensorflow")
QUIET = Console(quiet=True)

SCORE = """
import base64, json, math, sys
import numpy as np
import tensorflow as tf
assert "tensorbridge" not in sys.modules
payload = json.load(open(sys.argv[1]))
model = tf.saved_model.load(sys.argv[2])
raw = model.signatures["serving_default"]
specs = raw.structured_input_signature[1]
inputs = {k: tf.constant(np.array(payload["raw"][k], dtype=specs[k].dtype.as_numpy_dtype))
          for k in specs}
from_raw = raw(**inputs)["probabilities"].numpy().reshape(-1).tolist()
examples = [base64.b64decode(e) for e in payload["examples"]]
from_examples = model.signatures["from_examples"](examples=tf.constant(examples))
print(json.dumps({"raw": from_raw,
                  "examples": from_examples["probabilities"].numpy().reshape(-1).tolist()}))
"""


def tf_example(row: dict, manifest: dict) -> bytes:
    features = {}
    for entry in manifest["inputs"]:
        value = row.get(entry["name"])
        if value is None:
            continue  # missing: simply absent, as in TFX
        if entry["dtype"] == "string":
            features[entry["name"]] = tf.train.Feature(
                bytes_list=tf.train.BytesList(value=[value.encode()])
            )
        elif entry["dtype"] == "int64":
            features[entry["name"]] = tf.train.Feature(
                int64_list=tf.train.Int64List(value=[int(value)])
            )
        else:
            features[entry["name"]] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


@pytest.mark.timeout(600)
def test_exported_model_serves_raw_rows_like_the_evaluator_saw(
    taxi_trained: tuple, tmp_path: Path
) -> None:
    splits, output, result = taxi_trained
    export_dir = export_serving_model(
        result.model_path,
        output,
        tmp_path / "export",
        features=taxi.model_features(),
        raw_label_columns=["tips"],
        label="tips_xf",
    )
    manifest = json.loads((export_dir / MANIFEST).read_text())
    assert "tips" not in [entry["name"] for entry in manifest["inputs"]]
    company = next(e for e in manifest["inputs"] if e["name"] == "company")
    assert company["optional"] and company["missing_value"] == '""'
    statistics = manifest["training_statistics"]
    assert statistics["analyzed_rows"] == 9_945
    assert statistics["missing_values"]["company"] > 0 and statistics["missing_values"]["fare"] == 0
    assert statistics["analyzers"]["vocab_payment_type"]["vocabulary_size"] == 7
    lineage = manifest["lineage"]
    assert lineage["transform_fingerprint"].startswith("sha256:")
    assert lineage["model_fingerprint"].startswith("sha256:") and manifest["evaluation"] is None

    evaluation = SimpleNamespace(
        blessed=True,
        failures=[],
        overall=SimpleNamespace(metrics={"auc": 0.93, "pr_auc": math.nan}),
    )
    recorded = record_evaluation(export_dir, evaluation)
    assert recorded["evaluation"] == {
        "blessed": True,
        "overall": {"auc": 0.93, "pr_auc": None},
        "failures": [],
    }
    assert json.loads((export_dir / MANIFEST).read_text())["evaluation"]["blessed"] is True

    rows = splits["eval"].head(40).to_pylist()
    assert any(row["company"] is None for row in rows)  # missing cells are part of the test
    raw = encode_raw_rows(rows, manifest)
    payload = {
        "raw": {k: v.tolist() for k, v in raw.items()},
        "examples": [base64.b64encode(tf_example(row, manifest)).decode() for row in rows],
    }
    (tmp_path / "payload.json").write_text(json.dumps(payload))
    done = subprocess.run(
        [sys.executable, "-c", SCORE, str(tmp_path / "payload.json"), str(export_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])

    # What the evaluator sees: the trained model on the transformed features of these rows.
    transformed = tbt.transform(tb.from_arrow(splits["eval"].head(40)), output)
    table = transformed.to_table()
    inputs = {name: table.column(name).to_numpy() for name in taxi.model_features()}
    expected = result.load_model().predict(inputs, verbose=0).reshape(-1)
    assert np.allclose(served["raw"], expected, atol=1e-6)
    assert np.allclose(served["examples"], expected, atol=1e-6)


def test_encode_raw_rows_requires_required_features() -> None:
    manifest = {
        "inputs": [
            {"name": "fare", "signature_dtype": "float32", "optional": False},
            {"name": "company", "signature_dtype": "string", "optional": True},
            {"name": "tract", "signature_dtype": "float64", "optional": True},
        ]
    }
    encoded = encode_raw_rows([{"fare": 1.5, "company": None, "tract": 17031081800}], manifest)
    assert encoded["company"].tolist() == [""] and encoded["tract"].tolist() == [17031081800.0]
    with pytest.raises(ConfigError, match="'fare' is required"):
        encode_raw_rows([{"company": "x"}], manifest)
