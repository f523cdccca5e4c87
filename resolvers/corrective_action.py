"""Corrective action plans: the owning supplier answers every finding of an audit.

The plan exists once the audit report is submitted (DRAFT). The supplier submits one action per
finding; the program then accepts it or returns it, and a RETURNED plan is submitted again, its
actions replaced as a whole.
"""
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policies import owned_factories
from auth.viewer import Viewer
from db import (
    Audit,
    CorrectiveAction,
    CorrectiveActionPlan,
    Factory,
    Finding,
    corrective_action_evidence,
)
from db.enums import CapStatus
from resolvers.document import require_own_documents
from resolvers.errors import BusinessRuleError, not_found

EDITABLE = frozenset({CapStatus.DRAFT.value, CapStatus.RETURNED.value})
MAX_TEXT = 5000


@dataclass(frozen=True)
class ActionDraft:
    """One submitted action; ids are None where the input was not an id of the right type."""

    finding_id: int | None
    action: str
    due_date: date
    agrees_with_finding: bool
    comment: str | None = None
    evidence_document_ids: list[int | None] = field(default_factory=list)


def _at(index: int, name: str | None = None) -> list[str]:
    path = ["input", "actions", str(index)]
    return path + [name] if name else path


def _invalid(message: str, path: list[str]) -> BusinessRuleError:
    return BusinessRuleError("VALIDATION", message, path)


async def _owned_plan(session: AsyncSession, viewer: Viewer, audit_id: int | None) -> Any:
    """The audit's plan, locked, if the viewer's organization owns the audited factory.

    The lock serializes two submissions of one plan: the second sees SUBMITTED and is refused.
    """
    if audit_id is None:
        raise not_found("audit", ["input", "auditId"])
    statement = (select(*CorrectiveActionPlan.__table__.c)
                 .join(Factory, Factory.id == CorrectiveActionPlan.factory_id)
                 .where(CorrectiveActionPlan.audit_id == audit_id, owned_factories(viewer))
                 .with_for_update(of=CorrectiveActionPlan))
    plan = (await session.execute(statement)).first()
    if plan is None:
        raise not_found("corrective action plan for that audit", ["input", "auditId"])
    if plan.status not in EDITABLE:
        raise BusinessRuleError("INVALID_TRANSITION",
                                f"The corrective action plan is {plan.status}; it can be "
                                "submitted while DRAFT or RETURNED.", ["input", "auditId"])
    return plan


def check_findings(drafts: list[ActionDraft], findings: set[int]) -> None:
    """Every finding of the audit exactly once, and nothing else."""
    seen: set[int] = set()
    for i, draft in enumerate(drafts):
        if draft.finding_id not in findings:
            raise _invalid("Not a finding of this audit.", _at(i, "findingId"))
        if draft.finding_id in seen:
            raise _invalid("This finding already has an action.", _at(i, "findingId"))
        seen.add(draft.finding_id)
    if missing := len(findings - seen):
        raise _invalid(f"Every finding needs an action: {missing} of {len(findings)} have none.",
                       ["input", "actions"])


def check_action(draft: ActionDraft, index: int, today: date) -> None:
    if not draft.action.strip():
        raise _invalid("Describe the corrective action.", _at(index, "action"))
    if len(draft.action) > MAX_TEXT or len(draft.comment or "") > MAX_TEXT:
        raise _invalid(f"Texts have at most {MAX_TEXT} characters.", _at(index))
    if draft.due_date < today:
        raise _invalid("The due date is in the past.", _at(index, "dueDate"))


async def _replace_actions(session: AsyncSession, plan_id: int,
                           drafts: list[ActionDraft]) -> None:
    """Resubmission replaces the plan's actions (their evidence links go with them)."""
    await session.execute(delete(CorrectiveAction).where(CorrectiveAction.plan_id == plan_id))
    if not drafts:
        return
    rows = [{"plan_id": plan_id, "finding_id": d.finding_id, "action": d.action.strip(),
             "due_date": d.due_date, "agrees_with_finding": d.agrees_with_finding,
             "factory_comment": (d.comment or "").strip() or None} for d in drafts]
    statement = insert(CorrectiveAction).returning(CorrectiveAction.id,
                                                   sort_by_parameter_order=True)
    action_ids = (await session.scalars(statement, rows)).all()
    evidence = [{"action_id": action_id, "document_id": document_id}
                for action_id, draft in zip(action_ids, drafts, strict=True)
                for document_id in dict.fromkeys(draft.evidence_document_ids)]
    if evidence:
        await session.execute(insert(corrective_action_evidence), evidence)


async def submit_corrective_action_plan(session: AsyncSession, viewer: Viewer,
                                        audit_id: int | None, drafts: list[ActionDraft],
                                        today: date | None = None) -> Any:
    """Codes: NOT_FOUND (audit, plan or evidence document), VALIDATION, INVALID_TRANSITION."""
    plan = await _owned_plan(session, viewer, audit_id)
    findings = set((await session.scalars(
        select(Finding.id).where(Finding.audit_id == plan.audit_id))).all())
    check_findings(drafts, findings)
    for i, draft in enumerate(drafts):
        check_action(draft, i, today or date.today())
    await require_own_documents(session, viewer, [
        (pk, _at(i, "evidenceDocumentIds") + [str(j)])
        for i, draft in enumerate(drafts) for j, pk in enumerate(draft.evidence_document_ids)])
    await _replace_actions(session, plan.id, drafts)
    await session.execute(update(CorrectiveActionPlan).where(CorrectiveActionPlan.id == plan.id)
                          .values(status=CapStatus.SUBMITTED.value, submitted_at=func.now()))
    return (await session.execute(
        select(*CorrectiveActionPlan.__table__.c, Audit.audit_firm_id)
        .join(Audit, Audit.id == CorrectiveActionPlan.audit_id)
        .where(CorrectiveActionPlan.id == plan.id))).one()
