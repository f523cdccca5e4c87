"""Two moves of one application at the same moment: exactly one wins, the other is a clean
userError (never a 500), and the data shows one move."""
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import text

from db.engine import Database
from tests.api.workflow import ASSIGN, MINOR, SUBMIT, Journey, codes, fee_of, gql, ok, pk, run
from tests.helpers import Cast

HISTORY = """
query($id: ID!) { node(id: $id) { ... on Application { transitions { toStatus } } } }
"""


@pytest.fixture
async def journey(client: httpx.AsyncClient, database: Database, cast: Cast) -> Journey:
    return Journey(client, database, cast)


@asynccontextmanager
async def application_locked(database: Database, application_id: int) -> AsyncIterator[None]:
    """Hold the application's row lock in another transaction, so requests started meanwhile
    queue behind it and are released together: the race is certain, not left to timing."""
    async with database.engine.connect() as conn, conn.begin() as transaction:
        await conn.execute(text("SELECT 1 FROM applications WHERE id = :id FOR UPDATE"),
                           {"id": application_id})
        yield
        await transaction.rollback()


async def wait_for_lock_waiters(database: Database, count: int) -> None:
    statement = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND datname = current_database()")
    for _ in range(200):
        async with database.read() as conn:
            if (await conn.execute(statement)).scalar_one() >= count:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} requests never queued for the lock")


def one_winner(payloads: list[dict]) -> dict:
    winners = [p for p in payloads if p["userErrors"] == []]
    losers = [p for p in payloads if p["userErrors"] != []]
    assert len(winners) == 1 and len(losers) == 1, payloads
    return losers[0]


async def transitions(journey: Journey) -> list[str]:
    body = await gql(journey.client, HISTORY, journey.token("admin"),
                     id=journey.ids["application"])
    return [t["toStatus"] for t in body["data"]["node"]["transitions"]]


async def test_two_assignments_released_together_one_firm_is_assigned_and_billed(
        journey: Journey, database: Database) -> None:
    await journey.submit()
    ok(await journey.pay("registration_fee"))

    async with application_locked(database, pk(journey.ids["application"])):
        racing = asyncio.gather(*(
            run(journey.client, ASSIGN, journey.token(who),
                applicationId=journey.ids["application"], auditFirmId=journey.cast.org_gid(firm))
            for who, firm in (("admin", "firm_a"), ("reviewer", "firm_b"))))
        await wait_for_lock_waiters(database, 2)
    payloads = await racing

    assert codes(one_winner(list(payloads))) == ["INVALID_TRANSITION"]
    application = await journey.application()
    assert len([f for f in application["fees"] if f["kind"] == "AUDIT"]) == 1
    assert await transitions(journey) == ["SUBMITTED", "AUDIT_FIRM_ASSIGNED"]


async def test_approve_and_reject_released_together_one_decision_stands(
        journey: Journey, database: Database) -> None:
    await journey.to_under_review([MINOR])
    await journey.cap_submitted()

    async with application_locked(database, pk(journey.ids["application"])):
        racing = asyncio.gather(journey.review("APPROVE"), journey.review("REJECT", who="admin"))
        await wait_for_lock_waiters(database, 2)
    payloads = await racing

    loser = one_winner(list(payloads))
    assert codes(loser) == ["INVALID_TRANSITION"]
    status = (await journey.application())["status"]
    assert status in ("APPROVED", "REJECTED")
    assert (await transitions(journey))[-1] == status
    assert len(await transitions(journey)) == 5


async def test_two_submissions_for_one_factory_at_once_open_one_application(
        journey: Journey) -> None:
    token, factory = journey.token("supplier_a_user"), journey.cast.factory_gid("alpha")

    payloads = await asyncio.gather(*(run(journey.client, SUBMIT, token, factoryId=factory,
                                          kind="NEW") for _ in range(2)))

    assert codes(one_winner(list(payloads))) == ["APPLICATION_OPEN"]


async def test_the_seal_fee_paid_twice_at_once_issues_one_certificate(
        journey: Journey, database: Database) -> None:
    await journey.to_approved()

    async with application_locked(database, pk(journey.ids["application"])):
        racing = asyncio.gather(journey.pay("seal_fee", who="admin", reference="A"),
                                journey.pay("seal_fee", who="reviewer", reference="B"))
        await wait_for_lock_waiters(database, 2)
    payloads = await racing

    assert codes(one_winner(list(payloads))) == ["ALREADY_PAID"]
    certification = await journey.certification()
    assert len(certification["certificates"]) == 1
    assert fee_of((await journey.application())["fees"], "SEAL")["status"] == "PAID"
