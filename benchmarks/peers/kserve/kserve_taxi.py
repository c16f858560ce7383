"""The taxi SavedModel on KServe's Python model server (KServe's custom-model path).

A ``kserve.Model`` subclass loads the exported SavedModel (tensorbridge's serving export:
raw features in, ``probabilities`` out) with TensorFlow in ``load()``; ``predict()``
turns a V1 ``{"instances": [row dicts]}`` payload into the ``serving_default``
signature's 1-D tensors and returns ``{"predictions": [[p], ...]}``. Missing values
follow the export's manifest (``tensorbridge.json``), as tensorbridge's server does: a
``null`` or absent value of an optional input becomes NaN (floats) or ``""`` (strings).

    .venv/bin/python kserve_taxi.py --model-dir REPO/taxi/1 --http_port 8080 \
        [--model_name taxi] [--offload]

KServe serves V1 (``/v1/models/taxi:predict``) and V2 (``/v2/health/ready`` ...) on one
port. ``predict`` is a plain (synchronous) method, as in KServe's custom-model docs: it
runs on the event loop, one request at a time. ``--offload`` makes it ``async`` and runs
the TensorFlow call in the loop's default thread pool (which KServe sizes with
``--max_asyncio_workers``) so that several requests can run TensorFlow at once. KServe
0.21 has no in-process batching: its batcher is a separate agent (a sidecar container
in KServe's Kubernetes deployment), not part of ``kserve.ModelServer``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
from pathlib import Path
from typing import Any

import kserve
import numpy as np
import tensorflow as tf
from kserve import model_server

_NUMPY = {
    "float32": np.float32,
    "float64": np.float64,
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
}


class TaxiModel(kserve.Model):
    """The exported taxi model: raw feature rows in, ``probabilities`` out."""

    def __init__(self, name: str, model_dir: str) -> None:
        super().__init__(name)
        self.model_dir = Path(model_dir)
        self.inputs: list[tuple[str, str, Any]] = []  # name, signature dtype, sentinel
        self.output = "probabilities"
        self._signature: Any = None
        self.ready = False

    def load(self) -> bool:
        manifest = json.loads((self.model_dir / "tensorbridge.json").read_text())
        for entry in manifest["inputs"]:
            dtype = entry.get("signature_dtype", entry["dtype"])
            sentinel: Any = None
            if entry.get("optional"):
                sentinel = "" if dtype == "string" else math.nan
            self.inputs.append((entry["name"], dtype, sentinel))
        self.output = manifest["outputs"][0]["name"]
        loaded = tf.saved_model.load(str(self.model_dir))
        self._loaded = loaded  # keep the object alive: the signature refers to it
        self._signature = loaded.signatures["serving_default"]
        self.ready = True
        return self.ready

    def _tensors(self, instances: list[dict[str, Any]]) -> dict[str, tf.Tensor]:
        tensors = {}
        for name, dtype, sentinel in self.inputs:
            values = [row.get(name) for row in instances]
            if sentinel is not None:
                values = [sentinel if value is None else value for value in values]
            elif any(value is None for value in values):
                raise kserve.errors.InvalidInput(f"{name}: a value is missing")
            if dtype == "string":
                tensors[name] = tf.constant(values, dtype=tf.string)
            else:
                tensors[name] = tf.constant(np.asarray(values, dtype=_NUMPY[dtype]))
        return tensors

    def _predict(self, payload: dict[str, Any]) -> dict[str, Any]:
        instances = payload["instances"]
        outputs = self._signature(**self._tensors(instances))
        return {"predictions": outputs[self.output].numpy().tolist()}

    def predict(self, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return self._predict(payload)


class OffloadedTaxiModel(TaxiModel):
    """The same model, with the TensorFlow call in the event loop's thread pool."""

    async def predict(  # type: ignore[override]
        self, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._predict, payload)


def main() -> None:
    # KServe's documented pattern: its own flags (--http_port, --model_name, ...) ride along.
    parser = argparse.ArgumentParser(parents=[model_server.parser])
    parser.add_argument("--model-dir", required=True, help="the SavedModel (REPO/taxi/1)")
    parser.add_argument("--offload", action="store_true", help="predict in a thread pool")
    args, _ = parser.parse_known_args()
    name = args.model_name if args.model_name != "model" else "taxi"
    model = (OffloadedTaxiModel if args.offload else TaxiModel)(name, args.model_dir)
    model.load()
    server = kserve.ModelServer(
        http_port=args.http_port,
        workers=1,
        enable_grpc=False,  # only REST is measured
        enable_latency_logging=False,  # no log line per request (like --no-access-log)
    )
    # No log line per request, like tensorbridge's --no-access-log: uvicorn's access log
    # and the trace lines of KServe's request-timing middleware (which still runs).
    for quiet in ("uvicorn.access", "kserve.trace"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    server.start([model])


if __name__ == "__main__":
    main()
