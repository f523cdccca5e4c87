"""Who may act on a certification-workflow object: object-level rules, checked after the
operation's role (declared on the mutation) let the viewer in.

A failed rule is a business rule, not an auth failure: the resolver returns a userError and
changes nothing. Rules about audit firms are SQL conditions instead (auth.policies
visible_applications / visible_audits / visible_fees): another firm's objects are simply absent.
"""
from auth.viewer import Viewer
from db.enums import FeeKind


def owns_factory(viewer: Viewer, supplier_id: int) -> bool:
    """Only the supplier organization owning a factory applies for its certification."""
    return viewer.is_supplier and viewer.organization_id == supplier_id


def may_record_payment(viewer: Viewer, kind: FeeKind, payee_id: int) -> bool:
    """The payee records a payment: the firm its AUDIT fee, the program staff the others."""
    if kind is FeeKind.AUDIT:
        return viewer.is_audit_firm and viewer.organization_id == payee_id
    return viewer.is_program
