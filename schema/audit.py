"""Audits and their findings."""
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from auth.permissions import AuditPlan, Scope, roles
from db.enums import Role, ShareScope
from overrides.guards import guarded
from resolvers import audit as audits
from resolvers.certification_rules import is_overdue, report_due_on
from resolvers.loaders import AuditorById, CapByAudit, FindingsByAudit, FindingsSummaryByAudit
from resolvers.settled import settled
from schema.common import Node, PageInfo, UserError
from schema.document import Document, document
from schema.enums import Announcement, AuditStatus, AuditType, ReviewDecision, Severity
from schema.ids import encode_id
from schema.mutation import optional_id, perform, require_id
from schema.organization import Auditor, Organization, organization

if TYPE_CHECKING:
    from schema.corrective_action import CorrectiveActionPlan
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]
CapRef = Annotated["CorrectiveActionPlan", strawberry.lazy("schema.corrective_action")]
AUDITS = ShareScope.AUDITS


@strawberry.type
class FindingsSummary:
    zero_tolerance: int
    critical: int
    major: int
    minor: int
    total: int


EMPTY_SUMMARY = FindingsSummary(zero_tolerance=0, critical=0, major=0, minor=0, total=0)


def _summary(row: Any) -> FindingsSummary:
    if row is None:
        return EMPTY_SUMMARY
    return FindingsSummary(zero_tolerance=row.zero_tolerance, critical=row.critical,
                           major=row.major, minor=row.minor, total=row.total)


@strawberry.type
class Finding(Node):
    factory_id: strawberry.Private[int]
    audit_firm_id: strawberry.Private[int]
    clause: str | None = guarded(Scope(AUDITS))
    category: str | None = guarded(Scope(AUDITS))
    severity: Severity | None = guarded(Scope(AUDITS))
    description: str | None = guarded(Scope(AUDITS))

    @classmethod
    def from_row(cls, row: Any, audit: "Audit") -> "Finding":
        return cls(id=strawberry.ID(encode_id("Finding", row.id)), factory_id=audit.factory_id,
                   audit_firm_id=audit.audit_firm_id, clause=row.clause, category=row.category,
                   severity=Severity(row.severity), description=row.description)


@strawberry.type(description="An audit of a factory by an accredited firm.")
class Audit(Node):
    audit_id: strawberry.Private[int]
    factory_id: strawberry.Private[int]
    audit_firm_id: strawberry.Private[int]
    lead_auditor_id: strawberry.Private[int | None]
    report_document_id: strawberry.Private[int | None]
    report_submitted_at: strawberry.Private[datetime | None]
    announcement: Announcement | None = guarded(Scope(AUDITS))
    type: AuditType | None = guarded(Scope(AUDITS))
    status: AuditStatus | None = guarded(Scope(AUDITS))
    window_start: date | None = guarded(AuditPlan(planned_date=False))
    window_end: date | None = guarded(AuditPlan(planned_date=False))
    planned_date: date | None = guarded(AuditPlan(planned_date=True))
    conducted_on: date | None = guarded(Scope(AUDITS))
    reviewed_at: datetime | None = guarded(Scope(AUDITS))

    @guarded(Scope(AUDITS))
    async def factory(self, info: Info) -> FactoryRef | None:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @guarded(Scope(AUDITS))
    async def audit_firm(self, info: Info) -> Organization | None:
        return await organization(info, self.audit_firm_id)  # type: ignore[return-value]

    @guarded(Scope(AUDITS))
    async def lead_auditor(self, info: Info) -> Auditor | None:
        if self.lead_auditor_id is None:
            return None
        row = await info.context.loader(AuditorById).load(self.lead_auditor_id)
        return Auditor.from_row(row) if row else None

    @guarded(Scope(AUDITS))
    async def findings(self, info: Info) -> list[Finding] | None:
        rows = await info.context.loader(FindingsByAudit).load(self.audit_id)
        return [Finding.from_row(row, self) for row in rows]

    @guarded(Scope(AUDITS))
    def findings_summary(self, info: Info) -> FindingsSummary | None:
        return settled(info.context.loader(FindingsSummaryByAudit).load(self.audit_id),
                       _summary)  # type: ignore[return-value]

    @guarded(Scope(AUDITS))
    async def report(self, info: Info) -> Document | None:
        return await document(info, self.report_document_id, self, AUDITS)

    @guarded(Scope(AUDITS), description="Due 7 working days after the audit was conducted.")
    def report_due_on(self) -> date | None:
        return report_due_on(self.conducted_on) if self.conducted_on else None

    @guarded(Scope(AUDITS), description="The report is past due and not yet submitted.")
    def is_report_overdue(self) -> bool | None:
        due = self.report_due_on()
        if due is None:
            return False
        return is_overdue(due, self.report_submitted_at is not None, date.today())

    @guarded(Scope(ShareScope.CORRECTIVE_ACTIONS))
    async def corrective_action_plan(self, info: Info) -> CapRef | None:
        from schema.corrective_action import CorrectiveActionPlan

        row = await info.context.loader(CapByAudit).load(self.audit_id)
        return CorrectiveActionPlan.from_row(row) if row else None

    @classmethod
    def from_row(cls, row: Any) -> "Audit":
        return cls(
            id=strawberry.ID(encode_id("Audit", row.id)), audit_id=row.id,
            factory_id=row.factory_id, audit_firm_id=row.audit_firm_id,
            lead_auditor_id=row.lead_auditor_id, report_document_id=row.report_document_id,
            report_submitted_at=row.report_submitted_at,
            announcement=Announcement(row.announcement), type=AuditType(row.type),
            status=AuditStatus(row.status), window_start=row.window_start,
            window_end=row.window_end, planned_date=row.planned_date,
            conducted_on=row.conducted_on, reviewed_at=row.reviewed_at,
        )


@strawberry.type
class AuditEdge:
    cursor: str
    node: Audit


@strawberry.type
class AuditConnection:
    edges: list[AuditEdge]
    nodes: list[Audit]
    page_info: PageInfo
    total_count: int


# --- Mutations: step 3 (schedule, report) and step 4 (review) -----------------------------------


@strawberry.input
class ScheduleAuditInput:
    application_id: strawberry.ID
    type: AuditType
    announcement: Announcement
    window_start: date
    window_end: date
    planned_date: date | None = None
    lead_auditor_id: strawberry.ID
    audit_fee_amount: str | None = strawberry.field(
        default=None, description="The AUDIT fee for this round, a decimal string such as "
                                  "\"2750.00\"; omitted: the configured default.")


@strawberry.input
class FindingInput:
    clause: str
    category: str
    severity: Severity
    description: str


@strawberry.input
class SubmitAuditReportInput:
    audit_id: strawberry.ID
    conducted_on: date
    findings: list[FindingInput]
    report_document_id: strawberry.ID | None = None


@strawberry.input
class ReviewAuditInput:
    audit_id: strawberry.ID
    decision: ReviewDecision
    notes: str | None = None


@strawberry.type
class AuditPayload:
    audit: Audit | None
    user_errors: list[UserError]


def _audit_payload(row: Any, errors: list[UserError]) -> AuditPayload:
    return AuditPayload(audit=Audit.from_row(row) if row is not None else None,
                        user_errors=errors)


def _plan(input: ScheduleAuditInput) -> audits.AuditPlan:
    return audits.AuditPlan(
        application_id=require_id(input.application_id, "Application", "applicationId"),
        type=input.type, announcement=input.announcement, window_start=input.window_start,
        window_end=input.window_end, planned_date=input.planned_date,
        lead_auditor_id=require_id(input.lead_auditor_id, "Auditor", "leadAuditorId"),
        audit_fee_amount=input.audit_fee_amount)


def _report(input: SubmitAuditReportInput) -> audits.AuditReport:
    return audits.AuditReport(
        audit_id=require_id(input.audit_id, "Audit", "auditId"), conducted_on=input.conducted_on,
        findings=[audits.FindingDraft(clause=f.clause, category=f.category, severity=f.severity,
                                      description=f.description) for f in input.findings],
        report_document_id=optional_id(input.report_document_id, "Document",
                                       "reportDocumentId"))


@strawberry.type
class Mutation:
    @guarded(roles(Role.AUDITOR), description=(
        "Step 3: the assigned firm sets the audit's type, announcement and window (ending at most "
        "two months after assignment, or after the review that asked for a follow-up), the "
        "planned date inside it and an active lead auditor of the firm. A follow-up round is "
        "FOLLOW_UP or PROGRESS_VISIT and is billed as a new AUDIT fee. userErrors: NOT_FOUND, "
        "INVALID_TRANSITION, INVALID_AUDIT_TYPE, VALIDATION, WINDOW_TOO_LATE, "
        "PLANNED_OUTSIDE_WINDOW, AUDITOR_INACTIVE, AUDIT_FEE_PAID."))
    async def schedule_audit(self, info: Info, input: ScheduleAuditInput) -> AuditPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            return await audits.schedule_audit(session, ctx.viewer, ctx.settings, _plan(input))
        return await perform(info, work, _audit_payload)

    @guarded(roles(Role.AUDITOR), description=(
        "Step 3: the performing firm reports the conducted audit and its findings; the "
        "application goes UNDER_REVIEW and, with findings, a corrective action plan is opened "
        "(due 5 working days later). userErrors: NOT_FOUND, INVALID_TRANSITION, VALIDATION, "
        "CONDUCTED_IN_FUTURE, CONDUCTED_BEFORE_WINDOW."))
    async def submit_audit_report(self, info: Info,
                                  input: SubmitAuditReportInput) -> AuditPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            return await audits.submit_audit_report(session, ctx.viewer, _report(input))
        return await perform(info, work, _audit_payload)

    @guarded(roles(Role.ADMIN, Role.REVIEWER), description=(
        "Step 4: the program decides on a submitted report. APPROVE makes the SEAL fee due. "
        "userErrors: NOT_FOUND, INVALID_TRANSITION, ZERO_TOLERANCE_FINDING, CAP_NOT_SUBMITTED "
        "(both at once when both hold), VALIDATION."))
    async def review_audit(self, info: Info, input: ReviewAuditInput) -> AuditPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            audit_id = require_id(input.audit_id, "Audit", "auditId")
            return await audits.review_audit(session, ctx.viewer, ctx.settings, audit_id,
                                             input.decision, input.notes)
        return await perform(info, work, _audit_payload)
