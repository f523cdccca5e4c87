"""Field rules decided on their own, away from the SQL row policies that usually stand in front
of them: the firm boundary of audit data and a document's by-id rule are a second layer, so
only a test that hands a rule the row a policy would have hidden sees that layer hold.

Each case is one decision, checked in both forms (tests/auth/test_rule_cases.py: `Rule.allows`,
and tests/auth/test_rule_cases_sql.py: `Rule.sql` evaluated by PostgreSQL).
"""
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

from auth.access import AUDIT_FIRM_SCOPES, FactoryAccess
from auth.permissions import (
    ApplicationAccess,
    ApplicationFees,
    AuditPlan,
    ConnectionParty,
    FactoryApplications,
    FeeAccess,
    HeldDocument,
    ManagesKeys,
    OwnerOrProgram,
    RoleIn,
    Rule,
    SameOrganizationOrProgram,
    Scope,
    SignedIn,
)
from auth.viewer import Viewer
from db.enums import OrganizationKind, Role, ShareScope

FIRM, OTHER_FIRM, CUSTOMER_ORG, OTHER_ORG, FACTORY = 1, 2, 3, 4, 5

AUDIT_FIRM = Viewer(10, FIRM, OrganizationKind.AUDIT_FIRM, Role.AUDITOR)
CUSTOMER = Viewer(11, CUSTOMER_ORG, OrganizationKind.CUSTOMER, Role.CUSTOMER)
PROGRAM = Viewer(12, 6, OrganizationKind.PROGRAM, Role.REVIEWER)
OWNER = Viewer(13, 7, OrganizationKind.SUPPLIER, Role.SUPPLIER)
ANONYMOUS = Viewer()


def access(scopes: frozenset[ShareScope] = frozenset(), *, is_owner: bool = False,
           is_program: bool = False, auditing: bool = False) -> FactoryAccess:
    return FactoryAccess(factory_id=FACTORY, visible=True, is_owner=is_owner,
                         is_program=is_program, is_auditing_firm=auditing, scopes=scopes,
                         connection_id=None)


AUDITING = access(AUDIT_FIRM_SCOPES, auditing=True)  # the firm audits the factory
OWNS = access(frozenset(ShareScope), is_owner=True)
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
    # The SQL form does not decide this case (its rows never arise in a query).
    python_only: bool = False

    def source(self) -> SimpleNamespace:
        return SimpleNamespace(factory_id=FACTORY, held_by=self.held_by, **self.row)


AUDITS, ACTIONS = Scope(ShareScope.AUDITS), Scope(ShareScope.CORRECTIVE_ACTIONS)
UNANNOUNCED = {"conducted_on": None, "announcement": "UNANNOUNCED"}
SEMI = {"conducted_on": None, "announcement": "SEMI_ANNOUNCED"}
ANNOUNCED = {"conducted_on": None, "announcement": "ANNOUNCED"}
CONDUCTED = {"conducted_on": "2026-01-05", "announcement": "UNANNOUNCED"}
PLAN, WINDOW = AuditPlan(planned_date=True), AuditPlan(planned_date=False)
CERTIFIED_ONLY = access(frozenset({ShareScope.CERTIFICATION}))

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
    # The same rules for everyone else.
    Case("a customer sees an application with CERTIFICATION", ApplicationAccess(), CUSTOMER,
         CERTIFIED_ONLY, {"audit_firm_id": OTHER_FIRM}, True),
    Case("a customer without CERTIFICATION does not", ApplicationAccess(), CUSTOMER,
         access(frozenset({ShareScope.AUDITS})), {"audit_firm_id": None}, False),
    Case("a customer sees a factory's applications with CERTIFICATION", FactoryApplications(),
         CUSTOMER, CERTIFIED_ONLY, {}, True),
    Case("a stranger does not", FactoryApplications(), CUSTOMER, STRANGER, {}, False),
    Case("the owner sees its fees", FeeAccess(), OWNER, OWNS,
         {"payee_id": OTHER_ORG, "kind": "REGISTRATION"}, True),
    Case("a connected customer never sees fees", FeeAccess(), CUSTOMER, CONNECTED,
         {"payee_id": CUSTOMER_ORG, "kind": "AUDIT"}, False),
    Case("the owner sees an application's fees", ApplicationFees(), OWNER, OWNS,
         {"audit_firm_id": FIRM}, True),
    Case("a customer never sees an application's fees", ApplicationFees(), CUSTOMER, CONNECTED,
         {"audit_firm_id": FIRM}, False),
    Case("the owner and the program see the access log", OwnerOrProgram(), PROGRAM,
         PROGRAM_ACCESS, {}, True),
    Case("a customer with every scope does not", OwnerOrProgram(), CUSTOMER, CONNECTED, {}, False),
    Case("a customer sees its own connection", ConnectionParty(), CUSTOMER, STRANGER,
         {"customer_id": CUSTOMER_ORG}, True),
    Case("a customer never sees another's", ConnectionParty(), CUSTOMER, CONNECTED,
         {"customer_id": OTHER_ORG}, False),
    Case("the owner sees its factory's connections", ConnectionParty(), OWNER, OWNS,
         {"customer_id": OTHER_ORG}, True),
    # Unannounced audits stay unannounced: the owner sees ANNOUNCED plans, the window of
    # SEMI_ANNOUNCED ones, everything once conducted; customers never see plans.
    Case("owner: an unannounced plan stays hidden", WINDOW, OWNER, OWNS,
         {"audit_firm_id": FIRM, **UNANNOUNCED}, False),
    Case("owner: a semi-announced window is shown", WINDOW, OWNER, OWNS,
         {"audit_firm_id": FIRM, **SEMI}, True),
    Case("owner: a semi-announced planned date is not", PLAN, OWNER, OWNS,
         {"audit_firm_id": FIRM, **SEMI}, False),
    Case("owner: an announced planned date is", PLAN, OWNER, OWNS,
         {"audit_firm_id": FIRM, **ANNOUNCED}, True),
    Case("owner: everything once conducted", PLAN, OWNER, OWNS,
         {"audit_firm_id": FIRM, **CONDUCTED}, True),
    Case("a customer never sees a plan", WINDOW, CUSTOMER, CONNECTED,
         {"audit_firm_id": FIRM, **ANNOUNCED}, False),
    Case("the program sees every plan", PLAN, PROGRAM, PROGRAM_ACCESS,
         {"audit_firm_id": FIRM, **UNANNOUNCED}, True),
    # Users: their own organization and the program.
    Case("a user is seen by its organization", SameOrganizationOrProgram(), CUSTOMER, STRANGER,
         {"organization_id": CUSTOMER_ORG}, True),
    Case("not by another", SameOrganizationOrProgram(), CUSTOMER, STRANGER,
         {"organization_id": OTHER_ORG}, False),
    Case("by the program", SameOrganizationOrProgram(), PROGRAM, STRANGER,
         {"organization_id": OTHER_ORG}, True),
    Case("not by the anonymous, whatever the row says", SameOrganizationOrProgram(), ANONYMOUS,
         STRANGER, {"organization_id": None}, False),
    Case("the user who has just signed in sees itself", SameOrganizationOrProgram(), ANONYMOUS,
         STRANGER, {"organization_id": OTHER_ORG, "proven_self": True}, True, python_only=True),
    Case("signed in", SignedIn(), CUSTOMER, STRANGER, {}, True),
    Case("anonymous is not signed in", SignedIn(), ANONYMOUS, STRANGER, {}, False),
    Case("a role among those named", RoleIn(Role.ADMIN, Role.REVIEWER), PROGRAM, STRANGER, {},
         True),
    Case("a role not among them", RoleIn(Role.ADMIN), PROGRAM, STRANGER, {}, False),
    # API keys: managed by the people of an organization, by the program's ADMINs; never with a
    # key. (No SQL form: mutations only.)
    Case("a person manages its organization's keys", ManagesKeys(), CUSTOMER, STRANGER, {}, True,
         python_only=True),
    Case("never with a key", ManagesKeys(), replace(CUSTOMER, api_key_id=1), STRANGER, {}, False,
         python_only=True),
    Case("a program ADMIN manages the program's", ManagesKeys(),
         Viewer(14, 6, OrganizationKind.PROGRAM, Role.ADMIN), STRANGER, {}, True,
         python_only=True),
    Case("a REVIEWER does not", ManagesKeys(), PROGRAM, STRANGER, {}, False, python_only=True),
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


def python_verdict(case: Case) -> bool:
    def access_to(factory_id: int) -> FactoryAccess:
        assert factory_id == case.access.factory_id  # the row's own factory, nothing else
        return case.access

    return case.rule.allows(case.source(), case.viewer, access_to) is True
