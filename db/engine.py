"""Engine and session factories. The app's lifespan owns them; nothing here is a global."""
import asyncio
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db.embedded import DatabaseUnavailable, to_async_url


def make_engine(url: str, **kwargs: object) -> AsyncEngine:
    # No pre-ping: it costs a round trip per checkout, and every request checks out a dozen
    # times. A connection broken by a database restart fails once and SQLAlchemy then
    # invalidates the whole pool, so the next request starts on fresh connections.
    #
    # 30 kept connections, no overflow: the same ceiling as before (10 + 20 overflow), but a
    # dashboard request holds up to four at once (its loader batches run concurrently), so 20
    # concurrent requests reached the ceiling and every overflow connection was closed on
    # return and opened again: 1.5 connects per request, each with asyncpg's type
    # introspection and fresh prepared statements. Kept connections keep their statement
    # caches.
    #
    # hide_parameters: a failing statement's message (and so the log of an internal error)
    # would otherwise carry its bound values: a new user's password hash, emails, names.
    options: dict[str, object] = {"pool_size": 30, "max_overflow": 0, "pool_pre_ping": False,
                                  "hide_parameters": True}
    options.update(kwargs)
    return create_async_engine(to_async_url(url), **options)


@dataclass
class Database:
    """What a request needs of the database: short read connections and one-unit-of-work
    sessions."""

    engine: AsyncEngine

    def __post_init__(self) -> None:
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads are single statements: autocommit spares each loader batch a BEGIN and a
        # ROLLBACK round trip. Same pool as the engine.
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A short connection for one loader batch or read resolver (autocommit)."""
        async with self.reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One mutation: commits once on success, rolls back on any exception."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


# SQLSTATEs of a server that is gone or not there yet: connection exceptions (class 08),
# admin_shutdown, crash_shutdown, cannot_connect_now.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03")


def is_unavailable(error: BaseException | None) -> bool:
    """The database could not be reached or went away during the work (a restart, a failover):
    the request may be sent again. A wrong statement or a broken rule is not this."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and _raised_by_driver(error):  # refused, reset, no socket
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        # asyncpg's protocol state is confused when the server ends a connection mid-commit.
        if isinstance(error, asyncpg.InternalClientError):
            return True
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
            return True
        error = error.__cause__ or error.__context__
    return False


def _raised_by_driver(error: BaseException) -> bool:
    """asyncpg's connect lets OSError through unwrapped (SQLAlchemy too); an OSError of our own
    (a document file, say) is no database outage."""
    return any(frame.f_globals.get("__name__", "").startswith("asyncpg.")
               for frame, _ in traceback.walk_tb(error.__traceback__))


async def check_reachable(url: str) -> None:
    engine = make_engine(url, pool_pre_ping=False)
    try:
        async with asyncio.timeout(10), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the database: {reason}") from exc
    finally:
        await engine.dispose()
