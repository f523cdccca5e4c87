"""The Query root and the Viewer."""
from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers import application as applications
from resolvers import factory as factories
from resolvers import verification
from resolvers.factory import FactoryFilter as Filter
from resolvers.loaders import ConnectionsByCustomer, ConnectionsBySupplier, UserById
from schema.application import Application, ApplicationConnection, ApplicationEdge
from schema.certificate import AuditorVerification, CertificateVerification
from schema.common import (
    After,
    First,
    Node,
    PageInfo,
    cursor_int,
    cursor_text,
    decode_cursor,
    encode_cursor,
    page_size,
)
from schema.connection import CustomerConnection
from schema.enums import ApplicationStatus, CertificationStatus, ConnectionStatus
from schema.factory import Factory, FactoryConnection, FactoryEdge, factory_by_id
from schema.ids import decode_as
from schema.node import resolve_node
from schema.organization import Organization, User, organization


@strawberry.input(description="Narrows the factory directory; every field given must hold.")
class FactoryFilter:
    search: str | None = strawberry.field(default=None,
                                          description="Name or city, case-insensitive.")
    country: str | None = strawberry.field(default=None, description=(
        "ISO 3166-1 alpha-2 code: only factories in that country."))
    certification_status: CertificationStatus | None = strawberry.field(
        default=None, description="Only factories with this certification status.")
    connected_only: bool | None = strawberry.field(
        default=None, description="Customers: only factories connected to the viewer's "
                                  "organization.")


async def factory_page(info: Info, first: int | None, after: str | None,
                       f: Filter) -> FactoryConnection:
    size, start = page_size(first), decode_cursor(after, 2, (cursor_text, cursor_int))
    page = await factories.list_factories(info.context, size, start, f)
    # One batch for the whole page, so each field's rule decides without waiting.
    await info.context.load_access([row.id for row in page.rows])
    edges = [FactoryEdge(cursor=encode_cursor([row.name, row.id]), node=Factory.from_row(row))
             for row in page.rows]
    return FactoryConnection(
        edges=edges, nodes=[e.node for e in edges], count_statement=page.count_statement,
        page_info=PageInfo(has_next_page=page.has_next_page,
                           has_previous_page=page.has_previous_page,
                           start_cursor=edges[0].cursor if edges else None,
                           end_cursor=edges[-1].cursor if edges else None))


async def assignment_page(info: Info, first: int | None, after: str | None,
                          status: ApplicationStatus | None) -> ApplicationConnection:
    size, start = page_size(first), decode_cursor(after, 2)
    page = await applications.assignments(info.context, size, start, status)
    edges = [ApplicationEdge(cursor=encode_cursor([row.assigned_at.isoformat(), row.id]),
                             node=Application.from_row(row)) for row in page.rows]
    return ApplicationConnection(
        edges=edges, nodes=[e.node for e in edges], total_count=page.total_count,
        page_info=PageInfo(has_next_page=page.has_next_page,
                           has_previous_page=after is not None,
                           start_cursor=edges[0].cursor if edges else None,
                           end_cursor=edges[-1].cursor if edges else None))


def _connections_of(rows: list, status: ConnectionStatus | None) -> list[CustomerConnection]:
    found = [CustomerConnection.from_row(row) for row in rows]
    return [c for c in found if status is None or c.status == status]


@strawberry.type(description="The signed-in user and their organization.")
class Viewer:
    user_id: strawberry.Private[int]
    organization_id: strawberry.Private[int]

    @strawberry.field(description="The signed-in user.")
    async def user(self, info: Info) -> User:
        return User.from_row(await info.context.loader(UserById).load(self.user_id))

    @strawberry.field(description="The organization the user belongs to and acts for.")
    async def organization(self, info: Info) -> Organization:
        return await organization(info, self.organization_id)  # type: ignore[return-value]

    @strawberry.field(description="Suppliers: the factories they own, listed or not.")
    async def factories(self, info: Info, first: First = None,
                        after: After = None) -> FactoryConnection:
        return await factory_page(info, first, after, Filter(owned_only=True))

    @strawberry.field(description="Customers: their requests; suppliers: their factories'.")
    async def connections(self, info: Info, status: Annotated[
            ConnectionStatus | None, strawberry.argument(
                description="Only connections in this status; omitted: all.")] = None
                          ) -> list[CustomerConnection]:
        viewer = info.context.viewer
        if viewer.is_customer:
            rows = await info.context.loader(ConnectionsByCustomer).load(self.organization_id)
        elif viewer.is_supplier:
            rows = await info.context.loader(ConnectionsBySupplier).load(self.organization_id)
        else:
            rows = []
        return _connections_of(rows, status)

    @strawberry.field(description="Audit firms: the applications assigned to the firm, most "
                                  "recently assigned first. Empty for everyone else.")
    async def assignments(self, info: Info, first: First = None, after: After = None,
                          status: Annotated[ApplicationStatus | None, strawberry.argument(
                              description="Only applications in this status; omitted: all.")
                          ] = None) -> ApplicationConnection:
        return await assignment_page(info, first, after, status)


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global ID, with the same permissions as "
                                  "every other path; null for an ID the viewer may not see, of "
                                  "an unknown type, or of nothing.")
    async def node(self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(
            description="A global ID as the API gave it.")]) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="Null when not signed in.")
    def viewer(self, info: Info) -> Viewer | None:
        v = info.context.viewer
        if not v.is_authenticated:
            return None
        return Viewer(user_id=v.user_id, organization_id=v.organization_id)

    @strawberry.field(description="A factory by its ID; null for an unlisted factory the viewer "
                                  "may not see, or an ID that is not a factory's.")
    async def factory(self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(
            description="The factory's global ID.")]) -> Factory | None:
        pk = decode_as(id, "Factory")
        return await factory_by_id(info, pk) if pk is not None else None

    @strawberry.field(description="The directory: listed factories, plus those the viewer is "
                                  "entitled to. Ordered by name; first is 1..100 (default 20).")
    async def factories(self, info: Info, first: First = None, after: After = None,
                        filter: Annotated[FactoryFilter | None, strawberry.argument(
                            description="Narrows the list; omitted: every factory the viewer "
                                        "may see.")] = None) -> FactoryConnection:
        f = filter or FactoryFilter()
        return await factory_page(info, first, after, Filter(
            search=f.search, country=f.country, certification_status=f.certification_status,
            connected_only=bool(f.connected_only)))

    @strawberry.field(description="Is this certificate genuine and valid today? Public, no "
                                  "sign-in needed; null when no certificate has that number.")
    async def verify_certificate(self, info: Info, number: Annotated[str, strawberry.argument(
            description="The certificate number as printed on the seal, e.g. C001234.")]
                                 ) -> CertificateVerification | None:
        found = await verification.certificate(info.context, number)
        return CertificateVerification(**found) if found else None

    @strawberry.field(description="Is this auditor accredited, and with which firm? Public, no "
                                  "sign-in needed; null when no auditor has that number.")
    async def verify_auditor(self, info: Info, registration_number: Annotated[
            str, strawberry.argument(description="The auditor's registration number.")]
                             ) -> AuditorVerification | None:
        found = await verification.auditor(info.context, registration_number)
        return AuditorVerification(**found) if found else None

    @strawberry.field(description="Public list of active accredited audit firms.")
    async def audit_firms(self, info: Info) -> list[Organization]:
        return [Organization.from_row(row) for row in await verification.audit_firms(info.context)]
