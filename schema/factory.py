"""Factories: public directory fields, scoped fields each declaring the scope it needs, and the
supplier's createFactory and updateFactory."""
import asyncio
import inspect
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from auth.permissions import FactoryApplications, OwnerOrProgram, Scope, roles
from db.enums import ConnectionStatus as ConnectionStatusEnum
from db.enums import Role
from db.enums import ShareScope as S
from overrides.guards import guarded
from resolvers import access_log
from resolvers import factory as factories
from resolvers.loaders import (
    ApplicationsByFactory,
    AssessmentsByFactory,
    AuditsByFactory,
    CapsByFactory,
    CertificateById,
    CertificatesByFactory,
    CertificationByFactory,
    ConnectionsByFactory,
    OrganizationById,
    VisibleFactoryById,
)
from resolvers.settled import settled
from schema.application import Application
from schema.audit import Audit, AuditConnection, AuditEdge
from schema.certificate import Certificate
from schema.common import (
    Node,
    PageInfo,
    UserError,
    cursor_int,
    cursor_moment,
    decode_cursor,
    encode_cursor,
    page_size,
)
from schema.connection import CustomerConnection, FactoryAccess
from schema.corrective_action import CorrectiveActionPlan
from schema.enums import CertificationStatus, ConnectionStatus
from schema.environment import EnvironmentalAssessment
from schema.ids import decode_as, encode_id
from schema.mutation import perform
from schema.organization import Organization


@strawberry.type(description="Who viewed what of a factory's shared data.")
class AccessLogEntry:
    organization_id: strawberry.Private[int]
    factory_id: strawberry.Private[int]
    viewed_at: datetime | None = guarded(OwnerOrProgram())
    scope: S | None = guarded(OwnerOrProgram())

    @guarded(OwnerOrProgram())
    async def organization(self, info: Info) -> Organization | None:
        return Organization.from_row(await info.context.loader(OrganizationById)
                                     .load(self.organization_id))


@strawberry.type
class AccessLogEdge:
    cursor: str
    node: AccessLogEntry


@strawberry.type
class AccessLogConnection:
    edges: list[AccessLogEdge]
    nodes: list[AccessLogEntry]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A production site. Directory fields are public for listed "
                             "factories; the rest needs the scope each field names.")
class Factory(Node):
    factory_id: strawberry.Private[int]
    supplier_id: strawberry.Private[int]
    name: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2.")
    city: str | None
    product_categories: list[str]
    listed: bool
    address: str | None = guarded(Scope(S.PROFILE))
    worker_count: int | None = guarded(Scope(S.PROFILE))
    contact_email: str | None = guarded(Scope(S.PROFILE))

    # Loader-backed fields are plain `def`s answering through `settled`: synchronously when the
    # loader already holds the value (a subscription feed primed it), else an awaitable.

    @strawberry.field
    def certification_status(self, info: Info) -> CertificationStatus:
        return settled(info.context.loader(CertificationByFactory).load(self.factory_id),
                       lambda row: CertificationStatus(row.status))  # type: ignore[return-value]

    @strawberry.field
    def certified_until(self, info: Info) -> date | None:
        return settled(info.context.loader(CertificationByFactory).load(self.factory_id),
                       lambda row: row.certified_until)  # type: ignore[return-value]

    @strawberry.field(description="The viewer's scopes for this factory; ask it first to avoid "
                                  "FORBIDDEN errors.")
    def viewer_access(self, info: Info) -> FactoryAccess:
        found = info.context.access_cache.get(self.factory_id)
        if found is not None:
            return FactoryAccess.of(found)
        return settled(asyncio.ensure_future(info.context.access(self.factory_id)),
                       FactoryAccess.of)  # type: ignore[return-value]

    @guarded(Scope(S.PROFILE), description="The supplier organization that owns this factory.")
    async def supplier(self, info: Info) -> Organization | None:
        return Organization.from_row(await info.context.loader(OrganizationById)
                                     .load(self.supplier_id))

    @guarded(Scope(S.CERTIFICATION))
    def current_certificate(self, info: Info) -> Certificate | None:
        loaders = info.context.loader

        def certificate(row: Any) -> Any:
            if row.certificate_id is None:
                return None
            return settled(loaders(CertificateById).load(row.certificate_id),
                           Certificate.from_row)

        found = settled(loaders(CertificationByFactory).load(self.factory_id), certificate)
        return _flatten(found)  # type: ignore[return-value]

    @guarded(Scope(S.CERTIFICATION))
    async def certificates(self, info: Info) -> list[Certificate] | None:
        rows = await info.context.loader(CertificatesByFactory).load(self.factory_id)
        return [Certificate.from_row(row) for row in rows]

    @guarded(FactoryApplications(), description="An audit firm sees those assigned to it.")
    async def applications(self, info: Info) -> list[Application] | None:
        rows = await info.context.loader(ApplicationsByFactory).load(self.factory_id)
        return [Application.from_row(row) for row in rows]

    @guarded(Scope(S.AUDITS), description="Newest first.")
    async def audits(self, info: Info, first: int | None = None,
                     after: str | None = None) -> AuditConnection | None:
        size, start = page_size(first), decode_cursor(after, 1, (cursor_int,))
        rows = await info.context.loader(AuditsByFactory).load(self.factory_id)
        offset = int(start[0]) if start else 0
        chosen = rows[offset:offset + size]
        edges = [AuditEdge(cursor=encode_cursor([offset + i + 1]), node=Audit.from_row(row))
                 for i, row in enumerate(chosen)]
        return AuditConnection(
            edges=edges, nodes=[e.node for e in edges], total_count=len(rows),
            page_info=PageInfo(has_next_page=offset + size < len(rows),
                               has_previous_page=offset > 0,
                               start_cursor=edges[0].cursor if edges else None,
                               end_cursor=edges[-1].cursor if edges else None))

    @guarded(Scope(S.AUDITS))
    def latest_audit(self, info: Info) -> Audit | None:
        return settled(info.context.loader(AuditsByFactory).load(self.factory_id),
                       lambda rows: Audit.from_row(rows[0]) if rows else None)  # type: ignore

    @guarded(Scope(S.CORRECTIVE_ACTIONS))
    def corrective_action_plans(self, info: Info) -> list[CorrectiveActionPlan] | None:
        return settled(info.context.loader(CapsByFactory).load(self.factory_id),
                       lambda rows: [CorrectiveActionPlan.from_row(r) for r in rows])  # type: ignore

    @guarded(Scope(S.ENVIRONMENT))
    def environmental_assessments(self, info: Info) -> list[EnvironmentalAssessment] | None:
        return settled(info.context.loader(AssessmentsByFactory).load(self.factory_id),
                       lambda rows: [EnvironmentalAssessment.from_row(r) for r in rows])  # type: ignore

    @guarded(OwnerOrProgram())
    async def connections(self, info: Info, status: ConnectionStatus | None = None
                          ) -> list[CustomerConnection] | None:
        rows = await info.context.loader(ConnectionsByFactory).load(self.factory_id)
        found = [CustomerConnection.from_row(row) for row in rows]
        wanted = ConnectionStatusEnum(status) if status else None
        return [c for c in found if wanted is None or c.status is wanted]

    @guarded(OwnerOrProgram(), description="Newest first.")
    async def access_log(self, info: Info, first: int | None = None,
                         after: str | None = None) -> AccessLogConnection | None:
        start = decode_cursor(after, 2, (cursor_moment, cursor_int))
        rows, has_next, total = await access_log.page(info.context, self.factory_id,
                                                      page_size(first), start)
        edges = [AccessLogEdge(cursor=encode_cursor([r.viewed_at.isoformat(), r.id]),
                               node=AccessLogEntry(organization_id=r.organization_id,
                                                   factory_id=self.factory_id,
                                                   viewed_at=r.viewed_at, scope=S(r.scope)))
                 for r in rows]
        return AccessLogConnection(
            edges=edges, nodes=[e.node for e in edges], total_count=total,
            page_info=PageInfo(has_next_page=has_next, has_previous_page=after is not None,
                               start_cursor=edges[0].cursor if edges else None,
                               end_cursor=edges[-1].cursor if edges else None))

    @classmethod
    def from_row(cls, row: Any) -> "Factory":
        return cls(id=strawberry.ID(encode_id("Factory", row.id)), factory_id=row.id,
                   supplier_id=row.supplier_id, name=row.name, country=row.country,
                   city=row.city, product_categories=list(row.product_categories),
                   listed=row.listed, address=row.address, worker_count=row.worker_count,
                   contact_email=row.contact_email)


def _flatten(value: Any) -> Any:
    """A value, or an awaitable that may itself yield an awaitable (two loaders in a row)."""
    if not inspect.isawaitable(value):
        return value

    async def resolved() -> Any:
        inner = await value
        return await inner if inspect.isawaitable(inner) else inner
    return resolved()


async def factory_by_id(info: Info, factory_id: int) -> Factory | None:
    row = await info.context.loader(VisibleFactoryById).load(factory_id)
    return Factory.from_row(row) if row else None


@strawberry.type
class FactoryEdge:
    cursor: str
    node: Factory


@strawberry.type
class FactoryConnection:
    edges: list[FactoryEdge]
    nodes: list[Factory]
    page_info: PageInfo
    count_statement: strawberry.Private[Any]

    @strawberry.field
    async def total_count(self, info: Info) -> int:
        from resolvers.factory import count

        return await count(info.context, self.count_statement)


# ---------------------------------------------------------------- mutations

@strawberry.input
class CreateFactoryInput:
    name: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. BD.")
    city: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    product_categories: list[str] | None = strawberry.UNSET
    worker_count: int | None = strawberry.UNSET
    contact_email: str | None = strawberry.UNSET
    listed: bool | None = strawberry.field(default=strawberry.UNSET,
                                           description="Listed in the public directory "
                                                       "(default true).")


@strawberry.input(description="Omitted fields stay as they are; null clears city, address, "
                              "workerCount and contactEmail.")
class UpdateFactoryInput:
    factory_id: strawberry.ID
    name: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    product_categories: list[str] | None = strawberry.UNSET
    worker_count: int | None = strawberry.UNSET
    contact_email: str | None = strawberry.UNSET
    listed: bool | None = strawberry.UNSET


@strawberry.type
class FactoryPayload:
    factory: Factory | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, row: Any, errors: list[UserError]) -> "FactoryPayload":
        return cls(factory=Factory.from_row(row) if row is not None else None, user_errors=errors)


def _given(input: Any, *skip: str) -> dict[str, Any]:
    """The input's fields that were sent (null included), by column name."""
    return {name: value for name, value in vars(input).items()
            if value is not strawberry.UNSET and name not in skip}


@strawberry.type
class FactoryMutation:
    @guarded(roles(Role.SUPPLIER), description="A factory of the viewer's supplier "
                                               "organization. Code: VALIDATION.")
    async def create_factory(self, info: Info, input: CreateFactoryInput) -> FactoryPayload:
        viewer = info.context.viewer
        return await perform(info, lambda session: factories.create_factory(
            session, viewer, _given(input)), FactoryPayload.of)

    @guarded(roles(Role.SUPPLIER), description="Change a factory of the viewer's own "
                                               "organization. Codes: NOT_FOUND, FORBIDDEN "
                                               "(another supplier's factory), VALIDATION.")
    async def update_factory(self, info: Info, input: UpdateFactoryInput) -> FactoryPayload:
        viewer, pk = info.context.viewer, decode_as(input.factory_id, "Factory")
        return await perform(info, lambda session: factories.update_factory(
            session, viewer, pk, _given(input, "factory_id")), FactoryPayload.of)
