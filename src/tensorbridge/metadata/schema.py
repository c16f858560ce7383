"""The metadata store's tables (SQLAlchemy Core) and its schema version.

Bump :data:`SCHEMA_VERSION` whenever a table changes, and teach
:func:`tensorbridge.metadata.connect.prepare_schema` to migrate the previous version.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "SCHEMA_VERSION",
    "TABLE_NAMES",
    "artifacts",
    "associations",
    "attributions",
    "contexts",
    "events",
    "executions",
    "metadata",
    "parent_contexts",
    "schema_version",
]

#: The version of the tables below; a store with a newer one is refused.
SCHEMA_VERSION: Final = 1

metadata = MetaData()

_TYPE = 255  # type names, states, keys
_NAME = 1024  # context, artifact and event names

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

contexts = Table(
    "contexts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("type", String(_TYPE), nullable=False),
    Column("name", String(_NAME), nullable=False),
    Column("properties", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("type", "name", name="uq_contexts_type_name"),
    sqlite_autoincrement=True,
)

parent_contexts = Table(
    "parent_contexts",
    metadata,
    Column("child_id", Integer, ForeignKey("contexts.id"), primary_key=True),
    Column("parent_id", Integer, ForeignKey("contexts.id"), primary_key=True),
    Index("ix_parent_contexts_parent", "parent_id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("type", String(_TYPE), nullable=False),
    Column("uri", Text, nullable=False),
    Column("state", String(_TYPE), nullable=False),
    Column("name", String(_NAME), nullable=True),
    Column("properties", Text, nullable=False),
    Column("fingerprint", String(_TYPE), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_artifacts_type", "type"),
    Index("ix_artifacts_fingerprint", "fingerprint"),
    sqlite_autoincrement=True,
)

executions = Table(
    "executions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("type", String(_TYPE), nullable=False),
    Column("state", String(_TYPE), nullable=False),
    Column("properties", Text, nullable=False),
    Column("cache_key", String(_TYPE), nullable=True),
    Column("error", Text, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_executions_cache_key", "cache_key"),
    Index("ix_executions_type", "type"),
    sqlite_autoincrement=True,
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("execution_id", Integer, ForeignKey("executions.id"), nullable=False),
    Column("artifact_id", Integer, ForeignKey("artifacts.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(_NAME), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("execution_id", "artifact_id", "kind", "name", name="uq_events"),
    Index("ix_events_artifact", "artifact_id"),
    sqlite_autoincrement=True,
)

attributions = Table(
    "attributions",
    metadata,
    Column("context_id", Integer, ForeignKey("contexts.id"), primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id"), primary_key=True),
    Index("ix_attributions_artifact", "artifact_id"),
)

associations = Table(
    "associations",
    metadata,
    Column("context_id", Integer, ForeignKey("contexts.id"), primary_key=True),
    Column("execution_id", Integer, ForeignKey("executions.id"), primary_key=True),
    Index("ix_associations_execution", "execution_id"),
)

#: Every table the store owns, schema_version first.
TABLE_NAMES: Final = tuple(metadata.tables)
