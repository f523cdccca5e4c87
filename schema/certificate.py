"""Certificates and their public verification."""
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import Scope, guarded
from db.enums import ShareScope
from resolvers.certification_rules import certificate_status
from schema.common import Node
from schema.enums import CertificateStatus
from schema.ids import encode_id

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]
CERTIFICATION = ShareScope.CERTIFICATION


@strawberry.type(description="A seal of compliance. Its status reads EXPIRED after validUntil.")
class Certificate(Node):
    factory_id: strawberry.Private[int]
    number: str = guarded(Scope(CERTIFICATION))
    status: CertificateStatus = guarded(Scope(CERTIFICATION))
    issued_on: date = guarded(Scope(CERTIFICATION))
    valid_until: date = guarded(Scope(CERTIFICATION))

    @guarded(Scope(CERTIFICATION))
    async def factory(self, info: Info) -> FactoryRef:
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
