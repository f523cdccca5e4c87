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
from schema.document import Document, document
from schema.enums import Announcement, AuditStatus, AuditType, ReviewDecision, Severity
from schema.ids import encode_id
from schema.mutation import optional_id, perform, require_id
from schema.organization import Auditor, Organization, organization
from schema.user_errors import AUDIT_ERRORS

if TYPE_CHECKING:
    from schema.corrective_action import CorrectiveActionPlan
    from schema.factory import Factory

FactoryRef = Annotated["Factory", strawberry.lazy("schema.factory")]
CapRef = Annotated["CorrectiveActionPlan", strawberry.lazy("schema.corrective_action")]
AUDITS = ShareScope.AUDITS


@strawberry.type(description="How many findings an audit has, by severity.")
class FindingsSummary:
    zero_tolerance: int = strawberry.field(description="Findings of ZERO_TOLERANCE severity.")
    critical: int = strawberry.field(description="Findings of CRITICAL severity.")
    major: int = strawberry.field(description="Findings of MAJOR severity.")
    minor: int = strawberry.field(description="Findings of MINOR severity.")
    total: int = strawberry.field(description="All findings of the audit.")


EMPTY_SUMMARY = FindingsSummary(zero_tolerance=0, critical=0, major=0, minor=0, total=0)


def _summary(row: Any) -> FindingsSummary:
    if row is None:
        return EMPTY_SUMMARY
    return FindingsSummary(zero_tolerance=row.zero_tolerance, critical=row.critical,
                           major=row.major, minor=row.minor, total=row.total)


@strawberry.type(description="A non-compliance the auditors found, against one clause of the "
                             "audit checklist.")
class Finding(Node):
    factory_id: strawberry.Private[int]
    audit_firm_id: strawberry.Private[int]
    clause: str | None = guarded(Scope(AUDITS), description=(
        "The checklist clause it breaches, e.g. \"4.2\"."))
    category: str | None = guarded(Scope(AUDITS), description=(
        "The checklist's area, e.g. \"Health and safety\"."))
    severity: Severity | None = guarded(Scope(AUDITS), description="How grave it is.")
    description: str | None = guarded(Scope(AUDITS), description=(
        "What the auditors saw, in their words."))

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
    announcement: Announcement | None = guarded(Scope(AUDITS), description=(
        "How much the factory is told in advance."))
    type: AuditType | None = guarded(Scope(AUDITS), description="Why the audit is performed.")
    status: AuditStatus | None = guarded(Scope(AUDITS), description="Where the audit stands.")
    window_start: date | None = guarded(AuditPlan(planned_date=False), description=(
        "First day of the window the audit is to take place in."))
    window_end: date | None = guarded(AuditPlan(planned_date=False), description=(
        "Last day of the audit window."))
    planned_date: date | None = guarded(AuditPlan(planned_date=True), description=(
        "The day the firm plans to audit; null if not fixed."))
    conducted_on: date | None = guarded(Scope(AUDITS), description=(
        "The day the audit took place; null until the firm reports it."))
    reviewed_at: datetime | None = guarded(Scope(AUDITS), description=(
        "When the program decided on the report; null until then."))

    @guarded(Scope(AUDITS), description="The audited factory.")
    async def factory(self, info: Info) -> FactoryRef | None:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @guarded(Scope(AUDITS), description="The firm performing the audit.")
    async def audit_firm(self, info: Info) -> Organization | None:
        return await organization(info, self.audit_firm_id)  # type: ignore[return-value]

    @guarded(Scope(AUDITS), description="The auditor leading it; null if none is named.")
    async def lead_auditor(self, info: Info) -> Auditor | None:
        if self.lead_auditor_id is None:
            return None
        row = await info.context.loader(AuditorById).load(self.lead_auditor_id)
        return Auditor.from_row(row) if row else None

    @guarded(Scope(AUDITS), description="What the auditors found; empty until reported.")
    async def findings(self, info: Info) -> list[Finding] | None:
        rows = await info.context.loader(FindingsByAudit).load(self.audit_id)
        return [Finding.from_row(row, self) for row in rows]

    @guarded(Scope(AUDITS), description="The findings counted by severity.")
    def findings_summary(self, info: Info) -> FindingsSummary | None:
        return settled(info.context.loader(FindingsSummaryByAudit).load(self.audit_id),
                       _summary)  # type: ignore[return-value]

    @guarded(Scope(AUDITS), description="The audit report document; null until uploaded.")
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

    @guarded(Scope(ShareScope.CORRECTIVE_ACTIONS), description=(
        "The factory's plan for the findings, opened with a report that has findings; null "
        "otherwise."))
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


@strawberry.type(description="One of the audits of a page, with its cursor.")
class AuditEdge:
    cursor: str = strawberry.field(description=EDGE_CURSOR)
    node: Audit = strawberry.field(description="The audit.")


@strawberry.type(description="A page of audits (Relay connection).")
class AuditConnection:
    edges: list[AuditEdge] = strawberry.field(description=EDGES)
    nodes: list[Audit] = strawberry.field(description=NODES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)


# --- Mutations: step 3 (schedule, report) and step 4 (review) -----------------------------------


@strawberry.input(description="The plan of an application's next audit round.")
class ScheduleAuditInput:
    application_id: strawberry.ID = strawberry.field(description=(
        "The application assigned to the viewer's firm."))
    type: AuditType = strawberry.field(description=(
        "INITIAL_CERTIFICATION or ANNUAL for the first round, FOLLOW_UP or PROGRESS_VISIT "
        "after a review that asked for one."))
    announcement: Announcement = strawberry.field(description=(
        "How much the factory is told in advance."))
    window_start: date = strawberry.field(description=(
        "First day the audit may take place; not before the round was assigned."))
    window_end: date = strawberry.field(description=(
        "Last day the audit may take place: at most two months after assignment."))
    planned_date: date | None = strawberry.field(default=None, description=(
        "The day planned, inside the window; omitted: not fixed yet."))
    lead_auditor_id: strawberry.ID = strawberry.field(description=(
        "An active auditor of the viewer's firm."))
    audit_fee_amount: str | None = strawberry.field(
        default=None, description="The AUDIT fee for this round, a decimal string such as "
                                  "\"2750.00\"; omitted: the configured default.")


@strawberry.input(description="One finding of a conducted audit.")
class FindingInput:
    clause: str = strawberry.field(description="The checklist clause, e.g. \"4.2\"; not blank.")
    category: str = strawberry.field(description="The checklist's area; not blank.")
    severity: Severity = strawberry.field(description="How grave it is.")
    description: str = strawberry.field(description="What the auditors saw; not blank.")


@strawberry.input(description="The report of a conducted audit.")
class SubmitAuditReportInput:
    audit_id: strawberry.ID = strawberry.field(description="A SCHEDULED audit of the viewer's "
                                                           "firm.")
    conducted_on: date = strawberry.field(description=(
        "The day it took place: not in the future, not before the window opened."))
    findings: list[FindingInput] = strawberry.field(description=(
        "Every finding; empty when the factory complies fully (then no plan is opened)."))
    report_document_id: strawberry.ID | None = strawberry.field(default=None, description=(
        "The report, uploaded by the viewer's firm (POST /documents); omitted: none."))


@strawberry.input(description="The program's decision on a submitted audit report.")
class ReviewAuditInput:
    audit_id: strawberry.ID = strawberry.field(description="An audit in REPORT_SUBMITTED.")
    decision: ReviewDecision = strawberry.field(description="What the program decides.")
    notes: str | None = strawberry.field(default=None, description=(
        "Why, recorded with the transition; at most 5000 characters."))


@strawberry.type(description="The answer of scheduleAudit, submitAuditReport and reviewAudit.")
class AuditPayload:
    audit: Audit | None = strawberry.field(description=(
        "The audit as changed; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    audit_user_errors = AUDIT_ERRORS.field()


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
    async def schedule_audit(self, info: Info, input: Annotated[
            ScheduleAuditInput, strawberry.argument(
                description="The application and the audit's plan.")]) -> AuditPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            return await audits.schedule_audit(session, ctx.viewer, ctx.settings, _plan(input))
        return await perform(info, work, _audit_payload)

    @guarded(roles(Role.AUDITOR), description=(
        "Step 3: the performing firm reports the conducted audit and its findings; the "
        "application goes UNDER_REVIEW and, with findings, a corrective action plan is opened "
        "(due 5 working days later). userErrors: NOT_FOUND, INVALID_TRANSITION, VALIDATION, "
        "CONDUCTED_IN_FUTURE, CONDUCTED_BEFORE_WINDOW."))
    async def submit_audit_report(self, info: Info, input: Annotated[
            SubmitAuditReportInput, strawberry.argument(
                description="The audit, its date, findings and report.")]) -> AuditPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            return await audits.submit_audit_report(session, ctx.viewer, _report(input))
        return await perform(info, work, _audit_payload)

    @guarded(roles(Role.ADMIN, Role.REVIEWER), description=(
        "Step 4: the program decides on a submitted report. APPROVE makes the SEAL fee due. "
        "userErrors: NOT_FOUND, INVALID_TRANSITION, ZERO_TOLERANCE_FINDING, CAP_NOT_SUBMITTED "
        "(both at once when both hold), VALIDATION."))
    async def review_audit(self, info: Info, input: Annotated[
            ReviewAuditInput, strawberry.argument(
                description="The audit and the decision.")]) -> AuditPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            audit_id = require_id(input.audit_id, "Audit", "auditId")
            return await audits.review_audit(session, ctx.viewer, ctx.settings, audit_id,
                                             input.decision, input.notes)
        return await perform(info, work, _audit_payload)
