"""Fixtures: one migrated database per test session, tables truncated between tests."""
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

import db
from db import migrate
from db.engine import Database, make_engine
from tests.database import fresh_database


@pytest.fixture(scope="session")
async def database_url() -> str:
    url = await fresh_database("escp_test")
    await migrate.upgrade_async(url)
    return url


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(make_engine(database_url))
    yield database
    await database.dispose()


@pytest.fixture(autouse=True)
async def clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test that touches the database starts from empty tables."""
    yield
    if "database" not in request.fixturenames:
        return
    database: Database = request.getfixturevalue("database")
    tables = ", ".join(t.name for t in db.Base.metadata.sorted_tables)
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
