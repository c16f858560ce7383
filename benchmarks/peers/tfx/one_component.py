"""A one-component TFX pipeline on LocalDagRunner, for the cold-start benchmark.

    .venv/bin/python one_component.py PIPELINE_ROOT

The component (a Python-function component) writes ``time.time()`` when its body starts;
the benchmark subtracts the moment it started this process. Prints one JSON line.
(No ``from __future__ import annotations``: TFX reads the annotations at run time.)
"""

import json
import sys
import time

STARTED = time.time()

from tfx import v1 as tfx  # noqa: E402  (import time is part of the cold start)
from tfx.dsl.component.experimental.annotations import OutputArtifact  # noqa: E402
from tfx.dsl.component.experimental.decorators import component  # noqa: E402
from tfx.types.standard_artifacts import Model  # noqa: E402


@component
def Hello(model: OutputArtifact[Model]) -> None:  # noqa: N802 (TFX component naming)
    with open(model.uri + "/started.txt", "w") as handle:
        handle.write(repr(time.time()))


def main() -> None:
    root = sys.argv[1]
    hello = Hello()
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="one",
        pipeline_root=root,
        components=[hello],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            root + "/metadata.sqlite"
        ),
        enable_cache=False,
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    import glob

    (found,) = glob.glob(root + "/Hello/model/*/started.txt")
    with open(found) as handle:
        component_started = float(handle.read())
    print(json.dumps({"process_started": STARTED, "component_started": component_started}))


if __name__ == "__main__":
    main()
