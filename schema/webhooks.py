"""Webhook endpoints: register, list with their recent deliveries, delete, replay a delivery."""
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from auth.permissions import roles
from db.enums import Role
from db.webhooks import WebhookDelivery as DeliveryRow
from db.webhooks import WebhookEndpoint as EndpointRow
from overrides.guards import guarded
from resolvers import webhooks
from schema.common import UserError, user_errors
from schema.ids import decode_as, encode_id
from schema.mutation import perform
from schema.user_errors import WEBHOOK_ERRORS

MANAGERS = roles(Role.ADMIN, Role.SUPPLIER, Role.CUSTOMER)
MAX_DELIVERIES = 100


@strawberry.enum(description="Events an endpoint can be sent.")
class WebhookEventType(Enum):
    CERTIFICATION_STATUS_CHANGED = strawberry.enum_value(
        "CERTIFICATION_STATUS_CHANGED",
        description="As the certificationStatusChanged subscription: to whoever may see the "
                    "factory with CERTIFICATION at delivery time.")
    CONNECTION_CHANGED = strawberry.enum_value(
        "CONNECTION_CHANGED", description="As the connectionChanged subscription: to both "
                                          "parties of the connection.")


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Not yet accepted; retried.")
    DELIVERED = strawberry.enum_value("DELIVERED", description="The receiver answered 2xx.")
    FAILED = strawberry.enum_value("FAILED", description="Retries exhausted.")
    SKIPPED = strawberry.enum_value(
        "SKIPPED", description="Not sent: the receiver could no longer see the event.")


@strawberry.type(description="One event sent (or to be sent) to an endpoint.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="The delivery's ID, for "
                                                     "replayWebhookDelivery.")
    message_id: str = strawberry.field(description="The `webhook-id` header sent.")
    event_type: WebhookEventType = strawberry.field(description="The kind of event sent.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where the delivery stands.")
    attempts: int = strawberry.field(description=(
        "How many times it was sent so far; retried with exponential backoff up to a limit "
        "the server sets (8 by default)."))
    last_status_code: int | None = strawberry.field(description="HTTP status last answered.")
    last_error: str | None = strawberry.field(description=(
        "Why the last attempt failed (a timeout, a refused connection, a status); null if it "
        "did not."))
    next_attempt_at: datetime | None = strawberry.field(description="Null unless PENDING.")
    delivered_at: datetime | None = strawberry.field(description=(
        "When the receiver answered 2xx; null unless DELIVERED."))
    created_at: datetime = strawberry.field(description="When the event was queued for it.")
    payload: str = strawberry.field(description="The JSON body sent.")

    @classmethod
    def from_row(cls, row: Any) -> "WebhookDelivery":
        return cls(id=strawberry.ID(encode_id("WebhookDelivery", row.id)),
                   message_id=f"msg_{row.id}", event_type=WebhookEventType(row.event_type),
                   status=WebhookDeliveryStatus(row.status), attempts=row.attempts,
                   last_status_code=row.last_status_code, last_error=row.last_error,
                   next_attempt_at=row.next_attempt_at if row.status == "PENDING" else None,
                   delivered_at=row.delivered_at, created_at=row.created_at,
                   payload=webhooks.body_of(row.event_type, row.event).decode())


@strawberry.type(description="An HTTPS endpoint of the viewer's organization that receives "
                             "signed events (Standard Webhooks).")
class WebhookEndpoint:
    id: strawberry.ID = strawberry.field(description="The endpoint's ID, for "
                                                     "deleteWebhookEndpoint.")
    url: str = strawberry.field(description="Where events are POSTed.")
    event_types: list[WebhookEventType] = strawberry.field(description=(
        "The events it is sent."))
    enabled: bool = strawberry.field(description="False once disabled after repeated failures.")
    consecutive_failures: int = strawberry.field(description=(
        "Deliveries failed in a row; a success resets it, and reaching the server's limit (20 "
        "by default) disables the endpoint."))
    disabled_at: datetime | None = strawberry.field(description=(
        "When it was disabled; null while enabled."))
    created_at: datetime = strawberry.field(description="When it was registered.")
    row_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> "WebhookEndpoint":
        return cls(id=strawberry.ID(encode_id("WebhookEndpoint", row.id)), url=row.url,
                   event_types=[WebhookEventType(t) for t in row.event_types],
                   enabled=row.enabled, consecutive_failures=row.consecutive_failures,
                   disabled_at=row.disabled_at, created_at=row.created_at, row_id=row.id)

    @strawberry.field(description=f"The most recent deliveries first (at most {MAX_DELIVERIES}).")
    async def deliveries(self, info: Info, first: Annotated[int, strawberry.argument(
            description=f"How many, 0 to {MAX_DELIVERIES}.")] = 20) -> list[WebhookDelivery]:
        limit = max(0, min(first, MAX_DELIVERIES))
        async with info.context.database.read() as conn:
            rows = (await conn.execute(
                select(*DeliveryRow.__table__.c).where(DeliveryRow.endpoint_id == self.row_id)
                .order_by(DeliveryRow.id.desc()).limit(limit))).all()
        return [WebhookDelivery.from_row(row) for row in rows]


@strawberry.type(description="The answer of registerWebhookEndpoint.")
class RegisterWebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = strawberry.field(description=(
        "The endpoint registered; null when userErrors is not empty."))
    secret: str | None = strawberry.field(
        description="The signing secret (`whsec_…`), shown this once only.")
    user_errors: list[UserError] = user_errors()
    webhook_user_errors = WEBHOOK_ERRORS.field()


@strawberry.type(description="The answer of deleteWebhookEndpoint.")
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None = strawberry.field(description=(
        "The ID of the endpoint deleted; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    webhook_user_errors = WEBHOOK_ERRORS.field()


@strawberry.type(description="The answer of replayWebhookDelivery.")
class ReplayWebhookDeliveryPayload:
    delivery: WebhookDelivery | None = strawberry.field(description="The new delivery.")
    user_errors: list[UserError] = user_errors()
    webhook_user_errors = WEBHOOK_ERRORS.field()


@strawberry.input(description="A new webhook endpoint of the viewer's organization.")
class RegisterWebhookEndpointInput:
    url: str = strawberry.field(description="https:// to a public address.")
    event_types: list[WebhookEventType] = strawberry.field(description=(
        "The events to send it; at least one."))


@strawberry.type
class WebhookQuery:
    @guarded(MANAGERS, description="The viewer's organization's webhook endpoints.")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint] | None:
        async with info.context.database.read() as conn:
            rows = (await conn.execute(
                select(*EndpointRow.__table__.c)
                .where(EndpointRow.organization_id == info.context.viewer.organization_id)
                .order_by(EndpointRow.id))).all()
        return [WebhookEndpoint.from_row(row) for row in rows]


@strawberry.type
class Mutation:
    @guarded(MANAGERS, description=(
        "Register an endpoint of the viewer's organization; the payload holds its signing "
        "secret, shown once. userErrors: VALIDATION, INVALID_WEBHOOK_URL."))
    async def register_webhook_endpoint(
            self, info: Info, input: Annotated[
                RegisterWebhookEndpointInput, strawberry.argument(
                    description="The URL and the events to send it.")]
    ) -> RegisterWebhookEndpointPayload | None:
        ctx = info.context
        return await perform(info, lambda session: webhooks.register_endpoint(
            session, ctx.viewer, ctx.settings, url=input.url,
            event_types=[t.value for t in input.event_types]),
            lambda made, errors: RegisterWebhookEndpointPayload(
                endpoint=WebhookEndpoint.from_row(made[0]) if made else None,
                secret=made[1] if made else None, user_errors=errors))

    @guarded(MANAGERS, description="Delete an endpoint and its delivery log. userErrors: "
                                   "NOT_FOUND.")
    async def delete_webhook_endpoint(self, info: Info, id: Annotated[
            strawberry.ID, strawberry.argument(description="An endpoint of the viewer's "
                                                           "organization.")]
                                      ) -> DeleteWebhookEndpointPayload | None:
        viewer = info.context.viewer
        return await perform(info, lambda session: webhooks.delete_endpoint(
            session, viewer, decode_as(id, "WebhookEndpoint")),
            lambda deleted, errors: DeleteWebhookEndpointPayload(
                deleted_id=strawberry.ID(encode_id("WebhookEndpoint", deleted))
                if deleted else None, user_errors=errors))

    @guarded(MANAGERS, description=(
        "Send a delivery's event again, as a new delivery (new webhook-id), checked against "
        "the receiver's permissions when sent. userErrors: NOT_FOUND, ENDPOINT_DISABLED."))
    async def replay_webhook_delivery(self, info: Info, id: Annotated[
            strawberry.ID, strawberry.argument(description="A delivery to an endpoint of the "
                                                           "viewer's organization.")]
                                      ) -> ReplayWebhookDeliveryPayload | None:
        viewer = info.context.viewer
        return await perform(info, lambda session: webhooks.replay_delivery(
            session, viewer, decode_as(id, "WebhookDelivery")),
            lambda made, errors: ReplayWebhookDeliveryPayload(
                delivery=WebhookDelivery.from_row(made) if made else None, user_errors=errors))
