"""DataLoaders, one class per relationship, made per request (resolvers.context.Context.loader).

Each batch runs one SQL statement on its own short connection: Strawberry resolves siblings
concurrently, so a shared session would break. Lists start from the viewer's visibility policy.
"""
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar

from aiodataloader import DataLoader
from sqlalchemy import ARRAY, BigInteger, ColumnElement, Row, any_, bindparam, func, select, true

from auth import policies
from auth.access import load_access
from db import (
    Application,
    Audit,
    Auditor,
    Certificate,
    CorrectiveAction,
    CorrectiveActionPlan,
    CustomerConnection,
    Document,
    EnvironmentalAssessment,
    Factory,
    Fee,
    Finding,
    Organization,
    User,
    WorkflowTransition,
    corrective_action_evidence,
)
from db.enums import Severity
from db.queries import certification_of_factories

# One type object for every batch: SQLAlchemy memoizes a type's cache key and dialect
# adaptation on the instance, so a new ARRAY(BigInteger) per statement redid both each time.
_IDS = ARRAY(BigInteger)


def ids_param(keys: Sequence[int]) -> Any:
    """`= ANY(:keys)` keeps one SQL text whatever the batch size (asyncpg caches the plan)."""
    return any_(bindparam("keys", list(keys), type_=_IDS))


class ContextLoader(DataLoader[Any, Any]):
    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx

    async def fetch(self, statement: Any) -> list[Row[Any]]:
        async with self.ctx.database.read() as conn:
            return list((await conn.execute(statement)).all())


class RowLoader(ContextLoader):
    """Rows of one model by a key column: one row per key, or a list per key when `many`."""

    model: ClassVar[Any]
    key: ClassVar[str] = "id"
    many: ClassVar[bool] = False
    order_by: ClassVar[tuple[Any, ...]] = ()

    def policy(self) -> ColumnElement[bool]:
        return true()

    def statement(self, keys: Sequence[int]) -> Any:
        column = getattr(self.model, self.key)
        return (select(*self.model.__table__.c).where(column == ids_param(keys), self.policy())
                .order_by(*self.order_by))

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        rows = await self.fetch(self.statement(keys))
        if self.many:
            grouped: dict[int, list[Row[Any]]] = defaultdict(list)
            for row in rows:
                grouped[getattr(row, self.key)].append(row)
            return [grouped.get(k, []) for k in keys]
        by_key = {getattr(row, self.key): row for row in rows}
        return [by_key.get(k) for k in keys]


class AccessByFactory(ContextLoader):
    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        async with self.ctx.database.read() as conn:
            found = await load_access(conn, self.ctx.viewer, keys)
        self.ctx.access_cache.update(found)
        return [found[k] for k in keys]


class VisibleFactoryById(RowLoader):
    model = Factory

    def policy(self) -> ColumnElement[bool]:
        return policies.visible_factories(self.ctx.viewer)


class CertificationByFactory(ContextLoader):
    """(CertificationStatus, certified_until, current certificate id) per factory."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        rows = await self.fetch(certification_of_factories(ids_param(keys)))
        by_id = {row.factory_id: row for row in rows}
        return [by_id.get(k) for k in keys]


class CertificatesByFactory(RowLoader):
    model = Certificate
    key = "factory_id"
    many = True
    order_by = (Certificate.issued_on.desc(), Certificate.id.desc())


class CertificateById(RowLoader):
    model = Certificate


class ApplicationsByFactory(RowLoader):
    model = Application
    key = "factory_id"
    many = True
    order_by = (Application.submitted_at.desc(), Application.id.desc())

    def policy(self) -> ColumnElement[bool]:
        return policies.visible_applications(self.ctx.viewer)


class VisibleApplicationById(RowLoader):
    model = Application

    def policy(self) -> ColumnElement[bool]:
        return policies.visible_applications(self.ctx.viewer)


class FeesByApplication(RowLoader):
    model = Fee
    key = "application_id"
    many = True
    order_by = (Fee.id,)

    def policy(self) -> ColumnElement[bool]:
        return policies.visible_fees(self.ctx.viewer)


class TransitionsByApplication(RowLoader):
    """An application's history, oldest first (the field's rule decides who reads it)."""

    model = WorkflowTransition
    key = "application_id"
    many = True
    order_by = (WorkflowTransition.occurred_at, WorkflowTransition.id)


class AuditsByFactory(RowLoader):
    """Newest first: conducted audits by date, then scheduled ones by creation."""

    model = Audit
    key = "factory_id"
    many = True
    order_by = (Audit.created_at.desc(), Audit.id.desc())

    def policy(self) -> ColumnElement[bool]:
        return policies.visible_audits(self.ctx.viewer)


class AuditsByApplication(AuditsByFactory):
    key = "application_id"


class VisibleAuditById(AuditsByFactory):
    key = "id"
    many = False


class FindingsByAudit(RowLoader):
    model = Finding
    key = "audit_id"
    many = True
    order_by = (Finding.id,)


class FindingById(RowLoader):
    model = Finding


class FindingsSummaryByAudit(ContextLoader):
    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        def count(severity: Severity) -> Any:
            return func.count().filter(Finding.severity == severity.value)

        statement = (
            select(Finding.audit_id, count(Severity.ZERO_TOLERANCE).label("zero_tolerance"),
                   count(Severity.CRITICAL).label("critical"), count(Severity.MAJOR).label("major"),
                   count(Severity.MINOR).label("minor"), func.count().label("total"))
            .where(Finding.audit_id == ids_param(keys)).group_by(Finding.audit_id)
        )
        by_id = {row.audit_id: row for row in await self.fetch(statement)}
        return [by_id.get(k) for k in keys]


class CapByAudit(RowLoader):
    """Plans with their audit's firm (audit data is scoped per firm)."""

    model = CorrectiveActionPlan
    key = "audit_id"

    def policy(self) -> ColumnElement[bool]:
        return policies.visible_corrective_action_plans(self.ctx.viewer)

    def statement(self, keys: Sequence[int]) -> Any:
        column = getattr(CorrectiveActionPlan, self.key)
        return (select(*CorrectiveActionPlan.__table__.c, Audit.audit_firm_id)
                .join(Audit, Audit.id == CorrectiveActionPlan.audit_id)
                .where(column == ids_param(keys), self.policy()).order_by(*self.order_by))


class CapsByFactory(CapByAudit):
    key = "factory_id"
    many = True
    order_by = (CorrectiveActionPlan.created_at.desc(), CorrectiveActionPlan.id.desc())


class VisibleCapById(CapByAudit):
    key = "id"


class ActionsByCap(RowLoader):
    model = CorrectiveAction
    key = "plan_id"
    many = True
    order_by = (CorrectiveAction.id,)


class ActionById(RowLoader):
    model = CorrectiveAction


class EvidenceByAction(ContextLoader):
    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        evidence = corrective_action_evidence.c
        statement = (select(evidence.action_id, *Document.__table__.c)
                     .join(Document, Document.id == evidence.document_id)
                     .where(evidence.action_id == ids_param(keys)).order_by(Document.id))
        grouped: dict[int, list[Row[Any]]] = defaultdict(list)
        for row in await self.fetch(statement):
            grouped[row.action_id].append(row)
        return [grouped.get(k, []) for k in keys]


class AssessmentsByFactory(RowLoader):
    model = EnvironmentalAssessment
    key = "factory_id"
    many = True
    order_by = (EnvironmentalAssessment.period_year.desc(),)


class AssessmentById(RowLoader):
    model = EnvironmentalAssessment


class DocumentById(RowLoader):
    model = Document


class OrganizationById(RowLoader):
    model = Organization


class VisibleOrganizationById(RowLoader):
    model = Organization

    def policy(self) -> ColumnElement[bool]:
        return policies.visible_organizations(self.ctx.viewer)


class UserById(RowLoader):
    model = User


class VisibleUserById(RowLoader):
    model = User

    def policy(self) -> ColumnElement[bool]:
        return policies.visible_users(self.ctx.viewer)


class AuditorById(RowLoader):
    model = Auditor


class ConnectionsByFactory(RowLoader):
    model = CustomerConnection
    key = "factory_id"
    many = True
    order_by = (CustomerConnection.requested_at.desc(), CustomerConnection.id.desc())

    def policy(self) -> ColumnElement[bool]:
        return policies.visible_connections(self.ctx.viewer)


class VisibleConnectionById(ConnectionsByFactory):
    key = "id"
    many = False




class FindingWithAuditById(ContextLoader):
    """A finding with its audit's factory and firm, for node(id:)."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        statement = (select(*Finding.__table__.c, Audit.factory_id, Audit.audit_firm_id)
                     .join(Audit, Audit.id == Finding.audit_id)
                     .where(Finding.id == ids_param(keys),
                            policies.visible_audits(self.ctx.viewer)))
        by_id = {row.id: row for row in await self.fetch(statement)}
        return [by_id.get(k) for k in keys]


class ActionWithPlanById(ContextLoader):
    """A corrective action with its plan's factory and audit firm, for node(id:)."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        plan = CorrectiveActionPlan
        statement = (select(*CorrectiveAction.__table__.c, plan.factory_id, Audit.audit_firm_id)
                     .join(plan, plan.id == CorrectiveAction.plan_id)
                     .join(Audit, Audit.id == plan.audit_id)
                     .where(CorrectiveAction.id == ids_param(keys),
                            policies.visible_corrective_action_plans(self.ctx.viewer)))
        by_id = {row.id: row for row in await self.fetch(statement)}
        return [by_id.get(k) for k in keys]


class FeeWithFactoryById(ContextLoader):
    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        statement = (select(*Fee.__table__.c, Application.factory_id)
                     .join(Application, Application.id == Fee.application_id)
                     .where(Fee.id == ids_param(keys), policies.visible_fees(self.ctx.viewer)))
        by_id = {row.id: row for row in await self.fetch(statement)}
        return [by_id.get(k) for k in keys]


class ConnectionsByCustomer(ConnectionsByFactory):
    key = "customer_id"


class ConnectionsBySupplier(ContextLoader):
    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        statement = (select(*CustomerConnection.__table__.c, Factory.supplier_id)
                     .join(Factory, Factory.id == CustomerConnection.factory_id)
                     .where(Factory.supplier_id == ids_param(keys),
                            policies.visible_connections(self.ctx.viewer))
                     .order_by(CustomerConnection.requested_at.desc(),
                               CustomerConnection.id.desc()))
        grouped: dict[int, list[Row[Any]]] = defaultdict(list)
        for row in await self.fetch(statement):
            grouped[row.supplier_id].append(row)
        return [grouped.get(k, []) for k in keys]
