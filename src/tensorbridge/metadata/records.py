"""The records the metadata store returns: artifacts, executions, contexts and events.

These are plain frozen dataclasses (no SQLAlchemy), the ML Metadata (MLMD) model:

- an :class:`Artifact` is a piece of data a pipeline read or wrote (a directory, usually);
- an :class:`Execution` is one run of a component;
- an :class:`Event` links an execution to an artifact it read (``INPUT``) or wrote
  (``OUTPUT``), under the component's input/output name;
- a :class:`Context` groups artifacts and executions (a pipeline, one run of it).

``properties`` are JSON values (str, int, float, bool, None, lists, dicts with str keys);
tuples come back as lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "ARTIFACT_STATES",
    "EVENT_KINDS",
    "EXECUTION_STATES",
    "FINAL_EXECUTION_STATES",
    "Artifact",
    "Context",
    "Event",
    "EventKind",
    "Execution",
]

#: Artifact states (MLMD's names): being written, usable, deleted from storage.
ARTIFACT_STATES: Final = ("PENDING", "LIVE", "DELETED")
#: Execution states (MLMD's names); all but RUNNING are final.
EXECUTION_STATES: Final = ("RUNNING", "COMPLETE", "FAILED", "CACHED", "CANCELED")
#: The states an execution can finish in.
FINAL_EXECUTION_STATES: Final = ("COMPLETE", "FAILED", "CACHED", "CANCELED")
#: Event kinds: the execution read the artifact, or wrote it.
EVENT_KINDS: Final = ("INPUT", "OUTPUT")

EventKind = Literal["INPUT", "OUTPUT"]


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Artifact:
    """A piece of data a pipeline read or wrote.

    Attributes
    ----------
    id : int
        Unique in the store.
    type : str
        The artifact type (``"Examples"``, ``"Model"``): any string the pipeline chooses.
    uri : str
        Where the payload lives (a directory path, a URL).
    state : str
        ``"PENDING"``, ``"LIVE"`` or ``"DELETED"``.
    properties : Mapping[str, Any]
        JSON properties.
    fingerprint : str or None
        A content hash of the payload, when known.
    created_at : datetime.datetime
        When it was recorded (UTC, timezone-aware).
    name : str or None
        A human name (``"trainer.model"``), not necessarily unique.
    """

    id: int
    type: str
    uri: str
    state: str
    properties: Mapping[str, Any]
    fingerprint: str | None
    created_at: dt.datetime
    name: str | None = None

    def __hash__(self) -> int:
        return hash(("Artifact", self.id))

    def to_dict(self) -> dict[str, Any]:
        """The artifact as JSON values (``created_at`` as an ISO 8601 string)."""
        return {
            "id": self.id,
            "type": self.type,
            "uri": self.uri,
            "state": self.state,
            "name": self.name,
            "fingerprint": self.fingerprint,
            "properties": dict(self.properties),
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class Execution:
    """One run of a component.

    Attributes
    ----------
    id : int
        Unique in the store.
    type : str
        The execution type (usually the component's name).
    state : str
        One of :data:`EXECUTION_STATES`.
    properties : Mapping[str, Any]
        JSON properties; lineage reads ``"component"``, ``"parameters"`` and
        ``"code_fingerprint"`` when present.
    started_at : datetime.datetime
        When it was recorded (UTC).
    finished_at : datetime.datetime or None
        When it reached a final state; None while RUNNING.
    cache_key : str or None
        The key :meth:`~tensorbridge.metadata.MetadataStore.find_cached` looks up.
    error : str or None
        Why it failed, for FAILED and CANCELED executions.
    """

    id: int
    type: str
    state: str
    properties: Mapping[str, Any]
    started_at: dt.datetime
    finished_at: dt.datetime | None
    cache_key: str | None = None
    error: str | None = None

    def __hash__(self) -> int:
        return hash(("Execution", self.id))

    @property
    def component(self) -> str:
        """``properties["component"]`` when it is a string, else :attr:`type`."""
        component = self.properties.get("component")
        return component if isinstance(component, str) else self.type

    def to_dict(self) -> dict[str, Any]:
        """The execution as JSON values (times as ISO 8601 strings)."""
        return {
            "id": self.id,
            "type": self.type,
            "state": self.state,
            "cache_key": self.cache_key,
            "error": self.error,
            "properties": dict(self.properties),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
        }


@dataclass(frozen=True)
class Context:
    """A group of artifacts and executions: a pipeline, or one run of it.

    Attributes
    ----------
    id : int
        Unique in the store.
    type : str
        The context type (``"pipeline"``, ``"run"``).
    name : str
        Unique among contexts of its type.
    properties : Mapping[str, Any]
        JSON properties.
    created_at : datetime.datetime
        When it was first recorded (UTC).
    """

    id: int
    type: str
    name: str
    properties: Mapping[str, Any]
    created_at: dt.datetime

    def __hash__(self) -> int:
        return hash(("Context", self.id))

    def to_dict(self) -> dict[str, Any]:
        """The context as JSON values."""
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "properties": dict(self.properties),
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class Event:
    """An execution read (``INPUT``) or wrote (``OUTPUT``) an artifact.

    Attributes
    ----------
    execution_id : int
        The execution.
    artifact_id : int
        The artifact.
    kind : {"INPUT", "OUTPUT"}
        Which way the data went.
    name : str
        The component's input or output name (``"examples"``, ``"model"``).
    """

    execution_id: int
    artifact_id: int
    kind: EventKind
    name: str

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON values."""
        return {
            "execution_id": self.execution_id,
            "artifact_id": self.artifact_id,
            "kind": self.kind,
            "name": self.name,
        }
