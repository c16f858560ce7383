"""SchemaGen (infer a schema from the train statistics) and ImportSchema (a curated one)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from tensorbridge.errors import ConfigError
from tensorbridge.pipeline.artifacts import ArtifactHandle, DataPath, ExampleStatistics, Schema
from tensorbridge.pipeline.component import component
from tensorbridge.pipeline.components._common import Input, Output, statistics_splits

if TYPE_CHECKING:
    from tensorbridge.stats.schema import Schema as DataSchema

__all__ = ["SCHEMA_FILE", "ImportSchema", "SchemaGen", "load_schema_artifact"]

SCHEMA_FILE = "schema.yaml"


def _describe(schema: DataSchema) -> dict[str, object]:
    features = [f.name for f in schema.features]
    return {"num_features": len(features), "features": features}


def load_schema_artifact(schema: ArtifactHandle, component: str) -> DataSchema:
    """The :class:`tensorbridge.stats.Schema` in a Schema artifact's ``schema.yaml``."""
    from tensorbridge.stats.schema_file import load_schema

    path = schema.path / SCHEMA_FILE
    if not path.is_file():
        raise ConfigError(
            f"{component}: the schema artifact at {str(path.parent)!r} has no {SCHEMA_FILE}; "
            "wire it to SchemaGen's or ImportSchema's schema output."
        )
    return load_schema(path)


@component
def SchemaGen(  # noqa: N802 - components are named like TFX's, in CamelCase
    statistics: Input[ExampleStatistics],
    schema: Output[Schema],
    infer_feature_shape: bool = True,
    max_string_domain_size: int = 100,
) -> None:
    """Infer a schema from the statistics of the ``train`` split (TFX's SchemaGen).

    Parameters
    ----------
    statistics : Input[ExampleStatistics]
        StatisticsGen's output; only ``train.json`` is read, as in TFX.
    schema : Output[Schema]
        Receives ``schema.yaml`` (commented, hand-editable; see
        :func:`tensorbridge.stats.save_schema`).
    infer_feature_shape : bool
        Give features that always have the same number of values a ``shape``.
    max_string_domain_size : int
        Largest number of distinct strings that still makes a ``string_domain``.

    Notes
    -----
    Metadata: ``num_features`` and ``features`` (names, in column order). To review and
    pin a schema, copy ``schema.yaml``, edit it, and use :func:`ImportSchema` instead.
    """
    from tensorbridge.stats.model import Statistics
    from tensorbridge.stats.schema_file import save_schema
    from tensorbridge.stats.schema_inference import infer_schema

    splits = statistics_splits(statistics, "SchemaGen")
    if "train" not in splits:
        raise ConfigError(
            f"SchemaGen: the statistics have the splits {splits} but no 'train' split, which "
            "the schema is inferred from (as in TFX); name a split 'train' in ExampleGen's "
            "split_ratios."
        )
    if isinstance(max_string_domain_size, bool) or not isinstance(max_string_domain_size, int):
        raise ConfigError(
            f"SchemaGen: max_string_domain_size={max_string_domain_size!r} must be an "
            "integer, e.g. 100."
        )
    train = Statistics.load(statistics.path / "train.json")
    inferred = infer_schema(
        train,
        infer_feature_shape=bool(infer_feature_shape),
        max_string_domain_size=max_string_domain_size,
    )
    save_schema(inferred, schema.path / SCHEMA_FILE)
    schema.metadata.update(_describe(inferred))


@component
def ImportSchema(  # noqa: N802 - components are named like TFX's, in CamelCase
    schema_file: DataPath,
    schema: Output[Schema],
) -> None:
    """Import a curated schema file (TFX's ImportSchemaGen).

    Parameters
    ----------
    schema_file : DataPath
        A ``.yaml``/``.yml`` or ``.json`` schema (:func:`tensorbridge.stats.load_schema`
        checks every field and reports all problems at once, with line numbers).
    schema : Output[Schema]
        Receives ``schema.yaml``: the file itself when it is YAML (comments kept), else
        the schema rewritten as YAML.

    Notes
    -----
    Metadata: ``num_features``, ``features`` and ``source``.

    Raises
    ------
    ConfigError
        When ``schema_file`` does not exist; :class:`~tensorbridge.errors.SchemaError`
        when it is not a valid schema.
    """
    from tensorbridge.stats.schema_file import load_schema, save_schema

    source = Path(schema_file)
    if not source.is_file():
        raise ConfigError(
            f"ImportSchema: schema_file={str(schema_file)!r} is not a file; pass the path of "
            "a schema written by SchemaGen or tensorbridge.stats.save_schema (.yaml/.json)."
        )
    loaded = load_schema(source)
    target = schema.path / SCHEMA_FILE
    if source.suffix.lower() in (".yaml", ".yml"):
        shutil.copyfile(source, target)
    else:
        save_schema(loaded, target)
    schema.metadata.update(_describe(loaded))
    schema.metadata["source"] = str(source)
