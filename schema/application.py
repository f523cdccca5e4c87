"""Certification applications, their fees and history; steps 1 and 2 of the workflow."""
from datetime import datetime
from decimal import Decimal
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
from schema.common import (
    EDGE_CURSOR,
    EDGES,
    NODES,
    PAGE_INFO,
    TOTAL_COUNT,
    Node,
    PageInfo,
    UserError,
    user_errors,
)
from schema.enums import ApplicationKind, ApplicationStatus, FeeKind, FeeStatus
from schema.ids import encode_id
from schema.mutation import optional_id, perform, require_id
from schema.organization import Organization, User, organization
from schema.user_errors import APPLICATION_ERRORS

if TYPE_CHECKING:
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]


@strawberry.type(description="A fee of an application: to the program, or to the audit firm.")
class Fee(Node):
    factory_id: strawberry.Private[int]
    payee_id: strawberry.Private[int]
    kind: FeeKind | None = guarded(FeeAccess(), description="What the fee pays for.")
    round: int | None = guarded(FeeAccess(),
                                description="1, then one more per follow-up audit round.")
    amount: str | None = guarded(FeeAccess(), description=(
        "What is due, in `currency`, as a decimal string with two decimals (\"1500.00\"); the "
        "contract's field, kept a String. amountDecimal is the same value as a Decimal."))
    amount_decimal: Decimal | None = guarded(FeeAccess(), description=(
        "What is due, in `currency`: the same value as `amount`, typed as the Decimal scalar."))
    currency: str | None = guarded(FeeAccess(), description=(
        "The ISO 4217 code of the amount's currency, e.g. USD."))
    status: FeeStatus | None = guarded(FeeAccess(), description="Whether it is settled.")
    paid_at: datetime | None = guarded(FeeAccess(), description=(
        "When the payee recorded the payment; null unless PAID."))
    payment_reference: str | None = guarded(FeeAccess(), description=(
        "The payee's reference for the payment (e.g. a bank transfer's); null if none given."))

    @guarded(FeeAccess(), description=(
        "Who is paid: the program, or for an AUDIT fee the assigned audit firm."))
    async def payee(self, info: Info) -> Organization | None:
        return await organization(info, self.payee_id)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: Any, factory_id: int) -> "Fee":
        return cls(id=strawberry.ID(encode_id("Fee", row.id)), factory_id=factory_id,
                   payee_id=row.payee_id, kind=FeeKind(row.kind), round=row.round,
                   amount=f"{row.amount:.2f}",
                   amount_decimal=Decimal(f"{row.amount:.2f}"),
                   currency=row.currency, status=FeeStatus(row.status), paid_at=row.paid_at,
                   payment_reference=row.payment_reference)


@strawberry.type(description="One recorded move of an application: who, when, from, to.")
class WorkflowTransition:
    actor_id: strawberry.Private[int | None]
    from_status: ApplicationStatus | None = strawberry.field(
        description="Null for the submission that created the application.")
    to_status: ApplicationStatus = strawberry.field(description="The status it moved to.")
    occurred_at: datetime = strawberry.field(description="When the move was made.")
    note: str | None = strawberry.field(description=(
        "What the mover wrote with it (a review's notes); null if nothing."))

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
    kind: ApplicationKind | None = guarded(ApplicationAccess(), description=(
        "A first certification or a renewal."))
    status: ApplicationStatus | None = guarded(ApplicationAccess(), description=(
        "The workflow step it is at."))
    submitted_at: datetime | None = guarded(ApplicationAccess(), description=(
        "When the supplier applied."))
    assigned_at: datetime | None = guarded(
        ApplicationAccess(), description="When the audit firm was assigned; the audit window "
                                         "ends at most two months later.")

    @guarded(ApplicationAccess(), description="The factory applying.")
    async def factory(self, info: Info) -> FactoryRef | None:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @guarded(ApplicationAccess(), description="The assigned audit firm; null until step 2.")
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


@strawberry.type(description="One of the applications of a page, with its cursor.")
class ApplicationEdge:
    cursor: str = strawberry.field(description=EDGE_CURSOR)
    node: Application = strawberry.field(description="The application.")


@strawberry.type(description="A page of applications (Relay connection).")
class ApplicationConnection:
    edges: list[ApplicationEdge] = strawberry.field(description=EDGES)
    nodes: list[Application] = strawberry.field(description=NODES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)


# --- Mutations: step 1 (apply) and step 2 (pay, assign) -----------------------------------------


@strawberry.input(description="A factory's application for certification.")
class SubmitApplicationInput:
    factory_id: strawberry.ID = strawberry.field(description=(
        "A factory of the viewer's organization."))
    kind: ApplicationKind = strawberry.field(description=(
        "NEW, or RENEWAL of an active certificate from 90 days before it expires."))


@strawberry.input(description="A payment the payee received.")
class RecordPaymentInput:
    fee_id: strawberry.ID = strawberry.field(description="The fee paid, DUE and payable to the "
                                                         "viewer's organization.")
    reference: str | None = strawberry.field(default=None, description=(
        "The payment's reference (e.g. a bank transfer's), one line of at most 200 "
        "characters; omitted: none."))


@strawberry.input(description="Which firm audits an application.")
class AssignAuditFirmInput:
    application_id: strawberry.ID = strawberry.field(description=(
        "A SUBMITTED application whose REGISTRATION fee is paid."))
    audit_firm_id: strawberry.ID | None = strawberry.field(
        default=None, description="Omitted: a random active accredited firm.")


@strawberry.type(description="The answer of submitApplication and assignAuditFirm.")
class ApplicationPayload:
    application: Application | None = strawberry.field(description=(
        "The application as changed; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    application_user_errors = APPLICATION_ERRORS.field()


@strawberry.type(description="The answer of recordPayment.")
class FeePayload:
    fee: Fee | None = strawberry.field(description=(
        "The fee, now PAID; null when userErrors is not empty."))
    application: Application | None = strawberry.field(description=(
        "The fee's application, moved on if the payment moved it (a SEAL fee certifies); null "
        "when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    application_user_errors = APPLICATION_ERRORS.field()


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
    async def submit_application(self, info: Info, input: Annotated[
            SubmitApplicationInput, strawberry.argument(
                description="The factory and the kind of application.")]
                                 ) -> ApplicationPayload:
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
    async def record_payment(self, info: Info, input: Annotated[
            RecordPaymentInput, strawberry.argument(
                description="The fee and the payment's reference.")]) -> FeePayload:
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
    async def assign_audit_firm(self, info: Info, input: Annotated[
            AssignAuditFirmInput, strawberry.argument(
                description="The application and, optionally, the firm.")]
                                ) -> ApplicationPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            application_id = require_id(input.application_id, "Application", "applicationId")
            firm_id = optional_id(input.audit_firm_id, "Organization", "auditFirmId")
            return await applications.assign_audit_firm(session, ctx.viewer, ctx.settings,
                                                        application_id, firm_id)
        return await perform(info, work, _application_payload)
