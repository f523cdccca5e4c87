"""Webhooks: signed HTTP deliveries of events to the endpoints organizations register.

Each worker runs a `WebhookDispatcher` on the same hub stream the subscription feeds use. For each
event it finds the enabled endpoints that asked for its type and keeps those whose creator may
hear the event now, decided by the subscriptions' own audience functions (fresh user, live
connection, CERTIFICATION scope, connection parties); it writes one delivery row per endpoint.
Every worker hears every event, so a row is keyed by the event (`event_key`) and written once.

`WebhookSender` (one per worker, any number per database) claims due rows like the mail outbox,
checks the receiver's permission again at delivery time (a revoked connection gets nothing more:
the row becomes SKIPPED), signs the body by the Standard Webhooks scheme and POSTs it. A failure
is retried after `retry * 2^attempts` seconds, up to `max_attempts`; an endpoint whose deliveries
fail `disable_after` times in a row is disabled.
"""
import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import Interval, any_, bindparam, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from auth.viewer import Viewer
from db.engine import Database
from db.settings import Settings
from db.webhooks import WebhookDelivery, WebhookEndpoint
from resolvers.connection import EVENT_TOPIC as CONNECTION_TOPIC
from resolvers.errors import BusinessRuleError, not_found
from infra.events import EventHub
from resolvers.ids import encode_id
from resolvers.subscriptions import Listener, certification_audience, connection_audience
from resolvers.workflow import CERTIFICATION_TOPIC

log = logging.getLogger(__name__)

# Event type (the GraphQL enum value) -> the hub topic, the receiver-facing name, the audience.
EVENT_TYPES = {
    "CERTIFICATION_STATUS_CHANGED": (CERTIFICATION_TOPIC, "certificationStatusChanged",
                                     certification_audience),
    "CONNECTION_CHANGED": (CONNECTION_TOPIC, "connectionChanged", connection_audience),
}
TYPE_OF_TOPIC = {topic: name for name, (topic, _, _) in EVENT_TYPES.items()}
MAX_URL_LENGTH = 2000
MAX_ERROR_LENGTH = 500


# ---------------------------------------------------------------- secrets and signatures

def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
    keyed with the secret's base64-decoded bytes (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def body_of(event_type: str, event: dict[str, Any]) -> bytes:
    """What the receiver gets: ids as the API's global IDs, enums, the time of the change."""
    if event_type == "CERTIFICATION_STATUS_CHANGED":
        certificate_id = event.get("certificate_id")
        data = {"factoryId": encode_id("Factory", event["factory_id"]),
                "certificateId": (encode_id("Certificate", certificate_id)
                                  if certificate_id is not None else None),
                "previousStatus": event.get("previous"), "status": event.get("status")}
    else:
        data = {"connectionId": encode_id("CustomerConnection", event["connection_id"]),
                "factoryId": encode_id("Factory", event["factory_id"]),
                "change": event.get("change")}
    return orjson.dumps({"type": EVENT_TYPES[event_type][1], "timestamp": event.get("at"),
                         "data": data})


# ---------------------------------------------------------------- receiver URLs

async def check_url(url: str, allow_insecure: bool) -> None:
    """Refuse (INVALID_WEBHOOK_URL) anything but https to a public address, unless insecure
    receivers are allowed (development): then http, loopback and private addresses pass."""
    def refuse(why: str) -> BusinessRuleError:
        return BusinessRuleError("INVALID_WEBHOOK_URL", f"The URL {why}.", ["input", "url"])

    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"may have at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse("is malformed") from None
    schemes = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in schemes:
        raise refuse("must start with https://")
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise refuse("must name a host, without credentials or fragment")
    if allow_insecure:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise refuse("names a host that does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:  # loopback, private, link-local, reserved, multicast
            raise refuse("must reach a public address, not a loopback or private one")


# ---------------------------------------------------------------- endpoints (mutations)

async def register_endpoint(session: AsyncSession, viewer: Viewer, settings: Settings, *,
                            url: str, event_types: Iterable[str]) -> tuple[WebhookEndpoint, str]:
    url = url.strip()
    types = sorted(set(event_types))
    if not types:
        raise BusinessRuleError("VALIDATION", "Give at least one event type.",
                                ["input", "eventTypes"])
    await check_url(url, settings.webhook_allow_insecure)
    secret = new_secret()
    endpoint = WebhookEndpoint(organization_id=viewer.organization_id, created_by=viewer.user_id,
                               url=url, secret=secret, event_types=types)
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint, secret


async def own_endpoint(session: AsyncSession, viewer: Viewer, endpoint_id: int | None,
                       field: list[str]) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id) if endpoint_id else None
    if endpoint is None or endpoint.organization_id != viewer.organization_id:
        raise not_found("WebhookEndpoint", field)
    return endpoint


async def delete_endpoint(session: AsyncSession, viewer: Viewer, endpoint_id: int | None) -> int:
    endpoint = await own_endpoint(session, viewer, endpoint_id, ["id"])
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
    return endpoint.id


async def replay_delivery(session: AsyncSession, viewer: Viewer,
                          delivery_id: int | None) -> WebhookDelivery:
    """A new delivery (new webhook-id, so the receiver does not drop it as a duplicate) of the
    same event, checked against the receiver's permissions when it is sent like any other."""
    original = await session.get(WebhookDelivery, delivery_id) if delivery_id else None
    if original is None:
        raise not_found("WebhookDelivery", ["id"])
    endpoint = await own_endpoint(session, viewer, original.endpoint_id, ["id"])
    if not endpoint.enabled:
        raise BusinessRuleError("ENDPOINT_DISABLED",
                                "The endpoint is disabled after repeated failures.", ["id"])
    replay = WebhookDelivery(endpoint_id=endpoint.id, event_type=original.event_type,
                             event=original.event, event_key=f"replay:{uuid.uuid4()}")
    session.add(replay)
    await session.flush()
    await session.refresh(replay)
    return replay


# ---------------------------------------------------------------- who hears an event

async def hearing(conn: AsyncConnection, event_type: str, event: dict[str, Any],
                  endpoints: list[Any]) -> set[int]:
    """The ids of the endpoints whose creator may hear the event now, decided exactly as for a
    subscriber (resolvers.subscriptions), and still in the endpoint's organization."""
    if not endpoints:
        return set()
    listeners = {Listener(Viewer(user_id=e.created_by)): e for e in endpoints}
    audience = EVENT_TYPES[event_type][2]
    heard = await audience(conn, event, list(listeners))
    return {listeners[listener].id for listener, delivery in heard.items()
            if delivery.viewer.organization_id == listeners[listener].organization_id}


def event_key(event: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()


class WebhookDispatcher:
    """Turns this worker's hub events into delivery rows (see the module's docstring)."""

    def __init__(self, hub: EventHub, database: Database) -> None:
        self._hub, self._database = hub, database
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready), name="escp-webhook-dispatcher")
        await ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])

    async def _run(self, ready: asyncio.Event) -> None:
        async with self._hub.subscribe(TYPE_OF_TOPIC) as events:
            ready.set()
            async for event in events:
                try:
                    await self.dispatch(event)
                except Exception:  # the database may be restarting: this event is lost
                    log.exception("webhooks: cannot dispatch event %s", event)

    async def dispatch(self, event: dict[str, Any]) -> int:
        event_type = TYPE_OF_TOPIC[event["topic"]]
        async with self._database.read() as conn:
            endpoints = (await conn.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.created_by,
                       WebhookEndpoint.organization_id)
                .where(WebhookEndpoint.enabled.is_(True),
                       literal(event_type) == any_(WebhookEndpoint.event_types)))).all()
            chosen = await hearing(conn, event_type, event, endpoints)
        if not chosen:
            return 0
        key = event_key(event)
        async with self._database.unit_of_work() as session:
            await session.execute(
                insert(WebhookDelivery).on_conflict_do_nothing(
                    index_elements=["endpoint_id", "event_key"]),
                [{"endpoint_id": endpoint_id, "event_type": event_type, "event": event,
                  "event_key": key} for endpoint_id in sorted(chosen)])
        return len(chosen)


# ---------------------------------------------------------------- sending

_deliveries = WebhookDelivery.__table__
_endpoints = WebhookEndpoint.__table__


class WebhookSender:
    """Sends due deliveries; any number of senders may share one database (rows are leased)."""

    def __init__(self, database: Database, settings: Settings, *, batch: int = 20,
                 lease: timedelta = timedelta(minutes=5)) -> None:
        self.database, self.settings = database, settings
        self.batch, self.lease = batch, lease

    def retry_delay(self, attempts: int) -> timedelta:
        """Wait after a failed attempt, given how many attempts had failed before it."""
        return timedelta(seconds=min(self.settings.webhook_retry_seconds * 2 ** attempts, 86400))

    async def run_forever(self) -> None:
        while True:
            try:
                claimed = await self.run_once()
            except Exception:  # the database may be away for a while; deliveries wait
                log.exception("webhooks: sending failed")
                claimed = 0
            if claimed < self.batch:
                await asyncio.sleep(self.settings.webhook_poll_seconds)

    async def run_once(self) -> int:
        """Claim up to `batch` due deliveries and attempt each; returns how many were claimed."""
        rows = await self._claim()
        if not rows:
            return 0
        async with httpx.AsyncClient(timeout=self.settings.webhook_timeout,
                                     follow_redirects=False) as client:
            await asyncio.gather(*(self._attempt(client, row) for row in rows))
        return len(rows)

    async def _claim(self) -> list[Any]:
        due = (select(_deliveries.c.id)
               .join(_endpoints, _endpoints.c.id == _deliveries.c.endpoint_id)
               .where(_deliveries.c.status == "PENDING", _endpoints.c.enabled.is_(True),
                      _deliveries.c.next_attempt_at <= func.now())
               .order_by(_deliveries.c.id).limit(self.batch)
               .with_for_update(of=_deliveries, skip_locked=True))
        lease = (update(_deliveries).where(_deliveries.c.id.in_(due))
                 .values(next_attempt_at=func.now() + self.lease)
                 .returning(*_deliveries.c))
        async with self.database.unit_of_work() as session:
            rows = (await session.execute(lease)).all()
            ids = {row.endpoint_id for row in rows}
            endpoints = {e.id: e for e in (await session.execute(
                select(*_endpoints.c).where(_endpoints.c.id.in_(ids)))).all()} if ids else {}
        return [(row, endpoints[row.endpoint_id]) for row in sorted(rows, key=lambda r: r.id)]

    async def _attempt(self, client: httpx.AsyncClient, claimed: Any) -> None:
        row, endpoint = claimed
        async with self.database.read() as conn:
            allowed = await hearing(conn, row.event_type, row.event, [endpoint])
        if not allowed:  # the receiver may no longer see it: nothing is sent, ever
            await self._skipped(row.id)
            return
        status_code, error = await self._post(client, row, endpoint)
        if error is None:
            await self._succeeded(row, endpoint, status_code)
        else:
            await self._failed(row, endpoint, status_code, error)

    async def _post(self, client: httpx.AsyncClient, row: Any,
                    endpoint: Any) -> tuple[int | None, str | None]:
        message_id = f"msg_{row.id}"
        timestamp = int(time.time())
        body = body_of(row.event_type, row.event)
        headers = {"content-type": "application/json", "webhook-id": message_id,
                   "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(endpoint.secret, message_id, timestamp, body)}
        try:
            # Again at delivery: a name may resolve elsewhere than when it was registered.
            await check_url(endpoint.url, self.settings.webhook_allow_insecure)
            # Streamed and never read: the receiver's answer body is of no use and may be large.
            async with client.stream("POST", endpoint.url, content=body,
                                     headers=headers) as response:
                status_code = response.status_code
        except BusinessRuleError as refused:
            return None, refused.message
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH] or "request failed"
        if 200 <= status_code < 300:
            return status_code, None
        return status_code, f"HTTP {status_code}"

    async def _skipped(self, delivery_id: int) -> None:
        async with self.database.unit_of_work() as session:
            await session.execute(update(_deliveries).where(_deliveries.c.id == delivery_id)
                                  .values(status="SKIPPED",
                                          last_error="the receiver may no longer see this event"))

    async def _succeeded(self, row: Any, endpoint: Any, status_code: int | None) -> None:
        async with self.database.unit_of_work() as session:
            await session.execute(update(_deliveries).where(_deliveries.c.id == row.id).values(
                status="DELIVERED", attempts=_deliveries.c.attempts + 1,
                last_status_code=status_code, last_error=None, delivered_at=func.now()))
            await session.execute(update(_endpoints).where(_endpoints.c.id == endpoint.id)
                                  .values(consecutive_failures=0))

    async def _failed(self, row: Any, endpoint: Any, status_code: int | None, error: str) -> None:
        exhausted = row.attempts + 1 >= self.settings.webhook_max_attempts
        async with self.database.unit_of_work() as session:
            await session.execute(
                update(_deliveries).where(_deliveries.c.id == row.id).values(
                    status="FAILED" if exhausted else "PENDING",
                    attempts=_deliveries.c.attempts + 1, last_status_code=status_code,
                    last_error=error[:MAX_ERROR_LENGTH],
                    next_attempt_at=func.now() + bindparam(
                        "delay", self.retry_delay(row.attempts), type_=Interval())))
            failures = (await session.execute(
                update(_endpoints).where(_endpoints.c.id == endpoint.id)
                .values(consecutive_failures=_endpoints.c.consecutive_failures + 1)
                .returning(_endpoints.c.consecutive_failures))).scalar()
            if failures is not None and failures >= self.settings.webhook_disable_after:
                await session.execute(
                    update(_endpoints).where(_endpoints.c.id == endpoint.id,
                                             _endpoints.c.enabled.is_(True))
                    .values(enabled=False, disabled_at=func.now()))
        log.warning("webhooks: delivery %d to endpoint %d failed (%s)%s", row.id, endpoint.id,
                    error, "" if exhausted else f", retrying in {self.retry_delay(row.attempts)}")
