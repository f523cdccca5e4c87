"""Steps 3 and 4 of certification: the firm schedules and reports the audit, the program reviews.

Every function runs inside the caller's unit of work; see resolvers.workflow for the locks.
A firm reaches only the applications and audits assigned to it (auth.policies): another firm's
are absent, NOT_FOUND.
"""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth import policies
from auth.viewer import Viewer
from db import Application, Audit, Auditor, CorrectiveActionPlan, Document, Fee, Finding
from db.enums import (
    Announcement,
    ApplicationStatus,
    AuditStatus,
    AuditType,
    CapStatus,
    FeeKind,
    FeeStatus,
    ReviewDecision,
    Severity,
)
from db.settings import Settings
from resolvers.accounts import ensure_program
from resolvers.certification_rules import (
    CAP_NOT_SUBMITTED,
    ZERO_TOLERANCE_FINDING,
    Event,
    approval_blockers,
    audit_window_limit,
    cap_due_on,
    review_outcome,
)
from resolvers.errors import BusinessRuleError, BusinessRuleErrors, not_found
from resolvers.workflow import (
    certification_change,
    factory_of_application,
    local_date,
    lock_application,
    move,
    now,
    parse_amount,
    target_of,
    today,
)

FIRST_ROUND_TYPES = frozenset({AuditType.INITIAL_CERTIFICATION, AuditType.ANNUAL})
FOLLOW_UP_TYPES = frozenset({AuditType.FOLLOW_UP, AuditType.PROGRESS_VISIT})
MAX_NOTES = 5000
BLOCKER_MESSAGES = {
    ZERO_TOLERANCE_FINDING: "A ZERO_TOLERANCE finding blocks approval.",
    CAP_NOT_SUBMITTED: "The factory has not submitted its corrective action plan.",
}


# --- Step 3: schedule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPlan:
    application_id: int
    type: AuditType
    announcement: Announcement
    window_start: date
    window_end: date
    planned_date: date | None
    lead_auditor_id: int
    audit_fee_amount: str | None = None


async def schedule_audit(session: AsyncSession, actor: Viewer, settings: Settings,
                         plan: AuditPlan) -> Audit:
    """Schedule the first audit, or a follow-up round (billed again as a new AUDIT fee)."""
    factory_id = await factory_of_application(session, plan.application_id,
                                              policies.visible_applications(actor))
    async with certification_change(session, factory_id):
        application = await lock_application(session, plan.application_id)
        target_of(application, Event.SCHEDULE_AUDIT)
        follow_up = application.status == ApplicationStatus.FOLLOW_UP_REQUIRED.value
        _check_type(plan.type, follow_up)
        _check_window(plan, await _tasked_on(session, application, follow_up))
        await _check_lead_auditor(session, plan.lead_auditor_id, application.audit_firm_id)
        amount = (parse_amount(plan.audit_fee_amount, ["auditFeeAmount"])
                  if plan.audit_fee_amount is not None else None)
        await _bill_round(session, settings, application, follow_up, amount)
        audit = Audit(application_id=application.id, factory_id=factory_id,
                      audit_firm_id=application.audit_firm_id,
                      lead_auditor_id=plan.lead_auditor_id, type=plan.type.value,
                      announcement=plan.announcement.value, status=AuditStatus.SCHEDULED.value,
                      window_start=plan.window_start, window_end=plan.window_end,
                      planned_date=plan.planned_date)
        session.add(audit)
        move(session, application, Event.SCHEDULE_AUDIT, actor)
    return audit


def _check_type(audit_type: AuditType, follow_up: bool) -> None:
    allowed = FOLLOW_UP_TYPES if follow_up else FIRST_ROUND_TYPES
    if audit_type not in allowed:
        names = " or ".join(sorted(t.value for t in allowed))
        round_ = "A follow-up round" if follow_up else "The first audit"
        raise BusinessRuleError("INVALID_AUDIT_TYPE", f"{round_} is {names}.", ["type"])


async def _tasked_on(session: AsyncSession, application: Application, follow_up: bool) -> date:
    """The day the firm was given this round: assignment, or the review asking for a follow-up.
    The audit window is counted from it."""
    if not follow_up:
        assert application.assigned_at is not None  # audits are planned once a firm is assigned
        return local_date(application.assigned_at)
    reviewed = await session.scalar(select(func.max(Audit.reviewed_at)).where(
        Audit.application_id == application.id,
        Audit.status == AuditStatus.FOLLOW_UP_REQUIRED.value))
    assert reviewed is not None  # a follow-up is asked for by a review
    return local_date(reviewed)


def _check_window(plan: AuditPlan, tasked_on: date) -> None:
    if plan.window_start > plan.window_end:
        raise BusinessRuleError("VALIDATION", "The window ends before it starts.", ["windowEnd"])
    if plan.window_start < tasked_on:
        raise BusinessRuleError("VALIDATION", "The window cannot start before "
                                f"{tasked_on.isoformat()}, when this round was assigned.",
                                ["windowStart"])
    limit = audit_window_limit(tasked_on)
    if plan.window_end > limit:
        raise BusinessRuleError("WINDOW_TOO_LATE", "The audit window must end by "
                                f"{limit.isoformat()}, two months after assignment.",
                                ["windowEnd"])
    if plan.planned_date is not None and not (plan.window_start <= plan.planned_date
                                              <= plan.window_end):
        raise BusinessRuleError("PLANNED_OUTSIDE_WINDOW", "The planned date must lie inside the "
                                "window.", ["plannedDate"])


async def _check_lead_auditor(session: AsyncSession, auditor_id: int, firm_id: Any) -> None:
    auditor = (await session.execute(select(Auditor.audit_firm_id, Auditor.active).where(
        Auditor.id == auditor_id))).first()
    if auditor is None or auditor.audit_firm_id != firm_id:
        raise not_found("auditor of your firm", ["leadAuditorId"])
    if not auditor.active:
        raise BusinessRuleError("AUDITOR_INACTIVE", "That auditor is no longer active.",
                                ["leadAuditorId"])


async def _bill_round(session: AsyncSession, settings: Settings, application: Application,
                      follow_up: bool, amount: Decimal | None) -> None:
    """First round: set the AUDIT fee made at assignment. Follow-up: a new AUDIT fee."""
    fees = (await session.scalars(
        select(Fee).where(Fee.application_id == application.id, Fee.kind == FeeKind.AUDIT.value)
        .order_by(Fee.round.desc()).with_for_update()
        .execution_options(populate_existing=True))).all()
    if follow_up or not fees:
        session.add(Fee(application_id=application.id, kind=FeeKind.AUDIT.value,
                        round=(fees[0].round + 1) if fees else 1,
                        amount=amount if amount is not None else settings.audit_fee_default,
                        currency="USD", payee_id=application.audit_firm_id,
                        status=FeeStatus.DUE.value))
        return
    fee = fees[0]
    if amount is None or amount == fee.amount:
        return
    if fee.status != FeeStatus.DUE.value:
        raise BusinessRuleError("AUDIT_FEE_PAID", f"The audit fee is {fee.status}: its amount "
                                "can no longer change.", ["auditFeeAmount"])
    fee.amount = amount


# --- Step 3: report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingDraft:
    clause: str
    category: str
    severity: Severity
    description: str


@dataclass(frozen=True)
class AuditReport:
    audit_id: int
    conducted_on: date
    findings: list[FindingDraft]
    report_document_id: int | None = None


async def submit_audit_report(session: AsyncSession, actor: Viewer,
                              report: AuditReport) -> Audit:
    """Record the conducted audit and its findings; the application goes UNDER_REVIEW, and with
    findings the factory's corrective action plan is opened (DRAFT, due 5 working days on)."""
    found = await _audit_ids(session, report.audit_id, policies.visible_audits(actor))
    async with certification_change(session, found.factory_id):
        application = await lock_application(session, found.application_id)
        audit = await _lock_audit(session, report.audit_id)
        if audit.status != AuditStatus.SCHEDULED.value:
            raise BusinessRuleError("INVALID_TRANSITION", f"The audit is {audit.status}: its "
                                    "report was already submitted.")
        target_of(application, Event.SUBMIT_REPORT)
        _check_conducted(report.conducted_on, audit.window_start)
        findings = [_clean_finding(f, i) for i, f in enumerate(report.findings)]
        if report.report_document_id is not None:
            await _check_report_document(session, report.report_document_id, audit.audit_firm_id)
        audit.conducted_on, audit.report_document_id = (report.conducted_on,
                                                        report.report_document_id)
        audit.status, audit.report_submitted_at = AuditStatus.REPORT_SUBMITTED.value, now()
        session.add_all(Finding(audit_id=audit.id, **f) for f in findings)
        if findings:
            session.add(CorrectiveActionPlan(audit_id=audit.id, factory_id=audit.factory_id,
                                             status=CapStatus.DRAFT.value,
                                             due_on=cap_due_on(today())))
        move(session, application, Event.SUBMIT_REPORT, actor)
    return audit


async def _audit_ids(session: AsyncSession, audit_id: int, policy: Any) -> Any:
    found = (await session.execute(select(Audit.application_id, Audit.factory_id).where(
        Audit.id == audit_id, policy))).first()
    if found is None:
        raise not_found("audit", ["auditId"])
    return found


async def _lock_audit(session: AsyncSession, audit_id: int) -> Audit:
    return (await session.execute(select(Audit).where(Audit.id == audit_id).with_for_update()
                                  .execution_options(populate_existing=True))).scalar_one()


def _check_conducted(conducted_on: date, window_start: date) -> None:
    if conducted_on > today():
        raise BusinessRuleError("CONDUCTED_IN_FUTURE", "An audit is reported once conducted: "
                                "conductedOn is in the future.", ["conductedOn"])
    if conducted_on < window_start:
        raise BusinessRuleError("CONDUCTED_BEFORE_WINDOW", "The audit cannot have been conducted "
                                f"before its window opened on {window_start.isoformat()}.",
                                ["conductedOn"])


def _clean_finding(finding: FindingDraft, index: int) -> dict[str, str]:
    cleaned = {"clause": finding.clause.strip(), "category": finding.category.strip(),
               "description": finding.description.strip()}
    for name, value in cleaned.items():
        if not value:
            raise BusinessRuleError("VALIDATION", f"Finding {index + 1} needs a {name}.",
                                    ["findings", str(index), name])
    return cleaned | {"severity": finding.severity.value}


async def _check_report_document(session: AsyncSession, document_id: int, firm_id: int) -> None:
    owner = await session.scalar(select(Document.organization_id).where(
        Document.id == document_id))
    if owner != firm_id:
        raise not_found("document uploaded by your firm", ["reportDocumentId"])


# --- Step 4: review -----------------------------------------------------------------------------


async def review_audit(session: AsyncSession, actor: Viewer, settings: Settings, audit_id: int,
                       decision: ReviewDecision, notes: str | None) -> Audit:
    """The program's decision on a submitted report, per certification_rules.review_outcome.
    APPROVE is refused while anything in approval_blockers holds; it makes the SEAL fee due."""
    notes = _clean_notes(notes)
    found = await _audit_ids(session, audit_id, policies.visible_audits(actor))
    async with certification_change(session, found.factory_id):
        application = await lock_application(session, found.application_id)
        audit = await _lock_audit(session, audit_id)
        if audit.status != AuditStatus.REPORT_SUBMITTED.value:
            raise BusinessRuleError("INVALID_TRANSITION", f"The audit is {audit.status}: there "
                                    "is no report awaiting review.")
        outcome = review_outcome(decision)
        target_of(application, outcome.event)
        plan = (await session.execute(
            select(CorrectiveActionPlan).where(CorrectiveActionPlan.audit_id == audit_id)
            .with_for_update().execution_options(populate_existing=True))).scalar_one_or_none()
        if decision is ReviewDecision.APPROVE:
            await _refuse_blocked_approval(session, audit_id, plan)
        audit.status, audit.reviewed_at = outcome.audit_status.value, now()
        audit.reviewed_by_id, audit.review_notes = actor.user_id, notes
        if plan is not None:
            plan.status = outcome.cap_status.value
        move(session, application, outcome.event, actor, note=notes)
        if decision is ReviewDecision.APPROVE:
            session.add(Fee(application_id=application.id, kind=FeeKind.SEAL.value, round=1,
                            amount=settings.seal_fee, currency="USD",
                            payee_id=(await ensure_program(session)).id,
                            status=FeeStatus.DUE.value))
    return audit


async def _refuse_blocked_approval(session: AsyncSession, audit_id: int,
                                   plan: CorrectiveActionPlan | None) -> None:
    severities = [Severity(s) for s in (await session.scalars(
        select(Finding.severity).where(Finding.audit_id == audit_id))).all()]
    blockers = approval_blockers(severities, CapStatus(plan.status) if plan else None,
                                 has_findings=bool(severities))
    if blockers:
        raise BusinessRuleErrors([BusinessRuleError(code, BLOCKER_MESSAGES[code], ["decision"])
                                  for code in blockers])


def _clean_notes(notes: str | None) -> str | None:
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise BusinessRuleError("VALIDATION", f"Notes are at most {MAX_NOTES} characters.",
                                ["notes"])
    return notes or None
