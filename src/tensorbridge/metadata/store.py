"""The metadata store: record and query artifacts, executions, contexts and events.

Every write method is one database transaction; :meth:`MetadataStore.transaction` groups
several into one. Several processes (and threads) may write to one store at once:
SQLite serializes writers on its busy timeout, PostgreSQL on row locks, and
get-or-create writes (contexts, events, links) use ``INSERT ... ON CONFLICT DO NOTHING``,
so two pipeline runs never duplicate or lose a record.

Examples
--------
>>> from tensorbridge.metadata import MetadataStore
>>> with MetadataStore(":memory:") as store:
...     data = store.put_artifact("Examples", "/data/examples/1", fingerprint="ab12")
...     run = store.put_execution("Trainer", properties={"parameters": {"epochs": 3}})
...     _ = store.put_event(run.id, data.id, "INPUT", "examples")
...     store.finish_execution(run.id, "COMPLETE").state
'COMPLETE'
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Row,
    Select,
    Table,
    and_,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from tensorbridge.errors import ConfigError
from tensorbridge.metadata import schema
from tensorbridge.metadata.connect import (
    BUSY_TIMEOUT_S,
    WRITE_OPTION,
    create_store_engine,
    prepare_schema,
    resolve_url,
)
from tensorbridge.metadata.errors import MetadataError, NotFoundError
from tensorbridge.metadata.properties import dump_properties, load_properties, merge_properties
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

__all__ = ["MetadataStore"]

_TYPE_LIMIT: Final = 255
_NAME_LIMIT: Final = 1024

ArtifactsArg = Mapping[str, "Artifact | Sequence[Artifact]"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    """Stored times as aware UTC (SQLite hands them back naive, PostgreSQL in its zone)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _text(value: object, what: str, limit: int = _TYPE_LIMIT) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{what} must be a non-empty str, got {value!r:.80}.")
    if len(value) > limit:
        raise ConfigError(
            f"{what} is {len(value)} characters long; the store holds at most {limit} "
            f"({value[:40]!r}...)."
        )
    return value


def _optional_text(value: object, what: str, limit: int = _TYPE_LIMIT) -> str | None:
    return None if value is None else _text(value, what, limit)


def _id(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be an int id, got {type(value).__name__} {value!r:.80}.")
    return value


def _choice(value: object, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{what} must be one of {', '.join(allowed)}; got {value!r:.80}.")
    return cast(str, value)


def _artifact(row: Row[Any]) -> Artifact:
    return Artifact(
        id=row.id,
        type=row.type,
        uri=row.uri,
        state=row.state,
        properties=load_properties(row.properties),
        fingerprint=row.fingerprint,
        created_at=_utc(row.created_at),
        name=row.name,
    )


def _execution(row: Row[Any]) -> Execution:
    return Execution(
        id=row.id,
        type=row.type,
        state=row.state,
        properties=load_properties(row.properties),
        started_at=_utc(row.started_at),
        finished_at=None if row.finished_at is None else _utc(row.finished_at),
        cache_key=row.cache_key,
        error=row.error,
    )


def _context(row: Row[Any]) -> Context:
    return Context(
        id=row.id,
        type=row.type,
        name=row.name,
        properties=load_properties(row.properties),
        created_at=_utc(row.created_at),
    )


def _event(row: Row[Any]) -> Event:
    return Event(
        execution_id=row.execution_id,
        artifact_id=row.artifact_id,
        kind=cast(EventKind, row.kind),
        name=row.name,
    )


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None or key[0] is None:  # pragma: no cover - every tested dialect reports it
        raise MetadataError("The database did not report the id of the row just inserted.")
    return int(key[0])


def _insert_ignore(
    connection: Connection, table: Table, values: Mapping[str, Any], keys: Sequence[str]
) -> bool:
    """Insert a row unless one with the same ``keys`` exists; True when inserted.

    Race-free on SQLite and PostgreSQL (``ON CONFLICT DO NOTHING``); elsewhere a check
    then an insert, inside the caller's transaction.
    """
    dialect = connection.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        ignoring: Any = sqlite.insert(table).values(**values).on_conflict_do_nothing()
        return bool(connection.execute(ignoring).rowcount)
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        ignoring = (
            postgresql.insert(table)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(table.c[keys[0]])  # rowcount is -1 with RETURNING: count the rows
        )
        return connection.execute(ignoring).first() is not None
    found = connection.execute(
        select(table.c[keys[0]]).where(*(table.c[k] == values[k] for k in keys))
    ).first()
    if found is not None:
        return False
    connection.execute(insert(table).values(**values))
    return True


class MetadataStore:
    """A store of ML metadata (artifacts, executions, contexts, events) in a SQL database.

    Parameters
    ----------
    url : str, path-like or None
        A file path or ``sqlite:///path`` URL (SQLite), ``":memory:"`` (a throwaway
        in-memory store for one thread: tests, examples), or any SQLAlchemy URL, e.g.
        ``postgresql+psycopg://user:password@host:5432/dbname`` (``pip install
        'tensorbridge[postgres]'``). None reads ``$TENSORBRIDGE_METADATA``, else
        ``~/.tensorbridge/metadata.sqlite``. Tables are created when missing.

    Raises
    ------
    ConfigError
        When the URL cannot be parsed.
    MissingDependencyError
        When the database driver is not installed.
    MetadataError
        When the database cannot be reached, or was written by a newer tensorbridge.

    Notes
    -----
    Lists come back in a fixed order: artifacts newest first, everything else in the
    order it was recorded. A ``CACHED`` execution records ``OUTPUT`` events to the
    artifacts it reused, so an artifact can have several executions outputting it;
    :meth:`producer_of` is the first, the one that wrote it.
    """

    def __init__(self, url: str | os.PathLike[str] | None = None) -> None:
        self._url = resolve_url(url)
        self._engine = create_store_engine(self._url)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        self._local = threading.local()
        self._closed = False
        try:
            with self._errors("open"), self._writer.begin() as connection:
                self.schema_version: int = prepare_schema(connection)
        except BaseException:
            self._engine.dispose()
            raise

    # -- lifecycle --------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._url.render_as_string(hide_password=True)

    @property
    def backend(self) -> str:
        """The database kind: ``"sqlite"``, ``"postgresql"``, ..."""
        return self._url.get_backend_name()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close every pooled connection; the store cannot be used afterwards."""
        self._closed = True
        self._engine.dispose()

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<MetadataStore {self.url}{state}>"

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn database failures into MetadataError naming the store and a fix."""
        try:
            yield
        except OperationalError as err:
            detail = str(err.orig).strip() or type(err.orig).__name__
            if "locked" in detail or "busy" in detail:
                hint = (
                    f"another process held the write lock for more than {BUSY_TIMEOUT_S:.0f} s"
                    "; retry, or move a busy team store to PostgreSQL"
                )
            elif self.backend == "sqlite":
                hint = "check the file's folder exists and is writable, on a local disk"
            else:
                hint = "check the server is running and the URL, user and password"
            raise MetadataError(
                f"Could not {action} the metadata store {self.url}: {detail} ({hint})."
            ) from err
        except IntegrityError as err:
            raise MetadataError(
                f"The metadata store {self.url} refused to {action}: {err.orig}."
            ) from err
        except DBAPIError as err:
            raise MetadataError(
                f"The metadata store {self.url} failed to {action}: {err.orig}."
            ) from err

    def _check_open(self) -> None:
        if self._closed:
            raise MetadataError(
                f"The metadata store {self.url} is closed; open a new MetadataStore."
            )

    @contextmanager
    def transaction(self) -> Iterator[MetadataStore]:
        """Group writes into one transaction: all of them are recorded, or none.

        Writes made by this thread inside the ``with`` block join it (nested blocks too);
        an exception rolls every one of them back. Other threads and processes do not
        see them until the block ends.

        Yields
        ------
        MetadataStore
            This store.

        Examples
        --------
        >>> from tensorbridge.metadata import MetadataStore
        >>> store = MetadataStore(":memory:")
        >>> with store.transaction():
        ...     model = store.put_artifact("Model", "/models/1")
        ...     _ = store.attribute(store.put_context("run", "r1").id, model.id)
        >>> len(store.artifacts(context_id=store.get_context("run", "r1").id))
        1
        """
        self._check_open()
        if getattr(self._local, "connection", None) is not None:
            yield self
            return
        with self._errors("write to"), self._writer.begin() as connection:
            self._local.connection = connection
            try:
                yield self
            finally:
                self._local.connection = None

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        self._check_open()
        current: Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        with self._errors(action), self._writer.begin() as connection:
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._check_open()
        current: Connection | None = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        with self._errors("read"), self._engine.connect() as connection:
            yield connection

    # -- existence checks ---------------------------------------------------------------

    @staticmethod
    def _require(connection: Connection, table: Table, id_: int, what: str) -> Row[Any]:
        row = connection.execute(select(table).where(table.c.id == id_)).first()
        if row is None:
            raise NotFoundError(f"There is no {what} with id {id_} in the metadata store.")
        return row

    @staticmethod
    def _locked(connection: Connection, table: Table, id_: int, what: str) -> Row[Any]:
        row = connection.execute(select(table).where(table.c.id == id_).with_for_update()).first()
        if row is None:
            raise NotFoundError(f"There is no {what} with id {id_} in the metadata store.")
        return row

    # -- contexts -------------------------------------------------------------------------

    def put_context(
        self, type: str, name: str, properties: Mapping[str, Any] | None = None
    ) -> Context:
        """Get or create the context ``(type, name)``.

        Parameters
        ----------
        type : str
            The context type (``"pipeline"``, ``"run"``).
        name : str
            Unique within the type (the pipeline's name, the run id).
        properties : Mapping[str, Any], optional
            JSON properties: a new context gets them; an existing one gets them merged
            over its own (top-level keys), so a runner can record a run's final state
            with a second call.

        Returns
        -------
        Context
            The context, as stored after this call.
        """
        _text(type, "The context type")
        _text(name, "The context name", _NAME_LIMIT)
        text = dump_properties(properties, "context properties")
        table = schema.contexts
        with self._write("record a context in") as connection:
            inserted = _insert_ignore(
                connection,
                table,
                {"type": type, "name": name, "properties": text, "created_at": _now()},
                ("type", "name"),
            )
            row = connection.execute(
                select(table).where(table.c.type == type, table.c.name == name).with_for_update()
            ).one()
            if not inserted and properties:
                merged = merge_properties(load_properties(row.properties), properties)
                if merged != row.properties:
                    connection.execute(
                        update(table).where(table.c.id == row.id).values(properties=merged)
                    )
                    row = connection.execute(select(table).where(table.c.id == row.id)).one()
            return _context(row)

    def update_context(self, context_id: int, properties: Mapping[str, Any]) -> Context:
        """Merge ``properties`` over a context's own (top-level keys).

        Raises
        ------
        NotFoundError
            When there is no such context.
        """
        _id(context_id, "context_id")
        table = schema.contexts
        with self._write("update a context in") as connection:
            row = self._locked(connection, table, context_id, "context")
            merged = merge_properties(
                load_properties(row.properties), properties, "context properties"
            )
            connection.execute(update(table).where(table.c.id == row.id).values(properties=merged))
            return _context(connection.execute(select(table).where(table.c.id == row.id)).one())

    def set_parent_context(self, child_id: int, parent_id: int) -> None:
        """Make context ``parent_id`` a parent of ``child_id`` (a run inside its pipeline).

        Idempotent. A context may have several parents; cycles are refused.

        Raises
        ------
        NotFoundError
            When either context does not exist.
        ConfigError
            When the link would make a cycle.
        """
        _id(child_id, "child_id")
        _id(parent_id, "parent_id")
        table = schema.parent_contexts
        with self._write("link contexts in") as connection:
            self._require(connection, schema.contexts, child_id, "context")
            self._require(connection, schema.contexts, parent_id, "context")
            ancestors = {parent_id}
            frontier = [parent_id]
            while frontier:
                rows = connection.execute(
                    select(table.c.parent_id).where(table.c.child_id.in_(frontier))
                ).scalars()
                frontier = [p for p in rows if p not in ancestors]
                ancestors.update(frontier)
            if child_id in ancestors:
                raise ConfigError(
                    f"Context {parent_id} cannot be a parent of context {child_id}: "
                    f"{child_id} is already {parent_id} itself or one of its ancestors."
                )
            _insert_ignore(
                connection,
                table,
                {"child_id": child_id, "parent_id": parent_id},
                ("child_id", "parent_id"),
            )

    def attribute(self, context_id: int, artifact_id: int) -> None:
        """Put an artifact in a context (idempotent).

        Raises
        ------
        NotFoundError
            When the context or the artifact does not exist.
        """
        self._link_to_context(context_id, schema.artifacts, "artifact", artifact_id)

    def associate(self, context_id: int, execution_id: int) -> None:
        """Put an execution in a context (idempotent).

        Raises
        ------
        NotFoundError
            When the context or the execution does not exist.
        """
        self._link_to_context(context_id, schema.executions, "execution", execution_id)

    def _link_to_context(self, context_id: int, table: Table, what: str, id_: int) -> None:
        """Attribute an artifact or associate an execution (``what``) to a context."""
        links, verb = (
            (schema.attributions, "attribute an artifact in")
            if what == "artifact"
            else (schema.associations, "associate an execution in")
        )
        column = f"{what}_id"
        _id(context_id, "context_id")
        _id(id_, column)
        with self._write(verb) as connection:
            self._require(connection, schema.contexts, context_id, "context")
            self._require(connection, table, id_, what)
            _insert_ignore(
                connection, links, {"context_id": context_id, column: id_}, ("context_id", column)
            )

    # -- artifacts ----------------------------------------------------------------------

    def put_artifact(
        self,
        type: str,
        uri: str,
        *,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
        state: str = "LIVE",
    ) -> Artifact:
        """Record a new artifact.

        Parameters
        ----------
        type : str
            The artifact type (``"Examples"``, ``"Model"``).
        uri : str
            Where its payload lives.
        name : str, optional
            A human name, not necessarily unique.
        properties : Mapping[str, Any], optional
            JSON properties.
        fingerprint : str, optional
            A content hash of the payload.
        state : {"LIVE", "PENDING", "DELETED"}
            Its state.

        Returns
        -------
        Artifact
            The new artifact, with its id.
        """
        _text(type, "The artifact type")
        if not isinstance(uri, str):
            raise ConfigError(f"The artifact uri must be a str, got {uri!r:.80}.")
        _optional_text(name, "The artifact name", _NAME_LIMIT)
        _optional_text(fingerprint, "The artifact fingerprint")
        _choice(state, ARTIFACT_STATES, "The artifact state")
        text = dump_properties(properties, "artifact properties")
        now = _now()
        values = {
            "type": type,
            "uri": uri,
            "state": state,
            "name": name,
            "properties": text,
            "fingerprint": fingerprint,
            "created_at": now,
            "updated_at": now,
        }
        with self._write("record an artifact in") as connection:
            result = connection.execute(insert(schema.artifacts).values(**values))
            artifact_id = _new_id(result)
        return Artifact(
            artifact_id, type, uri, state, load_properties(text), fingerprint, now, name
        )

    def update_artifact(
        self,
        artifact_id: int,
        *,
        state: str | None = None,
        properties: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> Artifact:
        """Change an artifact's state, merge properties over its own, set its fingerprint.

        Arguments left None are left unchanged.

        Returns
        -------
        Artifact
            The artifact after the update.

        Raises
        ------
        NotFoundError
            When there is no such artifact.
        """
        _id(artifact_id, "artifact_id")
        if state is not None:
            _choice(state, ARTIFACT_STATES, "The artifact state")
        _optional_text(fingerprint, "The artifact fingerprint")
        dump_properties(properties, "artifact properties")
        table = schema.artifacts
        with self._write("update an artifact in") as connection:
            row = self._locked(connection, table, artifact_id, "artifact")
            values: dict[str, Any] = {"updated_at": _now()}
            if state is not None:
                values["state"] = state
            if fingerprint is not None:
                values["fingerprint"] = fingerprint
            if properties:
                values["properties"] = merge_properties(
                    load_properties(row.properties), properties, "artifact properties"
                )
            connection.execute(update(table).where(table.c.id == artifact_id).values(**values))
            return _artifact(
                connection.execute(select(table).where(table.c.id == artifact_id)).one()
            )

    # -- executions -----------------------------------------------------------------------

    def put_execution(
        self,
        type: str,
        *,
        properties: Mapping[str, Any] | None = None,
        cache_key: str | None = None,
        state: str = "RUNNING",
    ) -> Execution:
        """Record a new execution (started now).

        Parameters
        ----------
        type : str
            The execution type (usually the component's name).
        properties : Mapping[str, Any], optional
            JSON properties; lineage reads ``"component"``, ``"parameters"`` and
            ``"code_fingerprint"``.
        cache_key : str, optional
            What :meth:`find_cached` looks it up by.
        state : str
            ``"RUNNING"`` (finish it with :meth:`finish_execution`) or a final state
            (``"CACHED"``: it is finished at once).

        Returns
        -------
        Execution
            The new execution, with its id.
        """
        _text(type, "The execution type")
        _optional_text(cache_key, "The cache key")
        _choice(state, EXECUTION_STATES, "The execution state")
        text = dump_properties(properties, "execution properties")
        with self._write("record an execution in") as connection:
            return self._insert_execution(connection, type, text, cache_key, state)

    @staticmethod
    def _insert_execution(
        connection: Connection, type: str, text: str, cache_key: str | None, state: str
    ) -> Execution:
        now = _now()
        finished = None if state == "RUNNING" else now
        result = connection.execute(
            insert(schema.executions).values(
                type=type,
                state=state,
                properties=text,
                cache_key=cache_key,
                error=None,
                started_at=now,
                finished_at=finished,
            )
        )
        return Execution(
            _new_id(result),
            type,
            state,
            load_properties(text),
            now,
            finished,
            cache_key,
            None,
        )

    def finish_execution(
        self,
        execution_id: int,
        state: str,
        *,
        properties: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> Execution:
        """Finish a RUNNING execution: set its final state and time, merge properties.

        Parameters
        ----------
        execution_id : int
            The execution.
        state : {"COMPLETE", "FAILED", "CACHED", "CANCELED"}
            Its final state.
        properties : Mapping[str, Any], optional
            Merged over its properties (top-level keys).
        error : str, optional
            Why it failed.

        Returns
        -------
        Execution
            The execution after the update.

        Raises
        ------
        NotFoundError
            When there is no such execution.
        MetadataError
            When it already finished (an execution finishes once).
        """
        _id(execution_id, "execution_id")
        _choice(state, FINAL_EXECUTION_STATES, "The final execution state")
        if error is not None and not isinstance(error, str):
            raise ConfigError(f"error must be a str, got {type(error).__name__}.")
        dump_properties(properties, "execution properties")
        table = schema.executions
        with self._write("finish an execution in") as connection:
            row = self._locked(connection, table, execution_id, "execution")
            if row.state != "RUNNING":
                raise MetadataError(
                    f"Execution {execution_id} ({row.type}) already finished as {row.state}; "
                    f"it cannot finish again as {state}. Record a new execution instead."
                )
            values: dict[str, Any] = {"state": state, "finished_at": _now(), "error": error}
            if properties:
                values["properties"] = merge_properties(
                    load_properties(row.properties), properties, "execution properties"
                )
            connection.execute(update(table).where(table.c.id == execution_id).values(**values))
            return _execution(
                connection.execute(select(table).where(table.c.id == execution_id)).one()
            )

    # -- events ---------------------------------------------------------------------------

    def put_event(self, execution_id: int, artifact_id: int, kind: str, name: str) -> Event:
        """Record that an execution read (INPUT) or wrote (OUTPUT) an artifact.

        Idempotent: the same event twice is recorded once.

        Parameters
        ----------
        execution_id, artifact_id : int
            The execution and the artifact.
        kind : {"INPUT", "OUTPUT"}
            Which way the data went.
        name : str
            The component's input or output name (``"examples"``).

        Raises
        ------
        NotFoundError
            When the execution or the artifact does not exist.
        """
        _id(execution_id, "execution_id")
        _id(artifact_id, "artifact_id")
        _choice(kind, EVENT_KINDS, "The event kind")
        _text(name, "The event name", _NAME_LIMIT)
        with self._write("record an event in") as connection:
            self._require(connection, schema.executions, execution_id, "execution")
            self._require(connection, schema.artifacts, artifact_id, "artifact")
            self._insert_event(connection, execution_id, artifact_id, kind, name)
        return Event(execution_id, artifact_id, cast(EventKind, kind), name)

    @staticmethod
    def _insert_event(
        connection: Connection, execution_id: int, artifact_id: int, kind: str, name: str
    ) -> None:
        _insert_ignore(
            connection,
            schema.events,
            {
                "execution_id": execution_id,
                "artifact_id": artifact_id,
                "kind": kind,
                "name": name,
                "created_at": _now(),
            },
            ("execution_id", "artifact_id", "kind", "name"),
        )

    def record_execution(
        self,
        type: str,
        *,
        inputs: ArtifactsArg | None = None,
        outputs: ArtifactsArg | None = None,
        contexts: Iterable[Context | int] = (),
        properties: Mapping[str, Any] | None = None,
        cache_key: str | None = None,
        state: str = "COMPLETE",
        error: str | None = None,
    ) -> Execution:
        """Record an execution with its events and contexts, in one transaction.

        Parameters
        ----------
        type : str
            The execution type.
        inputs, outputs : Mapping[str, Artifact or Sequence[Artifact]], optional
            Recorded artifacts it read and wrote, by input/output name.
        contexts : iterable of Context or int
            Contexts to associate the execution with and attribute its outputs to.
        properties : Mapping[str, Any], optional
            JSON properties.
        cache_key : str, optional
            What :meth:`find_cached` looks it up by.
        state : str
            Its state; default ``"COMPLETE"``.
        error : str, optional
            Why it failed.

        Returns
        -------
        Execution
            The new execution.

        Raises
        ------
        NotFoundError
            When an artifact or context does not exist (nothing is recorded then).
        """
        _text(type, "The execution type")
        _optional_text(cache_key, "The cache key")
        _choice(state, EXECUTION_STATES, "The execution state")
        text = dump_properties(properties, "execution properties")
        events = [(artifact, "INPUT", name) for name, artifact in _flatten(inputs, "inputs")] + [
            (artifact, "OUTPUT", name) for name, artifact in _flatten(outputs, "outputs")
        ]
        context_ids = [c.id if isinstance(c, Context) else _id(c, "context") for c in contexts]
        with self._write("record an execution in") as connection:
            execution = self._insert_execution(connection, type, text, cache_key, state)
            if error is not None:
                connection.execute(
                    update(schema.executions)
                    .where(schema.executions.c.id == execution.id)
                    .values(error=error)
                )
            for artifact_id in sorted({a.id for a, _, _ in events}):
                self._require(connection, schema.artifacts, artifact_id, "artifact")
            for artifact, kind, name in events:
                self._insert_event(connection, execution.id, artifact.id, kind, name)
            for context_id in context_ids:
                self._require(connection, schema.contexts, context_id, "context")
                _insert_ignore(
                    connection,
                    schema.associations,
                    {"context_id": context_id, "execution_id": execution.id},
                    ("context_id", "execution_id"),
                )
                for artifact, kind, _ in events:
                    if kind == "OUTPUT":
                        _insert_ignore(
                            connection,
                            schema.attributions,
                            {"context_id": context_id, "artifact_id": artifact.id},
                            ("context_id", "artifact_id"),
                        )
        if error is None:
            return execution
        return Execution(
            execution.id,
            execution.type,
            execution.state,
            execution.properties,
            execution.started_at,
            execution.finished_at,
            execution.cache_key,
            error,
        )

    # -- reads: one record ------------------------------------------------------------------

    def get_artifact(self, artifact_id: int) -> Artifact:
        """The artifact with this id.

        Raises
        ------
        NotFoundError
            When there is none.
        """
        _id(artifact_id, "artifact_id")
        with self._read() as connection:
            return _artifact(self._require(connection, schema.artifacts, artifact_id, "artifact"))

    def get_execution(self, execution_id: int) -> Execution:
        """The execution with this id.

        Raises
        ------
        NotFoundError
            When there is none.
        """
        _id(execution_id, "execution_id")
        with self._read() as connection:
            return _execution(
                self._require(connection, schema.executions, execution_id, "execution")
            )

    def get_context(self, type: str, name: str) -> Context | None:
        """The context ``(type, name)``, or None when there is none."""
        table = schema.contexts
        with self._read() as connection:
            row = connection.execute(
                select(table).where(table.c.type == type, table.c.name == name)
            ).first()
        return None if row is None else _context(row)

    def get_context_by_id(self, context_id: int) -> Context:
        """The context with this id.

        Raises
        ------
        NotFoundError
            When there is none.
        """
        _id(context_id, "context_id")
        with self._read() as connection:
            return _context(self._require(connection, schema.contexts, context_id, "context"))

    # -- reads: lists -------------------------------------------------------------------------

    def artifacts(
        self,
        type: str | None = None,
        context_id: int | None = None,
        state: str | None = None,
        limit: int | None = None,
        *,
        uri: str | None = None,
        name: str | None = None,
        fingerprint: str | None = None,
    ) -> list[Artifact]:
        """Artifacts matching every filter given, newest first.

        Parameters
        ----------
        type, state, uri, name, fingerprint : str, optional
            Equality filters.
        context_id : int, optional
            Only artifacts attributed to this context.
        limit : int, optional
            At most this many (the newest).
        """
        table = schema.artifacts
        query = select(table).order_by(table.c.id.desc())
        for column, value in (
            ("type", type),
            ("state", state),
            ("uri", uri),
            ("name", name),
            ("fingerprint", fingerprint),
        ):
            if value is not None:
                query = query.where(table.c[column] == value)
        if context_id is not None:
            links = schema.attributions
            query = query.where(
                table.c.id.in_(select(links.c.artifact_id).where(links.c.context_id == context_id))
            )
        return [_artifact(row) for row in self._rows(_limited(query, limit))]

    def executions(
        self,
        context_id: int | None = None,
        type: str | None = None,
        state: str | None = None,
        *,
        cache_key: str | None = None,
        limit: int | None = None,
    ) -> list[Execution]:
        """Executions matching every filter given, in the order they were recorded.

        Parameters
        ----------
        context_id : int, optional
            Only executions associated with this context.
        type, state, cache_key : str, optional
            Equality filters.
        limit : int, optional
            At most this many (the oldest).
        """
        table = schema.executions
        query = select(table).order_by(table.c.id)
        for column, value in (("type", type), ("state", state), ("cache_key", cache_key)):
            if value is not None:
                query = query.where(table.c[column] == value)
        if context_id is not None:
            links = schema.associations
            query = query.where(
                table.c.id.in_(select(links.c.execution_id).where(links.c.context_id == context_id))
            )
        return [_execution(row) for row in self._rows(_limited(query, limit))]

    def contexts(self, type: str | None = None, parent_id: int | None = None) -> list[Context]:
        """Contexts of this type and/or with this parent, in the order they were created."""
        table = schema.contexts
        query = select(table).order_by(table.c.id)
        if type is not None:
            query = query.where(table.c.type == type)
        if parent_id is not None:
            links = schema.parent_contexts
            query = query.where(
                table.c.id.in_(select(links.c.child_id).where(links.c.parent_id == parent_id))
            )
        return [_context(row) for row in self._rows(query)]

    def parent_contexts(self, context_id: int) -> list[Context]:
        """The parents of a context (a run's pipeline)."""
        table, links = schema.contexts, schema.parent_contexts
        query = (
            select(table)
            .where(table.c.id.in_(select(links.c.parent_id).where(links.c.child_id == context_id)))
            .order_by(table.c.id)
        )
        return [_context(row) for row in self._rows(query)]

    def events(
        self, execution_id: int | None = None, artifact_id: int | None = None
    ) -> list[Event]:
        """Events of this execution and/or artifact, in the order they were recorded."""
        table = schema.events
        query = select(table).order_by(table.c.id)
        if execution_id is not None:
            query = query.where(table.c.execution_id == execution_id)
        if artifact_id is not None:
            query = query.where(table.c.artifact_id == artifact_id)
        return [_event(row) for row in self._rows(query)]

    def inputs_of(self, execution_id: int) -> dict[str, list[Artifact]]:
        """The artifacts an execution read, by input name (``{}`` for an unknown id)."""
        return self._linked_artifacts(execution_id, "INPUT")

    def outputs_of(self, execution_id: int) -> dict[str, list[Artifact]]:
        """The artifacts an execution wrote (or reused, if CACHED), by output name."""
        return self._linked_artifacts(execution_id, "OUTPUT")

    def _linked_artifacts(self, execution_id: int, kind: str) -> dict[str, list[Artifact]]:
        events, table = schema.events, schema.artifacts
        query = (
            select(events.c.name.label("event_name"), table)
            .join(table, table.c.id == events.c.artifact_id)
            .where(events.c.execution_id == execution_id, events.c.kind == kind)
            .order_by(events.c.id)
        )
        linked: dict[str, list[Artifact]] = {}
        for row in self._rows(query):
            linked.setdefault(row.event_name, []).append(_artifact(row))
        return linked

    def producer_of(self, artifact_id: int) -> Execution | None:
        """The execution that wrote an artifact (its first OUTPUT event), or None."""
        events, table = schema.events, schema.executions
        query = (
            select(table)
            .join(events, events.c.execution_id == table.c.id)
            .where(events.c.artifact_id == artifact_id, events.c.kind == "OUTPUT")
            .order_by(events.c.id)
            .limit(1)
        )
        rows = self._rows(query)
        return _execution(rows[0]) if rows else None

    def consumers_of(self, artifact_id: int) -> list[Execution]:
        """The executions that read an artifact, in the order they were recorded."""
        events, table = schema.events, schema.executions
        query = (
            select(table)
            .where(
                table.c.id.in_(
                    select(events.c.execution_id).where(
                        events.c.artifact_id == artifact_id, events.c.kind == "INPUT"
                    )
                )
            )
            .order_by(table.c.id)
        )
        return [_execution(row) for row in self._rows(query)]

    def contexts_of_execution(self, execution_id: int) -> list[Context]:
        """The contexts an execution is associated with."""
        links = schema.associations
        return self._contexts_where(
            select(links.c.context_id).where(links.c.execution_id == execution_id)
        )

    def contexts_of_artifact(self, artifact_id: int) -> list[Context]:
        """The contexts an artifact is attributed to."""
        links = schema.attributions
        return self._contexts_where(
            select(links.c.context_id).where(links.c.artifact_id == artifact_id)
        )

    def _contexts_where(self, ids: Select[Any]) -> list[Context]:
        table = schema.contexts
        query = select(table).where(table.c.id.in_(ids)).order_by(table.c.id)
        return [_context(row) for row in self._rows(query)]

    def find_cached(self, cache_key: str) -> Execution | None:
        """The newest COMPLETE execution with this cache key whose outputs are all LIVE.

        Executions in other states (FAILED, CACHED, RUNNING, ...) never match, nor does
        one with an output artifact PENDING or DELETED. The caller still checks the
        outputs' payloads exist.
        """
        table, events, artifacts = schema.executions, schema.events, schema.artifacts
        not_live = exists(
            select(events.c.id)
            .join(artifacts, artifacts.c.id == events.c.artifact_id)
            .where(
                and_(
                    events.c.execution_id == table.c.id,
                    events.c.kind == "OUTPUT",
                    artifacts.c.state != "LIVE",
                )
            )
        )
        query = (
            select(table)
            .where(table.c.cache_key == cache_key, table.c.state == "COMPLETE", ~not_live)
            .order_by(table.c.id.desc())
            .limit(1)
        )
        rows = self._rows(query)
        return _execution(rows[0]) if rows else None

    def _rows(self, query: Select[Any]) -> list[Row[Any]]:
        with self._read() as connection:
            return list(connection.execute(query))


def _limited(query: Select[Any], limit: int | None) -> Select[Any]:
    if limit is None:
        return query
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ConfigError(f"limit must be a non-negative int or None, got {limit!r}.")
    return query.limit(limit)


def _flatten(artifacts: ArtifactsArg | None, what: str) -> list[tuple[str, Artifact]]:
    flat: list[tuple[str, Artifact]] = []
    for name, value in (artifacts or {}).items():
        _text(name, f"An {what} name", _NAME_LIMIT)
        items = [value] if isinstance(value, Artifact) else list(value)
        for item in items:
            if not isinstance(item, Artifact):
                raise ConfigError(
                    f"{what}[{name!r}] must be an Artifact (or a list of them) from this "
                    f"store, got {type(item).__name__}."
                )
            flat.append((name, item))
    return flat
