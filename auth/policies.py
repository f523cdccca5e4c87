"""Row-visibility policies: every list and every node lookup starts from one of these (SQL).

Each function returns a WHERE clause for the viewer, so rows the viewer may not know exist are
never loaded. Field-level rules (scopes) live in auth.permissions and auth.access. Which side of
a connection a viewer acts for (`connection_side`) is decided here too.
"""
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, and_, any_, exists, false, func, literal, or_, select, true

from auth.viewer import Viewer
from db import (
    Application,
    Audit,
    CorrectiveActionPlan,
    CustomerConnection,
    Factory,
    Fee,
    Organization,
    User,
)
from db.enums import ConnectionStatus, FeeKind, OrganizationKind, ShareScope


def connection_is_live(now: ColumnElement[Any] | None = None) -> ColumnElement[bool]:
    """An ACCEPTED connection that has not passed its expiry: the only kind that grants."""
    now = now if now is not None else func.now()
    return and_(
        CustomerConnection.status == ConnectionStatus.ACCEPTED.value,
        or_(CustomerConnection.expires_at.is_(None), CustomerConnection.expires_at > now),
    )


def factories_audited_by(firm_id: int) -> ColumnElement[bool]:
    assigned = exists().where(Application.factory_id == Factory.id,
                              Application.audit_firm_id == firm_id)
    audited = exists().where(Audit.factory_id == Factory.id, Audit.audit_firm_id == firm_id)
    return or_(assigned, audited)


def factories_connected_to(customer_id: int) -> ColumnElement[bool]:
    return exists().where(CustomerConnection.factory_id == Factory.id,
                          CustomerConnection.customer_id == customer_id, connection_is_live())


def owned_factories(viewer: Viewer) -> ColumnElement[bool]:
    """The factories of the viewer's own supplier organization: only its members change them."""
    if viewer.is_supplier and viewer.organization_id is not None:
        return Factory.supplier_id == viewer.organization_id
    return false()


def visible_factories(viewer: Viewer) -> ColumnElement[bool]:
    """Listed factories for everyone; unlisted ones for those entitled to them."""
    if viewer.is_program:
        return true()
    listed = Factory.listed.is_(True)
    if viewer.organization_id is None:
        return listed
    if viewer.is_supplier:
        return or_(listed, owned_factories(viewer))
    if viewer.is_audit_firm:
        return or_(listed, factories_audited_by(viewer.organization_id))
    if viewer.is_customer:
        return or_(listed, factories_connected_to(viewer.organization_id))
    return listed


def visible_audits(viewer: Viewer) -> ColumnElement[bool]:
    """An audit firm sees only the audits it performs; others are filtered by factory scope."""
    if viewer.is_audit_firm:
        return Audit.audit_firm_id == viewer.organization_id
    return true()


def visible_corrective_action_plans(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.is_audit_firm:
        return CorrectiveActionPlan.audit_id.in_(
            select(Audit.id).where(Audit.audit_firm_id == viewer.organization_id))
    return true()


def visible_applications(viewer: Viewer) -> ColumnElement[bool]:
    """Applications through a factory's CERTIFICATION scope, or the firm they are assigned to."""
    if viewer.is_audit_firm:
        return Application.audit_firm_id == viewer.organization_id
    return true()


def visible_fees(viewer: Viewer) -> ColumnElement[bool]:
    """A firm sees only the AUDIT fees it is payee of; the rest is for owner and program."""
    if viewer.is_audit_firm:
        return and_(Fee.kind == FeeKind.AUDIT.value, Fee.payee_id == viewer.organization_id)
    return true()


def visible_connections(viewer: Viewer) -> ColumnElement[bool]:
    """A customer sees its own connections; a supplier those of its factories; the program all."""
    if viewer.is_program:
        return true()
    if viewer.is_customer:
        # Its own, but only to factories it may know exist: once a connection to an unlisted
        # factory has ended, the factory and the connection to it are absent alike.
        return and_(CustomerConnection.customer_id == viewer.organization_id,
                    CustomerConnection.factory_id.in_(
                        select(Factory.id).where(visible_factories(viewer))))
    if viewer.is_supplier:
        return CustomerConnection.factory_id.in_(
            select(Factory.id).where(Factory.supplier_id == viewer.organization_id))
    return false()


class ConnectionSide(Enum):
    FACTORY = "FACTORY"
    CUSTOMER = "CUSTOMER"


def connection_side(viewer: Viewer, *, customer_id: int,
                    factory_supplier_id: int) -> ConnectionSide | None:
    """The side of a connection the viewer acts for: the factory's owner or the customer.

    None for everyone else, the program included: it sees every connection but is party to
    none, so it may not respond to, change or end one.
    """
    if viewer.organization_id is None:
        return None
    if viewer.is_supplier and factory_supplier_id == viewer.organization_id:
        return ConnectionSide.FACTORY
    if viewer.is_customer and customer_id == viewer.organization_id:
        return ConnectionSide.CUSTOMER
    return None


def visible_organizations(viewer: Viewer) -> ColumnElement[bool]:
    """The program and audit firms are public; others: members, counterparts, the program.

    Counterparts are the ones the viewer reaches on another path: a supplier sees the customers
    connected (or asking to connect) to its factories; a customer the owner of a factory whose
    live connection grants PROFILE (Factory.supplier needs PROFILE); an audit firm the owners
    of the factories it audits.
    """
    public = Organization.kind.in_([OrganizationKind.PROGRAM.value,
                                    OrganizationKind.AUDIT_FIRM.value])
    if viewer.is_program:
        return true()
    if viewer.organization_id is None:
        return public
    return or_(public, Organization.id == viewer.organization_id, _counterparts(viewer))


def _counterparts(viewer: Viewer) -> ColumnElement[bool]:
    org = viewer.organization_id
    if viewer.is_supplier:
        return Organization.id.in_(
            select(CustomerConnection.customer_id).where(visible_connections(viewer)))
    if viewer.is_customer:
        return Organization.id.in_(
            select(Factory.supplier_id).join(
                CustomerConnection, CustomerConnection.factory_id == Factory.id
            ).where(CustomerConnection.customer_id == org, connection_is_live(),
                    literal(ShareScope.PROFILE.value) == any_(CustomerConnection.granted_scopes)))
    if viewer.is_audit_firm and org is not None:
        return Organization.id.in_(select(Factory.supplier_id).where(factories_audited_by(org)))
    return false()


def visible_users(viewer: Viewer) -> ColumnElement[bool]:
    """Users are visible to themselves, their own organization and the program."""
    if viewer.is_program:
        return true()
    if viewer.organization_id is None:
        return false()
    return User.organization_id == viewer.organization_id
