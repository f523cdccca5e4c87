"""A database outage, as clients of the served app see it: every request is either done and
acknowledged, or refused with 503 SERVICE_UNAVAILABLE and Retry-After, to be sent again; never a
200 carrying an internal error, and never an acknowledged write that is not in the database."""
import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from sqlalchemy import select, text

from db import Factory, migrate
from db.engine import Database, is_unavailable, make_engine
from db.settings import Settings
from tests.database import RestartableServer
from tests.helpers import standard_cast
from tests.served import served

CREATE_FACTORY = """
mutation Create($input: CreateFactoryInput!) {
  createFactory(input: $input) { factory { id name } userErrors { code } }
}
"""
WRITERS = 6


def answer_kind(response: httpx.Response) -> str:
    """'acknowledged', 'unavailable' (a proper 503), or what else it was."""
    body: dict[str, Any] = response.json()
    if response.status_code == 200 and not body.get("errors") and \
            body["data"]["createFactory"]["factory"]:
        return "acknowledged"
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
    if response.status_code == 503 and codes == ["SERVICE_UNAVAILABLE"] and \
            response.headers.get("retry-after") == "1":
        return "unavailable"
    return f"{response.status_code} {codes}"


async def writers_held_in_flight(url: str) -> asyncpg.Connection:
    """A connection that holds a lock every createFactory waits for, returned once every writer
    waits: the restart then surely meets requests in flight, not only requests between two."""
    holder = await asyncpg.connect(url)
    await holder.execute("BEGIN; LOCK TABLE factories IN SHARE MODE")
    deadline = time.monotonic() + 10
    while await holder.fetchval("SELECT count(*) FROM pg_stat_activity "
                                "WHERE wait_event_type = 'Lock'") < WRITERS:
        assert time.monotonic() < deadline, "the writers did not wait for the lock"
        await asyncio.sleep(0.05)
    return holder


async def test_writes_across_a_database_restart_are_acknowledged_or_refused_with_503(
        restartable_server: RestartableServer, settings: Settings) -> None:
    await migrate.upgrade_async(restartable_server.url)
    database = Database(make_engine(restartable_server.url))
    cast = await standard_cast(database, settings)
    await database.dispose()
    headers = {"Authorization": f"Bearer {cast.token('supplier_a_user')}"}
    answers: Counter[str] = Counter()
    acknowledged: set[str] = set()
    writing = True

    async def writer(client: httpx.AsyncClient, number: int) -> None:
        sent = 0
        while writing:
            sent += 1
            name = f"writer {number} factory {sent}"
            response = await client.post("/graphql", headers=headers, json={
                "query": CREATE_FACTORY, "variables": {"input": {"name": name, "country": "BD"}}})
            kind = answer_kind(response)
            answers[kind] += 1
            if kind == "acknowledged":
                acknowledged.add(name)
            else:
                await asyncio.sleep(0.05)  # a client backs off before it sends again

    async with (served(restartable_server.url, settings) as app,
                httpx.AsyncClient(base_url=app.http, timeout=30) as client):
        writers = [asyncio.create_task(writer(client, n)) for n in range(WRITERS)]
        await asyncio.sleep(1.0)
        before = answers["acknowledged"]
        held = await writers_held_in_flight(restartable_server.url)
        await asyncio.to_thread(restartable_server.stop)  # ends the held requests' connections
        with contextlib.suppress(Exception):  # the server closed it
            await held.close(timeout=1)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(restartable_server.start)
        restarted = answers["acknowledged"]
        deadline = time.monotonic() + 20
        while answers["acknowledged"] < restarted + 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        writing = False
        await asyncio.gather(*writers)

    assert set(answers) == {"acknowledged", "unavailable"}, answers
    assert before > 0 and answers["acknowledged"] >= restarted + 20, answers
    database = Database(make_engine(restartable_server.url))
    try:
        async with database.read() as conn:
            stored = set((await conn.scalars(select(Factory.name))).all())
    finally:
        await database.dispose()
    assert acknowledged <= stored  # nothing acknowledged was lost


async def raised(make: Callable[[], Awaitable[object]]) -> BaseException:
    try:
        await make()
    except Exception as error:  # the error is what the test examines
        return error
    raise AssertionError("nothing was raised")


async def test_only_a_database_that_went_away_counts_as_unavailable(database: Database) -> None:
    async def connect_refused() -> None:
        engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    async def no_socket_file() -> None:
        await asyncpg.connect(host="/nonexistent-socket-dir", user="nobody")

    async def bad_statement() -> None:
        async with database.read() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))

    async def missing_document() -> None:
        await asyncio.to_thread(open, "/nonexistent/document.pdf", "rb")

    assert is_unavailable(await raised(connect_refused))
    assert is_unavailable(await raised(no_socket_file))
    assert not is_unavailable(await raised(bad_statement))
    assert not is_unavailable(await raised(missing_document))
