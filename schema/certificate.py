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
from schema.common import Node, UserError, user_errors
from schema.enums import CertificateStatus
from schema.ids import encode_id
from schema.mutation import perform, require_id
from schema.user_errors import CERTIFICATE_ERRORS

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]
CERTIFICATION = ShareScope.CERTIFICATION


@strawberry.type(description="A seal of compliance. Its status reads EXPIRED after validUntil.")
class Certificate(Node):
    factory_id: strawberry.Private[int]
    number: str | None = guarded(Scope(CERTIFICATION), description=(
        "The number printed on the seal, e.g. C001234; anyone may check it with "
        "verifyCertificate."))
    status: CertificateStatus | None = guarded(Scope(CERTIFICATION), description=(
        "As of today: an ACTIVE certificate past validUntil reads EXPIRED."))
    issued_on: date | None = guarded(Scope(CERTIFICATION), description=(
        "The day it was issued (when the SEAL fee was paid)."))
    valid_until: date | None = guarded(Scope(CERTIFICATION), description=(
        "The last day it is valid, twelve months after issue."))

    @guarded(Scope(CERTIFICATION), description="The certified factory.")
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
    number: str = strawberry.field(description="The certificate number asked about.")
    valid: bool = strawberry.field(description="True when the certificate is ACTIVE today.")
    status: CertificateStatus = strawberry.field(description=(
        "Its status today (EXPIRED after validUntil)."))
    factory_name: str = strawberry.field(description="The certified factory's name.")
    country: str = strawberry.field(description="The factory's country, ISO 3166-1 alpha-2.")
    valid_until: date = strawberry.field(description="The last day the certificate is valid.")


@strawberry.type(description="Public answer to 'is this auditor accredited?'")
class AuditorVerification:
    registration_number: str = strawberry.field(description="The registration number asked "
                                                            "about.")
    name: str = strawberry.field(description="The auditor's full name.")
    audit_firm: str = strawberry.field(description="The name of the firm the auditor works for.")
    active: bool = strawberry.field(description="Accredited and allowed to audit today.")


@strawberry.input(description="A certificate's new status and why.")
class SetCertificateStatusInput:
    certificate_id: strawberry.ID = strawberry.field(description="The certificate to change.")
    status: CertificateStatus = strawberry.field(
        description="SUSPENDED, ACTIVE (reinstate) or REVOKED.")
    reason: str = strawberry.field(description=(
        "Why, for the record and the factory; not blank, at most 2000 characters."))


@strawberry.type(description="The answer of setCertificateStatus.")
class CertificatePayload:
    certificate: Certificate | None = strawberry.field(description=(
        "The certificate as changed; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    certificate_user_errors = CERTIFICATE_ERRORS.field()


def _certificate_payload(row: Any, errors: list[UserError]) -> CertificatePayload:
    return CertificatePayload(certificate=Certificate.from_row(row) if row is not None else None,
                              user_errors=errors)


@strawberry.type
class Mutation:
    @guarded(roles(Role.ADMIN, Role.REVIEWER), description=(
        "The program suspends, reinstates or revokes a certificate, with a reason. Judged on "
        "the status readers see: an expired certificate can no longer change. userErrors: "
        "NOT_FOUND, INVALID_TRANSITION, VALIDATION."))
    async def set_certificate_status(self, info: Info, input: Annotated[
            SetCertificateStatusInput, strawberry.argument(
                description="The certificate, its new status and the reason.")]
                                     ) -> CertificatePayload:
        async def work(session: AsyncSession) -> Any:
            certificate_id = require_id(input.certificate_id, "Certificate", "certificateId")
            return await certificates.set_certificate_status(session, certificate_id,
                                                             input.status, input.reason)
        return await perform(info, work, _certificate_payload)
