"""Corrective action plans and their actions."""
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import Scope, roles
from db.enums import CapStatus as CapStatusEnum
from db.enums import Role, ShareScope
from overrides.guards import guarded
from resolvers import corrective_action as plans
from resolvers.certification_rules import is_overdue
from resolvers.loaders import ActionsByCap, EvidenceByAction, FindingById, VisibleAuditById
from resolvers.settled import settled
from schema.audit import Audit, Finding
from schema.common import Node, UserError, user_errors
from schema.document import Document
from schema.enums import ActionStatus, CapStatus, Severity
from schema.ids import decode_as, encode_id
from schema.mutation import perform
from schema.user_errors import CORRECTIVE_ACTION_ERRORS

CORRECTIVE_ACTIONS = ShareScope.CORRECTIVE_ACTIONS


@strawberry.type(description="What the factory does about one finding, by when.")
class CorrectiveAction(Node):
    action_id: strawberry.Private[int]
    factory_id: strawberry.Private[int]
    audit_firm_id: strawberry.Private[int]
    finding_id: strawberry.Private[int]
    action: str | None = guarded(Scope(CORRECTIVE_ACTIONS), description=(
        "What the factory will do, in its words."))
    due_date: date | None = guarded(Scope(CORRECTIVE_ACTIONS), description=(
        "The day it is to be done by."))
    status: ActionStatus | None = guarded(Scope(CORRECTIVE_ACTIONS), description=(
        "Whether it is done."))
    agrees_with_finding: bool | None = guarded(Scope(CORRECTIVE_ACTIONS), description=(
        "False when the factory disputes the finding (its comment says why)."))
    factory_comment: str | None = guarded(Scope(CORRECTIVE_ACTIONS), description=(
        "The factory's remark on the finding or the action; null if none."))

    @guarded(Scope(CORRECTIVE_ACTIONS), description="The finding this action answers.")
    async def finding(self, info: Info) -> Finding | None:
        row = await info.context.loader(FindingById).load(self.finding_id)
        return Finding(id=strawberry.ID(encode_id("Finding", row.id)), factory_id=self.factory_id,
                       audit_firm_id=self.audit_firm_id, clause=row.clause,
                       category=row.category, severity=Severity(row.severity),
                       description=row.description)

    @guarded(Scope(CORRECTIVE_ACTIONS), description=(
        "Documents showing the action is done (photos, records); may be empty."))
    async def evidence(self, info: Info) -> list[Document] | None:
        rows = await info.context.loader(EvidenceByAction).load(self.action_id)
        return [Document.from_row(row, self, CORRECTIVE_ACTIONS) for row in rows]

    @classmethod
    def from_row(cls, row: Any, plan: "CorrectiveActionPlan") -> "CorrectiveAction":
        return cls(id=strawberry.ID(encode_id("CorrectiveAction", row.id)), action_id=row.id,
                   factory_id=plan.factory_id, audit_firm_id=plan.audit_firm_id,
                   finding_id=row.finding_id, action=row.action, due_date=row.due_date,
                   status=ActionStatus(row.status), agrees_with_finding=row.agrees_with_finding,
                   factory_comment=row.factory_comment)


@strawberry.type(description="The factory's plan to correct an audit's findings.")
class CorrectiveActionPlan(Node):
    plan_id: strawberry.Private[int]
    audit_id: strawberry.Private[int]
    factory_id: strawberry.Private[int]
    audit_firm_id: strawberry.Private[int]
    status: CapStatus | None = guarded(Scope(CORRECTIVE_ACTIONS), description=(
        "Where the plan stands."))
    submitted_at: datetime | None = guarded(Scope(CORRECTIVE_ACTIONS), description=(
        "When the factory last submitted it; null while never submitted."))
    due_on: date | None = guarded(Scope(CORRECTIVE_ACTIONS),
                                  description="Due 5 working days after the audit report.")

    @guarded(Scope(CORRECTIVE_ACTIONS), description="Past due and not yet submitted.")
    def is_overdue(self) -> bool | None:
        return is_overdue(self.due_on, self.status is not CapStatusEnum.DRAFT and
                          self.status is not CapStatusEnum.RETURNED, date.today())

    @guarded(Scope(CORRECTIVE_ACTIONS), description="The audit whose findings it answers.")
    async def audit(self, info: Info) -> Audit | None:
        row = await info.context.loader(VisibleAuditById).load(self.audit_id)
        return Audit.from_row(row)

    @guarded(Scope(CORRECTIVE_ACTIONS), description=(
        "One action per finding; empty until the factory submits the plan."))
    def actions(self, info: Info) -> list[CorrectiveAction] | None:
        return settled(info.context.loader(ActionsByCap).load(self.plan_id),
                       lambda rows: [CorrectiveAction.from_row(r, self) for r in rows])  # type: ignore

    @classmethod
    def from_row(cls, row: Any) -> "CorrectiveActionPlan":
        return cls(id=strawberry.ID(encode_id("CorrectiveActionPlan", row.id)), plan_id=row.id,
                   audit_id=row.audit_id, factory_id=row.factory_id, audit_firm_id=row.audit_firm_id,
                   status=CapStatus(row.status), submitted_at=row.submitted_at, due_on=row.due_on)


@strawberry.input(description="The factory's action for one finding.")
class CorrectiveActionInput:
    finding_id: strawberry.ID = strawberry.field(description="A finding of the plan's audit.")
    action: str = strawberry.field(description=(
        "What the factory will do; not blank, at most 5000 characters."))
    due_date: date = strawberry.field(description="Today or later.")
    agrees_with_finding: bool = strawberry.field(description=(
        "False disputes the finding; say why in `comment`."))
    comment: str | None = strawberry.field(default=None, description=(
        "A remark for the program; at most 5000 characters; omitted: none."))
    evidence_document_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Documents uploaded by the viewer's organization.")

    def draft(self) -> plans.ActionDraft:
        return plans.ActionDraft(
            finding_id=decode_as(self.finding_id, "Finding"), action=self.action,
            due_date=self.due_date, agrees_with_finding=self.agrees_with_finding,
            comment=self.comment,
            evidence_document_ids=[decode_as(d, "Document")
                                   for d in self.evidence_document_ids or []])


@strawberry.input(description="A factory's corrective action plan for an audit.")
class SubmitCorrectiveActionPlanInput:
    audit_id: strawberry.ID = strawberry.field(description=(
        "The audit, of a factory of the viewer's organization, whose plan is DRAFT or "
        "RETURNED."))
    actions: list[CorrectiveActionInput] = strawberry.field(
        description="One action per finding of the audit, each finding exactly once.")


@strawberry.type(description="The answer of submitCorrectiveActionPlan.")
class CorrectiveActionPlanPayload:
    corrective_action_plan: CorrectiveActionPlan | None = strawberry.field(description=(
        "The plan as submitted; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    corrective_action_user_errors = CORRECTIVE_ACTION_ERRORS.field()


def plan_payload(row: Any, errors: list[UserError]) -> CorrectiveActionPlanPayload:
    return CorrectiveActionPlanPayload(
        corrective_action_plan=CorrectiveActionPlan.from_row(row) if row else None,
        user_errors=errors)


@strawberry.type
class Mutation:
    @guarded(roles(Role.SUPPLIER),
             description="The supplier owning the audited factory submits its plan while it is "
                         "DRAFT or RETURNED (a resubmission replaces the actions). userErrors: "
                         "NOT_FOUND, VALIDATION, INVALID_TRANSITION.")
    async def submit_corrective_action_plan(
            self, info: Info, input: Annotated[
                SubmitCorrectiveActionPlanInput, strawberry.argument(
                    description="The audit and one action per finding.")]
    ) -> CorrectiveActionPlanPayload:
        drafts = [action.draft() for action in input.actions]
        audit_id = decode_as(input.audit_id, "Audit")
        viewer = info.context.viewer
        return await perform(info, lambda session: plans.submit_corrective_action_plan(
            session, viewer, audit_id, drafts), plan_payload)
