"""Events are kept, numbered in commit order: a hub whose listening connection is lost replays
what was committed meanwhile, each event once and in order, and old events are pruned by age."""
import asyncio
import contextlib

import orjson
from sqlalchemy import text

from db.engine import Database
from infra.events import Event, EventHub, Subscription, prune, publish
from tests.resolvers.test_events import TERMINATE_LISTENERS, WAIT, publish_committed


async def received(subscription: Subscription, count: int) -> list[Event]:
    async with asyncio.timeout(WAIT * 2):
        return [await anext(subscription) for _ in range(count)]


async def silent(subscription: Subscription, seconds: float = 0.3) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            extra = await anext(subscription)
            raise AssertionError(f"an event too many: {extra}")


async def committed_order(database: Database, topic: str) -> list[Event]:
    async with database.read() as conn:
        rows = (await conn.execute(text("SELECT payload FROM events ORDER BY seq"))).scalars()
        return [e for e in map(orjson.loads, rows) if e["topic"] == topic]


async def test_events_committed_while_the_listener_is_down_arrive_once_in_commit_order(
        hub: EventHub, database: Database) -> None:
    async with hub.subscribe({"replay"}) as subscription:
        async def writer(name: str) -> None:
            for n in range(60):
                await publish_committed(database, "replay", writer=name, n=n)

        async def cut_the_listener() -> None:
            for _ in range(4):
                async with database.engine.connect() as conn:
                    await conn.execute(TERMINATE_LISTENERS)
                await asyncio.sleep(0.05)

        await asyncio.gather(writer("a"), writer("b"), cut_the_listener())
        events = await received(subscription, 120)
        await silent(subscription)
    assert events == await committed_order(database, "replay")
    for name in "ab":
        assert [e["n"] for e in events if e["writer"] == name] == list(range(60))


async def test_numbers_follow_commit_order_not_publishing_order(
        hub: EventHub, database: Database) -> None:
    async with hub.subscribe({"order"}) as subscription:
        async with database.engine.connect() as conn:
            await conn.begin()
            await publish(conn, "order", {"name": "published first, committed last"})
            await publish_committed(database, "order", name="published last, committed first")
            await conn.commit()
        events = await received(subscription, 2)
    assert [e["name"] for e in events] == ["published last, committed first",
                                           "published first, committed last"]
    assert await committed_order(database, "order") == events


async def test_a_rolled_back_event_is_not_kept(database: Database) -> None:
    with contextlib.suppress(RuntimeError):
        async with database.unit_of_work() as session:
            await publish(session, "gone", {})
            raise RuntimeError("rolled back")
    assert await committed_order(database, "gone") == []


async def test_events_older_than_the_retention_are_pruned(database: Database) -> None:
    for n in range(3):
        await publish_committed(database, "aged", n=n)
    async with database.unit_of_work() as session:
        await session.execute(text("UPDATE events SET created_at = now() - interval '2 hours' "
                                   "WHERE payload::jsonb ->> 'n' = '0'"))
    async with database.unit_of_work() as session:
        assert await prune(session, 3600) == 1  # type: ignore[arg-type]
    assert [e["n"] for e in await committed_order(database, "aged")] == [1, 2]


async def test_a_long_replay_goes_in_pages_that_wait_for_subscribers_to_drain(
        hub: EventHub, database: Database) -> None:
    async with database.unit_of_work() as session:
        for n in range(250):
            await publish(session, "long", {"n": n})
    async with database.read() as conn:
        last = (await conn.execute(text("SELECT max(seq) FROM events"))).scalar_one()
    async with asyncio.timeout(WAIT):
        while hub._last_seq != last:  # heard by the hub, with nobody subscribed
            await asyncio.sleep(0.01)
    # As if the hub had missed them: its next connection replays all 250, more than the
    # subscriber's queue holds, and none is dropped.
    hub._last_seq = last - 250
    async with hub.subscribe({"long"}, queue_size=40) as subscription:
        async with database.engine.connect() as conn:
            await conn.execute(TERMINATE_LISTENERS)
        assert [e["n"] for e in await received(subscription, 250)] == list(range(250))
        assert subscription.dropped == 0
