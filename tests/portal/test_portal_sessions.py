"""Portal sessions are server-side: the cookie holds a random id whose sha256 is stored; signing
out ends the session at once (a copy of the cookie signs nobody in), signing in always makes a
new id, a session ends after its idle time and lifetime, and socket tickets work once, for a
session that works, whose sockets hear nothing more once it ends."""
import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from auth import portal_sessions
from db import CustomerConnection, PortalSession, SocketTicketUse, User
from db.engine import Database
from tests.api.connection_steps import request
from tests.helpers import Cast
from tests.portal.steps import csrf_of, page, post, sign_in

SESSION = "escp_session"
CUSTOMER = "customer_a_user@example.test"


@pytest.fixture
async def browser(app: Starlette, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as client:
        yield client


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://escp.test")


def _session_of(client: httpx.AsyncClient) -> str:
    return client.cookies.get(SESSION, domain="escp.test", path="/portal") or ""


async def _signed_out(client: httpx.AsyncClient, path: str = "/portal/dashboard") -> bool:
    response = await client.get(path)
    return (response.status_code == 303
            and response.headers["location"].startswith("/portal/sign-in"))


async def test_only_the_ids_hash_is_stored(browser: httpx.AsyncClient, cast: Cast,
                                          database: Database) -> None:
    await sign_in(browser, CUSTOMER)
    secret = _session_of(browser)
    assert len(secret) >= 43  # 32 random bytes
    async with database.read() as conn:
        row = (await conn.execute(select(PortalSession))).one()
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.user_id == cast.people["customer_a_user"].user_id and row.ended_at is None
    assert row.expires_at - row.created_at == timedelta(hours=12)


async def test_signing_out_ends_a_copy_of_the_cookie_at_once(
        app: Starlette, browser: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await sign_in(browser, CUSTOMER)
    async with _client(app) as thief:
        thief.cookies.set(SESSION, _session_of(browser), domain="escp.test", path="/portal")
        thief.cookies.set("escp_csrf", csrf_of(browser), domain="escp.test", path="/portal")
        assert (await thief.get("/portal/dashboard")).status_code == 200  # the copy works
        out = await post(browser, "/portal/sign-out")
        assert out.status_code == 303
        # the copy gets the sign-in page, no socket ticket, and cannot act
        assert await _signed_out(thief)
        assert (await thief.get("/portal/socket-ticket")).status_code == 401
        acted = await post(thief, f"/portal/factories/{cast.factory_gid('alpha')}/connect",
                           {"scopes": "PROFILE"})
        assert acted.status_code == 303 and acted.headers["location"].startswith(
            "/portal/sign-in")
    async with database.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(
            CustomerConnection))).scalar_one() == 0
        assert (await conn.execute(select(PortalSession.ended_at))).scalar_one() is not None


async def test_signing_in_always_makes_a_new_id(app: Starlette, browser: httpx.AsyncClient,
                                                cast: Cast) -> None:
    # an id planted before signing in (session fixation) is never the one signed in
    browser.cookies.set(SESSION, "planted-by-someone-else", domain="escp.test", path="/portal")
    await sign_in(browser, "supplier_a_user@example.test")
    first = _session_of(browser)
    assert first and first != "planted-by-someone-else"
    # signing in again (as someone else) makes another id and ends the one before
    await sign_in(browser, CUSTOMER)
    second = _session_of(browser)
    assert second != first
    await page(browser, "/portal/dashboard")
    async with _client(app) as old:
        old.cookies.set(SESSION, first, domain="escp.test", path="/portal")
        assert await _signed_out(old, "/portal/mine")


async def test_a_session_ends_when_idle_past_its_lifetime_or_its_user_deactivated(
        browser: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    for change in ({"last_seen_at": func.now() - timedelta(minutes=31)},
                   {"expires_at": func.now() - timedelta(seconds=1)}, None):
        await sign_in(browser, CUSTOMER)
        await page(browser, "/portal/dashboard")
        async with database.unit_of_work() as session:
            if change is None:
                await session.execute(update(User).values(active=False))
            else:
                await session.execute(update(PortalSession).values(**change))
        assert await _signed_out(browser), change


async def test_a_request_keeps_a_session_from_going_idle(browser: httpx.AsyncClient, cast: Cast,
                                                         database: Database) -> None:
    await sign_in(browser, CUSTOMER)
    async with database.unit_of_work() as session:
        await session.execute(update(PortalSession).values(
            last_seen_at=func.now() - timedelta(minutes=29)))
    await page(browser, "/portal/dashboard")
    async with database.read() as conn:
        seen = (await conn.execute(select(func.now() - PortalSession.last_seen_at))).scalar_one()
    assert seen < timedelta(minutes=1)


@asynccontextmanager
async def _socket(app: Starlette, ticket: str) -> AsyncIterator[AsyncWebSocketSession]:
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app),
                                 base_url="http://escp.test") as client, \
            aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init",
                            "payload": {"Authorization": f"Bearer {ticket}"}})
        yield ws


async def _refused(app: Starlette, ticket: str) -> int:
    async with _socket(app, ticket) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json()
        return closed.value.code


async def _ticket(client: httpx.AsyncClient) -> str:
    return (await client.get("/portal/socket-ticket")).json()["ticket"]  # type: ignore[no-any-return]


async def test_a_socket_ticket_opens_one_socket(app: Starlette, browser: httpx.AsyncClient,
                                               cast: Cast, database: Database) -> None:
    await sign_in(browser, CUSTOMER)
    ticket = await _ticket(browser)
    async with _socket(app, ticket) as ws:
        assert (await ws.receive_json())["type"] == "connection_ack"
        assert await _refused(app, ticket) == 4403  # the same ticket again
    assert await _refused(app, ticket) == 4403
    async with database.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(
            SocketTicketUse))).scalar_one() == 1


async def _next(ws: AsyncWebSocketSession, timeout: float = 5) -> dict[str, Any]:
    return await ws.receive_json(timeout=timeout)  # type: ignore[no-any-return]


async def test_signing_out_refuses_new_tickets_and_silences_open_sockets(
        app: Starlette, browser: httpx.AsyncClient, client: httpx.AsyncClient, cast: Cast
) -> None:
    await sign_in(browser, CUSTOMER)
    ticket, unused = await _ticket(browser), await _ticket(browser)
    async with _socket(app, ticket) as ws:
        assert (await _next(ws))["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {
            "query": "subscription { connectionChanged { status factory { name } } }"}})
        await request(client, cast, "customer_a_user", "alpha", ["PROFILE"])
        heard = await _next(ws)
        assert heard["payload"]["data"]["connectionChanged"]["factory"]["name"] == \
            "alpha factory"
        await post(browser, "/portal/sign-out")
        await request(client, cast, "customer_a_user", "beta", ["PROFILE"])
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            await _next(ws, timeout=1.0)
        # and it runs nothing more: its next operation closes it
        await ws.send_json({"id": "2", "type": "subscribe", "payload": {
            "query": "{ viewer { user { email } } }"}})
        with pytest.raises(WebSocketDisconnect) as closed:
            await _next(ws)
        assert closed.value.code == 4401
    assert await _refused(app, unused) == 4403  # a ticket of the ended session


async def test_pruning_deletes_ended_and_expired_sessions(browser: httpx.AsyncClient, cast: Cast,
                                                         database: Database) -> None:
    await sign_in(browser, "supplier_a_user@example.test")
    await sign_in(browser, CUSTOMER)  # ends the supplier's
    kept = _session_of(browser)
    assert await portal_sessions.prune(database) == 1
    async with database.read() as conn:
        hashes = (await conn.execute(select(PortalSession.secret_hash))).scalars().all()
    assert hashes == [portal_sessions.digest(kept)]
