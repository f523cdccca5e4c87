"""Alembic environment, async: runs migrations over an asyncpg connection."""
import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import db
from db.engine import make_engine
from db.settings import Settings

target_metadata = db.Base.metadata


def database_url() -> str:
    url = context.config.attributes.get("database_url") or Settings().database_url
    if not url:
        raise RuntimeError("set DATABASE_URL (or use `escp migrate`, which starts the embedded one)")
    return str(url)


def run_with(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      compare_type=True, compare_server_default=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    engine = make_engine(database_url(), poolclass=None, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_with)
            await connection.commit()
    finally:  # a migration that fails (a refused downgrade) leaves no connection open
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = context.config.attributes.get("connection")
    if given is not None:
        run_with(given)
    else:
        asyncio.run(run_async())
