"""Audits and their findings."""
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import AuditPlan, Scope, guarded
from db.enums import ShareScope
from resolvers.certification_rules import is_overdue, report_due_on
from resolvers.loaders import (AuditorById, CapByAudit, FindingsByAudit, FindingsSummaryByAudit)
from schema.common import Node, PageInfo
from schema.document import Document, document
from schema.enums import Announcement, AuditStatus, AuditType, Severity
from schema.ids import encode_id
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


@strawberry.type
class Finding(Node):
    factory_id: strawberry.Private[int]
    audit_firm_id: strawberry.Private[int]
    clause: str = guarded(Scope(AUDITS))
    category: str = guarded(Scope(AUDITS))
    severity: Severity = guarded(Scope(AUDITS))
    description: str = guarded(Scope(AUDITS))

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
    announcement: Announcement = guarded(Scope(AUDITS))
    type: AuditType = guarded(Scope(AUDITS))
    status: AuditStatus = guarded(Scope(AUDITS))
    window_start: date | None = guarded(AuditPlan(planned_date=False))
    window_end: date | None = guarded(AuditPlan(planned_date=False))
    planned_date: date | None = guarded(AuditPlan(planned_date=True))
    conducted_on: date | None = guarded(Scope(AUDITS))
    reviewed_at: datetime | None = guarded(Scope(AUDITS))

    @guarded(Scope(AUDITS))
    async def factory(self, info: Info) -> FactoryRef:
        from schema.factory import factory_by_id

        return await factory_by_id(info, self.factory_id)  # type: ignore[return-value]

    @guarded(Scope(AUDITS))
    async def audit_firm(self, info: Info) -> Organization:
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
    async def findings_summary(self, info: Info) -> FindingsSummary | None:
        row = await info.context.loader(FindingsSummaryByAudit).load(self.audit_id)
        if row is None:
            return EMPTY_SUMMARY
        return FindingsSummary(zero_tolerance=row.zero_tolerance, critical=row.critical,
                               major=row.major, minor=row.minor, total=row.total)

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
