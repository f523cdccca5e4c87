"""Every change of a factory's derived certification status (or of its current certificate)
publishes one `certification` event in the transaction that made it, with the previous and new
status as readers see them; moves that change neither, and refused moves, publish nothing."""
import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import update

from db import Certificate
from db.engine import Database
from infra.events import Event, EventHub, Subscription, publish
from tests.api.workflow import SET_CERTIFICATE_STATUS, TODAY, Journey, codes, ok, pk, run
from tests.helpers import Cast, timeless

MARKER = {"marker": True}


async def events_until_marker(database: Database, subscription: Subscription) -> list[Event]:
    """What was published before a marker event this test sends last (events keep order)."""
    async with database.unit_of_work() as session:
        await publish(session, "certification", MARKER)
    seen = []
    async with asyncio.timeout(5):
        async for event in subscription:
            if event.get("marker"):
                return seen
            seen.append(timeless(event))
    raise AssertionError("the hub stopped")


async def test_each_status_change_is_published_once_with_previous_and_new_status(
        client: httpx.AsyncClient, database: Database, cast: Cast, hub: EventHub) -> None:
    journey = Journey(client, database, cast)
    factory_id = cast.factories["alpha"]

    async with hub.subscribe({"certification"}) as subscription:
        await journey.to_certified()
        assert codes(await journey.pay("seal_fee")) == ["ALREADY_PAID"]  # refused: no event
        for status in ("SUSPENDED", "ACTIVE"):
            ok(await run(client, SET_CERTIFICATE_STATUS, cast.token("admin"),
                         certificateId=journey.ids["certificate"], status=status,
                         reason="Monitoring visit."))
        events = await events_until_marker(database, subscription)

    certificate_id = pk(journey.ids["certificate"])
    assert events == [
        {"topic": "certification", "factory_id": factory_id, "previous": "NOT_CERTIFIED",
         "status": "IN_PROGRESS", "certificate_id": None},
        {"topic": "certification", "factory_id": factory_id, "previous": "IN_PROGRESS",
         "status": "CERTIFIED", "certificate_id": certificate_id},
        {"topic": "certification", "factory_id": factory_id, "previous": "CERTIFIED",
         "status": "SUSPENDED", "certificate_id": certificate_id},
        {"topic": "certification", "factory_id": factory_id, "previous": "SUSPENDED",
         "status": "CERTIFIED", "certificate_id": certificate_id},
    ]


async def test_a_rejection_takes_the_factory_back_to_not_certified(
        client: httpx.AsyncClient, database: Database, cast: Cast, hub: EventHub) -> None:
    journey = Journey(client, database, cast)
    await journey.to_under_review([])

    async with hub.subscribe({"certification"}) as subscription:
        ok(await journey.review("REJECT"))
        events = await events_until_marker(database, subscription)

    assert [(e["previous"], e["status"]) for e in events] == [("IN_PROGRESS", "NOT_CERTIFIED")]


async def test_a_renewal_is_announced_with_the_new_certificate(
        client: httpx.AsyncClient, database: Database, cast: Cast, hub: EventHub) -> None:
    journey = Journey(client, database, cast)
    await journey.to_certified()
    old = pk(journey.ids["certificate"])
    async with database.unit_of_work() as session:  # given: it expires in 30 days
        await session.execute(update(Certificate).where(Certificate.id == old).values(
            issued_on=TODAY - timedelta(days=334), valid_until=TODAY + timedelta(days=30)))

    async with hub.subscribe({"certification"}) as subscription:
        await journey.to_certified(kind="RENEWAL")
        events = await events_until_marker(database, subscription)

    new = pk(journey.ids["certificate"])
    assert new != old
    assert [(e["previous"], e["status"], e["certificate_id"]) for e in events] == [
        ("CERTIFIED", "CERTIFIED", new)]
