"""Certification applications and their fees."""
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import ApplicationAccess, ApplicationFees, FeeAccess, Scope, guarded
from db.enums import ShareScope
from resolvers.loaders import AuditsByApplication, FeesByApplication
from schema.audit import Audit
from schema.common import Node
from schema.enums import ApplicationKind, ApplicationStatus, FeeKind, FeeStatus
from schema.ids import encode_id
from schema.organization import Organization, organization

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]


@strawberry.type(description="A fee of an application: to the program, or to the audit firm.")
class Fee(Node):
    factory_id: strawberry.Private[int]
    payee_id: strawberry.Private[int]
    kind: FeeKind = guarded(FeeAccess())
    amount: str = guarded(FeeAccess(), description="Exact decimal, e.g. \"1500.00\".")
    currency: str = guarded(FeeAccess())
    status: FeeStatus = guarded(FeeAccess())
    paid_at: datetime | None = guarded(FeeAccess())
    payment_reference: str | None = guarded(FeeAccess())

    @guarded(FeeAccess())
    async def payee(self, info: Info) -> Organization:
        return await organization(info, self.payee_id)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: Any, factory_id: int) -> "Fee":
        return cls(id=strawberry.ID(encode_id("Fee", row.id)), factory_id=factory_id,
                   payee_id=row.payee_id, kind=FeeKind(row.kind), amount=f"{row.amount:.2f}",
                   currency=row.currency, status=FeeStatus(row.status), paid_at=row.paid_at,
                   payment_reference=row.payment_reference)


@strawberry.type(description="An application for certification and its progress.")
class Application(Node):
    application_id: strawberry.Private[int]
    factory_id: strawberry.Private[int]
    audit_firm_id: strawberry.Private[int | None]
    kind: ApplicationKind = guarded(ApplicationAccess())
    status: ApplicationStatus = guarded(ApplicationAccess())
    submitted_at: datetime = guarded(ApplicationAccess())

    @guarded(ApplicationAccess())
    async def factory(self, info: Info) -> FactoryRef:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @guarded(ApplicationAccess())
    async def audit_firm(self, info: Info) -> Organization | None:
        return await organization(info, self.audit_firm_id)

    @guarded(ApplicationFees(), description="The firm sees only the AUDIT fee it is payee of.")
    async def fees(self, info: Info) -> list[Fee] | None:
        rows = await info.context.loader(FeesByApplication).load(self.application_id)
        return [Fee.from_row(row, self.factory_id) for row in rows]

    @guarded(Scope(ShareScope.AUDITS), description="The firm sees the audits it performs.")
    async def audits(self, info: Info) -> list[Audit]:
        rows = await info.context.loader(AuditsByApplication).load(self.application_id)
        return [Audit.from_row(row) for row in rows]

    @classmethod
    def from_row(cls, row: Any) -> "Application":
        return cls(id=strawberry.ID(encode_id("Application", row.id)), application_id=row.id,
                   factory_id=row.factory_id, audit_firm_id=row.audit_firm_id,
                   kind=ApplicationKind(row.kind), status=ApplicationStatus(row.status),
                   submitted_at=row.submitted_at)
