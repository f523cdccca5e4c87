"""node(id:): each type resolves through the same policies and field rules as every other path.

An object is returned only to a viewer who may reach it through a field holding it (an audit
through a factory's `audits` with AUDITS, or a plan's `audit` with CORRECTIVE_ACTIONS); to
everyone else it is absent, exactly like an id that does not exist, so ids cannot be used to
count another organization's audits or findings. A returned object's fields apply their own
rules (FORBIDDEN where the scope is missing).
"""
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.types import Info

from auth.access import FactoryAccess
from auth.viewer import Viewer
from db.enums import ShareScope
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
# Who may know an object of a factory by its id, from the viewer's access to that factory.
Knows = Callable[[FactoryAccess, Viewer], bool]


def holding(*scopes: ShareScope) -> Knows:
    """A viewer with one of the scopes of the fields holding the object (owner and program have
    all). An audit firm's scopes reach only its own audit data: the loaders' row policies have
    already left out every other firm's."""
    wanted = frozenset(scopes)
    return lambda access, viewer: bool(wanted & access.scopes)


def certification_or_firm(access: FactoryAccess, viewer: Viewer) -> bool:
    """Applications: CERTIFICATION; an audit firm knows the ones its row policy leaves it (those
    assigned to it)."""
    return ShareScope.CERTIFICATION in access.scopes or viewer.is_audit_firm


def owner_program_or_firm(access: FactoryAccess, viewer: Viewer) -> bool:
    """Fees: owner and program; an audit firm knows the ones its row policy leaves it (the
    AUDIT fees it is paid)."""
    return access.sees_private or viewer.is_audit_firm


def _of_factory(loader: type, knows: Knows, wrap: Callable[[Any], Node]) -> Resolve:
    async def resolve(info: Info, pk: int) -> Node | None:
        row = await info.context.loader(loader).load(pk)
        if row is None or not knows(await info.context.access(row.factory_id),
                                    info.context.viewer):
            return None
        return wrap(row)
    return resolve


def _plain(loader: type, wrap: Callable[[Any], Node]) -> Resolve:
    async def resolve(info: Info, pk: int) -> Node | None:
        row = await info.context.loader(loader).load(pk)
        return wrap(row) if row is not None else None
    return resolve


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


AUDITS, CERTIFICATION = ShareScope.AUDITS, ShareScope.CERTIFICATION
CORRECTIVE_ACTIONS, ENVIRONMENT = ShareScope.CORRECTIVE_ACTIONS, ShareScope.ENVIRONMENT

RESOLVERS: dict[str, Resolve] = {
    "Factory": _factory,
    "Certificate": _of_factory(L.CertificateById, holding(CERTIFICATION), Certificate.from_row),
    "Application": _of_factory(L.VisibleApplicationById, certification_or_firm,
                               Application.from_row),
    "Fee": _of_factory(L.FeeWithFactoryById, owner_program_or_firm,
                       lambda r: Fee.from_row(r, r.factory_id)),
    # CorrectiveActionPlan.audit and CorrectiveAction.finding hold audit data too.
    "Audit": _of_factory(L.VisibleAuditById, holding(AUDITS, CORRECTIVE_ACTIONS), Audit.from_row),
    # The rows carry factory_id and audit_firm_id.
    "Finding": _of_factory(L.FindingWithAuditById, holding(AUDITS, CORRECTIVE_ACTIONS),
                           lambda r: Finding.from_row(r, r)),
    "CorrectiveActionPlan": _of_factory(L.VisibleCapById, holding(CORRECTIVE_ACTIONS),
                                        CorrectiveActionPlan.from_row),
    "CorrectiveAction": _of_factory(L.ActionWithPlanById, holding(CORRECTIVE_ACTIONS),
                                    lambda r: CorrectiveAction.from_row(r, r)),
    "EnvironmentalAssessment": _of_factory(L.AssessmentById, holding(ENVIRONMENT),
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
