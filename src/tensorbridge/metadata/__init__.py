"""The metadata store: ML Metadata (MLMD) on SQLAlchemy, SQLite or PostgreSQL.

Pipelines record every execution, the artifacts it read and wrote (events), and the
contexts they belong to (the pipeline, the run) in a :class:`MetadataStore`. Lineage
functions answer "where did this model come from" (:func:`upstream`,
:func:`provenance`), "what came of this data" (:func:`downstream`) and "what changed
between two runs" (:func:`diff_runs`).

Examples
--------
>>> from tensorbridge.metadata import MetadataStore, upstream
>>> store = MetadataStore(":memory:")  # a path for a SQLite file, or a PostgreSQL URL
>>> data = store.put_artifact("Examples", "/data/examples/1", fingerprint="ab12")
>>> model = store.put_artifact("Model", "/models/1")
>>> trainer = store.record_execution(
...     "Trainer", inputs={"examples": data}, outputs={"model": model}
... )
>>> [a.uri for a in upstream(store, model.id).sources()]
['/data/examples/1']
>>> store.close()
"""

from __future__ import annotations

from tensorbridge.metadata.errors import MetadataError, NotFoundError
from tensorbridge.metadata.lineage import (
    ArtifactChange,
    ComponentDiff,
    LineageGraph,
    RunDiff,
    diff_runs,
    downstream,
    provenance,
    upstream,
)
from tensorbridge.metadata.records import (
    ARTIFACT_STATES,
    EVENT_KINDS,
    EXECUTION_STATES,
    FINAL_EXECUTION_STATES,
    Artifact,
    Context,
    Event,
    EventKind,
    Execution,
)
from tensorbridge.metadata.schema import SCHEMA_VERSION
from tensorbridge.metadata.store import MetadataStore

__all__ = [
    "ARTIFACT_STATES",
    "EVENT_KINDS",
    "EXECUTION_STATES",
    "FINAL_EXECUTION_STATES",
    "SCHEMA_VERSION",
    "Artifact",
    "ArtifactChange",
    "ComponentDiff",
    "Context",
    "Event",
    "EventKind",
    "Execution",
    "LineageGraph",
    "MetadataError",
    "MetadataStore",
    "NotFoundError",
    "RunDiff",
    "diff_runs",
    "downstream",
    "provenance",
    "upstream",
]
