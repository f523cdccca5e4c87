"""API keys: created by an organization's members (shown once, stored hashed), acting as the
organization with the key's role on HTTP and in connection_init, refused at once when revoked,
expired or when their creator is deactivated; reads are logged under the key."""
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from app import create_app
from db import AccessLogEntry, ApiKey, User
from db.engine import Database
from db.settings import Settings
from tests.api.test_access_log import DASHBOARD, given_customer_a_connected_to_alpha_and_beta
from tests.api.connection_steps import request
from tests.helpers import Cast, gql
from tests.served import Served, graphql_socket, served

CREATE = """
mutation($name: String!, $role: Role!, $expiresAt: DateTime) {
  createApiKey(input: {name: $name, role: $role, expiresAt: $expiresAt}) {
    secret apiKey { id name role expiresAt revokedAt }
    userErrors { code field message }
  }
}
"""
REVOKE = """
mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { revokedAt } userErrors { code } } }
"""
KEYS = "{ apiKeys { id name role createdByEmail revokedAt } }"
VIEWER = "{ viewer { organization { name } } }"
CONNECTIONS = "subscription { connectionChanged { id status } }"


async def create(client: httpx.AsyncClient, cast: Cast, who: str, role: str,
                 **variables: Any) -> dict[str, Any]:
    body = await gql(client, CREATE, cast.token(who), name="ERP sync", role=role, **variables)
    return body["data"]["createApiKey"]  # type: ignore[no-any-return]


async def as_key(client: httpx.AsyncClient, key: str, query: str = VIEWER,
                 scheme: str = "Bearer") -> httpx.Response:
    return await client.post("/graphql", json={"query": query},
                             headers={"Authorization": f"{scheme} {key}"})


def refused(response: httpx.Response) -> bool:
    return (response.status_code == 401
            and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED")


async def test_a_key_is_shown_once_stored_hashed_and_acts_as_its_organization(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    created = await create(client, cast, "customer_a_user", "CUSTOMER")
    assert created["userErrors"] == []
    key = created["secret"]
    assert key.startswith("escp_")
    async with database.read() as conn:
        stored = (await conn.execute(select(ApiKey.secret_hash))).scalar_one()
    assert key not in stored and stored == hashlib.sha256(key.split("_", 2)[2].encode()).hexdigest()
    for scheme in ("Bearer", "ApiKey"):
        response = await as_key(client, key, scheme=scheme)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["viewer"]["organization"]["name"] == "customer_a org"
    listed = (await gql(client, KEYS, cast.token("customer_a_user")))["data"]["apiKeys"]
    assert [(k["name"], k["role"], k["revokedAt"]) for k in listed] == [
        ("ERP sync", "CUSTOMER", None)]
    assert "secret" not in str(listed) and key not in str(listed)
    other = (await gql(client, KEYS, cast.token("customer_b_user")))["data"]["apiKeys"]
    assert other == []  # another organization's keys are not listed


async def test_revoking_a_key_refuses_its_very_next_request(client: httpx.AsyncClient,
                                                            cast: Cast) -> None:
    created = await create(client, cast, "supplier_a_user", "SUPPLIER")
    assert (await as_key(client, created["secret"])).status_code == 200
    body = await gql(client, REVOKE, cast.token("supplier_a_user"), id=created["apiKey"]["id"])
    assert body["data"]["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    assert refused(await as_key(client, created["secret"]))
    # Another organization cannot revoke (or learn of) the key.
    other = await gql(client, REVOKE, cast.token("supplier_b_user"), id=created["apiKey"]["id"])
    assert other["data"]["revokeApiKey"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_the_key_of_a_deactivated_creator_is_refused(client: httpx.AsyncClient, cast: Cast,
                                                           database: Database) -> None:
    created = await create(client, cast, "customer_a_user", "CUSTOMER")
    assert (await as_key(client, created["secret"])).status_code == 200
    async with database.unit_of_work() as session:
        await session.execute(update(User).where(
            User.id == cast.people["customer_a_user"].user_id).values(active=False))
    assert refused(await as_key(client, created["secret"]))


async def test_an_expired_or_forged_key_is_refused(client: httpx.AsyncClient, cast: Cast,
                                                   database: Database) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await create(client, cast, "customer_a_user", "CUSTOMER", expiresAt=soon)
    key = created["secret"]
    assert (await as_key(client, key)).status_code == 200
    async with database.unit_of_work() as session:
        await session.execute(update(ApiKey).values(expires_at=datetime.now(UTC)))
    assert refused(await as_key(client, key))
    for forged in (key[:-2] + ("AA" if not key.endswith("AA") else "BB"), "escp_1_short",
                   "escp_999_" + "A" * 43):
        assert refused(await as_key(client, forged))
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    late = await create(client, cast, "customer_a_user", "CUSTOMER", expiresAt=past)
    assert [e["code"] for e in late["userErrors"]] == ["VALIDATION"] and late["secret"] is None


async def test_a_key_is_never_above_its_creator(client: httpx.AsyncClient, cast: Cast) -> None:
    # A supplier's member cannot make a key with another kind's role.
    wrong = await create(client, cast, "supplier_a_user", "CUSTOMER")
    assert [e["code"] for e in wrong["userErrors"]] == ["ROLE_ABOVE_CREATOR"]
    # The program's keys are its ADMINs': an admin may make a REVIEWER key, which is no admin.
    reviewer_key = (await create(client, cast, "admin", "REVIEWER"))["secret"]
    denied = (await as_key(client, reviewer_key, KEYS)).json()
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    reviewer = await gql(client, CREATE, cast.token("reviewer"), name="x", role="REVIEWER")
    assert reviewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_key_cannot_make_keys(client: httpx.AsyncClient, cast: Cast) -> None:
    key = (await create(client, cast, "customer_a_user", "CUSTOMER"))["secret"]
    response = await client.post("/graphql", headers={"Authorization": f"Bearer {key}"},
                                 json={"query": CREATE, "variables": {"name": "n",
                                                                     "role": "CUSTOMER"}})
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.fixture
async def resolver_app(settings: Settings) -> AsyncIterator[Starlette]:
    reference = create_app(settings.model_copy(update=dict(compiled_reads=False)),
                           send_outbox=False)
    async with reference.router.lifespan_context(reference):
        yield reference


@pytest.mark.parametrize("path", ["compiled", "resolver"])
async def test_reads_with_a_key_are_logged_under_the_key(
        path: str, app: Starlette, resolver_app: Starlette, cast: Cast,
        database: Database) -> None:
    await given_customer_a_connected_to_alpha_and_beta(database, cast)
    transport = httpx.ASGITransport(app=app if path == "compiled" else resolver_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escp.test") as client:
        created = await create(client, cast, "customer_a_user", "CUSTOMER")
        response = await as_key(client, created["secret"], DASHBOARD)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        assert response.json().get("extensions", {}).get("readPath", path) == path
        await gql(client, DASHBOARD, cast.token("customer_a_user"))  # a person's read
    async with database.read() as conn:
        rows = (await conn.execute(select(AccessLogEntry.api_key_id,
                                          AccessLogEntry.organization_id))).all()
        key_id = (await conn.execute(select(ApiKey.id))).scalar_one()
    by_key = [r for r in rows if r.api_key_id == key_id]
    assert by_key and {r.organization_id for r in by_key} == {
        cast.organizations["customer_a"]}
    assert len(by_key) == len(rows) - len(by_key)  # the person's same reads, under no key


@pytest.fixture(scope="module")
async def live(database_url: str, settings: Settings) -> AsyncIterator[Served]:
    async with served(database_url, settings) as server:
        yield server


async def test_a_key_signs_a_socket_in_and_its_events_stop_when_it_is_revoked(
        live: Served, cast: Cast) -> None:
    async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
        created = await create(client, cast, "supplier_a_user", "SUPPLIER")
        async with graphql_socket(live, created["secret"]) as sock:  # connection_ack checked
            await sock.subscribe(CONNECTIONS)
            await request(client, cast, "customer_a_user", "alpha", ["PROFILE"])
            assert (await sock.next())["data"]["connectionChanged"]["status"] \
                == "PENDING"
            await gql(client, REVOKE, cast.token("supplier_a_user"), id=created["apiKey"]["id"])
            await request(client, cast, "customer_b_user", "alpha", ["PROFILE"])
            await sock.silent(0.5)
    async with graphql_socket(live) as revoked:
        await revoked.init(created["secret"])
        assert await revoked.closed() == 4403
