"""Factories: public directory fields, scoped fields each declaring the scope it needs, and the
supplier's createFactory and updateFactory."""
import asyncio
import inspect
from datetime import date, datetime
from typing import Annotated, Any

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
    EDGE_CURSOR,
    EDGES,
    NODES,
    PAGE_INFO,
    TOTAL_COUNT,
    After,
    First,
    Node,
    PageInfo,
    UserError,
    cursor_int,
    cursor_moment,
    decode_cursor,
    encode_cursor,
    page_size,
    user_errors,
)
from schema.connection import CustomerConnection, FactoryAccess
from schema.corrective_action import CorrectiveActionPlan
from schema.enums import CertificationStatus, ConnectionStatus
from schema.environment import EnvironmentalAssessment
from schema.ids import decode_as, encode_id
from schema.mutation import perform
from schema.organization import Organization
from schema.user_errors import FACTORY_ERRORS


@strawberry.type(description="Who viewed what of a factory's shared data.")
class AccessLogEntry:
    organization_id: strawberry.Private[int]
    factory_id: strawberry.Private[int]
    viewed_at: datetime | None = guarded(OwnerOrProgram(), description=(
        "When the request that read the data was answered."))
    scope: S | None = guarded(OwnerOrProgram(), description="The scope of the data read.")

    @guarded(OwnerOrProgram(), description="The customer organization that read it.")
    async def organization(self, info: Info) -> Organization | None:
        return Organization.from_row(await info.context.loader(OrganizationById)
                                     .load(self.organization_id))


@strawberry.type(description="One of the access log entries of a page, with its cursor.")
class AccessLogEdge:
    cursor: str = strawberry.field(description=EDGE_CURSOR)
    node: AccessLogEntry = strawberry.field(description="The logged read.")


@strawberry.type(description="A page of access log entries (Relay connection).")
class AccessLogConnection:
    edges: list[AccessLogEdge] = strawberry.field(description=EDGES)
    nodes: list[AccessLogEntry] = strawberry.field(description=NODES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)


@strawberry.type(description="A production site. Directory fields are public for listed "
                             "factories; the rest needs the scope each field names.")
class Factory(Node):
    factory_id: strawberry.Private[int]
    supplier_id: strawberry.Private[int]
    name: str = strawberry.field(description="The site's name as the directory shows it.")
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code of the site's country, "
                                                "e.g. BD.")
    city: str | None = strawberry.field(description="The site's city; null when not given.")
    product_categories: list[str] = strawberry.field(description=(
        "What the site makes, as its supplier names it (e.g. \"knitwear\"); may be empty."))
    listed: bool = strawberry.field(description=(
        "Shown in the public directory. An unlisted factory is seen only by its owner, the "
        "program, its connected customers and the firms auditing it; it takes no requests."))
    address: str | None = guarded(Scope(S.PROFILE), description=(
        "The site's street address; null when not given."))
    worker_count: int | None = guarded(Scope(S.PROFILE), description=(
        "How many people work at the site; null when not given."))
    contact_email: str | None = guarded(Scope(S.PROFILE), description=(
        "Who to write to about the site; null when not given."))

    # Loader-backed fields are plain `def`s answering through `settled`: synchronously when the
    # loader already holds the value (a subscription feed primed it), else an awaitable.

    @strawberry.field(description="Derived from the certificates and applications, as of today "
                                  "(expiry needs no job). Public.")
    def certification_status(self, info: Info) -> CertificationStatus:
        return settled(info.context.loader(CertificationByFactory).load(self.factory_id),
                       lambda row: CertificationStatus(row.status))  # type: ignore[return-value]

    @strawberry.field(description="The last day the current certificate is valid; null without "
                                  "one or once it is revoked. Public.")
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

    @guarded(Scope(S.CERTIFICATION), description=(
        "The certificate in force or last in force (not superseded), whatever its status; "
        "null if the factory never held one."))
    def current_certificate(self, info: Info) -> Certificate | None:
        loaders = info.context.loader

        def certificate(row: Any) -> Any:
            if row.certificate_id is None:
                return None
            return settled(loaders(CertificateById).load(row.certificate_id),
                           Certificate.from_row)

        found = settled(loaders(CertificationByFactory).load(self.factory_id), certificate)
        return _flatten(found)  # type: ignore[return-value]

    @guarded(Scope(S.CERTIFICATION), description=(
        "Every certificate the factory held, superseded ones too; newest first."))
    async def certificates(self, info: Info) -> list[Certificate] | None:
        rows = await info.context.loader(CertificatesByFactory).load(self.factory_id)
        return [Certificate.from_row(row) for row in rows]

    @guarded(FactoryApplications(), description="An audit firm sees those assigned to it.")
    async def applications(self, info: Info) -> list[Application] | None:
        rows = await info.context.loader(ApplicationsByFactory).load(self.factory_id)
        return [Application.from_row(row) for row in rows]

    @guarded(Scope(S.AUDITS), description="Newest first.")
    async def audits(self, info: Info, first: First = None,
                     after: After = None) -> AuditConnection | None:
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

    @guarded(Scope(S.AUDITS), description=(
        "The most recently created audit the viewer may see; null if none."))
    def latest_audit(self, info: Info) -> Audit | None:
        return settled(info.context.loader(AuditsByFactory).load(self.factory_id),
                       lambda rows: Audit.from_row(rows[0]) if rows else None)  # type: ignore

    @guarded(Scope(S.CORRECTIVE_ACTIONS), description=(
        "The plans answering its audits' findings, newest first."))
    def corrective_action_plans(self, info: Info) -> list[CorrectiveActionPlan] | None:
        return settled(info.context.loader(CapsByFactory).load(self.factory_id),
                       lambda rows: [CorrectiveActionPlan.from_row(r) for r in rows])  # type: ignore

    @guarded(Scope(S.ENVIRONMENT), description=(
        "Its yearly assessments, the latest year first."))
    def environmental_assessments(self, info: Info) -> list[EnvironmentalAssessment] | None:
        return settled(info.context.loader(AssessmentsByFactory).load(self.factory_id),
                       lambda rows: [EnvironmentalAssessment.from_row(r) for r in rows])  # type: ignore

    @guarded(OwnerOrProgram(), description="Every customer's connection to this factory, in any "
                                           "status.")
    async def connections(self, info: Info, status: Annotated[
            ConnectionStatus | None, strawberry.argument(
                description="Only connections in this status; omitted: all.")] = None
                          ) -> list[CustomerConnection] | None:
        rows = await info.context.loader(ConnectionsByFactory).load(self.factory_id)
        found = [CustomerConnection.from_row(row) for row in rows]
        wanted = ConnectionStatusEnum(status) if status else None
        return [c for c in found if wanted is None or c.status is wanted]

    @guarded(OwnerOrProgram(), description="Which customer read which scope of this factory's "
                                           "data, and when; newest first.")
    async def access_log(self, info: Info, first: First = None,
                         after: After = None) -> AccessLogConnection | None:
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


@strawberry.type(description="One of the factories of a page, with its cursor.")
class FactoryEdge:
    cursor: str = strawberry.field(description=EDGE_CURSOR)
    node: Factory = strawberry.field(description="The factory.")


@strawberry.type(description="A page of factories (Relay connection).")
class FactoryConnection:
    edges: list[FactoryEdge] = strawberry.field(description=EDGES)
    nodes: list[Factory] = strawberry.field(description=NODES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    count_statement: strawberry.Private[Any]

    @strawberry.field(description=TOTAL_COUNT)
    async def total_count(self, info: Info) -> int:
        from resolvers.factory import count

        return await count(info.context, self.count_statement)


# ---------------------------------------------------------------- mutations

CITY = "The site's city; null: none."
ADDRESS = "The site's street address (PROFILE scope); null: none."
CATEGORIES = "What the site makes, e.g. [\"knitwear\"]: non-blank names, a bounded list."
WORKERS = "How many people work at the site (PROFILE scope), not negative; null: unknown."
CONTACT = "The site's contact email (PROFILE scope); null: none."

@strawberry.input(description="A new factory of the viewer's supplier organization.")
class CreateFactoryInput:
    name: str = strawberry.field(description="The site's name, not blank.")
    country: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. BD.")
    city: str | None = strawberry.field(default=strawberry.UNSET, description=CITY)
    address: str | None = strawberry.field(default=strawberry.UNSET, description=ADDRESS)
    product_categories: list[str] | None = strawberry.field(default=strawberry.UNSET,
                                                            description=CATEGORIES)
    worker_count: int | None = strawberry.field(default=strawberry.UNSET, description=WORKERS)
    contact_email: str | None = strawberry.field(default=strawberry.UNSET, description=CONTACT)
    listed: bool | None = strawberry.field(default=strawberry.UNSET,
                                           description="Listed in the public directory "
                                                       "(default true).")


@strawberry.input(description="Omitted fields stay as they are; null clears city, address, "
                              "workerCount and contactEmail.")
class UpdateFactoryInput:
    factory_id: strawberry.ID = strawberry.field(description="The factory to change, one of the "
                                                             "viewer's organization's.")
    name: str | None = strawberry.field(default=strawberry.UNSET,
                                        description="A new name, not blank (null is refused).")
    city: str | None = strawberry.field(default=strawberry.UNSET, description=CITY)
    address: str | None = strawberry.field(default=strawberry.UNSET, description=ADDRESS)
    product_categories: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description=CATEGORIES + " Replaces the whole list.")
    worker_count: int | None = strawberry.field(default=strawberry.UNSET, description=WORKERS)
    contact_email: str | None = strawberry.field(default=strawberry.UNSET, description=CONTACT)
    listed: bool | None = strawberry.field(default=strawberry.UNSET,
                                           description="Shown in the public directory.")


@strawberry.type(description="The answer of createFactory and updateFactory.")
class FactoryPayload:
    factory: Factory | None = strawberry.field(description="The factory as saved; null when "
                                                           "userErrors is not empty.")
    user_errors: list[UserError] = user_errors()
    factory_user_errors = FACTORY_ERRORS.field()

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
    async def create_factory(self, info: Info, input: Annotated[
            CreateFactoryInput, strawberry.argument(description="The factory's details.")]
                             ) -> FactoryPayload:
        viewer = info.context.viewer
        return await perform(info, lambda session: factories.create_factory(
            session, viewer, _given(input)), FactoryPayload.of)

    @guarded(roles(Role.SUPPLIER), description="Change a factory of the viewer's own "
                                               "organization. Codes: NOT_FOUND, FORBIDDEN "
                                               "(another supplier's factory), VALIDATION.")
    async def update_factory(self, info: Info, input: Annotated[
            UpdateFactoryInput, strawberry.argument(
                description="The factory and the fields to change.")]) -> FactoryPayload:
        viewer, pk = info.context.viewer, decode_as(input.factory_id, "Factory")
        return await perform(info, lambda session: factories.update_factory(
            session, viewer, pk, _given(input, "factory_id")), FactoryPayload.of)
