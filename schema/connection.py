"""Customer connections and what a viewer may see of a factory."""
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from auth.access import FactoryAccess as Access
from auth.permissions import ConnectionParty, roles
from db.enums import Role
from overrides.guards import guarded
from resolvers import connection as connections
from resolvers.connection import effective_status
from resolvers.loaders import VisibleConnectionById
from schema.common import Node, UserError, user_errors
from schema.enums import ConnectionStatus, ShareScope
from schema.ids import decode_as, encode_id
from schema.mutation import perform
from schema.organization import Organization, organization
from schema.user_errors import CONNECTION_ERRORS

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]


@strawberry.type(description="A customer organization's link to one factory, and what the "
                             "factory shares over it. Seen by both sides and the program.")
class CustomerConnection(Node):
    factory_id: strawberry.Private[int]
    customer_id: strawberry.Private[int]
    status: ConnectionStatus | None = guarded(ConnectionParty(),
                                              description="EXPIRED once past expiresAt.")
    requested_scopes: list[ShareScope] | None = guarded(ConnectionParty(), description=(
        "What the customer asked to see."))
    granted_scopes: list[ShareScope] | None = guarded(ConnectionParty(),
                                                      description="Empty unless ACCEPTED.")
    message: str | None = guarded(ConnectionParty(), description=(
        "The customer's note to the factory with its request; null if none."))
    requested_at: datetime | None = guarded(ConnectionParty(), description=(
        "When the customer asked."))
    responded_at: datetime | None = guarded(ConnectionParty(), description=(
        "When the factory accepted or declined; null while PENDING."))
    expires_at: datetime | None = guarded(ConnectionParty(), description=(
        "When sharing ends, as the factory set it; null: until either side ends it."))

    @guarded(ConnectionParty(), description="The factory asked to share.")
    async def factory(self, info: Info) -> FactoryRef | None:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @guarded(ConnectionParty(), description="The customer organization that asked.")
    async def customer(self, info: Info) -> Organization | None:
        return await organization(info, self.customer_id)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: Any) -> "CustomerConnection":
        status = effective_status(row)
        granted = row.granted_scopes if status.value == "ACCEPTED" else []
        return cls(id=strawberry.ID(encode_id("CustomerConnection", row.id)),
                   factory_id=row.factory_id, customer_id=row.customer_id, status=status,
                   requested_scopes=[ShareScope(s) for s in row.requested_scopes],
                   granted_scopes=[ShareScope(s) for s in granted], message=row.message,
                   requested_at=row.requested_at, responded_at=row.responded_at,
                   expires_at=row.expires_at)


@strawberry.type(description="What the viewer may see of a factory right now.")
class FactoryAccess:
    access: strawberry.Private[Access]
    is_owner: bool = strawberry.field(description=(
        "The viewer's organization owns this factory (then every scope is held)."))
    scopes: list[ShareScope] = strawberry.field(description=(
        "The scopes the viewer holds for this factory now: all of them for its owner and the "
        "program, those of an ACCEPTED, unexpired connection for a customer, none otherwise "
        "(a firm auditing it: PROFILE, AUDITS and CORRECTIVE_ACTIONS, for its own audits)."))

    @strawberry.field(description="The viewer's organization's connection to this factory.")
    async def connection(self, info: Info) -> CustomerConnection | None:
        if self.access.connection_id is None:
            return None
        row = await info.context.loader(VisibleConnectionById).load(self.access.connection_id)
        return CustomerConnection.from_row(row) if row else None

    @classmethod
    def of(cls, access: Access) -> "FactoryAccess":
        return cls(access=access, is_owner=access.is_owner,
                   scopes=[s for s in _SCOPE_ORDER if s in access.scopes])


# The scopes in declaration order, once: iterating an Enum class walks its members anew on
# every call, and a dashboard page asks for `viewerAccess` of 50 factories.
_SCOPE_ORDER = tuple(ShareScope)


# ---------------------------------------------------------------- mutations

@strawberry.input(description="A customer's request to see a factory's data.")
class RequestConnectionInput:
    factory_id: strawberry.ID = strawberry.field(description="A listed factory.")
    scopes: list[ShareScope] = strawberry.field(description="At least one; repeats are ignored.")
    message: str | None = strawberry.field(
        default=None, description=f"To the factory; at most {connections.MESSAGE_MAX_LENGTH} "
                                  "characters.")


@strawberry.input(description="The factory's answer to a PENDING request.")
class RespondToConnectionRequestInput:
    connection_id: strawberry.ID = strawberry.field(description=(
        "A PENDING connection to a factory of the viewer's organization."))
    accept: bool = strawberry.field(description="True accepts (ACCEPTED), false declines "
                                                "(DECLINED).")
    scopes: list[ShareScope] | None = strawberry.field(
        default=None, description="What to share when accepting; omitted: the requested ones.")
    expires_at: datetime | None = strawberry.field(
        default=None, description="When accepting: when sharing ends (in the future); omitted: "
                                  "until either side ends it.")


@strawberry.input(description="What an accepted connection shares from now on.")
class UpdateConnectionScopesInput:
    connection_id: strawberry.ID = strawberry.field(description=(
        "An ACCEPTED, unexpired connection to a factory of the viewer's organization."))
    scopes: list[ShareScope] = strawberry.field(description="What to share from now on; at "
                                                            "least one.")
    expires_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Omitted: the end stays as it is; null: no end; a "
                                              "date: sharing ends then (in the future).")


@strawberry.input(description="The connection to end.")
class EndConnectionInput:
    connection_id: strawberry.ID = strawberry.field(description=(
        "A connection of the viewer's organization, on either side."))


@strawberry.type(description="The answer of the connection mutations.")
class ConnectionPayload:
    connection: CustomerConnection | None = strawberry.field(description=(
        "The connection as changed; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    connection_user_errors = CONNECTION_ERRORS.field()


def _payload(row: Any, errors: list[UserError]) -> ConnectionPayload:
    return ConnectionPayload(connection=CustomerConnection.from_row(row) if row else None,
                             user_errors=errors)


def _connection_pk(gid: strawberry.ID) -> int | None:
    return decode_as(gid, "CustomerConnection")


@strawberry.type
class Mutation:
    @guarded(roles(Role.CUSTOMER), description=(
        "Ask a listed factory to share the given scopes; its users are notified. userErrors: "
        "VALIDATION, NOT_FOUND, UNLISTED_FACTORY, DUPLICATE_CONNECTION."))
    async def request_connection(self, info: Info, input: Annotated[
            RequestConnectionInput, strawberry.argument(
                description="The factory, the scopes asked for and a note.")]
                                 ) -> ConnectionPayload:
        viewer = info.context.viewer
        return await perform(info, lambda session: connections.request_connection(
            session, viewer, factory_id=decode_as(input.factory_id, "Factory"),
            scopes=input.scopes, message=input.message), _payload)

    @guarded(roles(Role.SUPPLIER), description=(
        "The factory's owner accepts a PENDING request (with the requested scopes unless others "
        "are given) or declines it; the customer is notified. userErrors: VALIDATION, "
        "NOT_FOUND, NOT_OWNER, INVALID_STATE."))
    async def respond_to_connection_request(
            self, info: Info, input: Annotated[
                RespondToConnectionRequestInput, strawberry.argument(
                    description="The request and the answer.")]) -> ConnectionPayload:
        viewer = info.context.viewer
        return await perform(info, lambda session: connections.respond(
            session, viewer, connection_id=_connection_pk(input.connection_id),
            accept=input.accept, scopes=input.scopes, expires_at=input.expires_at), _payload)

    @guarded(roles(Role.SUPPLIER), description=(
        "The factory's owner changes what an ACCEPTED, unexpired connection shares; it takes "
        "effect on the customer's next request. userErrors: VALIDATION, NOT_FOUND, NOT_OWNER, "
        "INVALID_STATE."))
    async def update_connection_scopes(self, info: Info, input: Annotated[
            UpdateConnectionScopesInput, strawberry.argument(
                description="The connection and what it shares from now on.")]
                                       ) -> ConnectionPayload:
        viewer = info.context.viewer
        expires_at = (connections.Keep.EXPIRY if input.expires_at is strawberry.UNSET
                      else input.expires_at)
        return await perform(info, lambda session: connections.update_scopes(
            session, viewer, connection_id=_connection_pk(input.connection_id),
            scopes=input.scopes, expires_at=expires_at), _payload)

    @guarded(roles(Role.SUPPLIER, Role.CUSTOMER), description=(
        "Either side ends a connection: the factory's owner revokes an ACCEPTED one (REVOKED), "
        "the customer cancels its PENDING or ACCEPTED one (CANCELLED); the other side is "
        "notified. The program is party to no connection and may not end one. userErrors: "
        "NOT_FOUND, NOT_OWNER, INVALID_STATE."))
    async def end_connection(self, info: Info, input: Annotated[
            EndConnectionInput, strawberry.argument(
                description="The connection to end.")]) -> ConnectionPayload:
        viewer = info.context.viewer
        return await perform(info, lambda session: connections.end_connection(
            session, viewer, connection_id=_connection_pk(input.connection_id)), _payload)
