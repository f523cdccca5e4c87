"""A served worker whose listening connection is cut while changes commit still delivers every
event to every subscriber who may see it, exactly once and in commit order (infra.events
replays what the worker missed; the feed checks each replayed event like a live one)."""
import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from db.engine import Database
from db.settings import Settings
from tests.api.connection_steps import accepted
from tests.api.test_subscriptions import CERTIFICATION, connected_and_certified, set_status
from tests.helpers import Cast
from tests.served import Served, graphql_socket, served

TERMINATE_WORKER_LISTENER = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE application_name = 'escp-events' AND datname = current_database()")


@pytest.fixture(scope="module")
async def live(database_url: str, settings: Settings) -> AsyncIterator[Served]:
    async with served(database_url, settings) as app:
        yield app


@pytest.fixture
async def http(live: Served, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
        yield client


async def test_every_entitled_subscriber_gets_every_event_once_though_the_listener_is_cut(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    _, journey = await connected_and_certified(http, database, cast, ["CERTIFICATION"])
    await accepted(http, cast, "customer_b", scopes=["PROFILE"])  # may not see CERTIFICATION
    statuses = ["SUSPENDED", "ACTIVE"] * 6
    async with (graphql_socket(live, cast.token("customer_a_user")) as customer,
                graphql_socket(live, cast.token("supplier_a_user")) as owner,
                graphql_socket(live, cast.token("reviewer")) as program,
                graphql_socket(live, cast.token("customer_b_user")) as scopeless):
        entitled = (customer, owner, program)
        for sock in (*entitled, scopeless):
            await sock.subscribe(CERTIFICATION)

        async def changes() -> None:
            for status in statuses:
                await set_status(http, cast, journey, status)

        async def cuts() -> None:
            for _ in range(5):
                async with database.engine.connect() as conn:
                    await conn.execute(TERMINATE_WORKER_LISTENER)
                await asyncio.sleep(0.15)

        await asyncio.gather(changes(), cuts())
        expected = [("CERTIFIED", "SUSPENDED"), ("SUSPENDED", "CERTIFIED")] * 6
        for sock in entitled:
            heard = []
            for _ in statuses:
                event = (await sock.next(timeout=10))["data"]["certificationStatusChanged"]
                heard.append((event["previousStatus"], event["status"]))
            assert heard == expected
        for sock in (*entitled, scopeless):
            await sock.silent(0.5)
