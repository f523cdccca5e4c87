"""Customer connections and what a viewer may see of a factory."""
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from auth.access import FactoryAccess as Access
from auth.permissions import ConnectionParty, guarded
from resolvers.connection import effective_status
from resolvers.loaders import VisibleConnectionById
from schema.common import Node
from schema.enums import ConnectionStatus, ShareScope
from schema.ids import encode_id
from schema.organization import Organization, organization

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]


@strawberry.type(description="A customer organization's link to one factory, and what the "
                             "factory shares over it. Seen by both sides and the program.")
class CustomerConnection(Node):
    factory_id: strawberry.Private[int]
    customer_id: strawberry.Private[int]
    status: ConnectionStatus = guarded(ConnectionParty(),
                                       description="EXPIRED once past expiresAt.")
    requested_scopes: list[ShareScope] = guarded(ConnectionParty())
    granted_scopes: list[ShareScope] = guarded(ConnectionParty(),
                                               description="Empty unless ACCEPTED.")
    message: str | None = guarded(ConnectionParty())
    requested_at: datetime = guarded(ConnectionParty())
    responded_at: datetime | None = guarded(ConnectionParty())
    expires_at: datetime | None = guarded(ConnectionParty())

    @guarded(ConnectionParty())
    async def factory(self, info: Info) -> FactoryRef:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @guarded(ConnectionParty())
    async def customer(self, info: Info) -> Organization:
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
    is_owner: bool
    scopes: list[ShareScope]

    @strawberry.field(description="The viewer's organization's connection to this factory.")
    async def connection(self, info: Info) -> CustomerConnection | None:
        if self.access.connection_id is None:
            return None
        row = await info.context.loader(VisibleConnectionById).load(self.access.connection_id)
        return CustomerConnection.from_row(row) if row else None

    @classmethod
    def of(cls, access: Access) -> "FactoryAccess":
        return cls(access=access, is_owner=access.is_owner,
                   scopes=[s for s in ShareScope if s in access.scopes])
