"""Artifact types and the ``Input[...]`` / ``Output[...]`` annotations of components.

An artifact is a directory (payload files plus ``artifact.json``) that one component
execution writes and others read. Its *type* says what is inside, so that wiring a
``Statistics`` output into an ``Examples`` input is an error found before anything runs.
The annotations follow the Kubeflow Pipelines v2 SDK (``Input[Dataset]``,
``Output[Model]``), which makes a component read the same in both worlds.

Examples
--------
>>> Input[Examples].artifact_type.type_name
'Examples'
>>> issubclass(Examples, Artifact)
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

__all__ = [
    "ARTIFACT_FILE",
    "Anomalies",
    "Artifact",
    "ArtifactHandle",
    "DataPath",
    "Examples",
    "ExampleStatistics",
    "InfraBlessing",
    "Input",
    "Model",
    "ModelBlessing",
    "ModuleRef",
    "ModelEvaluation",
    "Output",
    "PushedModel",
    "Schema",
    "TransformGraph",
    "artifact_types",
]

#: The file every artifact directory carries: type, producer, fingerprint, properties.
ARTIFACT_FILE = "artifact.json"


class Artifact:
    """Base of all artifact types; subclass it to define your own.

    ``type_name`` is the name recorded in the metadata store; ``kfp_schema`` the Kubeflow
    Pipelines schema title it maps to when a pipeline is compiled for Kubeflow.
    """

    type_name: ClassVar[str] = "Artifact"
    kfp_schema: ClassVar[str] = "system.Artifact"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type_name" not in cls.__dict__:
            cls.type_name = cls.__name__


class Examples(Artifact):
    """Examples: one Parquet directory per split (``train/``, ``eval/``)."""

    kfp_schema = "system.Dataset"


class ExampleStatistics(Artifact):
    """Statistics (``tensorbridge.stats``), one JSON file per split."""

    type_name = "ExampleStatistics"


class Schema(Artifact):
    """A schema file (``schema.yaml``)."""


class Anomalies(Artifact):
    """Anomalies of each split against a schema (``anomalies.json``)."""

    type_name = "ExampleAnomalies"


class TransformGraph(Artifact):
    """The output of ``analyze``: transform_fn SavedModel and metadata."""


class Model(Artifact):
    """An exported serving model (SavedModel with ``tensorbridge.json``)."""

    kfp_schema = "system.Model"


class ModelEvaluation(Artifact):
    """An evaluation result (``tensorbridge.evaluate``)."""

    kfp_schema = "system.Metrics"


class ModelBlessing(Artifact):
    """Whether the evaluation blessed the model (``blessing.json``)."""


class InfraBlessing(Artifact):
    """Whether the model loaded and answered requests in a fresh process."""


class PushedModel(Artifact):
    """A model version pushed into a model repository."""


class DataPath(str):
    """Annotation of a parameter that names external data (a file or directory).

    The runner fingerprints the data's content, so a changed input file invalidates the
    cache even though the parameter (its path) did not change.
    """


class ModuleRef(str):
    """Annotation of a parameter naming a function as ``"package.module:function"``.

    The runner fingerprints the file that defines it, so editing a ``preprocessing_fn``
    or a model function invalidates the cache of the component that uses it.
    """


def artifact_types() -> dict[str, type[Artifact]]:
    """Every artifact type defined so far, by ``type_name``."""
    found: dict[str, type[Artifact]] = {}
    pending: list[type[Artifact]] = [Artifact]
    while pending:
        cls = pending.pop()
        found[cls.type_name] = cls
        pending.extend(cls.__subclasses__())
    return found


@dataclass
class ArtifactHandle:
    """What a component function receives for an ``Input[...]`` or ``Output[...]``.

    Attributes
    ----------
    path : pathlib.Path
        The artifact's directory. For an output it is a fresh temporary directory that
        becomes the artifact only when the component returns without error.
    type_name : str
        The artifact type.
    metadata : dict
        Properties (JSON values) recorded with the artifact in the metadata store; an
        output's component may add to it (e.g. row counts).
    uri : str
        Where the artifact lives once complete (its final directory).
    artifact_id : int or None
        Its id in the metadata store, once registered.
    fingerprint : str
        SHA-256 of its files, once complete ("" before).
    """

    path: Path
    type_name: str
    uri: str
    metadata: dict[str, Any] = field(default_factory=dict)
    artifact_id: int | None = None
    fingerprint: str = ""

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __truediv__(self, other: str) -> Path:
        return self.path / other

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> ArtifactHandle:
        """The handle of a complete artifact directory (reads its ``artifact.json``)."""
        folder = Path(path)
        info = json.loads((folder / ARTIFACT_FILE).read_text(encoding="utf-8"))
        return cls(folder, info["type"], str(folder), dict(info.get("properties", {})))

    def write_info(self, extra: Mapping[str, Any]) -> None:
        """Write ``artifact.json`` (type, properties and ``extra`` such as the producer)."""
        info = {"type": self.type_name, "properties": self.metadata, **extra}
        (self.path / ARTIFACT_FILE).write_text(
            json.dumps(info, indent=1, sort_keys=True, default=str), encoding="utf-8"
        )


_T = TypeVar("_T", bound=Artifact)


class _Annotation(Generic[_T]):
    artifact_type: ClassVar[type[Artifact]]
    direction: ClassVar[str]

    def __class_getitem__(cls, item: Any) -> Any:
        if isinstance(item, TypeVar):  # Generic's own parametrization (class Input(...[_T]))
            return super().__class_getitem__(item)  # type: ignore[misc]
        if not (isinstance(item, type) and issubclass(item, Artifact)):
            raise TypeError(
                f"{cls.__name__}[...] takes an artifact type such as Examples or Model, "
                f"got {item!r}."
            )
        return type(f"{cls.__name__}[{item.__name__}]", (cls,), {"artifact_type": item})


if TYPE_CHECKING:
    # What a type checker sees: a component receives an ArtifactHandle for each
    # Input[...] / Output[...] argument.
    class Input(ArtifactHandle, Generic[_T]):
        """Annotation of an input artifact: ``examples: Input[Examples]``."""

    class Output(ArtifactHandle, Generic[_T]):
        """Annotation of an output artifact: ``model: Output[Model]``."""

else:

    class Input(_Annotation[_T]):
        """Annotation of an input artifact: ``examples: Input[Examples]``."""

        direction = "input"

    class Output(_Annotation[_T]):
        """Annotation of an output artifact: ``model: Output[Model]``."""

        direction = "output"
