"""Field rules decided on their own, away from the SQL row policies that usually stand in front
of them: the firm boundary of audit data and a document's by-id rule are a second layer, so
only a test that hands a rule the row a policy would have hidden sees that layer hold.

Each case is one decision, checked in both forms (tests/auth/test_rules.py: `Rule.allows`, and
tests/auth/test_rules_sql.py: `Rule.sql` evaluated by PostgreSQL).
"""
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from auth.access import AUDIT_FIRM_SCOPES, FactoryAccess
from auth.permissions import (
    ApplicationAccess,
    ApplicationFees,
    AuditPlan,
    FactoryApplications,
    FeeAccess,
    HeldDocument,
    Rule,
    Scope,
)
from auth.viewer import Viewer
from db.enums import OrganizationKind, Role, ShareScope

FIRM, OTHER_FIRM, CUSTOMER_ORG, OTHER_ORG, FACTORY = 1, 2, 3, 4, 5

AUDIT_FIRM = Viewer(10, FIRM, OrganizationKind.AUDIT_FIRM, Role.AUDITOR)
CUSTOMER = Viewer(11, CUSTOMER_ORG, OrganizationKind.CUSTOMER, Role.CUSTOMER)
PROGRAM = Viewer(12, 6, OrganizationKind.PROGRAM, Role.REVIEWER)
ANONYMOUS = Viewer()


def access(scopes: frozenset[ShareScope] = frozenset(), *, is_owner: bool = False,
           is_program: bool = False, auditing: bool = False) -> FactoryAccess:
    return FactoryAccess(factory_id=FACTORY, visible=True, is_owner=is_owner,
                         is_program=is_program, is_auditing_firm=auditing, scopes=scopes,
                         connection_id=None)


AUDITING = access(AUDIT_FIRM_SCOPES, auditing=True)  # the firm audits the factory
CONNECTED = access(frozenset(ShareScope))  # a customer granted every scope
STRANGER = access()
PROGRAM_ACCESS = access(frozenset(ShareScope), is_program=True)


@dataclass(frozen=True)
class Case:
    name: str
    rule: Rule
    viewer: Viewer
    access: FactoryAccess
    row: dict[str, Any]  # the object's attributes (and SQL columns) beside factory_id
    allowed: bool
    held_by: ShareScope | None = None  # a document: the scope of the field holding it
    tags: tuple[str, ...] = field(default=())

    def source(self) -> SimpleNamespace:
        return SimpleNamespace(factory_id=FACTORY, held_by=self.held_by, **self.row)


AUDITS, ACTIONS = Scope(ShareScope.AUDITS), Scope(ShareScope.CORRECTIVE_ACTIONS)
UNANNOUNCED = {"conducted_on": None, "announcement": "UNANNOUNCED"}

CASES = [
    # The firm boundary: a firm's scopes cover only the audits it performs.
    Case("firm sees its own audit", AUDITS, AUDIT_FIRM, AUDITING, {"audit_firm_id": FIRM}, True),
    Case("firm never sees another firm's audit", AUDITS, AUDIT_FIRM, AUDITING,
         {"audit_firm_id": OTHER_FIRM}, False),
    Case("firm never sees another firm's plan", ACTIONS, AUDIT_FIRM, AUDITING,
         {"audit_firm_id": OTHER_FIRM}, False),
    Case("firm sees lists on the factory (row-filtered)", AUDITS, AUDIT_FIRM, AUDITING, {}, True),
    Case("a customer's audit data has no firm boundary", AUDITS, CUSTOMER, CONNECTED,
         {"audit_firm_id": OTHER_FIRM}, True),
    Case("firm sees the application assigned to it", ApplicationAccess(), AUDIT_FIRM, AUDITING,
         {"audit_firm_id": FIRM}, True),
    Case("firm never sees another firm's application", ApplicationAccess(), AUDIT_FIRM, AUDITING,
         {"audit_firm_id": OTHER_FIRM}, False),
    Case("firm never sees an unassigned application", ApplicationAccess(), AUDIT_FIRM, AUDITING,
         {"audit_firm_id": None}, False),
    Case("firm sees the fees of its application", ApplicationFees(), AUDIT_FIRM, AUDITING,
         {"audit_firm_id": FIRM}, True),
    Case("firm never sees the fees of another's", ApplicationFees(), AUDIT_FIRM, AUDITING,
         {"audit_firm_id": OTHER_FIRM}, False),
    Case("firm sees the audit fee it is paid", FeeAccess(), AUDIT_FIRM, AUDITING,
         {"payee_id": FIRM, "kind": "AUDIT"}, True),
    Case("firm never sees a fee paid to another", FeeAccess(), AUDIT_FIRM, AUDITING,
         {"payee_id": OTHER_FIRM, "kind": "AUDIT"}, False),
    Case("firm never sees a registration fee", FeeAccess(), AUDIT_FIRM, AUDITING,
         {"payee_id": FIRM, "kind": "REGISTRATION"}, False),
    Case("firm sees its unannounced audit's plan", AuditPlan(planned_date=True), AUDIT_FIRM,
         AUDITING, {"audit_firm_id": FIRM, **UNANNOUNCED}, True),
    Case("firm never sees another's unannounced plan", AuditPlan(planned_date=True), AUDIT_FIRM,
         AUDITING, {"audit_firm_id": OTHER_FIRM, **UNANNOUNCED}, False),
    Case("firm sees the applications of a factory it audits", FactoryApplications(), AUDIT_FIRM,
         AUDITING, {}, True),
    Case("firm never sees the applications of a factory it does not audit",
         FactoryApplications(), AUDIT_FIRM, access(AUDIT_FIRM_SCOPES), {}, False),
    # A document by id: the uploading organization and the program only.
    Case("by id, the uploader sees its document", HeldDocument(), CUSTOMER, STRANGER,
         {"organization_id": CUSTOMER_ORG}, True),
    Case("by id, another organization does not", HeldDocument(), CUSTOMER, CONNECTED,
         {"organization_id": OTHER_ORG}, False),
    Case("by id, an auditing firm does not", HeldDocument(), AUDIT_FIRM, AUDITING,
         {"organization_id": OTHER_ORG}, False),
    Case("by id, the program does", HeldDocument(), PROGRAM, PROGRAM_ACCESS,
         {"organization_id": OTHER_ORG}, True),
    Case("by id, the anonymous do not", HeldDocument(), ANONYMOUS, STRANGER,
         {"organization_id": OTHER_ORG}, False),
    # Held by a field: that field's scope decides, whoever uploaded it.
    Case("held, the scope of the holding field decides", HeldDocument(), CUSTOMER, CONNECTED,
         {"organization_id": OTHER_ORG}, True, held_by=ShareScope.AUDITS),
    Case("held, without the holding field's scope", HeldDocument(), CUSTOMER,
         access(frozenset({ShareScope.AUDITS})), {"organization_id": CUSTOMER_ORG}, False,
         held_by=ShareScope.ENVIRONMENT),
    Case("held, the firm boundary holds for documents too", HeldDocument(), AUDIT_FIRM, AUDITING,
         {"organization_id": FIRM, "audit_firm_id": OTHER_FIRM}, False,
         held_by=ShareScope.AUDITS),
]


@dataclass
class Ctx:
    """What a rule reads of a request: the viewer, its access to the row's factory, and where
    a customer's reads are recorded."""

    viewer: Viewer
    access: FactoryAccess
    scoped_reads: set[Any] = field(default_factory=set)

    def known_access(self, factory_id: int) -> FactoryAccess:
        assert factory_id == self.access.factory_id
        return self.access


def python_verdict(case: Case) -> bool:
    return case.rule.allows(case.source(), Ctx(case.viewer, case.access)) is True
