"""Open the metadata database: resolve the URL, configure the engine, create the tables.

SQLite (a file) is the default; any SQLAlchemy URL works, PostgreSQL
(``postgresql+psycopg://user@host/db``) is the one tested for teams.

SQLite is set up for several processes writing at once: WAL journal, a 30 s busy
timeout, foreign keys on, and write transactions that start with ``BEGIN IMMEDIATE`` (so
two writers queue on the busy timeout instead of failing when a read lock cannot be
upgraded). Keep the file on a local disk: WAL needs shared memory, which network file
systems (NFS, SMB) do not provide; use PostgreSQL to share a store between machines.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from tensorbridge.errors import ConfigError, MissingDependencyError
from tensorbridge.metadata import schema
from tensorbridge.metadata.errors import MetadataError

__all__ = [
    "BUSY_TIMEOUT_S",
    "DEFAULT_PATH",
    "URL_ENV",
    "WRITE_OPTION",
    "create_store_engine",
    "prepare_schema",
    "resolve_url",
]

#: Environment variable naming the store when ``MetadataStore()`` gets no URL.
URL_ENV: Final = "TENSORBRIDGE_METADATA"
#: The store when neither a URL nor :data:`URL_ENV` is given.
DEFAULT_PATH: Final = Path("~/.tensorbridge/metadata.sqlite")
#: How long a SQLite writer waits for another one to commit before giving up.
BUSY_TIMEOUT_S: Final = 30.0
#: Execution option marking an engine whose transactions write (BEGIN IMMEDIATE on SQLite).
WRITE_OPTION: Final = "tensorbridge_write"

#: Key for ``pg_advisory_xact_lock`` serializing table creation on PostgreSQL.
_PG_SCHEMA_LOCK: Final = 0x7462_6D64  # "tbmd"

_URL_HINT = (
    "Give a file path (metadata.sqlite), a SQLite URL (sqlite:////abs/path/metadata.sqlite) "
    "or a PostgreSQL URL (postgresql+psycopg://user:password@host:5432/dbname)."
)


def resolve_url(url: str | os.PathLike[str] | None) -> URL:
    """Turn a path or URL into a SQLAlchemy URL.

    Parameters
    ----------
    url : str, path-like or None
        A file path (SQLite), ``":memory:"``, or a SQLAlchemy URL. None reads
        ``$TENSORBRIDGE_METADATA``, else ``~/.tensorbridge/metadata.sqlite``.

    Returns
    -------
    sqlalchemy.engine.URL
        The URL; ``postgresql://`` becomes ``postgresql+psycopg://`` (the driver
        tensorbridge installs), and a SQLite path becomes absolute.

    Raises
    ------
    ConfigError
        When the URL cannot be parsed.
    """
    if url is None:
        url = os.environ.get(URL_ENV) or DEFAULT_PATH.expanduser()
    if isinstance(url, os.PathLike):
        return _sqlite_url(os.fspath(url))
    if not isinstance(url, str):
        raise ConfigError(
            f"The metadata store URL must be a str or a path, got {type(url).__name__} "
            f"{url!r}. {_URL_HINT}"
        )
    if not url.strip():
        raise ConfigError(f"The metadata store URL is empty. {_URL_HINT}")
    if url == ":memory:":
        return URL.create("sqlite")
    if "://" not in url:
        return _sqlite_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as err:
        raise ConfigError(
            f"Cannot parse the metadata store URL {url!r}: {err}. {_URL_HINT}"
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return _sqlite_url(str(parsed.database), parsed.query)
    return parsed


def _sqlite_url(path: str, query: Any = None) -> URL:
    file = Path(path).expanduser().absolute()
    if file.is_dir():
        raise ConfigError(
            f"The metadata store path {str(file)!r} is a directory; give a file inside it "
            f"(e.g. {str(file / 'metadata.sqlite')!r})."
        )
    return URL.create("sqlite", database=str(file), query=query or {})


def create_store_engine(url: URL) -> Engine:
    """Create the engine for ``url``, configured for concurrent writers.

    Parameters
    ----------
    url : sqlalchemy.engine.URL
        From :func:`resolve_url`.

    Returns
    -------
    sqlalchemy.Engine
        An engine whose ``begin`` runs ``BEGIN IMMEDIATE`` on SQLite when the connection
        carries the execution option :data:`WRITE_OPTION`.

    Raises
    ------
    MissingDependencyError
        When the database driver is not installed.
    ConfigError
        When SQLAlchemy knows no such dialect.
    """
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database
        else:
            Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except NoSuchModuleError:
        raise ConfigError(
            f"SQLAlchemy has no database dialect {url.drivername!r} "
            f"(in {url.render_as_string(hide_password=True)!r}). {_URL_HINT}"
        ) from None
    except ImportError as err:
        extra = "postgres" if backend == "postgresql" else None
        hint = (
            f"pip install 'tensorbridge[{extra}]'"
            if extra
            else f"install the DB-API driver for {url.drivername!r}"
        )
        raise MissingDependencyError(
            f"The database driver for {url.drivername!r} is not installed ({err}); {hint}."
        ) from None
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch a SQLite file to WAL (persistent in the file), waiting out other openers.

    Switching needs a moment alone with the file, and SQLite answers "database is
    locked" at once, without its busy handler, while another process is opening or
    writing a new store; so retry for up to :data:`BUSY_TIMEOUT_S`.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas on every new connection; our own BEGIN (pysqlite's is deferred and late)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN: we emit ours below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if engine.url.database not in (None, "", ":memory:"):
                _enable_wal(cursor)
                cursor.execute("PRAGMA synchronous = NORMAL")  # durable in WAL mode
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def prepare_schema(connection: Connection) -> int:
    """Create the tables if missing and check the stored schema version.

    Runs inside the caller's write transaction, so two processes opening a new store
    at once create it once (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock).

    Parameters
    ----------
    connection : sqlalchemy.Connection
        A connection inside a write transaction.

    Returns
    -------
    int
        The schema version of the store.

    Raises
    ------
    MetadataError
        When the database was written by a newer tensorbridge, or holds tables of the
        same names that tensorbridge did not create.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(select(text(f"pg_advisory_xact_lock({_PG_SCHEMA_LOCK})")))
    existing = set(inspect(connection).get_table_names())
    where = connection.engine.url.render_as_string(hide_password=True)
    if schema.schema_version.name in existing:
        version = connection.execute(select(schema.schema_version.c.version)).scalars().all()
        if version:
            newest = max(version)
            if newest > schema.SCHEMA_VERSION:
                raise MetadataError(
                    f"The metadata store {where} has schema version {newest}, newer than "
                    f"this tensorbridge understands (version {schema.SCHEMA_VERSION}). "
                    "Upgrade tensorbridge (pip install -U tensorbridge), or point at "
                    "another store."
                )
            # Older versions would be migrated here; version 1 is the first.
            return newest
    clash = sorted(existing & set(schema.TABLE_NAMES))
    if clash and schema.schema_version.name not in clash:
        raise MetadataError(
            f"The database {where} already has tables named {clash} that tensorbridge did "
            "not create (there is no schema_version row). Use an empty database or "
            "PostgreSQL schema for the metadata store."
        )
    schema.metadata.create_all(connection)
    connection.execute(
        schema.schema_version.insert().values(
            version=schema.SCHEMA_VERSION, created_at=dt.datetime.now(dt.UTC)
        )
    )
    return schema.SCHEMA_VERSION
