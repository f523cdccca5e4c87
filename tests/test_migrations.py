"""Migrations create the whole model, go down to nothing and up again, and match the models."""
import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

import db
from db import migrate
from db.engine import make_engine
from tests.database import fresh_database


async def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def _drift(url: str) -> list[object]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), db.Base.metadata)
        )
    await engine.dispose()
    return list(diff)


async def test_upgrade_downgrade_upgrade_round_trip() -> None:
    url = await fresh_database("escp_migrations")
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _table_names(url) == set(db.Base.metadata.tables)
    await asyncio.to_thread(migrate.downgrade, url, "base")
    assert await _table_names(url) == set()
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _table_names(url) == set(db.Base.metadata.tables)


async def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    assert await _drift(database_url) == []


async def _columns(url: str, table: str) -> list[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        columns = await conn.run_sync(lambda c: inspect(c).get_columns(table))
    await engine.dispose()
    return [column["name"] for column in columns]


async def test_login_attempts_migration_goes_down_to_failure_counts_and_up_to_windows() -> None:
    # given the database at the newest migration
    url = await fresh_database("escp_migrations_login_attempts")
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _columns(url, "login_attempts") == ["scope", "key", "attempts",
                                                     "window_started_at"]
    # when it goes down one step, then the per-email failure counts are back
    await asyncio.to_thread(migrate.downgrade, url, "8c3f0a7d2b41")
    assert await _columns(url, "login_attempts") == ["email", "failures", "last_failure_at"]
    # and up again, the attempt windows
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _columns(url, "login_attempts") == ["scope", "key", "attempts",
                                                     "window_started_at"]
    assert await _drift(url) == []


async def _execute(url: str, statement: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


async def test_document_store_migration_will_not_go_down_over_stored_documents() -> None:
    # given the database at the newest migration with one content in the document store
    url = await fresh_database("escp_migrations_document_store")
    await asyncio.to_thread(migrate.upgrade, url)
    await _execute(url, f"INSERT INTO document_contents (sha256, size_bytes) "
                        f"VALUES ('{'a' * 64}', 0)")
    # when it is asked to go below the store, then it refuses: the bytes exist nowhere else
    with pytest.raises(DBAPIError, match="holds uploaded documents"):
        await asyncio.to_thread(migrate.downgrade, url, "3d7b9e21c4a6")
    assert {"document_contents", "document_chunks"} <= await _table_names(url)
    # and once the store is empty it goes down and up again
    await _execute(url, "DELETE FROM document_contents")
    await asyncio.to_thread(migrate.downgrade, url, "3d7b9e21c4a6")
    assert not {"document_contents", "document_chunks"} & await _table_names(url)
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _drift(url) == []
