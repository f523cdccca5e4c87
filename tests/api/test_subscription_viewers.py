"""An open subscription follows its viewer as the viewer is now, event by event, and every event
it is shown is on record in the access log.

A withheld event is proven by order, not by waiting: after the change is undone, the next event
the socket receives must be the one made after that, not the one made while the change held
(the feed handles events one at a time, in commit order).
"""
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from db import User
from db.engine import Database
from db.settings import Settings
from tests.api.connection_steps import accepted, update_scopes
from tests.api.test_subscriptions import (
    CERTIFICATION,
    connected_and_certified,
    logged_reads,
    set_status,
    status_change,
)
from tests.api.workflow import ok
from tests.helpers import Cast
from tests.served import Served, graphql_socket, served


@pytest.fixture(scope="module")
async def live(database_url: str, settings: Settings) -> AsyncIterator[Served]:
    async with served(database_url, settings) as app:
        yield app


@pytest.fixture
async def http(live: Served, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
        yield client


async def set_user(database: Database, user_id: int, **values: Any) -> None:
    async with database.unit_of_work() as session:
        await session.execute(update(User).where(User.id == user_id).values(**values))


# (what changes the reviewer while its socket is open, what undoes it)
CHANGES = {
    "deactivated": ({"active": False}, {"active": True}),
    # A role without the program's rights: it holds no scope of a factory it does not own.
    "given another role": ({"role": "SUPPLIER"}, {"role": "REVIEWER"}),
}


@pytest.mark.parametrize("change", CHANGES)
async def test_an_open_subscription_hears_as_its_user_is_now(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database,
        change: str) -> None:
    _, journey = await connected_and_certified(http, database, cast, ["CERTIFICATION"])
    reviewer = cast.people["reviewer"].user_id
    changed, undone = CHANGES[change]
    async with (graphql_socket(live, cast.token("reviewer")) as program,
                graphql_socket(live, cast.token("supplier_a_user")) as owner):
        for sock in (program, owner):
            await sock.subscribe(CERTIFICATION)
        await set_status(http, cast, journey, "SUSPENDED")
        for sock in (program, owner):
            assert status_change(await sock.next()) == ("CERTIFIED", "SUSPENDED")

        await set_user(database, reviewer, **changed)  # the socket stays open
        await set_status(http, cast, journey, "ACTIVE")
        assert status_change(await owner.next()) == ("SUSPENDED", "CERTIFIED")

        await set_user(database, reviewer, **undone)
        await set_status(http, cast, journey, "SUSPENDED")
        assert status_change(await owner.next()) == ("CERTIFIED", "SUSPENDED")
        # Not the ACTIVE event made while the change held: that one was withheld.
        assert status_change(await program.next()) == ("CERTIFIED", "SUSPENDED")


async def test_every_certification_event_shown_is_logged_not_only_the_last(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    _, journey = await connected_and_certified(http, database, cast, ["CERTIFICATION"])
    started = datetime.now(UTC)
    async with graphql_socket(live, cast.token("customer_a_user")) as dashboard:
        await dashboard.subscribe("subscription { certificationStatusChanged { "
                                  "status certificate { number } } }")
        for status in ("SUSPENDED", "ACTIVE", "SUSPENDED"):
            await set_status(http, cast, journey, status)
            payload = await dashboard.next()
            assert payload["data"]["certificationStatusChanged"]["certificate"]["number"]
    await logged_reads(database, cast.organizations["customer_a"], started,
                       ["CERTIFICATION"] * 3)


async def test_every_connection_event_shown_is_logged_not_only_the_last(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    connection = await accepted(http, cast, scopes=["PROFILE", "CERTIFICATION"])
    started = datetime.now(UTC)
    async with graphql_socket(live, cast.token("customer_a_user")) as customer:
        await customer.subscribe("subscription { connectionChanged { grantedScopes "
                                 "factory { address } } }")
        for scopes in (["PROFILE"], ["PROFILE", "AUDITS"], ["PROFILE", "ENVIRONMENT"]):
            ok((await update_scopes(http, cast, "supplier_a_user", connection,
                                    scopes))["data"]["updateConnectionScopes"])
            changed = (await customer.next())["data"]["connectionChanged"]
            assert changed["grantedScopes"] == scopes and "address" in changed["factory"]
    await logged_reads(database, cast.organizations["customer_a"], started, ["PROFILE"] * 3)
