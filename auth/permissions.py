"""Permission rules, declared on schema fields (overrides.guards.guarded). No resolver checks a
role by hand.

A rule only decides: `allows(row, viewer, access_to)` is a pure function of the row, the viewer
and the viewer's access to the row's factory, returning a verdict; `sql(q)` is the same decision
as a SQL boolean for the compiled read path. Nothing here records, loads or raises a GraphQL
error: the guard that runs a field's rules (overrides.guards.Guard) does that, and logs a
customer's read (`reads_on`) after a rule allows it.

Every object type that belongs to a factory carries `factory_id` (and, for audit data,
`audit_firm_id`); a rule reads the viewer's access to that factory through `access_to`, which
answers from what the request loaded already (auth.access.AccessNotLoaded when it has not: the
guard then awaits the batched loader and asks again), so a check costs no query of its own and
leaf fields stay out of asyncio. A denied field resolves to null with one error at its path:
extensions {code: FORBIDDEN, requiredScope: <scope or role>}.
"""
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias

from auth.access import FactoryAccess
from auth.viewer import Viewer
from db.enums import Announcement, Role, ShareScope

# The viewer's access to a factory, by id, as the request has it loaded (raises AccessNotLoaded
# when it has not). A lookup rather than a value: most rules need no access at all for most
# viewers, and loading it for them would cost queries the answer does not need.
AccessTo: TypeAlias = Callable[[int], FactoryAccess]
# What a rule decides on: an ORM row or a schema object wrapping one, carrying `factory_id` and
# the columns the rule names (`audit_firm_id`, `customer_id`, ...).
Row: TypeAlias = Any


class Rule:
    """A named rule; `required` is what the error and the SDL say the viewer lacks.

    `allows(row, viewer, access_to)` answers True or False, or returns another Rule whose error
    to raise instead (a document names the scope of its holding field); it may raise
    AccessNotLoaded. It has no side effect.
    """

    required: str = "FORBIDDEN"
    # Who passes, in words for the SDL (after the rule's name); empty when the name says it.
    who: str = ""
    code: str = "FORBIDDEN"
    # The scope a customer's read is logged under when the rule allows it (auth.access log).
    reads: ShareScope | None = None

    @property
    def message(self) -> str:
        return f"You need {self.required} to see this field."

    @property
    def error_extensions(self) -> dict[str, str]:
        return {"code": self.code, "requiredScope": self.required}

    @property
    def description(self) -> str:
        said = f"Requires {self.required}"
        return f"{said}: {self.who}." if self.who else f"{said}."

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> "bool | Rule":
        raise NotImplementedError

    def reads_on(self, row: Row) -> ShareScope | None:
        """The scope a customer's read of `row` is logged under once this rule allowed it."""
        return self.reads

    def sql(self, q: "SqlTerms") -> str | None:
        """The same decision as `allows`, as a SQL boolean over the row and the factory access
        that `q` names (see SqlTerms); None where the rule has no SQL form, so a field holding
        it is answered by the resolver path."""
        return None

    def denial(self, q: "SqlTerms") -> "Rule":
        """The rule whose error a denial raises (a document names its holding field's)."""
        return self

    def read_scope(self, q: "SqlTerms") -> ShareScope | None:
        """The scope a customer's read is logged under when the rule allows it."""
        return self.reads


class FieldRules:
    """The rules declared on one field, in order: each must allow. The guard running them and
    the compiled read path both find a field's rules through this one declaration."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def __iter__(self) -> Any:
        return iter(self.rules)


class SqlTerms(Protocol):
    """What a rule's SQL form may read: the viewer (its kind known when the plan is built, its
    organization a parameter), the factory access row of `auth.access.access_select`, and the
    row's own columns, named as the Python objects name them (`audit_firm_id`, ...)."""

    viewer: Viewer
    org: str  # the viewer's organization id, as a SQL parameter
    scopes: str  # text[] of the viewer's scopes for the row's factory
    is_owner: str
    is_auditing_firm: str

    # The scope of the field holding a document (None for one reached by id).
    held_by: ShareScope | None

    def column(self, name: str) -> str | None:
        """The row's column `name`, or None where the Python object has no such attribute."""


def _all(*terms: str) -> str:
    return "(" + " AND ".join(terms) + ")"


def _any(*terms: str) -> str:
    return "(" + " OR ".join(terms) + ")"


TRUE, FALSE = "TRUE", "FALSE"


def _sees_private(q: SqlTerms) -> str:
    return TRUE if q.viewer.is_program else q.is_owner


class Scope(Rule):
    """The factory shares this scope with the viewer (owner and program have all scopes).

    An audit firm's scopes cover only the audits it performs: objects with another firm's
    `audit_firm_id` are denied to it.
    """

    def __init__(self, scope: ShareScope) -> None:
        self.scope = scope
        self.required = scope.value
        self.reads = scope

    @property
    def description(self) -> str:
        return f"Requires the {self.scope.value} scope."

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        access = access_to(row.factory_id)
        if self.scope not in access.scopes:
            return False
        # Audit data carries its firm; lists on the factory (audits, latestAudit, plans) carry
        # none and are row-filtered to the firm's own audits by policy instead.
        firm = getattr(row, "audit_firm_id", None)
        if viewer.is_audit_firm and firm is not None and firm != viewer.organization_id:
            return False
        return True

    def sql(self, q: SqlTerms) -> str:
        granted = f"'{self.scope.value}' = ANY({q.scopes})"
        firm = q.column("audit_firm_id")
        if q.viewer.is_audit_firm and firm is not None:
            return _all(granted, _any(f"{firm} IS NULL", f"{firm} = {q.org}"))
        return granted


# One instance per scope, for rules that delegate to a scope.
_SCOPES = {scope: Scope(scope) for scope in ShareScope}


class OwnerOrProgram(Rule):
    """The factory's own organization and the program: connections, access log."""

    required = "OWNER"
    who = "the factory's own organization and the program"

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        return access_to(row.factory_id).sees_private

    def sql(self, q: SqlTerms) -> str:
        return _sees_private(q)


class ConnectionParty(Rule):
    """A connection is seen by its two sides (the customer, the factory's owner) and the program."""

    required = "CONNECTION_PARTY"
    who = "the connection's customer, the factory's own organization and the program"

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        if viewer.is_customer:
            return row.customer_id == viewer.organization_id
        return access_to(row.factory_id).sees_private

    def sql(self, q: SqlTerms) -> str | None:
        if q.viewer.is_customer:
            customer = q.column("customer_id")
            return None if customer is None else f"{customer} = {q.org}"
        return _sees_private(q)


class ApplicationAccess(Rule):
    """CERTIFICATION on the factory, or being the audit firm the application is assigned to."""

    required = ShareScope.CERTIFICATION.value
    reads = ShareScope.CERTIFICATION

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        if viewer.is_audit_firm:
            return row.audit_firm_id == viewer.organization_id
        return _SCOPES[ShareScope.CERTIFICATION].allows(row, viewer, access_to)

    def sql(self, q: SqlTerms) -> str | None:
        if q.viewer.is_audit_firm:
            firm = q.column("audit_firm_id")
            return None if firm is None else f"{firm} IS NOT DISTINCT FROM {q.org}"
        return _SCOPES[ShareScope.CERTIFICATION].sql(q)


class FactoryApplications(Rule):
    """A factory's applications: CERTIFICATION, or an audit firm auditing the factory (whose
    list policy keeps only the applications assigned to it)."""

    required = ShareScope.CERTIFICATION.value
    reads = ShareScope.CERTIFICATION

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        if viewer.is_audit_firm:
            return access_to(row.factory_id).is_auditing_firm
        return _SCOPES[ShareScope.CERTIFICATION].allows(row, viewer, access_to)

    def sql(self, q: SqlTerms) -> str:
        if q.viewer.is_audit_firm:
            return q.is_auditing_firm
        return _SCOPES[ShareScope.CERTIFICATION].sql(q)


class FeeAccess(Rule):
    """Owner and program see fees; the audit firm sees the AUDIT fee it is payee of."""

    required = "OWNER"
    who = ("the factory's own organization and the program; an audit firm, the AUDIT fee "
           "payable to it")

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        if viewer.is_audit_firm:
            return row.payee_id == viewer.organization_id and row.kind == "AUDIT"
        return access_to(row.factory_id).sees_private

    def sql(self, q: SqlTerms) -> str | None:
        if q.viewer.is_audit_firm:
            payee, kind = q.column("payee_id"), q.column("kind")
            if payee is None or kind is None:
                return None
            return _all(f"{payee} = {q.org}", f"{kind} = 'AUDIT'")
        return _sees_private(q)


class ApplicationFees(Rule):
    """An application's fees: owner and program; the assigned firm (its AUDIT fee, by policy)."""

    required = "OWNER"
    who = ("the factory's own organization and the program; the assigned audit firm, its AUDIT "
           "fee")

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        if viewer.is_audit_firm:
            return row.audit_firm_id == viewer.organization_id
        return access_to(row.factory_id).sees_private

    def sql(self, q: SqlTerms) -> str | None:
        if q.viewer.is_audit_firm:
            firm = q.column("audit_firm_id")
            return None if firm is None else f"{firm} IS NOT DISTINCT FROM {q.org}"
        return _sees_private(q)


class AuditPlan(Rule):
    """Unannounced audits stay unannounced.

    The program and the performing firm always see the plan. The owning factory sees the window
    of ANNOUNCED and SEMI_ANNOUNCED audits and the planned date of ANNOUNCED ones, and all of it
    once the audit is conducted. Customers never see plans.
    """

    required = "AUDITOR"

    def __init__(self, planned_date: bool) -> None:
        self.planned_date = planned_date

    @property
    def description(self) -> str:
        shown = "ANNOUNCED" if self.planned_date else "ANNOUNCED or SEMI_ANNOUNCED"
        return (f"Requires {self.required}: the program and the performing firm; the factory "
                f"for {shown} audits or once conducted; never customers.")

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        if viewer.is_program or (viewer.is_audit_firm
                                 and row.audit_firm_id == viewer.organization_id):
            return True
        if not access_to(row.factory_id).is_owner:
            return False
        if row.conducted_on is not None:
            return True
        return row.announcement in self._shown()

    def _shown(self) -> set[str]:
        shown = {Announcement.ANNOUNCED.value}
        if not self.planned_date:
            shown.add(Announcement.SEMI_ANNOUNCED.value)
        return shown

    def sql(self, q: SqlTerms) -> str | None:
        firm, conducted = q.column("audit_firm_id"), q.column("conducted_on")
        announcement = q.column("announcement")
        if firm is None or conducted is None or announcement is None:
            return None
        if q.viewer.is_program:
            return TRUE
        shown = ", ".join(f"'{value}'" for value in sorted(self._shown()))
        owner = _all(q.is_owner, _any(f"{conducted} IS NOT NULL", f"{announcement} IN ({shown})"))
        if q.viewer.is_audit_firm:
            return _any(f"{firm} = {q.org}", owner)
        return owner


class SameOrganizationOrProgram(Rule):
    """A user: their own organization and the program; and the user who has just proven who
    they are (the payload of sign-in and sign-up, before any token is sent)."""

    required = "SAME_ORGANIZATION"
    who = "the user's own organization and the program"

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        if getattr(row, "proven_self", False) or viewer.is_program:
            return True
        return (viewer.organization_id is not None
                and viewer.organization_id == row.organization_id)

    def sql(self, q: SqlTerms) -> str | None:
        """Queries never carry a proven self (only sign-in and sign-up payloads do)."""
        if q.viewer.is_program:
            return TRUE
        organization = q.column("organization_id")
        if organization is None:
            return None
        return FALSE if q.viewer.organization_id is None else f"{organization} = {q.org}"


class HeldDocument(Rule):
    """A document is seen by whoever may see the field that holds it: an audit's report needs
    AUDITS, an action's evidence CORRECTIVE_ACTIONS, an assessment's report ENVIRONMENT. By id
    (node), only the organization that uploaded it and the program know it."""

    required = "HOLDING_FIELD"

    @property
    def description(self) -> str:
        return ("Requires the scope of the field holding the document; by id, the uploading "
                "organization or the program.")

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> "bool | Rule":
        if row.held_by is None:
            return viewer.is_program or (viewer.organization_id is not None
                                         and viewer.organization_id == row.organization_id)
        scope = _SCOPES[row.held_by]
        return True if scope.allows(row, viewer, access_to) else scope  # name the holding field's

    def sql(self, q: SqlTerms) -> str | None:
        if q.held_by is not None:
            return _SCOPES[q.held_by].sql(q)
        if q.viewer.is_program:
            return TRUE
        uploader = q.column("organization_id")
        if uploader is None:
            return None
        return FALSE if q.viewer.organization_id is None else f"{uploader} = {q.org}"

    def denial(self, q: SqlTerms) -> Rule:
        return _SCOPES[q.held_by] if q.held_by is not None else self

    def reads_on(self, row: Row) -> ShareScope | None:
        return row.held_by  # by id (None): the uploader's or the program's, never a customer read

    def read_scope(self, q: SqlTerms) -> ShareScope | None:
        return q.held_by


class SignedIn(Rule):
    required = "SIGNED_IN"
    who = "a person's token or an API key; anonymous callers get UNAUTHENTICATED"
    code = "UNAUTHENTICATED"

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        return viewer.is_authenticated

    def sql(self, q: SqlTerms) -> str:
        return TRUE if q.viewer.is_authenticated else FALSE


class RoleIn(Rule):
    """The viewer's role is one of these. Pair it with SignedIn first (see `roles`)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)
        self.required = "|".join(sorted(r.value for r in roles))

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        return viewer.role in self.roles

    def sql(self, q: SqlTerms) -> str:
        return TRUE if q.viewer.role in self.roles else FALSE


class ManagesKeys(Rule):
    """A person (not a key) of a supplier, customer or audit firm manages its organization's
    keys; the program's keys are its ADMINs'. Organizations have no admin role of their own."""

    required = "KEY_MANAGER"
    who = ("a person (not an API key) of a supplier, customer or audit firm, for its own "
           "organization; a program ADMIN, for the program")

    def allows(self, row: Row, viewer: Viewer, access_to: AccessTo) -> bool:
        if viewer.api_key_id is not None:
            return False
        return not viewer.is_program or viewer.role is Role.ADMIN


def roles(*allowed: Role) -> list[Rule]:
    """Anonymous callers get UNAUTHENTICATED, signed-in callers with another role FORBIDDEN."""
    return [SignedIn(), RoleIn(*allowed)]
