"""node(id:): each type resolves through the same policies and field rules as every other path.

An object whose factory the viewer may not know exists is absent; otherwise the object is
returned and its fields apply their own scope rules (FORBIDDEN where the scope is missing).
"""
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.types import Info

from resolvers import loaders as L
from schema.application import Application, Fee
from schema.audit import Audit, Finding
from schema.certificate import Certificate
from schema.common import Node
from schema.connection import CustomerConnection
from schema.corrective_action import CorrectiveAction, CorrectiveActionPlan
from schema.document import Document
from schema.environment import EnvironmentalAssessment
from schema.factory import factory_by_id
from schema.ids import decode_id
from schema.organization import Auditor, Organization, User

Resolve = Callable[[Info, int], Awaitable[Node | None]]


def _of_visible_factory(loader: type, wrap: Callable[[Any], Node]) -> Resolve:
    async def resolve(info: Info, pk: int) -> Node | None:
        row = await info.context.loader(loader).load(pk)
        if row is None or not (await info.context.access(row.factory_id)).visible:
            return None
        return wrap(row)
    return resolve


def _plain(loader: type, wrap: Callable[[Any], Node]) -> Resolve:
    async def resolve(info: Info, pk: int) -> Node | None:
        row = await info.context.loader(loader).load(pk)
        return wrap(row) if row is not None else None
    return resolve


async def _finding(info: Info, pk: int) -> Node | None:
    row = await info.context.loader(L.FindingWithAuditById).load(pk)
    if row is None or not (await info.context.access(row.factory_id)).visible:
        return None
    return Finding.from_row(row, row)  # the row carries factory_id and audit_firm_id


async def _action(info: Info, pk: int) -> Node | None:
    row = await info.context.loader(L.ActionWithPlanById).load(pk)
    if row is None or not (await info.context.access(row.factory_id)).visible:
        return None
    return CorrectiveAction.from_row(row, row)


async def _document(info: Info, pk: int) -> Node | None:
    """By id, a document is known only to the organization that uploaded it and the program;
    everyone else reaches documents through the field that holds them."""
    row = await info.context.loader(L.DocumentById).load(pk)
    viewer = info.context.viewer
    if row is None or not (viewer.is_program or row.organization_id == viewer.organization_id):
        return None
    return Document.from_row(row)


async def _factory(info: Info, pk: int) -> Node | None:
    return await factory_by_id(info, pk)


RESOLVERS: dict[str, Resolve] = {
    "Factory": _factory,
    "Certificate": _of_visible_factory(L.CertificateById, Certificate.from_row),
    "Application": _of_visible_factory(L.VisibleApplicationById, Application.from_row),
    "Fee": _of_visible_factory(L.FeeWithFactoryById, lambda r: Fee.from_row(r, r.factory_id)),
    "Audit": _of_visible_factory(L.VisibleAuditById, Audit.from_row),
    "Finding": _finding,
    "CorrectiveActionPlan": _of_visible_factory(L.VisibleCapById, CorrectiveActionPlan.from_row),
    "CorrectiveAction": _action,
    "EnvironmentalAssessment": _of_visible_factory(L.AssessmentById,
                                                   EnvironmentalAssessment.from_row),
    "CustomerConnection": _plain(L.VisibleConnectionById, CustomerConnection.from_row),
    "Organization": _plain(L.VisibleOrganizationById, Organization.from_row),
    "User": _plain(L.VisibleUserById, User.from_row),
    "Auditor": _plain(L.AuditorById, Auditor.from_row),
    "Document": _document,
}


async def resolve_node(info: Info, global_id: str) -> Node | None:
    decoded = decode_id(global_id)
    if decoded is None or decoded[0] not in RESOLVERS:
        return None
    type_name, pk = decoded
    return await RESOLVERS[type_name](info, pk)
