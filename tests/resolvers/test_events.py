"""The event bus on a real PostgreSQL: NOTIFY follows the transaction, every hub hears it,
and a hub survives losing its connection, including a restart of the database."""
import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from db.engine import Database, make_engine
from db.enums import ApplicationStatus
from infra.events import RECONNECTED, Event, EventHub, Subscription, publish
from tests.database import RestartableServer

WAIT = 5.0  # seconds: a bound on every wait, far above what a healthy run needs

TERMINATE_LISTENERS = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE application_name = 'escp-events-under-test' AND datname = current_database()"
)


async def next_event(subscription: Subscription) -> Event:
    async with asyncio.timeout(WAIT):
        return await anext(subscription)


async def publish_committed(database: Database, topic: str, **payload: object) -> None:
    async with database.unit_of_work() as session:
        await publish(session, topic, payload)


async def test_committed_event_reaches_subscriber_with_payload_intact(
    hub: EventHub, database: Database
) -> None:
    application_id = uuid.uuid4()
    async with hub.subscribe({"application.status"}) as subscription:
        await publish_committed(
            database,
            "application.status",
            applicationId=application_id,
            status=ApplicationStatus.CERTIFIED,
        )
        event = await next_event(subscription)
    assert event == {
        "topic": "application.status", "applicationId": str(application_id), "status": "CERTIFIED"
    }


async def test_subscriber_receives_only_its_topics(hub: EventHub, database: Database) -> None:
    async with hub.subscribe({"connection.changed"}) as subscription:
        await publish_committed(database, "application.status", applicationId="a1")
        await publish_committed(database, "connection.changed", connectionId="c1")
        event = await next_event(subscription)
    assert event == {"topic": "connection.changed", "connectionId": "c1"}


async def test_two_subscribers_both_receive_the_event(hub: EventHub, database: Database) -> None:
    async with hub.subscribe({"factory.changed"}) as first, hub.subscribe() as second:
        await publish_committed(database, "factory.changed", factoryId="f1")
        assert await next_event(first) == {"topic": "factory.changed", "factoryId": "f1"}
        assert await next_event(second) == {"topic": "factory.changed", "factoryId": "f1"}


async def test_rolled_back_event_is_never_delivered(hub: EventHub, database: Database) -> None:
    async with hub.subscribe() as subscription:
        with pytest.raises(RuntimeError):
            async with database.unit_of_work() as session:
                await publish(session, "application.status", {"applicationId": "rolled-back"})
                raise RuntimeError("the mutation fails after publishing")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await anext(subscription)
        # NOTIFY is delivered in commit order, so the next event proves nothing came before it.
        await publish_committed(database, "application.status", applicationId="committed")
        assert (await next_event(subscription))["applicationId"] == "committed"


async def test_event_is_delivered_only_after_commit(hub: EventHub, database: Database) -> None:
    async with hub.subscribe() as subscription:
        async with database.engine.connect() as conn:
            await conn.begin()
            await publish(conn, "audit.scheduled", {"auditId": "a1"})
            # A marker committed elsewhere meanwhile arrives first: the open transaction's
            # event has not been sent.
            await publish_committed(database, "marker")
            assert await next_event(subscription) == {"topic": "marker"}
            await conn.commit()
        assert await next_event(subscription) == {"topic": "audit.scheduled", "auditId": "a1"}


async def test_two_hubs_both_receive_an_event_published_once(
    hub: EventHub, database_url: str, database: Database
) -> None:
    other_worker = EventHub(database_url)
    await other_worker.start()
    try:
        async with hub.subscribe() as first, other_worker.subscribe() as second:
            await publish_committed(database, "certificate.issued", certificateId="c1")
            assert await next_event(first) == {"topic": "certificate.issued", "certificateId": "c1"}
            assert await next_event(second) == {
                "topic": "certificate.issued", "certificateId": "c1"
            }
    finally:
        await other_worker.stop()


async def test_oversized_or_self_titled_payload_is_refused(database: Database) -> None:
    async with database.unit_of_work() as session:
        with pytest.raises(ValueError, match="exceeds"):
            await publish(session, "factory.changed", {"factoryId": "f" * 8000})
        with pytest.raises(ValueError, match="topic"):
            await publish(session, "factory.changed", {"topic": "other"})


async def test_slow_subscriber_loses_its_oldest_events(hub: EventHub, database: Database) -> None:
    async with hub.subscribe(queue_size=2) as slow, hub.subscribe() as fast:
        async with database.unit_of_work() as session:
            for n in range(3):
                await publish(session, "factory.changed", {"n": n})
        for n in range(3):  # the same callback fills both queues, so `slow` has all three too
            assert (await next_event(fast))["n"] == n
        assert [(await next_event(slow))["n"] for _ in range(2)] == [1, 2]
        assert slow.dropped == 1


async def test_stop_ends_subscriptions(database_url: str) -> None:
    hub = EventHub(database_url, application_name="escp-events-under-test")
    await hub.start()
    async with hub.subscribe() as subscription:
        await hub.stop()
        assert not hub.connected
        assert [event async for event in subscription] == []


async def test_hub_reconnects_after_its_backend_is_terminated(
    hub: EventHub, database: Database
) -> None:
    async with hub.subscribe() as subscription, hub.subscribe({"factory.changed"}) as filtered:
        async with database.engine.connect() as conn:
            assert (await conn.execute(TERMINATE_LISTENERS)).scalar() == 1
        assert await next_event(subscription) == {"topic": RECONNECTED}
        assert hub.connected
        await publish_committed(database, "factory.changed", factoryId="f1")
        assert await next_event(subscription) == {"topic": "factory.changed", "factoryId": "f1"}
        # A subscriber to other topics is not told about reconnection.
        assert await next_event(filtered) == {"topic": "factory.changed", "factoryId": "f1"}


# A silently dead socket: the server and the hub's socket stay up, but nothing gets through,
# as when a network path is cut. Only the hub's periodic query can notice.

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def database_opener(url: str) -> Callable[[], Awaitable[Streams]]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "host" in query:  # libpq's way of naming a unix socket directory
        port = query.get("port", ["5432"])[0]
        return lambda: asyncio.open_unix_connection(f"{query['host'][0]}/.s.PGSQL.{port}")
    return lambda: asyncio.open_connection(parts.hostname, parts.port or 5432)


class FreezableProxy:
    """A TCP proxy to the database whose open links can be frozen: they stay open, carry nothing."""

    def __init__(self, database_url: str) -> None:
        self._open_database = database_opener(database_url)
        parts = urlsplit(database_url)
        self._userinfo, self._path = parts.netloc.rpartition("@")[0], parts.path
        self._links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._frozen: set[asyncio.StreamWriter] = set()

    async def start(self) -> str:
        """Listen on a free local port; return a database URL that goes through the proxy."""
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"postgresql://{self._userinfo}@127.0.0.1:{port}{self._path}"

    def freeze(self) -> None:
        self._frozen.update(client for client, _ in self._links)

    async def close(self) -> None:
        self._server.close()
        for writer in (w for link in self._links for w in link):
            writer.close()
        await self._server.wait_closed()

    async def _link(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        database_in, database = await self._open_database()
        self._links.append((client, database))
        await asyncio.gather(
            self._pipe(client_in, database, client), self._pipe(database_in, client, client)
        )

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, client: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if client not in self._frozen:
                    sink.write(data)
                    await sink.drain()
        sink.close()
        with contextlib.suppress(OSError):
            await sink.wait_closed()


async def test_hub_reconnects_when_its_socket_goes_silent(
    database_url: str, database: Database
) -> None:
    proxy = FreezableProxy(database_url)
    hub = EventHub(await proxy.start(), check_interval=0.2, check_timeout=0.2)
    await hub.start()
    try:
        async with hub.subscribe() as subscription:
            proxy.freeze()  # only links open now: the reconnection goes through
            # The marker, not `hub.connected`: through a live proxy the hub can be back within
            # milliseconds, between two looks at the flag.
            assert await next_event(subscription) == {"topic": RECONNECTED}
            assert hub.connected
            await publish_committed(database, "factory.changed", factoryId="f1")
            assert await next_event(subscription) == {"topic": "factory.changed", "factoryId": "f1"}
    finally:
        await hub.stop()
        await proxy.close()


async def wait_disconnected(hub: EventHub) -> None:
    async with asyncio.timeout(WAIT):
        while hub.connected:
            await asyncio.sleep(0.01)


async def test_subscriber_receives_events_after_a_database_restart(
    restartable_server: RestartableServer,
) -> None:
    hub = EventHub(restartable_server.url, check_interval=0.5)
    await hub.start()
    engine = make_engine(restartable_server.url)
    try:
        async with hub.subscribe() as subscription:
            await asyncio.to_thread(restartable_server.stop)
            await wait_disconnected(hub)
            await asyncio.sleep(0.5)  # the hub retries against a server that is down
            assert not hub.connected
            await asyncio.to_thread(restartable_server.start)
            await hub.wait_connected(WAIT)
            assert await next_event(subscription) == {"topic": RECONNECTED}
            async with engine.begin() as conn:
                await publish(conn, "certificate.suspended", {"certificateId": "c1"})
            assert await next_event(subscription) == {
                "topic": "certificate.suspended", "certificateId": "c1"
            }
    finally:
        await hub.stop()
        await engine.dispose()
