"""The certification part of `escp demo`: each factory's applications taken step by step
through the API's own resolver functions, by the user who does each step in reality (so the
demo obeys every rule the API does), with the documents a real story leaves behind."""
import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from db import Application, Audit, Certificate, Document, Factory, Fee, Finding
from db.enums import (
    Announcement,
    ApplicationKind,
    AuditStatus,
    AuditType,
    CertificateStatus,
    FeeKind,
    ReviewDecision,
    Severity,
)
from db.settings import Settings
from infra.document_store import document_store
from resolvers.application import assign_audit_firm, record_payment, submit_application
from resolvers.audit import (
    AuditPlan,
    AuditReport,
    FindingDraft,
    review_audit,
    schedule_audit,
    submit_audit_report,
)
from resolvers.certificate import set_certificate_status
from resolvers.corrective_action import ActionDraft, submit_corrective_action_plan
from resolvers.environment import (
    Figures,
    submit_environmental_assessment,
    verify_environmental_assessment,
)
from resolvers.workflow import today

SUBMITTED, ASSIGNED, SCHEDULED, UNDER_REVIEW, CERTIFIED, SUSPENDED = range(6)
# Stories with more than one round: a follow-up round before the certificate; a rejection and
# a second application whose plan awaits review.
FOLLOWED_UP_AND_CERTIFIED, REJECTED_THEN_REAPPLIED = 6, 7

FINDINGS = [
    FindingDraft("4.2", "Health and safety", Severity.MAJOR,
                 "Two fire exits on the dyeing floor were blocked by fabric rolls."),
    FindingDraft("2.3", "Working hours", Severity.MINOR,
                 "Overtime records for March were incomplete."),
]
FOLLOW_UP_FINDINGS = [FindingDraft("2.3", "Working hours", Severity.MINOR,
                                   "Two overtime sheets were still unsigned.")]
ZERO_TOLERANCE_FINDINGS = [FindingDraft("1.1", "Child labour", Severity.ZERO_TOLERANCE,
                                        "A worker under the legal minimum age was employed.")]


@dataclass(frozen=True)
class Parties:
    """Who acts on one factory's applications."""

    supplier: Viewer
    admin: Viewer
    desk: Viewer  # the audit firm's user
    firm_id: int
    lead_auditor_id: int


async def _fee(session: AsyncSession, application_id: int, kind: FeeKind) -> int:
    return int(await session.scalar(select(Fee.id).where(
        Fee.application_id == application_id, Fee.kind == kind.value).order_by(Fee.round.desc())
        .limit(1)))


async def _assigned(session: AsyncSession, settings: Settings, factory: Factory,
                    who: Parties) -> Application:
    """A NEW application, its registration fee paid and the firm assigned."""
    application = await submit_application(session, who.supplier, settings, factory.id,
                                           ApplicationKind.NEW)
    await record_payment(session, who.admin,
                         await _fee(session, application.id, FeeKind.REGISTRATION), "DEMO-REG")
    await assign_audit_firm(session, who.admin, settings, application.id, who.firm_id)
    return application


async def _scheduled(session: AsyncSession, settings: Settings, application: Application,
                     who: Parties, announcement: Announcement = Announcement.ANNOUNCED,
                     audit_type: AuditType = AuditType.INITIAL_CERTIFICATION) -> Audit:
    return await schedule_audit(session, who.desk, settings, AuditPlan(
        application.id, audit_type, announcement, today(), today() + timedelta(days=30),
        today(), who.lead_auditor_id, "2750.00"))


async def _reported(session: AsyncSession, settings: Settings, application: Application,
                    audit: Audit, who: Parties, findings: list[FindingDraft]) -> None:
    """The audit fee paid and the report submitted, with its document."""
    await record_payment(session, who.desk, await _fee(session, application.id, FeeKind.AUDIT),
                         f"DEMO-AUDIT-{audit.id}")
    report = await _document(session, settings, who.desk, f"audit-report-{audit.id}.pdf",
                             f"Audit report {audit.id}")
    await submit_audit_report(session, who.desk, AuditReport(audit.id, today(), findings,
                                                             report))


async def _plan_submitted(session: AsyncSession, settings: Settings, audit: Audit,
                          who: Parties) -> None:
    """The supplier answers every finding, each with a photo of the fix as evidence."""
    findings = (await session.scalars(select(Finding).where(Finding.audit_id == audit.id)
                                      .order_by(Finding.id))).all()
    drafts = [ActionDraft(f.id, f"Fix {f.clause}: {f.category.lower()}",
                          today() + timedelta(days=30), True, None,
                          [await _document(session, settings, who.supplier,
                                           f"evidence-{f.id}.pdf", f"Evidence for {f.clause}")])
              for f in findings]
    await submit_corrective_action_plan(session, who.supplier, audit.id, drafts, today())


async def _reviewed(session: AsyncSession, settings: Settings, audit: Audit, who: Parties,
                    decision: ReviewDecision, notes: str) -> None:
    await review_audit(session, who.admin, settings, audit.id, decision, notes)


async def _sealed(session: AsyncSession, application: Application, who: Parties) -> None:
    await record_payment(session, who.admin, await _fee(session, application.id, FeeKind.SEAL),
                         "DEMO-SEAL")


async def certify(session: AsyncSession, settings: Settings, factory: Factory, stage: int,
                  who: Parties) -> None:
    """Take the factory's applications as far as `stage`, step by step."""
    if stage == FOLLOWED_UP_AND_CERTIFIED:
        return await _followed_up_and_certified(session, settings, factory, who)
    if stage == REJECTED_THEN_REAPPLIED:
        return await _rejected_then_reapplied(session, settings, factory, who)
    if stage == SUBMITTED:
        await submit_application(session, who.supplier, settings, factory.id, ApplicationKind.NEW)
        return
    application = await _assigned(session, settings, factory, who)
    if stage == ASSIGNED:
        return
    if stage == SCHEDULED:
        await _cancelled_visit(session, application, who)
        await _scheduled(session, settings, application, who, Announcement.UNANNOUNCED)
        return
    audit = await _scheduled(session, settings, application, who)
    await _reported(session, settings, application, audit, who,
                    FINDINGS if stage == UNDER_REVIEW else [])
    if stage == UNDER_REVIEW:
        return
    await _reviewed(session, settings, audit, who, ReviewDecision.APPROVE, "Meets the standard.")
    await _sealed(session, application, who)
    if stage == SUSPENDED:
        certificate = await session.scalar(select(Certificate.id).where(
            Certificate.factory_id == factory.id,
            Certificate.status == CertificateStatus.ACTIVE.value))
        await set_certificate_status(session, int(certificate), CertificateStatus.SUSPENDED,
                                     "Blocked fire exits found on a monitoring visit.")


async def _followed_up_and_certified(session: AsyncSession, settings: Settings,
                                     factory: Factory, who: Parties) -> None:
    """Findings, a plan, a follow-up round (that plan RETURNED), a second plan ACCEPTED with
    the approval, the seal; and a verified environmental assessment with its report."""
    application = await _assigned(session, settings, factory, who)
    first = await _scheduled(session, settings, application, who)
    await _reported(session, settings, application, first, who, FINDINGS)
    await _plan_submitted(session, settings, first, who)
    await _reviewed(session, settings, first, who, ReviewDecision.REQUIRE_FOLLOW_UP,
                    "Verify the fire exits on site.")
    second = await _scheduled(session, settings, application, who,
                              audit_type=AuditType.FOLLOW_UP)
    await _reported(session, settings, application, second, who, FOLLOW_UP_FINDINGS)
    await _plan_submitted(session, settings, second, who)
    await _reviewed(session, settings, second, who, ReviewDecision.APPROVE,
                    "Fire exits clear; overtime sheets to be signed.")
    await _sealed(session, application, who)
    await _assessment(session, settings, factory, who)


async def _rejected_then_reapplied(session: AsyncSession, settings: Settings,
                                   factory: Factory, who: Parties) -> None:
    """A zero-tolerance finding and a rejection; a second application under review whose
    plan has been submitted."""
    application = await _assigned(session, settings, factory, who)
    audit = await _scheduled(session, settings, application, who)
    await _reported(session, settings, application, audit, who, ZERO_TOLERANCE_FINDINGS)
    await _plan_submitted(session, settings, audit, who)
    await _reviewed(session, settings, audit, who, ReviewDecision.REJECT,
                    "Zero tolerance: child labour.")
    again = await _assigned(session, settings, factory, who)
    audit = await _scheduled(session, settings, again, who)
    await _reported(session, settings, again, audit, who, FINDINGS[:1])
    await _plan_submitted(session, settings, audit, who)


async def _cancelled_visit(session: AsyncSession, application: Application,
                           who: Parties) -> None:
    """A visit called off before it took place. No API move cancels an audit yet, so the row
    is written as such (like the expired connection above), for dashboards to show."""
    session.add(Audit(application_id=application.id, factory_id=application.factory_id,
                      audit_firm_id=who.firm_id, lead_auditor_id=who.lead_auditor_id,
                      type=AuditType.INITIAL_CERTIFICATION.value,
                      announcement=Announcement.UNANNOUNCED.value,
                      status=AuditStatus.CANCELLED.value, window_start=today(),
                      window_end=today() + timedelta(days=30)))
    await session.flush()


async def _assessment(session: AsyncSession, settings: Settings, factory: Factory,
                      who: Parties) -> None:
    year = today().year - 1
    report = await _document(session, settings, who.supplier,
                             f"environment-{year}.pdf", f"Environmental assessment {year}")
    row = await submit_environmental_assessment(
        session, who.supplier, factory.id, year,
        Figures(energy_kwh=1_850_000.0, water_m3=42_000.0, waste_kg=61_500.0, ghg_tco2e=910.5),
        report, report_given=True)
    await verify_environmental_assessment(session, who.admin, row.id)


async def _document(session: AsyncSession, settings: Settings, owner: Viewer, filename: str,
                    title: str) -> int:
    """A small PDF uploaded by `owner`'s organization, stored like any upload."""
    content = f"%PDF-1.4\n% ESCP Connect demo: {title}\n%%EOF\n".encode()
    digest = hashlib.sha256(content).hexdigest()
    await document_store(settings).save(session, digest, len(content), content)
    document = Document(organization_id=owner.organization_id, uploaded_by_id=owner.user_id,
                        filename=filename, content_type="application/pdf",
                        size_bytes=len(content), sha256=digest)
    session.add(document)
    await session.flush()
    return document.id
