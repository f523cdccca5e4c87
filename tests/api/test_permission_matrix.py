"""THE role x field matrix: every protected field, for every kind of viewer, on two paths.

The expected outcomes are written out below as a table, by hand, from ../shared/DESIGN.md ("Who
sees what"): they are not derived from the code under test, so a wrong declaration fails here.
Each field is read through `node(id:)` of its object and through `factory(id:)` and the fields
holding the object; on the second path a denial of a holding field (its own line) comes first.
The world (tests/api/world.py) is built once for the module and every viewer's outcomes are read
before the tests compare them, one test per (viewer, field).
"""
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette

from db.settings import Settings
from tests.api.matrix import ABSENT, FORBIDDEN, OK, Observer, Outcome, Route, route
from tests.api.world import matrix_world
from tests.helpers import standard_cast, truncate_all

VIEWERS = {  # column: (who, the cast member signed in)
    "an": ("anonymous", None),
    "cu": ("customer_not_connected", "customer_b_user"),  # its request to alpha is PENDING
    "PR": ("customer_with_PROFILE", "customer_profile_user"),
    "CE": ("customer_with_CERTIFICATION", "customer_certification_user"),
    "AU": ("customer_with_AUDITS", "customer_audits_user"),
    "CA": ("customer_with_CORRECTIVE_ACTIONS", "customer_corrective_actions_user"),
    "EN": ("customer_with_ENVIRONMENT", "customer_environment_user"),
    "ow": ("supplier_owner", "supplier_a_user"),
    "os": ("supplier_of_another_factory", "supplier_b_user"),
    "fa": ("auditor_of_the_performing_firm", "firm_a_user"),
    "fb": ("auditor_of_another_firm", "firm_b_user"),
    "rv": ("reviewer", "reviewer"),
    "ad": ("admin", "admin"),
}

# . ok (a value, no error)   F FORBIDDEN (null, one error naming `rule`)   - absent (no error)
EXPECTED = """
# field                                rule               an cu PR CE AU CA EN ow os fa fb rv ad
# Factory alpha (listed): directory fields, then one line per protected field
Factory.name                           -                  .  .  .  .  .  .  .  .  .  .  .  .  .
Factory.viewerAccess                   -                  .  .  .  .  .  .  .  .  .  .  .  .  .
Factory.address                        PROFILE            F  F  .  F  F  F  F  .  F  .  F  .  .
Factory.workerCount                    PROFILE            F  F  .  F  F  F  F  .  F  .  F  .  .
Factory.contactEmail                   PROFILE            F  F  .  F  F  F  F  .  F  .  F  .  .
Factory.supplier                       PROFILE            F  F  .  F  F  F  F  .  F  .  F  .  .
Factory.currentCertificate             CERTIFICATION      F  F  F  .  F  F  F  .  F  F  F  .  .
Factory.certificates                   CERTIFICATION      F  F  F  .  F  F  F  .  F  F  F  .  .
Factory.applications                   CERTIFICATION      F  F  F  .  F  F  F  .  F  .  F  .  .
Factory.audits                         AUDITS             F  F  F  F  .  F  F  .  F  .  F  .  .
Factory.latestAudit                    AUDITS             F  F  F  F  .  F  F  .  F  .  F  .  .
Factory.correctiveActionPlans          CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  F  .  .
Factory.environmentalAssessments       ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
Factory.connections                    OWNER              F  F  F  F  F  F  F  .  F  F  F  .  .
Factory.accessLog                      OWNER              F  F  F  F  F  F  F  .  F  F  F  .  .
# its application (assigned to firm_a) and fees
Application.kind                       CERTIFICATION      F  F  F  .  F  F  F  .  F  .  -  .  .
Application.status                     CERTIFICATION      F  F  F  .  F  F  F  .  F  .  -  .  .
Application.submittedAt                CERTIFICATION      F  F  F  .  F  F  F  .  F  .  -  .  .
Application.factory                    CERTIFICATION      F  F  F  .  F  F  F  .  F  .  -  .  .
Application.auditFirm                  CERTIFICATION      F  F  F  .  F  F  F  .  F  .  -  .  .
Application.fees                       OWNER              F  F  F  F  F  F  F  .  F  .  -  .  .
Application.audits                     AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Fee[registration].kind                 OWNER              F  F  F  F  F  F  F  .  F  -  -  .  .
Fee[registration].amount               OWNER              F  F  F  F  F  F  F  .  F  -  -  .  .
Fee[registration].currency             OWNER              F  F  F  F  F  F  F  .  F  -  -  .  .
Fee[registration].status               OWNER              F  F  F  F  F  F  F  .  F  -  -  .  .
Fee[registration].paidAt               OWNER              F  F  F  F  F  F  F  .  F  -  -  .  .
Fee[registration].paymentReference     OWNER              F  F  F  F  F  F  F  .  F  -  -  .  .
Fee[registration].payee                OWNER              F  F  F  F  F  F  F  .  F  -  -  .  .
Fee[audit].kind                        OWNER              F  F  F  F  F  F  F  .  F  .  -  .  .
Fee[audit].amount                      OWNER              F  F  F  F  F  F  F  .  F  .  -  .  .
Fee[audit].currency                    OWNER              F  F  F  F  F  F  F  .  F  .  -  .  .
Fee[audit].status                      OWNER              F  F  F  F  F  F  F  .  F  .  -  .  .
Fee[audit].paidAt                      OWNER              F  F  F  F  F  F  F  .  F  .  -  .  .
Fee[audit].paymentReference            OWNER              F  F  F  F  F  F  F  .  F  .  -  .  .
Fee[audit].payee                       OWNER              F  F  F  F  F  F  F  .  F  .  -  .  .
# the main audit by firm_a: UNANNOUNCED, conducted, with findings, report and plan
Audit.type                             AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.announcement                     AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.status                           AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.conductedOn                      AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.reviewedAt                       AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.factory                          AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.auditFirm                        AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.leadAuditor                      AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.findings                         AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.findingsSummary                  AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.report                           AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.reportDueOn                      AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.isReportOverdue                  AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Audit.correctiveActionPlan             CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
Audit.windowStart                      AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit.windowEnd                        AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit.plannedDate                      AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
# the plan of the other audits by firm_a, per announcement, planned or conducted
Audit[ann-planned].windowStart         AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[ann-planned].windowEnd           AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[ann-planned].plannedDate         AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[ann-conducted].windowStart       AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[ann-conducted].windowEnd         AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[ann-conducted].plannedDate       AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[semi-planned].windowStart        AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[semi-planned].windowEnd          AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[semi-planned].plannedDate        AUDITOR            F  F  F  F  F  F  F  F  F  .  -  .  .
Audit[semi-conducted].windowStart      AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[semi-conducted].windowEnd        AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[semi-conducted].plannedDate      AUDITOR            F  F  F  F  F  F  F  .  F  .  -  .  .
Audit[unann-planned].windowStart       AUDITOR            F  F  F  F  F  F  F  F  F  .  -  .  .
Audit[unann-planned].windowEnd         AUDITOR            F  F  F  F  F  F  F  F  F  .  -  .  .
Audit[unann-planned].plannedDate       AUDITOR            F  F  F  F  F  F  F  F  F  .  -  .  .
# a finding of the main audit, its corrective action plan and an action
Finding.clause                         AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Finding.category                       AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Finding.severity                       AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Finding.description                    AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
CorrectiveActionPlan.status            CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveActionPlan.submittedAt       CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveActionPlan.dueOn             CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveActionPlan.isOverdue         CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveActionPlan.audit             CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveActionPlan.actions           CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveAction.action                CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveAction.dueDate               CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveAction.status                CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveAction.agreesWithFinding     CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveAction.factoryComment        CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveAction.finding               CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
CorrectiveAction.evidence              CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
# environmental assessment, certificate
EnvironmentalAssessment.periodYear     ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
EnvironmentalAssessment.energyKwh      ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
EnvironmentalAssessment.waterM3        ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
EnvironmentalAssessment.wasteKg        ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
EnvironmentalAssessment.ghgTco2e       ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
EnvironmentalAssessment.verified       ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
EnvironmentalAssessment.factory        ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
EnvironmentalAssessment.report         ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
Certificate.number                     CERTIFICATION      F  F  F  .  F  F  F  .  F  F  F  .  .
Certificate.status                     CERTIFICATION      F  F  F  .  F  F  F  .  F  F  F  .  .
Certificate.issuedOn                   CERTIFICATION      F  F  F  .  F  F  F  .  F  F  F  .  .
Certificate.validUntil                 CERTIFICATION      F  F  F  .  F  F  F  .  F  F  F  .  .
Certificate.factory                    CERTIFICATION      F  F  F  .  F  F  F  .  F  F  F  .  .
# documents through the field holding them; by id only the uploader (firm_a) and program
Document[audit].downloadUrl            AUDITS             F  F  F  F  .  F  F  .  F  .  -  .  .
Document[evidence].downloadUrl         CORRECTIVE_ACTIONS F  F  F  F  F  .  F  .  F  .  -  .  .
Document[assessment].downloadUrl       ENVIRONMENT        F  F  F  F  F  F  .  .  F  F  F  .  .
Document[by-id].filename               HOLDING_FIELD      -  -  -  -  -  -  -  -  -  .  -  .  .
Document[by-id].downloadUrl            HOLDING_FIELD      -  -  -  -  -  -  -  -  -  .  -  .  .
# connections: PR's (accepted) and cu's (pending): each customer sees only its own
CustomerConnection[PR].status          CONNECTION_PARTY   -  -  .  -  -  -  -  .  -  -  -  .  .
CustomerConnection[PR].requestedScopes CONNECTION_PARTY   -  -  .  -  -  -  -  .  -  -  -  .  .
CustomerConnection[PR].grantedScopes   CONNECTION_PARTY   -  -  .  -  -  -  -  .  -  -  -  .  .
CustomerConnection[PR].message         CONNECTION_PARTY   -  -  .  -  -  -  -  .  -  -  -  .  .
CustomerConnection[PR].requestedAt     CONNECTION_PARTY   -  -  .  -  -  -  -  .  -  -  -  .  .
CustomerConnection[PR].respondedAt     CONNECTION_PARTY   -  -  .  -  -  -  -  .  -  -  -  .  .
CustomerConnection[PR].expiresAt       CONNECTION_PARTY   -  -  .  -  -  -  -  .  -  -  -  .  .
CustomerConnection[PR].factory         CONNECTION_PARTY   -  -  .  -  -  -  -  .  -  -  -  .  .
CustomerConnection[PR].customer        CONNECTION_PARTY   -  -  .  -  -  -  -  .  -  -  -  .  .
CustomerConnection[cu].status          CONNECTION_PARTY   -  .  -  -  -  -  -  .  -  -  -  .  .
CustomerConnection[cu].requestedScopes CONNECTION_PARTY   -  .  -  -  -  -  -  .  -  -  -  .  .
CustomerConnection[cu].grantedScopes   CONNECTION_PARTY   -  .  -  -  -  -  -  .  -  -  -  .  .
CustomerConnection[cu].message         CONNECTION_PARTY   -  .  -  -  -  -  -  .  -  -  -  .  .
CustomerConnection[cu].requestedAt     CONNECTION_PARTY   -  .  -  -  -  -  -  .  -  -  -  .  .
CustomerConnection[cu].factory         CONNECTION_PARTY   -  .  -  -  -  -  -  .  -  -  -  .  .
CustomerConnection[cu].customer        CONNECTION_PARTY   -  .  -  -  -  -  -  .  -  -  -  .  .
# access log entry (PR read PROFILE), organizations, the owner's user
AccessLogEntry.viewedAt                OWNER              F  F  F  F  F  F  F  .  F  F  F  .  .
AccessLogEntry.scope                   OWNER              F  F  F  F  F  F  F  .  F  F  F  .  .
AccessLogEntry.organization            OWNER              F  F  F  F  F  F  F  .  F  F  F  .  .
Organization[supplier].name            -                  -  -  .  -  -  -  -  .  -  .  -  .  .
Organization[PR].name                  -                  -  -  .  -  -  -  -  .  -  -  -  .  .
Organization[firm].name                -                  .  .  .  .  .  .  .  .  .  .  .  .  .
User[ow].email                         SAME_ORGANIZATION  -  -  -  -  -  -  -  .  -  -  -  .  .
User[ow].name                          SAME_ORGANIZATION  -  -  -  -  -  -  -  .  -  -  -  .  .
User[ow].role                          SAME_ORGANIZATION  -  -  -  -  -  -  -  .  -  -  -  .  .
User[ow].organization                  SAME_ORGANIZATION  -  -  -  -  -  -  -  .  -  -  -  .  .
"""


# node(id:) returns an object only to those who may reach it through a field holding it; to
# everyone else it is absent, like an id that does not exist. The first line on the node route.
NODE_EXPECTED = """
# type                                 known              an cu PR CE AU CA EN ow os fa fb rv ad
node:Application                       by-holding-field   -  -  -  .  -  -  -  .  -  .  -  .  .
node:Fee                               by-holding-field   -  -  -  -  -  -  -  .  -  .  -  .  .
node:Audit                             by-holding-field   -  -  -  -  .  .  -  .  -  .  -  .  .
node:Finding                           by-holding-field   -  -  -  -  .  .  -  .  -  .  -  .  .
node:CorrectiveActionPlan              by-holding-field   -  -  -  -  -  .  -  .  -  .  -  .  .
node:CorrectiveAction                  by-holding-field   -  -  -  -  -  .  -  .  -  .  -  .  .
node:EnvironmentalAssessment           by-holding-field   -  -  -  -  -  -  .  .  -  -  -  .  .
node:Certificate                       by-holding-field   -  -  -  .  -  -  -  .  -  -  -  .  .
"""


@dataclass(frozen=True)
class Reach:
    """How an object is reached: `node` is (world key, type, path inside the node); each chain
    lists the lines of the fields holding the object on that path."""

    node: tuple[str, str, str] | None = None
    node_chain: tuple[str, ...] = ()
    factory: str | None = None
    factory_chain: tuple[str, ...] = ()


APPLICATION, CAPS = "applications[application]", "correctiveActionPlans[cap]"
OBJECTS = {
    "Factory": Reach(("alpha", "Factory", ""), factory=""),
    "Application": Reach(("application", "Application", ""), factory=APPLICATION,
                         factory_chain=("Factory.applications",)),
    "Fee[registration]": Reach(("fee_registration", "Fee", ""),
                               factory=f"{APPLICATION}.fees[fee_registration]",
                               factory_chain=("Factory.applications", "Application.fees")),
    "Fee[audit]": Reach(("fee_audit", "Fee", ""), factory=f"{APPLICATION}.fees[fee_audit]",
                        factory_chain=("Factory.applications", "Application.fees")),
    "Audit": Reach(("audit", "Audit", ""), factory="audits.nodes[audit]",
                   factory_chain=("Factory.audits",)),
    **{f"Audit[{label}]": Reach((key, "Audit", ""), factory=f"audits.nodes[{key}]",
                                factory_chain=("Factory.audits",))
       for label, key in (("ann-planned", "audit_announced_planned"),
                          ("ann-conducted", "audit_announced_conducted"),
                          ("semi-planned", "audit_semi_announced_planned"),
                          ("semi-conducted", "audit_semi_announced_conducted"),
                          ("unann-planned", "audit_unannounced_planned"))},
    "Finding": Reach(("finding", "Finding", ""), factory="audits.nodes[audit].findings[finding]",
                     factory_chain=("Factory.audits", "Audit.findings")),
    "CorrectiveActionPlan": Reach(("cap", "CorrectiveActionPlan", ""), factory=CAPS,
                                  factory_chain=("Factory.correctiveActionPlans",)),
    "CorrectiveAction": Reach(("action", "CorrectiveAction", ""), factory=f"{CAPS}.actions[action]",
                              factory_chain=("Factory.correctiveActionPlans",
                                             "CorrectiveActionPlan.actions")),
    "EnvironmentalAssessment": Reach(("assessment", "EnvironmentalAssessment", ""),
                                     factory="environmentalAssessments[assessment]",
                                     factory_chain=("Factory.environmentalAssessments",)),
    "Certificate": Reach(("certificate", "Certificate", ""), factory="certificates[certificate]",
                         factory_chain=("Factory.certificates",)),
    "Document[audit]": Reach(("audit", "Audit", "report"), ("Audit.report",),
                             "audits.nodes[audit].report", ("Factory.audits", "Audit.report")),
    "Document[evidence]": Reach(("action", "CorrectiveAction", "evidence[evidence]"),
                                ("CorrectiveAction.evidence",),
                                f"{CAPS}.actions[action].evidence[evidence]",
                                ("Factory.correctiveActionPlans", "CorrectiveActionPlan.actions",
                                 "CorrectiveAction.evidence")),
    "Document[assessment]": Reach(("assessment", "EnvironmentalAssessment", "report"),
                                  ("EnvironmentalAssessment.report",),
                                  "environmentalAssessments[assessment].report",
                                  ("Factory.environmentalAssessments",
                                   "EnvironmentalAssessment.report")),
    "Document[by-id]": Reach(("audit_report", "Document", "")),
    "CustomerConnection[PR]": Reach(("connection_profile", "CustomerConnection", ""),
                                    factory="connections[connection_profile]",
                                    factory_chain=("Factory.connections",)),
    "CustomerConnection[cu]": Reach(("connection_pending", "CustomerConnection", ""),
                                    factory="connections[connection_pending]",
                                    factory_chain=("Factory.connections",)),
    "AccessLogEntry": Reach(factory="accessLog.nodes[#0]", factory_chain=("Factory.accessLog",)),
    "Organization[supplier]": Reach(("org_supplier_a", "Organization", ""), factory="supplier",
                                    factory_chain=("Factory.supplier",)),
    "Organization[PR]": Reach(("org_customer_profile", "Organization", ""),
                              factory="connections[connection_profile].customer",
                              factory_chain=("Factory.connections",
                                             "CustomerConnection[PR].customer")),
    "Organization[firm]": Reach(("org_firm_a", "Organization", ""),
                                factory=f"{APPLICATION}.auditFirm",
                                factory_chain=("Factory.applications", "Application.auditFirm")),
    "User[ow]": Reach(("user_supplier_a", "User", "")),
}


def _table(text: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    cells: dict[str, dict[str, str]] = {}
    rules: dict[str, str] = {}
    for line in text.strip().splitlines():
        if line.startswith("#"):
            continue
        key, rule, *marks = line.split()
        assert len(marks) == len(VIEWERS) and key not in cells, line
        cells[key], rules[key] = dict(zip(VIEWERS, marks, strict=True)), rule
    return cells, rules


CELLS, RULES = _table(EXPECTED)
NODE_CELLS, _ = _table(NODE_EXPECTED)


def _expected(viewer: str, lines: tuple[str, ...]) -> Outcome:
    """The first line along the path that is not ok decides."""
    for line in lines:
        mark = (NODE_CELLS.get(line) or CELLS[line])[viewer]
        if mark == "F":
            return FORBIDDEN, RULES[line]
        if mark == "-":
            return ABSENT
    return OK


def _routes(key: str) -> dict[str, tuple[Route, tuple[str, ...]]]:
    """The field's routes ("node", "factory") with the lines that decide on each."""
    label, leaf = key.rsplit(".", 1)
    reach = OBJECTS[label]
    found = {}
    if reach.node is not None:
        root, node_type, path = reach.node
        known = (f"node:{node_type}",) if f"node:{node_type}" in NODE_CELLS else ()
        found["node"] = (route(root, node_type, path, leaf), (*known, *reach.node_chain, key))
    if reach.factory is not None:
        found["factory"] = (route("factory", "Factory", reach.factory, leaf),
                            (*reach.factory_chain, key))
    return found


@pytest.fixture(scope="module")
async def observed(app: Starlette, settings: Settings) -> AsyncIterator[dict]:
    """Every viewer's outcome of every field on every path. Uses the app's database rather than
    the `database` fixture, so the per-test truncation does not run 1,600 times; it truncates
    once when the module is done."""
    database = app.state.database
    cast = await standard_cast(database, settings)
    world = await matrix_world(database, cast)
    probes = {(key, path): found[0] for key in CELLS for path, found in _routes(key).items()}
    outcomes = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escp.test") as client:
        for viewer, (_, who) in VIEWERS.items():
            token = cast.token(who) if who else None
            seen = await Observer(client, world, token).outcomes(probes)
            outcomes.update({(viewer, *probe): outcome for probe, outcome in seen.items()})
    yield outcomes
    await truncate_all(database)


CASES = [(viewer, key) for key in CELLS for viewer in VIEWERS]


@pytest.mark.parametrize(("viewer", "field"), CASES,
                         ids=[f"{VIEWERS[v][0]}-{k}" for v, k in CASES])
async def test_viewer_gets_the_outcome_the_table_gives(observed: dict, viewer: str,
                                                       field: str) -> None:
    for path, (_, lines) in _routes(field).items():
        assert observed[(viewer, field, path)] == _expected(viewer, lines), f"through {path}"


def test_every_object_of_the_table_is_reached_through_node_or_its_factory() -> None:
    for key in CELLS:
        assert _routes(key), key
