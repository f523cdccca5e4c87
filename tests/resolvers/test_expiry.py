"""The expiry sweep: what expires by date is announced once, by one worker, whoever sweeps."""
import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from db import Certificate, CustomerConnection
from db.engine import Database
from infra.events import Event, EventHub, Subscription
from tasks.expiry import sweep
from tests.api.connection_steps import accepted, expire_by_date, pk
from tests.api.workflow import SET_CERTIFICATE_STATUS, TODAY, Journey, ok, run
from tests.helpers import Cast, timeless


async def drained(subscription: Subscription, quiet: float = 0.5) -> list[Event]:
    """Every event that arrives until none has for `quiet` seconds."""
    seen = []
    while True:
        try:
            async with asyncio.timeout(quiet):
                seen.append(timeless(await anext(subscription)))
        except TimeoutError:
            return seen


async def certified(client: httpx.AsyncClient, database: Database, cast: Cast) -> Journey:
    journey = Journey(client, database, cast)
    await journey.to_certified()
    return journey


async def lapse(database: Database) -> None:
    """Given: every certificate's year is over (as time would make it), with no job run."""
    async with database.unit_of_work() as session:
        await session.execute(update(Certificate).values(
            issued_on=TODAY - timedelta(days=400), valid_until=TODAY - timedelta(days=1)))


async def test_two_workers_sweeping_at_once_announce_an_expiry_exactly_once(
        client: httpx.AsyncClient, database: Database, cast: Cast, hub: EventHub) -> None:
    journey = await certified(client, database, cast)
    await lapse(database)
    async with hub.subscribe({"certification"}) as events:
        counts = await asyncio.gather(sweep(database), sweep(database))
        assert sorted(counts) == [0, 1]
        assert await sweep(database) == 0
        assert await drained(events) == [{
            "topic": "certification", "factory_id": cast.factories["alpha"],
            "previous": "CERTIFIED", "status": "EXPIRED",
            "certificate_id": pk_of(journey.ids["certificate"])}]
    assert (await journey.certification())["certificationStatus"] == "EXPIRED"


def pk_of(global_id: str) -> int:
    from schema.ids import decode_id

    return decode_id(global_id)[1]  # type: ignore[index]


async def test_an_expiry_already_told_by_a_reinstatement_is_not_told_again(
        client: httpx.AsyncClient, database: Database, cast: Cast, hub: EventHub) -> None:
    journey = await certified(client, database, cast)
    for status in ("SUSPENDED", "ACTIVE"):
        if status == "ACTIVE":
            await lapse(database)  # its year ran out while it was suspended
        ok(await run(client, SET_CERTIFICATE_STATUS, cast.token("admin"),
                     certificateId=journey.ids["certificate"], status=status, reason="Visit."))
    async with hub.subscribe({"certification"}) as events:
        assert await sweep(database) == 0
        assert await drained(events) == []
    async with database.read() as conn:
        marked = await conn.scalar(select(Certificate.expiry_announced_on))
    assert marked == TODAY


async def test_a_lapsed_connection_is_announced_once_to_its_sides(
        client: httpx.AsyncClient, database: Database, cast: Cast, hub: EventHub) -> None:
    connection = await accepted(client, cast, scopes=["CERTIFICATION"])
    await expire_by_date(database, connection)
    async with hub.subscribe({"connection"}) as events:
        assert await sweep(database) == 1
        assert await sweep(database) == 0
        assert await drained(events) == [{
            "topic": "connection", "connection_id": pk(connection),
            "factory_id": cast.factories["alpha"], "customer_id": cast.organizations["customer_a"],
            "change": "EXPIRED"}]
    async with database.read() as conn:
        status = await conn.scalar(select(CustomerConnection.status))
    assert status == "ACCEPTED"  # stored as it was: EXPIRED is read from the date
