"""Subscriptions over a real WebSocket to the app served by uvicorn: who hears what, and when.

Changes are made over HTTP as the roles make them; events reach the served process through
PostgreSQL. A silence is asserted only after someone entitled has heard the same event, so
"nothing arrived" means "it was withheld", not "it was not sent yet".
"""
import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client
from gql import gql as parse_gql
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy import select, text, update
from websockets.exceptions import ConnectionClosed

from auth.tokens import LEEWAY_SECONDS, issue_token
from db import AccessLogEntry, Certificate, User
from db import migrate
from db.engine import Database, make_engine
from db.enums import Role
from db.settings import Settings
from tests.api.connection_steps import accepted, end, expire_by_date, request, update_scopes
from tests.api.workflow import SET_CERTIFICATE_STATUS, TODAY, Journey, ok, run
from tests.database import RestartableServer
from tests.helpers import Cast, add_person, gql, standard_cast
from tests.served import (Served, graphql_socket, served, subscribed, subscriptions_active,
                          worker_holding)

CERTIFICATION = """
subscription Certification($ids: [ID!]) {
  certificationStatusChanged(factoryIds: $ids) {
    previousStatus status occurredAt
    factory { id name certificationStatus }
    certificate { number status validUntil }
  }
}
"""

CONNECTIONS = """
subscription { connectionChanged { id status requestedScopes grantedScopes factory { name } } }
"""


@pytest.fixture(scope="module")
async def live(database_url: str, settings: Settings) -> AsyncIterator[Served]:
    # A fast expiry sweep: events that nobody's action causes arrive within the test.
    async with served(database_url, settings, sweep_seconds=0.3) as app:
        yield app


@pytest.fixture
async def http(live: Served, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
        yield client


async def connected_and_certified(http: httpx.AsyncClient, database: Database, cast: Cast,
                                  scopes: list[str]) -> tuple[str, Journey]:
    """Given: customer_a connected to alpha with `scopes`, then alpha certified through the
    workflow; the connection's id and the journey (for its certificate)."""
    connection = await accepted(http, cast, scopes=scopes)
    journey = Journey(http, database, cast)
    await journey.to_certified()
    return connection, journey


def status_change(payload: dict) -> tuple[str, str]:
    event = payload["data"]["certificationStatusChanged"]
    return event["previousStatus"], event["status"]


async def set_status(http: httpx.AsyncClient, cast: Cast, journey: Journey, status: str) -> None:
    ok(await run(http, SET_CERTIFICATE_STATUS, cast.token("admin"),
                 certificateId=journey.ids["certificate"], status=status, reason="Monitoring."))


async def test_a_connected_customer_sees_issue_suspension_and_reinstatement_within_a_second(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await accepted(http, cast, scopes=["CERTIFICATION"])
    journey = Journey(http, database, cast)
    async with graphql_socket(live, cast.token("customer_a_user")) as dashboard:
        await dashboard.subscribe(CERTIFICATION)
        await journey.to_approved()
        assert status_change(await dashboard.next()) == ("NOT_CERTIFIED", "IN_PROGRESS")

        async def issue() -> None:
            ok(await journey.pay("seal_fee", reference="SEAL-1"))
            journey.ids["certificate"] = (await journey.certification())["currentCertificate"]["id"]

        steps = [(issue, "CERTIFIED", "ACTIVE"),
                 (lambda: set_status(http, cast, journey, "SUSPENDED"), "SUSPENDED", "SUSPENDED"),
                 (lambda: set_status(http, cast, journey, "ACTIVE"), "CERTIFIED", "ACTIVE")]
        for step, status, certificate_status in steps:
            await step()
            changed = time.monotonic()
            payload = await dashboard.next()
            assert time.monotonic() - changed < 1.0
            assert "errors" not in payload
            event = payload["data"]["certificationStatusChanged"]
            assert event["status"] == status
            assert event["factory"] == {"id": cast.factory_gid("alpha"), "name": "alpha factory",
                                        "certificationStatus": status}
            assert event["certificate"]["status"] == certificate_status
            assert event["certificate"]["number"].startswith("C")
            occurred = datetime.fromisoformat(event["occurredAt"])
            assert timedelta(0) <= datetime.now(UTC) - occurred < timedelta(seconds=5)


async def test_only_those_who_may_see_certification_hear_and_factory_ids_filter(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await accepted(http, cast, "customer_a", scopes=["CERTIFICATION"])
    await accepted(http, cast, "customer_b", scopes=["PROFILE", "AUDITS"])  # no CERTIFICATION
    async with (graphql_socket(live, cast.token("customer_a_user")) as connected,
                graphql_socket(live, cast.token("customer_b_user")) as scopeless,
                graphql_socket(live, cast.token("supplier_a_user")) as owner,
                graphql_socket(live, cast.token("supplier_b_user")) as other_supplier,
                graphql_socket(live, cast.token("firm_a_user")) as firm,
                graphql_socket(live, cast.token("reviewer")) as program):
        everything = await connected.subscribe(CERTIFICATION)
        only_beta = await connected.subscribe(CERTIFICATION, ids=[cast.factory_gid("beta")])
        for sock in (scopeless, owner, other_supplier, firm, program):
            await sock.subscribe(CERTIFICATION)

        await Journey(http, database, cast).submit()  # alpha: NOT_CERTIFIED -> IN_PROGRESS
        for sock in (owner, program):
            assert status_change(await sock.next()) == ("NOT_CERTIFIED", "IN_PROGRESS")
        assert status_change(await connected.next(everything)) == ("NOT_CERTIFIED",
                                                                   "IN_PROGRESS")
        for sock in (connected, scopeless, other_supplier, firm):  # `only_beta` is silent too
            await sock.silent(0.5)

        # beta is not connected to customer_a: its filter names it, but it may not see it.
        beta = Journey(http, database, cast, factory="beta", supplier="supplier_b_user")
        await beta.submit()
        assert status_change(await other_supplier.next()) == ("NOT_CERTIFIED", "IN_PROGRESS")
        await connected.silent(0.5)

        await accepted(http, cast, "customer_a", factory="beta", scopes=["CERTIFICATION"],
                       owner="supplier_b_user")
        ok(await beta.pay("registration_fee"))
        await beta.assign()
        ok(await beta.schedule())
        ok(await beta.report())
        ok(await beta.review("APPROVE"))
        await beta.seal_fee()
        ok(await beta.pay("seal_fee", reference="SEAL-B"))
        heard = {(await connected.receive())["id"] for _ in range(2)}
        assert heard == {everything, only_beta}


async def stop_by_revoking(http: httpx.AsyncClient, cast: Cast, database: Database,
                           connection: str) -> None:
    ok((await end(http, cast, "supplier_a_user", connection))["data"]["endConnection"])


async def stop_by_narrowing(http: httpx.AsyncClient, cast: Cast, database: Database,
                            connection: str) -> None:
    body = await update_scopes(http, cast, "supplier_a_user", connection, ["PROFILE"])
    ok(body["data"]["updateConnectionScopes"])


async def stop_by_expiry(http: httpx.AsyncClient, cast: Cast, database: Database,
                         connection: str) -> None:
    await expire_by_date(database, connection)


@pytest.mark.parametrize("stop", [stop_by_revoking, stop_by_narrowing, stop_by_expiry])
async def test_delivery_stops_at_once_when_the_factory_stops_sharing(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database, stop) -> None:
    connection, journey = await connected_and_certified(http, database, cast,
                                                        ["CERTIFICATION", "PROFILE"])
    async with (graphql_socket(live, cast.token("customer_a_user")) as dashboard,
                graphql_socket(live, cast.token("supplier_a_user")) as owner):
        await dashboard.subscribe(CERTIFICATION)
        await owner.subscribe(CERTIFICATION)
        await set_status(http, cast, journey, "SUSPENDED")
        assert status_change(await dashboard.next()) == ("CERTIFIED", "SUSPENDED")
        assert status_change(await owner.next()) == ("CERTIFIED", "SUSPENDED")

        await stop(http, cast, database, connection)  # on the same socket, no reconnect
        await set_status(http, cast, journey, "ACTIVE")
        assert status_change(await owner.next()) == ("SUSPENDED", "CERTIFIED")
        await dashboard.silent(0.5)


async def test_nested_fields_obey_the_field_rules_and_reads_are_logged(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await accepted(http, cast, scopes=["CERTIFICATION"])
    started = datetime.now(UTC)
    async with graphql_socket(live, cast.token("customer_a_user")) as dashboard:
        await dashboard.subscribe("""subscription { certificationStatusChanged {
            status certificate { number } factory { name address workerCount } } }""")
        journey = Journey(http, database, cast)
        await journey.to_certified()
        await dashboard.next()  # IN_PROGRESS, no certificate yet
        payload = await dashboard.next()
    event = payload["data"]["certificationStatusChanged"]
    assert event["factory"] == {"name": "alpha factory", "address": None, "workerCount": None}
    assert event["certificate"]["number"].startswith("C")
    denied = {tuple(e["path"]): e["extensions"] for e in payload["errors"]}
    assert denied == {
        ("certificationStatusChanged", "factory", "address"):
            {"code": "FORBIDDEN", "requiredScope": "PROFILE"},
        ("certificationStatusChanged", "factory", "workerCount"):
            {"code": "FORBIDDEN", "requiredScope": "PROFILE"},
    }
    await logged_reads(database, cast.organizations["customer_a"], started, ["CERTIFICATION"])


async def logged_reads(database: Database, organization_id: int, since: datetime,
                       expected: list[str]) -> None:
    """The organization's access-log scopes read since `since` are `expected` (in any order),
    waiting for them a bounded while: the worker's reads buffer writes every 0.5 s
    (resolvers.access_log.ReadsBuffer), and a closed socket's last reads may come a write
    later. (`since`: an earlier test's last reads may be flushed after its tables were emptied,
    with ids this test reuses; they carry their own, earlier moments.)"""
    statement = select(AccessLogEntry.scope).where(
        AccessLogEntry.organization_id == organization_id, AccessLogEntry.viewed_at >= since)
    deadline = time.monotonic() + 3
    while True:
        async with database.read() as conn:
            found = sorted((await conn.execute(statement)).scalars())
        if found == sorted(expected) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert found == sorted(expected)


async def test_expiry_by_date_is_announced_with_nobody_acting(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    connection, journey = await connected_and_certified(http, database, cast, ["CERTIFICATION"])
    async with (graphql_socket(live, cast.token("customer_a_user")) as dashboard,
                graphql_socket(live, cast.token("supplier_a_user")) as owner):
        await dashboard.subscribe(CERTIFICATION)
        await owner.subscribe(CONNECTIONS)
        async with database.unit_of_work() as session:  # given: a year went by
            await session.execute(update(Certificate).values(
                issued_on=TODAY - timedelta(days=400), valid_until=TODAY - timedelta(days=1)))
        payload = await dashboard.next()
        assert status_change(payload) == ("CERTIFIED", "EXPIRED")
        assert payload["data"]["certificationStatusChanged"]["certificate"]["status"] == "EXPIRED"
        await dashboard.silent(1.0)  # announced once, not at every sweep

        await expire_by_date(database, connection)
        changed = (await owner.next())["data"]["connectionChanged"]
        assert (changed["id"], changed["status"], changed["grantedScopes"]) == (
            connection, "EXPIRED", [])


async def test_connection_changes_reach_both_sides_and_nobody_else(
        live: Served, http: httpx.AsyncClient, cast: Cast) -> None:
    async with (graphql_socket(live, cast.token("customer_a_user")) as customer,
                graphql_socket(live, cast.token("supplier_a_user")) as owner,
                graphql_socket(live, cast.token("customer_b_user")) as stranger,
                graphql_socket(live, cast.token("supplier_b_user")) as other_supplier):
        for sock in (customer, owner, stranger, other_supplier):
            await sock.subscribe(CONNECTIONS)
        body = await request(http, cast, "customer_a_user", "alpha", ["CERTIFICATION", "PROFILE"])
        connection = body["data"]["requestConnection"]["connection"]["id"]
        for sock in (owner, customer):
            changed = (await sock.next())["data"]["connectionChanged"]
            assert (changed["id"], changed["status"], changed["requestedScopes"],
                    changed["factory"]) == (connection, "PENDING", ["PROFILE", "CERTIFICATION"],
                                            {"name": "alpha factory"})
        await stranger.silent(0.3)
        await other_supplier.silent(0.3)


@asynccontextmanager
async def gql_session(app: Served, token: str, frames: list[str | bytes]) -> AsyncIterator[Any]:
    """A session of Python's gql client over its websockets transport (graphql-transport-ws),
    as an integrator would open one; every frame the server sends is kept in `frames` (gql
    itself refuses a binary one: "Binary data received in the websocket")."""
    transport = WebsocketsTransport(url=app.ws, init_payload={"Authorization": f"Bearer {token}"},
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    connect = transport.adapter.connect

    async def connect_and_record() -> None:
        await connect()
        recv = transport.adapter.websocket.recv

        async def recorded(*args: Any, **kwargs: Any) -> str | bytes:
            frames.append(frame := await recv(*args, **kwargs))
            return frame

        transport.adapter.websocket.recv = recorded

    transport.adapter.connect = connect_and_record
    async with Client(transport=transport) as session:
        yield session


async def test_the_gql_client_subscribes_and_every_frame_is_a_text_frame(
        live: Served, http: httpx.AsyncClient, cast: Cast) -> None:
    frames: list[str | bytes] = []
    async with gql_session(live, cast.token("supplier_a_user"), frames) as session:
        heard: asyncio.Queue[dict] = asyncio.Queue()

        async def listen() -> None:
            async for result in session.subscribe(parse_gql(CONNECTIONS)):
                await heard.put(result)

        before = await subscriptions_active(live)
        listening = asyncio.create_task(listen())
        try:
            # A query over the same socket: answered after the subscription was taken.
            me = await session.execute(parse_gql("{ __typename }"))
            assert me == {"__typename": "Query"}
            await subscribed(live, before)
            await request(http, cast, "customer_a_user", "alpha", ["CERTIFICATION"])
            async with asyncio.timeout(5):
                event = (await heard.get())["connectionChanged"]
        finally:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
    assert (event["status"], event["factory"]) == ("PENDING", {"name": "alpha factory"})
    assert len(frames) >= 3  # connection_ack, the query's next and complete, the event
    assert all(isinstance(frame, str) for frame in frames), frames
    assert json.loads(frames[0])["type"] == "connection_ack"


JS_CLIENT = Path(__file__).resolve().parents[1] / "js"


@pytest.mark.skipif(shutil.which("node") is None
                    or not (JS_CLIENT / "node_modules" / "graphql-ws").is_dir(),
                    reason="needs node and the JavaScript graphql-ws client "
                           "(npm ci --prefix tests/js)")
async def test_the_javascript_graphql_ws_client_subscribes(
        live: Served, http: httpx.AsyncClient, cast: Cast) -> None:
    before = await subscriptions_active(live)
    client = await asyncio.create_subprocess_exec(
        "node", str(JS_CLIENT / "subscribe.mjs"), live.ws, cast.token("supplier_a_user"),
        CONNECTIONS, stdout=asyncio.subprocess.PIPE)
    assert client.stdout is not None
    try:
        async with asyncio.timeout(15):
            assert json.loads(await client.stdout.readline()) == {"connected": True}
            await subscribed(live, before)  # its subscribe follows the ack
            await request(http, cast, "customer_a_user", "alpha", ["CERTIFICATION"])
            result = json.loads(await client.stdout.readline())
            frames = json.loads(await client.stdout.readline())
            assert await client.wait() == 0
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
    assert result["data"]["connectionChanged"]["status"] == "PENDING", result
    assert frames == {"binaryFrames": 0}


async def test_the_server_sends_text_frames_only(live: Served, cast: Cast) -> None:
    """The raw protocol: ack, pong, next, error and complete all arrive as text frames
    (GraphQLSocket.receive asserts it for every message it reads, in every test here)."""
    async with graphql_socket(live, cast.token("customer_a_user")) as sock:
        await sock.send({"type": "ping"})
        await sock.send({"id": "q", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        await sock.send({"id": "bad", "type": "subscribe", "payload": {"query": "{ nope }"}})
        frames = [await sock.ws.recv() for _ in range(4)]
    assert [type(frame) for frame in frames] == [str] * 4
    assert sorted(json.loads(frame)["type"] for frame in frames) == ["complete", "error", "next",
                                                                     "pong"]


async def test_a_socket_needs_a_valid_token_before_any_operation(
        live: Served, cast: Cast, database: Database, settings: Settings) -> None:
    async with graphql_socket(live) as anonymous:
        await anonymous.init(None)
        assert await anonymous.closed() == 4401
    async with graphql_socket(live) as early:  # subscribe before connection_init
        await early.send({"id": "1", "type": "subscribe", "payload": {"query": CERTIFICATION}})
        assert await early.closed() == 4401
    for token in ("not-a-jwt", cast.token("customer_a_user")[:-3] + "abc",
                  expired_token(cast, settings), long_lived_token(cast, settings)):
        async with graphql_socket(live) as refused:
            await refused.init(token)
            assert await refused.closed() == 4403
    async with database.unit_of_work() as session:  # given: the user was deactivated
        await session.execute(update(User).where(
            User.id == cast.people["customer_b_user"].user_id).values(active=False))
    async with graphql_socket(live) as deactivated:
        await deactivated.init(cast.token("customer_b_user"))
        assert await deactivated.closed() == 4403


def long_lived_token(cast: Cast, settings: Settings) -> str:
    """Correctly signed, by a configuration issuing tokens longer-lived than ours accept."""
    longer = 2 * settings.jwt_max_lifetime_seconds
    issuer = settings.model_copy(update=dict(jwt_ttl_seconds=longer,
                                             jwt_max_lifetime_seconds=longer))
    person = cast.people["customer_a_user"]
    token, _ = issue_token(issuer, user_id=person.user_id, organization_id=person.organization_id,
                           role="CUSTOMER")
    return token


def expired_token(cast: Cast, settings: Settings, seconds_left: int = -60) -> str:
    """A token with `seconds_left` to live, beyond the clock-skew leeway every check allows."""
    seconds_left -= LEEWAY_SECONDS
    person = cast.people["customer_a_user"]
    issued = datetime.now(UTC) - timedelta(seconds=settings.jwt_ttl_seconds - seconds_left)
    token, _ = issue_token(settings, user_id=person.user_id,
                           organization_id=person.organization_id, role="CUSTOMER", now=issued)
    return token


async def test_an_open_socket_closes_when_its_token_expires(
        live: Served, cast: Cast, settings: Settings) -> None:
    async with graphql_socket(live, expired_token(cast, settings, seconds_left=2)) as sock:
        await sock.subscribe(CERTIFICATION)
        started = time.monotonic()
        assert await sock.closed(timeout=6) == 4401
        assert time.monotonic() - started < 4


async def test_the_legacy_protocol_is_refused(live: Served) -> None:
    async with graphql_socket(live, protocol="graphql-ws") as legacy:
        assert await legacy.closed() == 4406


async def test_subscriptions_per_socket_and_message_size_are_capped(
        live: Served, cast: Cast) -> None:
    async with graphql_socket(live, cast.token("customer_a_user")) as sock:
        for _ in range(20):
            await sock.subscribe(CERTIFICATION)
        await sock.send({"id": "21", "type": "subscribe", "payload": {"query": CERTIFICATION}})
        refused = await sock.receive()
        assert (refused["id"], refused["type"]) == ("21", "error")
        await sock.send({"type": "ping", "payload": {"padding": "x" * 70_000}})
        assert await sock.closed() == 1009


async def test_a_user_holds_at_most_ten_sockets_and_the_next_is_closed_with_4429(
        live: Served, cast: Cast, settings: Settings) -> None:
    assert settings.max_sockets_per_user == 10  # the default
    async with contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(graphql_socket(live, cast.token("customer_a_user")))
                for _ in range(10)]
        async with graphql_socket(live) as excess:
            await excess.init(cast.token("customer_a_user"))
            assert await excess.closed() == 4429
            assert excess.ws.close_reason == "Too many open sockets: at most 10 per user"
        async with graphql_socket(live, cast.token("customer_b_user")) as other_user:
            await other_user.subscribe(CONNECTIONS)  # others are not affected
        await held.pop().ws.close()
        await accepted_again(live, cast.token("customer_a_user"))  # a closed one makes room


async def accepted_again(app: Served, token: str) -> None:
    """A socket of the user is accepted once the server has counted a closed one out."""
    deadline = time.monotonic() + 5
    while True:
        async with graphql_socket(app) as sock:
            await sock.init(token)
            try:
                if (await sock.receive())["type"] == "connection_ack":
                    return
            except ConnectionClosed:
                assert time.monotonic() < deadline, "the closed socket was never counted out"
        await asyncio.sleep(0.05)


async def test_a_bad_factory_id_is_a_clear_error(live: Served, cast: Cast) -> None:
    async with graphql_socket(live, cast.token("customer_a_user")) as sock:
        await sock.send({"id": "1", "type": "subscribe", "payload": {
            "query": CERTIFICATION, "variables": {"ids": [cast.org_gid("customer_a")]}}})
        message = await sock.receive()
    assert (message["id"], message["type"]) == ("1", "next")
    assert [(e["message"], e["extensions"]["code"]) for e in message["payload"]["errors"]] == [
        ("`factoryIds` holds an id that is not a Factory's.", "BAD_USER_INPUT")]


# ---------------------------------------------------------------- across processes

async def test_an_event_made_in_one_process_reaches_a_subscriber_held_by_another(
        live: Served, cast: Cast, database: Database, database_url: str,
        settings: Settings) -> None:
    async with (served(database_url, settings) as other,
                httpx.AsyncClient(base_url=other.http, timeout=30) as other_http,
                graphql_socket(live, cast.token("supplier_a_user")) as owner):
        await owner.subscribe(CONNECTIONS)
        await request(other_http, cast, "customer_a_user", "alpha", ["CERTIFICATION"])
        assert (await owner.next())["data"]["connectionChanged"]["status"] == "PENDING"


async def test_across_processes_a_dashboard_hears_its_factory_and_stops_at_revocation(
        live: Served, cast: Cast, database: Database, database_url: str,
        settings: Settings) -> None:
    """Every change is made through another process than the one holding the sockets."""
    async with (served(database_url, settings) as other,
                httpx.AsyncClient(base_url=other.http, timeout=30) as elsewhere):
        connection, journey = await connected_and_certified(elsewhere, database, cast,
                                                            ["CERTIFICATION"])
        async with (graphql_socket(live, cast.token("customer_a_user")) as dashboard,
                    graphql_socket(live, cast.token("supplier_a_user")) as owner):
            await dashboard.subscribe(CERTIFICATION)
            await owner.subscribe(CERTIFICATION)
            for status, heard in (("SUSPENDED", "SUSPENDED"), ("ACTIVE", "CERTIFIED")):
                await set_status(elsewhere, cast, journey, status)
                changed = time.monotonic()
                assert status_change(await dashboard.next())[1] == heard
                assert time.monotonic() - changed < 1.0
                assert status_change(await owner.next())[1] == heard
            await stop_by_revoking(elsewhere, cast, database, connection)
            await set_status(elsewhere, cast, journey, "SUSPENDED")
            assert status_change(await owner.next()) == ("CERTIFIED", "SUSPENDED")
            await dashboard.silent(0.5)


async def test_two_workers_deliver_to_every_socket_whichever_worker_holds_it(
        cast: Cast, database: Database, database_url: str, settings: Settings) -> None:
    # Five users of the factory's owner take turns: a user may hold 10 sockets on a worker.
    owners = ["supplier_a_user"]
    for n in range(2, 6):
        await add_person(database, cast, f"supplier_a_{n}", "supplier_a", Role.SUPPLIER)
        owners.append(f"supplier_a_{n}")
    async with (served(database_url, settings, workers=2) as app,
                httpx.AsyncClient(base_url=app.http, timeout=30) as client,
                contextlib.AsyncExitStack() as stack):
        sockets = [await stack.enter_async_context(
            graphql_socket(app, cast.token(owners[n % 5]))) for n in range(8)]
        holders = {worker_holding(app, sock) for sock in sockets}
        # The kernel chose one worker for all (the other may still be starting: the server is
        # ready when one answers): open more, a little apart, until not.
        while len(holders) < 2:
            assert len(sockets) < 45, "every socket went to one worker"
            await asyncio.sleep(0.2)
            sockets.append(await stack.enter_async_context(
                graphql_socket(app, cast.token(owners[len(sockets) % 5]))))
            holders.add(worker_holding(app, sockets[-1]))
        for sock in sockets:
            await sock.subscribe(CONNECTIONS)
        # The request is served by one worker; sockets on both hear it.
        await request(client, cast, "customer_a_user", "alpha", ["CERTIFICATION"])
        for sock in sockets:
            assert (await sock.next())["data"]["connectionChanged"]["status"] == "PENDING"


async def test_a_subscription_lives_through_a_database_restart(
        restartable_server: RestartableServer, settings: Settings) -> None:
    """The served worker's listener reconnects by itself; the socket stays open throughout."""
    await migrate.upgrade_async(restartable_server.url)
    database = Database(make_engine(restartable_server.url))
    try:
        cast = await standard_cast(database, settings)
        async with (served(restartable_server.url, settings) as app,
                    httpx.AsyncClient(base_url=app.http, timeout=30) as client,
                    graphql_socket(app, cast.token("supplier_a_user")) as owner):
            await owner.subscribe(CONNECTIONS)
            await asyncio.to_thread(restartable_server.stop)
            await asyncio.to_thread(restartable_server.start)
            await database.dispose()  # this test's own pool holds connections to the old server
            await listening_again(database)
            body = await retried(lambda: request(client, cast, "customer_a_user", "alpha",
                                                 ["CERTIFICATION"]))
            assert body["data"]["requestConnection"]["connection"]["status"] == "PENDING"
            assert (await owner.next())["data"]["connectionChanged"]["status"] == "PENDING"
    finally:
        await database.dispose()


async def listening_again(database: Database) -> None:
    """Until the served worker's listening connection is back on the restarted server."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the server may still be starting
            async with database.read() as conn:
                if await conn.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                          "WHERE application_name = 'escp-events'")):
                    return
        await asyncio.sleep(0.1)
    raise AssertionError("the served worker did not listen again")


async def retried(make: Callable[[], Awaitable[dict]]) -> dict:
    """The served app's first request after the restart may meet a pooled connection to the
    old server (it fails, and SQLAlchemy then drops the whole pool): ask again."""
    for _ in range(3):
        with contextlib.suppress(AssertionError):  # gql() asserts HTTP 200: a 503 says retry
            body = await make()
            if not body.get("errors"):
                return body
    raise AssertionError("the request kept failing after the restart")


async def test_one_event_answers_each_organization_for_itself(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    """Users of one organization may share an event's answer; other organizations never do."""
    await add_person(database, cast, "customer_a_second", "customer_a", Role.CUSTOMER)
    mine = await accepted(http, cast, "customer_a", scopes=["CERTIFICATION", "PROFILE"])
    theirs = await accepted(http, cast, "customer_b", scopes=["CERTIFICATION"])
    started = datetime.now(UTC)
    query = """subscription { certificationStatusChanged { status factory {
        address viewerAccess { scopes connection { id } } } } }"""
    async with (graphql_socket(live, cast.token("customer_a_user")) as first,
                graphql_socket(live, cast.token("customer_a_second")) as second,
                graphql_socket(live, cast.token("customer_b_user")) as other):
        for sock in (first, second, other):
            await sock.subscribe(query)
        await Journey(http, database, cast).submit()
        answers = [await sock.next() for sock in (first, second, other)]
    same_org = {"data": {"certificationStatusChanged": {"status": "IN_PROGRESS", "factory": {
        "address": "alpha street 1",
        "viewerAccess": {"scopes": ["PROFILE", "CERTIFICATION"], "connection": {"id": mine}}}}}}
    assert answers[0] == answers[1] == same_org
    assert answers[2]["data"] == {"certificationStatusChanged": {
        "status": "IN_PROGRESS", "factory": {
            "address": None,
            "viewerAccess": {"scopes": ["CERTIFICATION"], "connection": {"id": theirs}}}}}
    assert [(e["path"], e["extensions"]["requiredScope"]) for e in answers[2]["errors"]] == [
        (["certificationStatusChanged", "factory", "address"], "PROFILE")]
    # Each subscriber given the answer is on record as having read it.
    await logged_reads(database, cast.organizations["customer_a"], started, [
        "PROFILE", "PROFILE"])
    await logged_reads(database, cast.organizations["customer_b"], started, [])


async def test_a_subscription_over_http_is_refused_clearly(
        client: httpx.AsyncClient, cast: Cast, caplog: pytest.LogCaptureFixture) -> None:
    body = await gql(client, CONNECTIONS, cast.token("customer_a_user"))
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("Subscriptions are served over WebSocket (graphql-transport-ws) at /graphql.",
         "BAD_REQUEST")]
    assert "internal error" not in caplog.text
