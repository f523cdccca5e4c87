"""The benchmark's yardstick answers exactly as our API does.

bench/single_sql.py rebuilds each benchmark query's answer in one hand-written SQL statement; a
ratio against it means something only while both give the same data, errors and access-log rows.
bench/run.py checks that before and after every run (bench/verify.py); this test checks it on the
benchmark's data set scaled down, so a change of the API that the yardstick does not follow fails
here first.
"""
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from auth.tokens import issue_token
from bench import single_sql, verify
from bench.dataset import DASHBOARD_USER, Spec, populate
from db.embedded import to_libpq_url
from db.engine import Database
from db.settings import Settings

BENCH = Path(single_sql.__file__).parent
DASHBOARD = (BENCH / "dashboard.graphql").read_text()
DIRECTORY = (BENCH / "directory.graphql").read_text()
# 130 factories (about 123 listed: two directory pages), 110 connected (three dashboard pages)
SMALL = Spec(factories=130, suppliers=4, connected=110, other_connected=20)


@pytest.fixture
async def bench_data(database_url: str, database: Database) -> AsyncIterator[asyncpg.Connection]:
    """The scaled-down bench data set (`database`: its tables are truncated afterwards)."""
    conn = await asyncpg.connect(to_libpq_url(database_url))
    try:
        await populate(conn, SMALL)
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def yardstick(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = single_sql.create_app(settings)
    async with application.router.lifespan_context(application), _client(application) as client:
        yield client


def _client(application: Starlette, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                             base_url="http://bench", headers=headers)


async def customer_headers(conn: asyncpg.Connection, settings: Settings) -> dict[str, str]:
    user = await conn.fetchrow("SELECT id, organization_id FROM users WHERE email = $1",
                               DASHBOARD_USER)
    assert user is not None, "the dashboard user is in the data set"
    token, _ = issue_token(settings, user_id=user["id"], organization_id=user["organization_id"],
                           role="CUSTOMER")
    return {"Authorization": f"Bearer {token}"}


async def test_customer_dashboard_single_sql_answers_as_our_api(
        app: Starlette, yardstick: httpx.AsyncClient, bench_data: asyncpg.Connection,
        settings: Settings) -> None:
    # given the bench data set and the dashboard customer's token
    headers = await customer_headers(bench_data, settings)

    # when both walk every page of the dashboard
    async with _client(app, headers) as ours:
        api = await verify.walk(ours, "/graphql", DASHBOARD, bench_data)
    yardstick.headers.update(headers)
    limit = await verify.walk(yardstick, "/dashboard", DASHBOARD, bench_data)

    # then the pages, their FORBIDDEN errors and access-log rows are the same
    assert len(api) == 3 and api[0].body["errors"]
    verify.compare(api, limit)


async def test_anonymous_directory_single_sql_answers_as_our_api(
        app: Starlette, yardstick: httpx.AsyncClient, bench_data: asyncpg.Connection) -> None:
    # given the bench data set and no token
    # when both walk every page of the public directory
    async with _client(app) as ours:
        api = await verify.walk(ours, "/graphql", DIRECTORY, bench_data)
    limit = await verify.walk(yardstick, "/directory", DIRECTORY, bench_data)

    # then the pages are the same, without errors, and nothing is written to the access log
    assert len(api) == 2 and len(api[0].body["data"]["factories"]["nodes"]) == 100
    assert not any("errors" in page.body or page.access_log for page in api)
    verify.compare(api, limit)


async def test_single_sql_directory_refuses_signed_in_viewers(
        yardstick: httpx.AsyncClient, bench_data: asyncpg.Connection, settings: Settings) -> None:
    # given a customer's token: what it sees differs (unlisted factories it is connected to)
    headers = await customer_headers(bench_data, settings)

    # when it asks the single-SQL directory
    response = await yardstick.post("/directory", json={"query": DIRECTORY}, headers=headers)

    # then it is refused rather than answered as if anonymous
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
