"""Connections end to end over HTTP: a customer asks, the factory chooses what to share, changes
it and ends it, and the customer's next query shows exactly what is granted at that moment."""
import asyncio
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from sqlalchemy import text

from db import Certificate, EnvironmentalAssessment
from db.engine import Database
from infra.events import EventHub, Subscription
from tests.api.connection_steps import (
    UPDATE_SCOPES_AND_END,
    accepted,
    connection_of,
    end,
    expire_by_date,
    outbox,
    request,
    requested,
    respond,
    update_scopes,
)
from tests.helpers import Cast, errors_at, gql, timeless

DASHBOARD = """
query Dashboard {
  factories(filter: {connectedOnly: true}) {
    totalCount
    nodes {
      id name country
      viewerAccess { scopes connection { status grantedScopes } }
      address workerCount contactEmail
      certificates { number }
      latestAudit { id }
      correctiveActionPlans { id }
      environmentalAssessments { periodYear energyKwh }
    }
  }
}
"""

ONE_FACTORY = """
query OneFactory($id: ID!) {
  factory(id: $id) {
    name country listed
    viewerAccess { scopes }
    address
    environmentalAssessments { periodYear }
  }
}
"""

# Each scope's field in DASHBOARD, and the path of its error there.
SCOPED_FIELDS = {"PROFILE": "address", "CERTIFICATION": "certificates",
                 "AUDITS": "latestAudit", "CORRECTIVE_ACTIONS": "correctiveActionPlans",
                 "ENVIRONMENT": "environmentalAssessments"}


@pytest.fixture
async def alpha_data(database: Database, cast: Cast) -> None:
    """Given: alpha has a certificate and an environmental assessment to share."""
    async with database.unit_of_work() as session:
        session.add(Certificate(number="C001001", factory_id=cast.factories["alpha"],
                                issued_on=date(2026, 1, 10), valid_until=date(2027, 1, 10)))
        session.add(EnvironmentalAssessment(factory_id=cast.factories["alpha"], period_year=2025,
                                            energy_kwh=120000.0))


@pytest.fixture
async def events(database_url: str) -> AsyncIterator[Subscription]:
    hub = EventHub(database_url, check_interval=60)
    await hub.start()
    try:
        async with hub.subscribe({"connection"}) as subscription:
            yield subscription
    finally:
        await hub.stop()


async def next_event(subscription: Subscription) -> dict[str, object]:
    async with asyncio.timeout(5):
        return await anext(subscription)


def assert_shows_exactly(body: dict, scopes: set[str]) -> None:
    """One connected factory whose scoped fields are there for `scopes`, FORBIDDEN otherwise."""
    (node,) = body["data"]["factories"]["nodes"]
    assert sorted(node["viewerAccess"]["scopes"]) == sorted(scopes)
    errors = errors_at(body)
    for scope, name in SCOPED_FIELDS.items():
        path = ("factories", "nodes", 0, name)
        if scope in scopes:
            assert path not in errors, (scope, errors.get(path))
        else:
            assert node[name] is None
            assert errors[path]["extensions"] == {"code": "FORBIDDEN", "requiredScope": scope}
    if "PROFILE" in scopes:
        assert node["address"] == "alpha street 1"
    if "ENVIRONMENT" in scopes:
        assert node["environmentalAssessments"] == [{"periodYear": 2025, "energyKwh": 120000.0}]


async def test_customer_sees_exactly_what_the_factory_shares_as_it_accepts_narrows_and_revokes(
        client: httpx.AsyncClient, cast: Cast, alpha_data: None, database: Database,
        events: Subscription) -> None:
    buyer, owner = cast.token("customer_a_user"), "supplier_a_user"
    ids = {"factory_id": cast.factories["alpha"],
           "customer_id": cast.organizations["customer_a"]}

    # The customer asks for three scopes; nothing is shared while the request is pending.
    asked = connection_of(await request(client, cast, "customer_a_user", "alpha",
                                        ["ENVIRONMENT", "PROFILE", "AUDITS", "PROFILE"],
                                        message="We source knitwear from you."))
    assert asked["status"] == "PENDING"
    assert asked["requestedScopes"] == ["PROFILE", "AUDITS", "ENVIRONMENT"]
    assert asked["grantedScopes"] == [] and asked["respondedAt"] is None
    assert asked["factory"]["name"] == "alpha factory"
    assert asked["customer"]["name"] == "customer_a org"
    connection_pk = (await next_event(events))["connection_id"]
    assert (await gql(client, DASHBOARD, buyer))["data"]["factories"]["totalCount"] == 0

    # The factory accepts with two scopes, not the ones asked for.
    granted = connection_of(await respond(client, cast, owner, asked["id"],
                                          scopes=["PROFILE", "ENVIRONMENT"]))
    assert granted["status"] == "ACCEPTED"
    assert granted["grantedScopes"] == ["PROFILE", "ENVIRONMENT"]
    assert granted["respondedAt"] is not None
    assert_shows_exactly(await gql(client, DASHBOARD, buyer), {"PROFILE", "ENVIRONMENT"})

    # The factory narrows to one: the very next query shows one.
    narrowed = connection_of(await update_scopes(client, cast, owner, asked["id"],
                                                 ["ENVIRONMENT"]))
    assert narrowed["grantedScopes"] == ["ENVIRONMENT"]
    assert_shows_exactly(await gql(client, DASHBOARD, buyer), {"ENVIRONMENT"})

    # The factory revokes: no connected factory, and the factory shows directory fields only.
    revoked = connection_of(await end(client, cast, owner, asked["id"]))
    assert revoked["status"] == "REVOKED" and revoked["grantedScopes"] == []
    dashboard = await gql(client, DASHBOARD, buyer)
    assert dashboard["data"]["factories"] == {"totalCount": 0, "nodes": []}
    body = await gql(client, ONE_FACTORY, buyer, id=cast.factory_gid("alpha"))
    assert body["data"]["factory"] == {
        "name": "alpha factory", "country": "BD", "listed": True, "viewerAccess": {"scopes": []},
        "address": None, "environmentalAssessments": None}
    assert {path[-1] for path in errors_at(body)} == {"address", "environmentalAssessments"}

    # Each step told the other side, and published one event with ids and the change only.
    assert await outbox(database) == [
        ("connection.requested", "supplier_a_user@example.test",
         "Connection request from customer_a org for alpha factory"),
        ("connection.accepted", "customer_a_user@example.test",
         "alpha factory accepted your connection request"),
        ("connection.scopes_changed", "customer_a_user@example.test",
         "alpha factory changed what it shares with you"),
        ("connection.revoked", "customer_a_user@example.test",
         "alpha factory ended its connection with you"),
    ]
    for change in ("ACCEPTED", "SCOPES_CHANGED", "REVOKED"):
        assert timeless(await next_event(events)) == {"topic": "connection", "connection_id": connection_pk,
                                            "change": change, **ids}


async def test_unlisted_factory_is_visible_to_its_connected_customer_and_absent_once_revoked(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    buyer = cast.token("customer_a_user")
    connection_id = await accepted(client, cast, scopes=["PROFILE"])
    async with database.unit_of_work() as session:  # given: the owner then unlisted it
        await session.execute(text("UPDATE factories SET listed = false WHERE id = :id"),
                              {"id": cast.factories["alpha"]})

    shown = await gql(client, DASHBOARD, buyer)
    assert [n["name"] for n in shown["data"]["factories"]["nodes"]] == ["alpha factory"]
    assert shown["data"]["factories"]["nodes"][0]["address"] == "alpha street 1"

    connection_of(await end(client, cast, "supplier_a_user", connection_id))

    assert (await gql(client, DASHBOARD, buyer))["data"]["factories"]["totalCount"] == 0
    body = await gql(client, ONE_FACTORY, buyer, id=cast.factory_gid("alpha"))
    assert body == {"data": {"factory": None}}
    everything = await gql(client, "{ factories { nodes { name } } }", buyer)
    assert "alpha factory" not in [n["name"] for n in everything["data"]["factories"]["nodes"]]
    mine = await gql(client, "{ viewer { connections { id } } }", buyer)
    assert mine["data"]["viewer"]["connections"] == []


async def test_accepted_connection_past_its_end_reads_expired_and_grants_nothing(
        client: httpx.AsyncClient, cast: Cast, alpha_data: None, database: Database) -> None:
    buyer = cast.token("customer_a_user")
    connection_id = await accepted(client, cast, scopes=["PROFILE", "ENVIRONMENT"])

    await expire_by_date(database, connection_id)

    assert (await gql(client, DASHBOARD, buyer))["data"]["factories"]["totalCount"] == 0
    body = await gql(client, ONE_FACTORY, buyer, id=cast.factory_gid("alpha"))
    assert body["data"]["factory"]["viewerAccess"] == {"scopes": []}
    assert body["data"]["factory"]["address"] is None
    for who in ("customer_a_user", "supplier_a_user"):
        seen = await gql(client, "{ viewer { connections(status: EXPIRED) { id status "
                                 "grantedScopes } } }", cast.token(who))
        assert seen["data"]["viewer"]["connections"] == [
            {"id": connection_id, "status": "EXPIRED", "grantedScopes": []}]
        live = await gql(client, "{ viewer { connections(status: ACCEPTED) { id } } }",
                         cast.token(who))
        assert live["data"]["viewer"]["connections"] == []


async def test_owner_keeps_moves_and_clears_the_end_of_sharing_when_changing_scopes(
        client: httpx.AsyncClient, cast: Cast) -> None:
    owner = cast.token("supplier_a_user")
    asked = await requested(client, cast)
    granted = connection_of(await respond(client, cast, "supplier_a_user", asked,
                                          expires_at="2099-01-01T00:00:00+00:00"))
    assert granted["expiresAt"] == "2099-01-01T00:00:00+00:00"

    kept = connection_of(await update_scopes(client, cast, "supplier_a_user", asked, ["AUDITS"]))
    moved = connection_of(await gql(client, UPDATE_SCOPES_AND_END, owner, id=asked,
                                    scopes=["AUDITS"], expiresAt="2098-06-01T12:00:00+02:00"))
    cleared = connection_of(await gql(client, UPDATE_SCOPES_AND_END, owner, id=asked,
                                      scopes=["AUDITS"], expiresAt=None))

    assert kept["expiresAt"] == "2099-01-01T00:00:00+00:00"
    assert moved["expiresAt"] == "2098-06-01T10:00:00+00:00"
    assert cleared["expiresAt"] is None and cleared["status"] == "ACCEPTED"
