"""Certificates and their public verification."""
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from auth.permissions import Scope, roles
from db.enums import Role, ShareScope
from overrides.guards import guarded
from resolvers import certificate as certificates
from resolvers.certification_rules import certificate_status
from schema.common import Node, UserError
from schema.enums import CertificateStatus
from schema.ids import encode_id
from schema.mutation import perform, require_id

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]
CERTIFICATION = ShareScope.CERTIFICATION


@strawberry.type(description="A seal of compliance. Its status reads EXPIRED after validUntil.")
class Certificate(Node):
    factory_id: strawberry.Private[int]
    number: str | None = guarded(Scope(CERTIFICATION))
    status: CertificateStatus | None = guarded(Scope(CERTIFICATION))
    issued_on: date | None = guarded(Scope(CERTIFICATION))
    valid_until: date | None = guarded(Scope(CERTIFICATION))

    @guarded(Scope(CERTIFICATION))
    async def factory(self, info: Info) -> FactoryRef | None:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: Any) -> "Certificate":
        status = certificate_status(CertificateStatus(row.status), row.valid_until, date.today())
        return cls(id=strawberry.ID(encode_id("Certificate", row.id)), factory_id=row.factory_id,
                   number=row.number, status=status, issued_on=row.issued_on,
                   valid_until=row.valid_until)


@strawberry.type(description="Public answer to 'is this certificate genuine and valid?'")
class CertificateVerification:
    number: str
    valid: bool
    status: CertificateStatus
    factory_name: str
    country: str
    valid_until: date


@strawberry.type(description="Public answer to 'is this auditor accredited?'")
class AuditorVerification:
    registration_number: str
    name: str
    audit_firm: str
    active: bool


@strawberry.input
class SetCertificateStatusInput:
    certificate_id: strawberry.ID
    status: CertificateStatus = strawberry.field(
        description="SUSPENDED, ACTIVE (reinstate) or REVOKED.")
    reason: str


@strawberry.type
class CertificatePayload:
    certificate: Certificate | None
    user_errors: list[UserError]


def _certificate_payload(row: Any, errors: list[UserError]) -> CertificatePayload:
    return CertificatePayload(certificate=Certificate.from_row(row) if row is not None else None,
                              user_errors=errors)


@strawberry.type
class Mutation:
    @guarded(roles(Role.ADMIN, Role.REVIEWER), description=(
        "The program suspends, reinstates or revokes a certificate, with a reason. Judged on "
        "the status readers see: an expired certificate can no longer change. userErrors: "
        "NOT_FOUND, INVALID_TRANSITION, VALIDATION."))
    async def set_certificate_status(self, info: Info,
                                     input: SetCertificateStatusInput) -> CertificatePayload:
        async def work(session: AsyncSession) -> Any:
            certificate_id = require_id(input.certificate_id, "Certificate", "certificateId")
            return await certificates.set_certificate_status(session, certificate_id,
                                                             input.status, input.reason)
        return await perform(info, work, _certificate_payload)
