"""Webhooks: signed HTTP deliveries of events to the endpoints organizations register.

Each worker runs a `WebhookDispatcher` (tasks.webhooks) on the same hub stream the subscription
feeds use. For each event it finds the enabled endpoints that asked for its type and keeps those
whose creator may hear the event now, decided by the subscriptions' own audience functions
(fresh user, live connection, CERTIFICATION scope, connection parties; `hearing` below); it
writes one delivery row per endpoint. Every worker hears every event, so a row is keyed by the
event (`event_key`) and written once.

`WebhookSender` (tasks.webhooks; one per worker, any number per database) claims due rows like
the mail outbox, checks the receiver's permission again at delivery time (a revoked connection
gets nothing more: the row becomes SKIPPED), signs the body by the Standard Webhooks scheme and
POSTs it. A failure is retried after `retry * 2^attempts` seconds, up to `max_attempts`; an
endpoint whose deliveries fail `disable_after` times in a row is disabled.

This module holds what they decide and sign with, and the endpoints' own rules.
"""
import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import (
    delete,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from auth.viewer import Viewer
from db.settings import Settings
from db.webhooks import WebhookDelivery, WebhookEndpoint
from resolvers.connection import EVENT_TOPIC as CONNECTION_TOPIC
from resolvers.errors import BusinessRuleError, not_found
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
                  endpoints: Sequence[Any]) -> set[int]:
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
