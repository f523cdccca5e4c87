"""Organizations, users and auditors."""
from typing import Any

import strawberry
from strawberry.types import Info

from auth.permissions import SameOrganizationOrProgram
from overrides.guards import guarded
from resolvers.loaders import OrganizationById
from schema.common import Node
from schema.enums import OrganizationKind, Role
from schema.ids import encode_id


@strawberry.type(description="A program, supplier, customer or audit firm. Its name and kind are "
                             "public wherever the organization itself may be seen.")
class Organization(Node):
    name: str = strawberry.field(description="The organization's name, unique within its kind.")
    kind: OrganizationKind = strawberry.field(description=(
        "What it is to the program: the program, a supplier, a customer or an audit firm."))

    @classmethod
    def from_row(cls, row: Any) -> "Organization":
        return cls(id=strawberry.ID(encode_id("Organization", row.id)), name=row.name,
                   kind=OrganizationKind(row.kind))


async def organization(info: Info, organization_id: int | None) -> Organization | None:
    if organization_id is None:
        return None
    row = await info.context.loader(OrganizationById).load(organization_id)
    return Organization.from_row(row) if row else None


@strawberry.type(description="A person who signs in. Visible to their organization and the program.")
class User(Node):
    organization_id: strawberry.Private[int]
    # True only in the payload of the sign-in or sign-up that proved who this user is.
    proven_self: strawberry.Private[bool]
    name: str | None = guarded(SameOrganizationOrProgram(),
                               description="The person's full name.")
    role: Role | None = guarded(SameOrganizationOrProgram(), description=(
        "What the person may do, following from their organization's kind."))
    email: str | None = guarded(SameOrganizationOrProgram(), description=(
        "The address they sign in with and are notified at."))

    @guarded(SameOrganizationOrProgram(), description="The organization they belong to.")
    async def organization(self, info: Info) -> Organization | None:
        return await organization(info, self.organization_id)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: Any, proven_self: bool = False) -> "User":
        return cls(id=strawberry.ID(encode_id("User", row.id)), organization_id=row.organization_id,
                   proven_self=proven_self, name=row.name, role=Role(row.role), email=row.email)


@strawberry.type(description="An accredited auditor of an audit firm; public, for verification.")
class Auditor(Node):
    audit_firm_id: strawberry.Private[int]
    name: str = strawberry.field(description="The auditor's full name.")
    registration_number: str = strawberry.field(description=(
        "The accreditation number, unique; anyone may check it with verifyAuditor."))
    active: bool = strawberry.field(description=(
        "Accredited and allowed to lead audits today; false once withdrawn."))

    @strawberry.field(description="The audit firm the auditor works for.")
    async def audit_firm(self, info: Info) -> Organization:
        return await organization(info, self.audit_firm_id)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: Any) -> "Auditor":
        return cls(id=strawberry.ID(encode_id("Auditor", row.id)), audit_firm_id=row.audit_firm_id,
                   name=row.name, registration_number=row.registration_number, active=row.active)
