"""Fixtures for the metadata store: one contract, two backends (SQLite and PostgreSQL).

``store_url`` / ``store`` are parametrized over ``sqlite`` (a file in tmp_path) and
``postgres``. The PostgreSQL server is, in order of preference:

1. ``$TENSORBRIDGE_TEST_POSTGRES_URL`` (any database the tests may create schemas in);
2. a throwaway server this session starts itself with ``initdb`` + ``pg_ctl`` (found on
   PATH or under /usr/lib/postgresql/*/bin), in a temporary directory, on a free port,
   stopped at the end. initdb refuses to run as root, so as root the server runs as
   the ``postgres`` user (or ``nobody``) through ``runuser``/``su``.

Without either the PostgreSQL tests skip with an install hint, except in CI (``$CI``
set), where ``.ci/run`` installs PostgreSQL and they must run.

Each test gets an empty store: a new SQLite file, or a new PostgreSQL schema (selected
with ``options=-csearch_path=...`` in the URL) dropped afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tensorbridge.metadata import MetadataStore

POSTGRES_URL_ENV = "TENSORBRIDGE_TEST_POSTGRES_URL"
INSTALL_HINT = (
    "PostgreSQL is not installed, so the metadata store's PostgreSQL tests cannot start a "
    "throwaway server: apt-get install -y postgresql (or brew install postgresql), or set "
    f"{POSTGRES_URL_ENV}=postgresql+psycopg://user:password@host:5432/dbname"
)
DATABASE = "tensorbridge_test"
ROLE = "tensorbridge"


def _postgres_bin() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, newest version first."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/bin"):
        paths = glob.glob(pattern)
        paths.sort(key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()])
        candidates += [Path(p) for p in reversed(paths)]
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _server_user() -> str | None:
    """Who runs the server: ourselves, or (as root) an unprivileged account."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("Running as root with neither a 'postgres' nor a 'nobody' user")


def _command(argv: list[str], user: str | None) -> list[str]:
    if user is None:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user, "--", *argv]
    return ["su", user, "-s", "/bin/sh", "-c", shlex.join(argv)]


def _run(argv: list[str], user: str | None, what: str) -> None:
    done = subprocess.run(_command(argv, user), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stdout}\n{done.stderr}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(folder: Path, root: Path, user: str | None) -> tuple[int, Path]:
    """initdb + pg_ctl start in ``root``; the port the server listens on."""
    data = root / "data"
    _run(
        [str(folder / "initdb"), "-D", str(data), "-U", ROLE, "-A", "trust", "-E", "UTF8",
         "--no-sync"],
        user,
        "initdb",
    )  # fmt: skip
    log = root / "server.log"
    for _ in range(3):  # the free port may be taken before the server binds it
        port = _free_port()
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        argv = [str(folder / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                "-o", options, "start"]  # fmt: skip
        done = subprocess.run(_command(argv, user), capture_output=True, text=True, timeout=120)
        if done.returncode == 0:
            return port, data
    raise RuntimeError(f"pg_ctl start failed: {done.stderr}\n{log.read_text(errors='replace')}")


def _create_database(port: int) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=port, user=ROLE, dbname="postgres", autocommit=True
    ) as connection:
        connection.execute(f"CREATE DATABASE {DATABASE} ENCODING 'UTF8'")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database URL: ``$TENSORBRIDGE_TEST_POSTGRES_URL`` or a throwaway server."""
    given = os.environ.get(POSTGRES_URL_ENV)
    if given:
        yield given
        return
    folder = _postgres_bin()
    if folder is None:
        if os.environ.get("CI"):
            pytest.fail(f"{INSTALL_HINT} (CI must run the PostgreSQL tests; .ci/run installs it)")
        pytest.skip(INSTALL_HINT)
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="tb-pg-"))
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(root, account.pw_uid, account.pw_gid)
    data: Path | None = None
    try:
        port, data = _start_server(folder, root, user)
        _create_database(port)
        yield f"postgresql+psycopg://{ROLE}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if data is not None:
            subprocess.run(
                _command([str(folder / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                          "stop"], user),
                capture_output=True,
                timeout=120,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema (dropped after the test)."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:16]}"
    base = sa.make_url(postgres_url)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    admin = sa.create_engine(base, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty store's URL on the backend under test."""
    if backend == "sqlite":
        return str(tmp_path / "metadata.sqlite")
    return str(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[MetadataStore]:
    with MetadataStore(store_url) as opened:
        yield opened
