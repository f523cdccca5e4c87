"""Certification applications, their fees and history; steps 1 and 2 of the workflow."""
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from auth.permissions import (
    ApplicationAccess,
    ApplicationFees,
    FeeAccess,
    OwnerOrProgram,
    Scope,
    roles,
)
from db.enums import Role, ShareScope
from overrides.guards import guarded
from resolvers import application as applications
from resolvers.loaders import (
    AuditsByApplication,
    FeesByApplication,
    TransitionsByApplication,
    UserById,
)
from schema.audit import Audit
from schema.common import Node, PageInfo, UserError
from schema.enums import ApplicationKind, ApplicationStatus, FeeKind, FeeStatus
from schema.ids import encode_id
from schema.mutation import optional_id, perform, require_id
from schema.organization import Organization, User, organization

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]


@strawberry.type(description="A fee of an application: to the program, or to the audit firm.")
class Fee(Node):
    factory_id: strawberry.Private[int]
    payee_id: strawberry.Private[int]
    kind: FeeKind | None = guarded(FeeAccess())
    round: int | None = guarded(FeeAccess(),
                                description="1, then one more per follow-up audit round.")
    amount: str | None = guarded(FeeAccess(), description="Exact decimal, e.g. \"1500.00\".")
    currency: str | None = guarded(FeeAccess())
    status: FeeStatus | None = guarded(FeeAccess())
    paid_at: datetime | None = guarded(FeeAccess())
    payment_reference: str | None = guarded(FeeAccess())

    @guarded(FeeAccess())
    async def payee(self, info: Info) -> Organization | None:
        return await organization(info, self.payee_id)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: Any, factory_id: int) -> "Fee":
        return cls(id=strawberry.ID(encode_id("Fee", row.id)), factory_id=factory_id,
                   payee_id=row.payee_id, kind=FeeKind(row.kind), round=row.round,
                   amount=f"{row.amount:.2f}",
                   currency=row.currency, status=FeeStatus(row.status), paid_at=row.paid_at,
                   payment_reference=row.payment_reference)


@strawberry.type(description="One recorded move of an application: who, when, from, to.")
class WorkflowTransition:
    actor_id: strawberry.Private[int | None]
    from_status: ApplicationStatus | None = strawberry.field(
        description="Null for the submission that created the application.")
    to_status: ApplicationStatus
    occurred_at: datetime
    note: str | None

    @strawberry.field(description="Null once the user is deleted. The person's details follow "
                                  "User's rules (their organization and the program).")
    async def actor(self, info: Info) -> User | None:
        if self.actor_id is None:
            return None
        row = await info.context.loader(UserById).load(self.actor_id)
        return User.from_row(row) if row else None

    @strawberry.field(description="The organization that made the move (the program, the firm, "
                                  "the supplier): who, for readers outside it.")
    async def actor_organization(self, info: Info) -> Organization | None:
        if self.actor_id is None:
            return None
        row = await info.context.loader(UserById).load(self.actor_id)
        return await organization(info, row.organization_id) if row else None

    @classmethod
    def from_row(cls, row: Any) -> "WorkflowTransition":
        return cls(actor_id=row.actor_id,
                   from_status=ApplicationStatus(row.from_status) if row.from_status else None,
                   to_status=ApplicationStatus(row.to_status), occurred_at=row.occurred_at,
                   note=row.note)


@strawberry.type(description="An application for certification and its progress.")
class Application(Node):
    application_id: strawberry.Private[int]
    factory_id: strawberry.Private[int]
    audit_firm_id: strawberry.Private[int | None]
    kind: ApplicationKind | None = guarded(ApplicationAccess())
    status: ApplicationStatus | None = guarded(ApplicationAccess())
    submitted_at: datetime | None = guarded(ApplicationAccess())
    assigned_at: datetime | None = guarded(
        ApplicationAccess(), description="When the audit firm was assigned; the audit window "
                                         "ends at most two months later.")

    @guarded(ApplicationAccess())
    async def factory(self, info: Info) -> FactoryRef | None:
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
    async def audits(self, info: Info) -> list[Audit] | None:
        rows = await info.context.loader(AuditsByApplication).load(self.application_id)
        return [Audit.from_row(row) for row in rows]

    @guarded(OwnerOrProgram(), description="Every move, oldest first.")
    async def transitions(self, info: Info) -> list[WorkflowTransition] | None:
        rows = await info.context.loader(TransitionsByApplication).load(self.application_id)
        return [WorkflowTransition.from_row(row) for row in rows]

    @classmethod
    def from_row(cls, row: Any) -> "Application":
        return cls(id=strawberry.ID(encode_id("Application", row.id)), application_id=row.id,
                   factory_id=row.factory_id, audit_firm_id=row.audit_firm_id,
                   kind=ApplicationKind(row.kind), status=ApplicationStatus(row.status),
                   submitted_at=row.submitted_at, assigned_at=row.assigned_at)


def application_of(row: Any) -> Application | None:
    return Application.from_row(row) if row is not None else None


@strawberry.type
class ApplicationEdge:
    cursor: str
    node: Application


@strawberry.type
class ApplicationConnection:
    edges: list[ApplicationEdge]
    nodes: list[Application]
    page_info: PageInfo
    total_count: int


# --- Mutations: step 1 (apply) and step 2 (pay, assign) -----------------------------------------


@strawberry.input
class SubmitApplicationInput:
    factory_id: strawberry.ID
    kind: ApplicationKind


@strawberry.input
class RecordPaymentInput:
    fee_id: strawberry.ID
    reference: str | None = None


@strawberry.input
class AssignAuditFirmInput:
    application_id: strawberry.ID
    audit_firm_id: strawberry.ID | None = strawberry.field(
        default=None, description="Omitted: a random active accredited firm.")


@strawberry.type
class ApplicationPayload:
    application: Application | None
    user_errors: list[UserError]


@strawberry.type
class FeePayload:
    fee: Fee | None
    application: Application | None
    user_errors: list[UserError]


def _application_payload(row: Any, errors: list[UserError]) -> ApplicationPayload:
    return ApplicationPayload(application=application_of(row), user_errors=errors)


def _fee_payload(result: Any, errors: list[UserError]) -> FeePayload:
    if result is None:
        return FeePayload(fee=None, application=None, user_errors=errors)
    fee, application = result
    return FeePayload(fee=Fee.from_row(fee, application.factory_id),
                      application=Application.from_row(application), user_errors=errors)


@strawberry.type
class Mutation:
    @guarded(roles(Role.SUPPLIER), description=(
        "Step 1: the owning supplier applies (NEW, or RENEWAL from 90 days before the current "
        "certificate expires); the REGISTRATION fee becomes due to the program. userErrors: "
        "NOT_FOUND, NOT_OWNER, APPLICATION_OPEN, ALREADY_CERTIFIED, CERTIFICATE_SUSPENDED, "
        "NO_CERTIFICATE_TO_RENEW, RENEWAL_NOT_OPEN."))
    async def submit_application(self, info: Info,
                                 input: SubmitApplicationInput) -> ApplicationPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            factory_id = require_id(input.factory_id, "Factory", "factoryId")
            return await applications.submit_application(session, ctx.viewer, ctx.settings,
                                                         factory_id, input.kind)
        return await perform(info, work, _application_payload)

    @guarded(roles(Role.ADMIN, Role.REVIEWER, Role.AUDITOR), description=(
        "The payee records a payment: program staff for REGISTRATION and SEAL fees, the firm's "
        "users for its AUDIT fee. Paying the SEAL fee issues the certificate. userErrors: "
        "NOT_FOUND, NOT_PAYEE, ALREADY_PAID, FEE_WAIVED, VALIDATION, INVALID_TRANSITION."))
    async def record_payment(self, info: Info, input: RecordPaymentInput) -> FeePayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            fee_id = require_id(input.fee_id, "Fee", "feeId")
            return await applications.record_payment(session, ctx.viewer, fee_id,
                                                     input.reference)
        return await perform(info, work, _fee_payload)

    @guarded(roles(Role.ADMIN, Role.REVIEWER), description=(
        "Step 2: once the registration fee is paid, assign the named firm (or a random active "
        "one); the AUDIT fee becomes due to it. userErrors: NOT_FOUND, INVALID_TRANSITION, "
        "REGISTRATION_FEE_UNPAID, AUDIT_FIRM_INACTIVE, NO_ACTIVE_AUDIT_FIRM."))
    async def assign_audit_firm(self, info: Info,
                                input: AssignAuditFirmInput) -> ApplicationPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            application_id = require_id(input.application_id, "Application", "applicationId")
            firm_id = optional_id(input.audit_firm_id, "Organization", "auditFirmId")
            return await applications.assign_audit_firm(session, ctx.viewer, ctx.settings,
                                                        application_id, firm_id)
        return await perform(info, work, _application_payload)
