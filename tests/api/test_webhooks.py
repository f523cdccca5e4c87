"""Webhooks against a real HTTP receiver (uvicorn on 127.0.0.1): signatures checked with the
reference `standardwebhooks` verifier, retries with backoff, revocation, disabling, replay.

Events are made over the API; the app's dispatcher writes the deliveries; each test runs the
sender itself (`run_once`), so every attempt happens when the test says.
"""
import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Interval, func, select, type_coerce, update
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import User
from db.engine import Database
from db.settings import Settings
from db.webhooks import WebhookDelivery
from infra.events import EventHub
from tasks.webhooks import WebhookDispatcher, WebhookSender
from tests.api.connection_steps import accepted, end
from tests.api.workflow import Journey, ok
from tests.helpers import Cast, gql
from tests.served import free_port

REGISTER = """
mutation($url: String!, $types: [WebhookEventType!]!) {
  registerWebhookEndpoint(input: {url: $url, eventTypes: $types}) {
    endpoint { id url eventTypes enabled } secret userErrors { code field message }
  }
}
"""
ENDPOINTS = """
{ webhookEndpoints { id enabled consecutiveFailures
    deliveries { id messageId eventType status attempts lastStatusCode lastError payload } } }
"""
REPLAY = """
mutation($id: ID!) { replayWebhookDelivery(id: $id) {
  delivery { id status } userErrors { code } } }
"""
DELETE = """
mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId userErrors { code } } }
"""


class Receiver:
    """A webhook receiver: records every request; answers `failures` 500s first, then 204."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.failures = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def hook(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        if self.failures > 0:
            self.failures -= 1
            return Response(status_code=500)
        return Response(status_code=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=receiver.port,
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield receiver
    server.should_exit = True
    await task


@pytest.fixture
def dev_settings(app: Starlette, settings: Settings) -> Iterator[Settings]:
    """The app as configured for development: http and loopback receivers allowed, short
    retries. Not monkeypatch: it would delete the attribute from Starlette's State."""
    original = app.state.settings
    app.state.settings = original.model_copy(update=dict(
        webhook_allow_insecure=True, webhook_retry_seconds=0.2, webhook_max_attempts=5,
        webhook_disable_after=3))
    yield app.state.settings
    app.state.settings = original


async def register(client: httpx.AsyncClient, cast: Cast, who: str, url: str,
                   types: list[str] | None = None) -> dict[str, Any]:
    body = await gql(client, REGISTER, cast.token(who), url=url,
                     types=types or ["CERTIFICATION_STATUS_CHANGED", "CONNECTION_CHANGED"])
    assert "errors" not in body, body
    return body["data"]["registerWebhookEndpoint"]


async def pending(database: Database, expected: int) -> None:
    """Wait for the dispatcher (the app's, on the hub) to have written `expected` deliveries."""
    for _ in range(200):
        async with database.read() as conn:
            count = (await conn.execute(select(func.count()).select_from(WebhookDelivery))
                     ).scalar_one()
        if count >= expected:
            assert count == expected
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} deliveries written, expected {expected}")


async def make_due(database: Database) -> None:
    """Skip the backoff wait (its length is checked on the rows themselves)."""
    async with database.unit_of_work() as session:
        await session.execute(update(WebhookDelivery).values(next_attempt_at=func.now()))


def verified(secret: str, request: tuple[dict[str, str], bytes]) -> dict[str, Any]:
    headers, body = request
    return Webhook(secret).verify(body, headers)


async def test_a_certification_change_is_delivered_signed_by_the_standard(
        client: httpx.AsyncClient, cast: Cast, database: Database, receiver: Receiver,
        dev_settings: Settings) -> None:
    await accepted(client, cast, scopes=["CERTIFICATION"])
    registered = await register(client, cast, "customer_a_user", receiver.url,
                                ["CERTIFICATION_STATUS_CHANGED"])
    assert registered["userErrors"] == [] and registered["secret"].startswith("whsec_")
    secret = registered["secret"]

    await Journey(client, database, cast).submit()  # alpha: NOT_CERTIFIED -> IN_PROGRESS
    await pending(database, 1)
    assert await WebhookSender(database, dev_settings).run_once() == 1

    (request,) = receiver.requests
    event = verified(secret, request)  # raises unless the signature and timestamp are right
    assert event == {"type": "certificationStatusChanged", "timestamp": event["timestamp"],
                     "data": {"factoryId": cast.factory_gid("alpha"), "certificateId": None,
                              "previousStatus": "NOT_CERTIFIED", "status": "IN_PROGRESS"}}
    assert request[0]["webhook-id"].startswith("msg_")
    with pytest.raises(WebhookVerificationError):  # another secret does not verify
        verified(registered["secret"][:-8] + "AAAAAAA=", request)

    listed = (await gql(client, ENDPOINTS, cast.token("customer_a_user")))["data"]
    (endpoint,) = listed["webhookEndpoints"]
    (delivery,) = endpoint["deliveries"]
    assert delivery["status"] == "DELIVERED" and delivery["attempts"] == 1
    assert delivery["lastStatusCode"] == 204
    assert delivery["messageId"] == request[0]["webhook-id"]
    assert "secret" not in str(listed)  # the secret is shown once, never listed
    # Another organization sees nothing of it.
    assert (await gql(client, ENDPOINTS, cast.token("customer_b_user")))["data"] == {
        "webhookEndpoints": []}


async def test_a_failing_receiver_is_retried_with_backoff_then_succeeds(
        client: httpx.AsyncClient, cast: Cast, database: Database, receiver: Receiver,
        dev_settings: Settings) -> None:
    secret = (await register(client, cast, "supplier_a_user", receiver.url))["secret"]
    receiver.failures = 2
    await Journey(client, database, cast).submit()
    await pending(database, 1)
    sender = WebhookSender(database, dev_settings)

    assert await sender.run_once() == 1
    assert await sender.run_once() == 0  # not due yet: the backoff holds it
    async with database.read() as conn:
        row = (await conn.execute(select(WebhookDelivery.attempts, WebhookDelivery.status,
                                         type_coerce(WebhookDelivery.next_attempt_at - func.now(),
                                                     Interval)))).one()
    assert row[0] == 1 and row[1] == "PENDING" and row[2].total_seconds() > 0
    assert sender.retry_delay(0).total_seconds() == 0.2
    assert sender.retry_delay(3).total_seconds() == 1.6  # exponential

    for _ in range(2):
        await make_due(database)
        assert await sender.run_once() == 1
    assert len(receiver.requests) == 3
    ids = {headers["webhook-id"] for headers, _ in receiver.requests}
    assert len(ids) == 1  # retries keep the message id, so the receiver can deduplicate
    for request in receiver.requests:
        verified(secret, request)
    (endpoint,) = (await gql(client, ENDPOINTS, cast.token("supplier_a_user")))["data"][
        "webhookEndpoints"]
    assert endpoint["consecutiveFailures"] == 0 and endpoint["enabled"]
    assert [(d["status"], d["attempts"]) for d in endpoint["deliveries"]] == [("DELIVERED", 3)]


async def test_a_revoked_connection_gets_nothing_more(
        client: httpx.AsyncClient, cast: Cast, database: Database, receiver: Receiver,
        dev_settings: Settings) -> None:
    connection = await accepted(client, cast, scopes=["CERTIFICATION"])
    customer = await register(client, cast, "customer_a_user", receiver.url,
                              ["CERTIFICATION_STATUS_CHANGED"])
    owner = await register(client, cast, "supplier_a_user", receiver.url,
                           ["CERTIFICATION_STATUS_CHANGED"])
    sender = WebhookSender(database, dev_settings)
    journey = Journey(client, database, cast)

    # An event written while connected, revoked before it is sent: checked again at delivery.
    await journey.to_approved()  # alpha: NOT_CERTIFIED -> IN_PROGRESS
    await pending(database, 2)
    assert (await end(client, cast, "supplier_a_user", connection))["data"]["endConnection"][
        "userErrors"] == []
    assert await sender.run_once() == 2
    (request,) = receiver.requests
    verified(owner["secret"], request)  # the owner's; the customer's was withheld
    customer_log = (await gql(client, ENDPOINTS, cast.token("customer_a_user")))["data"]
    assert [d["status"] for d in customer_log["webhookEndpoints"][0]["deliveries"]] == [
        "SKIPPED"]

    # The next event is not even queued for the customer: only the owner hears it.
    ok(await journey.pay("seal_fee", reference="SEAL-1"))  # IN_PROGRESS -> CERTIFIED
    await pending(database, 3)
    await sender.run_once()
    assert len(receiver.requests) == 2
    verified(owner["secret"], receiver.requests[1])
    # Replaying the withheld delivery is checked again too.
    skipped = customer_log["webhookEndpoints"][0]["deliveries"][0]["id"]
    replay = (await gql(client, REPLAY, cast.token("customer_a_user"), id=skipped))["data"]
    assert replay["replayWebhookDelivery"]["userErrors"] == []
    await sender.run_once()
    assert len(receiver.requests) == 2
    assert customer["endpoint"]["id"]


async def test_an_endpoint_is_disabled_after_repeated_failures_and_replay_resends(
        client: httpx.AsyncClient, cast: Cast, database: Database, receiver: Receiver,
        dev_settings: Settings) -> None:
    registered = await register(client, cast, "supplier_a_user", receiver.url)
    receiver.failures = 100
    await Journey(client, database, cast).submit()
    await pending(database, 1)
    sender = WebhookSender(database, dev_settings)
    for _ in range(3):  # disable_after = 3
        await make_due(database)
        assert await sender.run_once() == 1
    await make_due(database)
    assert await sender.run_once() == 0  # disabled: nothing more is sent
    assert len(receiver.requests) == 3
    token = cast.token("supplier_a_user")
    (endpoint,) = (await gql(client, ENDPOINTS, token))["data"]["webhookEndpoints"]
    assert not endpoint["enabled"] and endpoint["consecutiveFailures"] == 3
    (delivery,) = endpoint["deliveries"]
    assert delivery["lastStatusCode"] == 500 and delivery["lastError"] == "HTTP 500"
    refused = (await gql(client, REPLAY, token, id=delivery["id"]))["data"]
    assert refused["replayWebhookDelivery"]["userErrors"] == [{"code": "ENDPOINT_DISABLED"}]

    # A new endpoint, and a replay of the old delivery to it is not possible across endpoints;
    # on a healthy endpoint a replay is a new message of the same event.
    receiver.failures = 0
    healthy = await register(client, cast, "supplier_a_user", receiver.url)
    ok(await Journey(client, database, cast, factory="hidden").submit())
    await pending(database, 2)
    await sender.run_once()
    (healthy_view,) = [e for e in (await gql(client, ENDPOINTS, token))["data"][
        "webhookEndpoints"] if e["id"] == healthy["endpoint"]["id"]]
    first = healthy_view["deliveries"][0]
    replayed = (await gql(client, REPLAY, token, id=first["id"]))["data"][
        "replayWebhookDelivery"]
    assert replayed["userErrors"] == [] and replayed["delivery"]["status"] == "PENDING"
    await sender.run_once()
    again = verified(healthy["secret"], receiver.requests[-1])
    assert again == verified(healthy["secret"], receiver.requests[-2])
    assert receiver.requests[-1][0]["webhook-id"] != receiver.requests[-2][0]["webhook-id"]

    deleted = (await gql(client, DELETE, token, id=registered["endpoint"]["id"]))["data"]
    assert deleted["deleteWebhookEndpoint"]["userErrors"] == []
    stranger = (await gql(client, DELETE, cast.token("customer_a_user"),
                          id=healthy["endpoint"]["id"]))["data"]
    assert stranger["deleteWebhookEndpoint"]["userErrors"] == [{"code": "NOT_FOUND"}]


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/x",       # not https
    "https://127.0.0.1/hook",           # loopback
    "https://10.1.2.3/hook",            # private
    "https://169.254.169.254/latest",   # link-local (cloud metadata)
    "https://[::1]/hook",
    "https://localhost/hook",           # resolves to loopback
    "https://user:pw@example.com/",
    "ftp://example.com/",
    "not a url",
])
async def test_receiver_urls_are_validated(client: httpx.AsyncClient, cast: Cast,
                                           database: Database, url: str) -> None:
    payload = await register(client, cast, "customer_a_user", url)
    assert payload["endpoint"] is None and payload["secret"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID_WEBHOOK_URL", ["input", "url"])]
    listed = await gql(client, ENDPOINTS, cast.token("customer_a_user"))
    assert listed["data"]["webhookEndpoints"] == []


async def test_only_signed_in_organization_roles_manage_endpoints(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    anonymous = await gql(client, ENDPOINTS)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    auditor = await gql(client, REGISTER, cast.token("firm_a_user"), url="https://x.example",
                        types=["CONNECTION_CHANGED"])
    assert auditor["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_connection_changes_reach_both_parties_and_nobody_else(
        client: httpx.AsyncClient, cast: Cast, database: Database, receiver: Receiver,
        dev_settings: Settings) -> None:
    secrets = {who: (await register(client, cast, who, receiver.url, ["CONNECTION_CHANGED"]))[
        "secret"] for who in ("customer_a_user", "supplier_a_user", "customer_b_user",
                              "supplier_b_user")}
    await accepted(client, cast, scopes=["CERTIFICATION"])  # requested, then accepted
    await pending(database, 4)
    assert await WebhookSender(database, dev_settings).run_once() == 4
    heard: dict[str, list[str]] = {}
    for request in receiver.requests:
        for who, secret in secrets.items():
            try:
                event = verified(secret, request)
            except WebhookVerificationError:
                continue
            heard.setdefault(who, []).append(event["data"]["change"])
    assert {who: sorted(changes) for who, changes in heard.items()} == {
        "customer_a_user": ["ACCEPTED", "REQUESTED"], "supplier_a_user": ["ACCEPTED", "REQUESTED"]}


async def test_one_row_per_event_across_workers_and_a_deactivated_creator_gets_nothing(
        client: httpx.AsyncClient, cast: Cast, database: Database, hub: EventHub,
        receiver: Receiver, dev_settings: Settings) -> None:
    await register(client, cast, "supplier_a_user", receiver.url)
    second_worker = WebhookDispatcher(hub, database)  # hears the same events as the app's
    await second_worker.start()
    try:
        await Journey(client, database, cast).submit()
        await pending(database, 1)
        await asyncio.sleep(0.3)  # the second worker's insert has come and gone
        await pending(database, 1)
    finally:
        await second_worker.stop()

    async with database.unit_of_work() as session:
        await session.execute(update(User).where(User.id == cast.people[
            "supplier_a_user"].user_id).values(active=False))
    assert await WebhookSender(database, dev_settings).run_once() == 1
    assert receiver.requests == []
    async with database.read() as conn:
        assert (await conn.execute(select(WebhookDelivery.status))).scalar_one() == "SKIPPED"
