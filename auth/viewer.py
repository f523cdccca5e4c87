"""Who is asking: the viewer every permission and policy is decided for."""
from dataclasses import dataclass

from db.enums import OrganizationKind, Role

PROGRAM_ROLES = frozenset({Role.ADMIN, Role.REVIEWER})


@dataclass(frozen=True)
class Viewer:
    user_id: int | None = None
    organization_id: int | None = None
    organization_kind: OrganizationKind | None = None
    role: Role | None = None
    # Set when the request is made with an API key (acting as user_id, its creator, with the
    # key's role): reads are logged under the key.
    api_key_id: int | None = None
    # Set on a socket a portal page opened with a ticket: its events stop when the portal
    # session ends (auth.portal_sessions).
    portal_session_id: int | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_program(self) -> bool:
        return self.role in PROGRAM_ROLES

    @property
    def is_customer(self) -> bool:
        return self.organization_kind is OrganizationKind.CUSTOMER

    @property
    def is_supplier(self) -> bool:
        return self.organization_kind is OrganizationKind.SUPPLIER

    @property
    def is_audit_firm(self) -> bool:
        return self.organization_kind is OrganizationKind.AUDIT_FIRM


ANONYMOUS = Viewer()
