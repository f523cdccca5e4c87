"""Where each compiled GraphQL type's fields come from in SQL (Join Monster's idea: table and
join metadata per type), for the types below a factory.

Every object below a factory belongs to that factory, so all of them read the factory's access
row `p` (auth.access.access_select with its scopes). A type names the columns its rules read
(`rule_columns`, as the Python objects name them: an audit's `audit_firm_id`, ...); its leaves
are SQL values, its relations subqueries ordered as the loaders order them.
"""
from collections.abc import Callable
from dataclasses import dataclass, field

from resolvers.compiled.sqltext import global_id, iso_datetime

SCOPE_ORDER = ("PROFILE", "CERTIFICATION", "AUDITS", "CORRECTIVE_ACTIONS", "ENVIRONMENT")


@dataclass(frozen=True)
class Relation:
    """A child object or list: `source` is the FROM/WHERE text, `order` its ORDER BY;
    `policy` names the row policy (auth.policies) that filters it for the viewer."""

    type_name: str
    source: str
    many: bool
    order: str = ""
    policy: str | None = None


@dataclass(frozen=True)
class ObjectSql:
    leaves: dict[str, str]
    relations: dict[str, Relation] = field(default_factory=dict)
    rule_columns: dict[str, str] = field(default_factory=dict)


def _scopes_in_order(scopes: str) -> str:
    order = ", ".join(f"'{s}'" for s in SCOPE_ORDER)
    return (f"to_json(ARRAY(SELECT s FROM unnest(ARRAY[{order}]) WITH ORDINALITY o(s, n) "
            f"WHERE s = ANY({scopes}) ORDER BY n))")


FACTORY = ObjectSql(
    leaves={
        "id": global_id("Factory", "p.id"), "name": "p.name", "country": "p.country",
        "city": "p.city", "productCategories": "to_json(p.product_categories)",
        "listed": "p.listed", "address": "p.address", "workerCount": "p.worker_count",
        "contactEmail": "p.contact_email", "certificationStatus": "p.certification_status",
        "certifiedUntil": "p.certified_until",
    },
    relations={
        "viewerAccess": Relation("FactoryAccess", "", many=False),
        "currentCertificate": Relation(
            "Certificate", "certificates WHERE certificates.id = p.certificate_id", many=False),
        "certificates": Relation(
            "Certificate", "certificates WHERE certificates.factory_id = p.id", many=True,
            order="certificates.issued_on DESC, certificates.id DESC"),
        "latestAudit": Relation(
            "Audit", "audits WHERE audits.factory_id = p.id", many=False,
            order="audits.created_at DESC, audits.id DESC", policy="visible_audits"),
        "correctiveActionPlans": Relation(
            "CorrectiveActionPlan",
            "corrective_action_plans JOIN audits ON audits.id = corrective_action_plans.audit_id "
            "WHERE corrective_action_plans.factory_id = p.id", many=True,
            order="corrective_action_plans.created_at DESC, corrective_action_plans.id DESC",
            policy="visible_corrective_action_plans"),
        "environmentalAssessments": Relation(
            "EnvironmentalAssessment",
            "environmental_assessments WHERE environmental_assessments.factory_id = p.id",
            many=True, order="environmental_assessments.period_year DESC"),
    },
)

FACTORY_ACCESS = ObjectSql(leaves={"isOwner": "p.is_owner", "scopes": _scopes_in_order("p.scopes")})

CERTIFICATE = ObjectSql(leaves={
    "id": global_id("Certificate", "certificates.id"), "number": "certificates.number",
    # resolvers.certification_rules.certificate_status: ACTIVE reads EXPIRED after valid_until
    "status": "CASE WHEN certificates.status = 'ACTIVE' AND current_date > "
              "certificates.valid_until THEN 'EXPIRED' ELSE certificates.status END",
    "issuedOn": "certificates.issued_on", "validUntil": "certificates.valid_until",
})

_COUNT = "count(*) FILTER (WHERE findings.severity = '{}')"
FINDINGS_SUMMARY = ObjectSql(leaves={
    "zeroTolerance": _COUNT.format("ZERO_TOLERANCE"), "critical": _COUNT.format("CRITICAL"),
    "major": _COUNT.format("MAJOR"), "minor": _COUNT.format("MINOR"), "total": "count(*)",
})

AUDIT = ObjectSql(
    leaves={
        "id": global_id("Audit", "audits.id"), "announcement": "audits.announcement",
        "type": "audits.type", "status": "audits.status", "windowStart": "audits.window_start",
        "windowEnd": "audits.window_end", "plannedDate": "audits.planned_date",
        "conductedOn": "audits.conducted_on", "reviewedAt": iso_datetime("audits.reviewed_at"),
    },
    relations={
        # An aggregate over the audit's findings: one row even when there are none.
        "findingsSummary": Relation("FindingsSummary",
                                    "findings WHERE findings.audit_id = audits.id", many=False),
        "findings": Relation("Finding", "findings WHERE findings.audit_id = audits.id",
                             many=True, order="findings.id"),
    },
    rule_columns={"audit_firm_id": "audits.audit_firm_id",
                  "conducted_on": "audits.conducted_on", "announcement": "audits.announcement"},
)

FINDING = ObjectSql(
    leaves={"id": global_id("Finding", "findings.id"), "clause": "findings.clause",
            "category": "findings.category", "severity": "findings.severity",
            "description": "findings.description"},
    rule_columns={"audit_firm_id": "audits.audit_firm_id"},
)

PLAN = ObjectSql(
    leaves={"id": global_id("CorrectiveActionPlan", "corrective_action_plans.id"),
            "status": "corrective_action_plans.status",
            "submittedAt": iso_datetime("corrective_action_plans.submitted_at"),
            "dueOn": "corrective_action_plans.due_on"},
    relations={"actions": Relation(
        "CorrectiveAction",
        "corrective_actions WHERE corrective_actions.plan_id = corrective_action_plans.id",
        many=True, order="corrective_actions.id")},
    rule_columns={"audit_firm_id": "audits.audit_firm_id"},
)

ACTION = ObjectSql(
    leaves={"id": global_id("CorrectiveAction", "corrective_actions.id"),
            "action": "corrective_actions.action", "dueDate": "corrective_actions.due_date",
            "status": "corrective_actions.status",
            "agreesWithFinding": "corrective_actions.agrees_with_finding",
            "factoryComment": "corrective_actions.factory_comment"},
    rule_columns={"audit_firm_id": "audits.audit_firm_id"},
)

ASSESSMENT = ObjectSql(leaves={
    "id": global_id("EnvironmentalAssessment", "environmental_assessments.id"),
    "periodYear": "environmental_assessments.period_year",
    "energyKwh": "environmental_assessments.energy_kwh",
    "waterM3": "environmental_assessments.water_m3",
    "wasteKg": "environmental_assessments.waste_kg",
    "ghgTco2e": "environmental_assessments.ghg_tco2e",
    "verified": "environmental_assessments.verified",
})

OBJECTS: dict[str, ObjectSql] = {
    "Factory": FACTORY, "FactoryAccess": FACTORY_ACCESS, "Certificate": CERTIFICATE,
    "Audit": AUDIT, "FindingsSummary": FINDINGS_SUMMARY, "Finding": FINDING,
    "CorrectiveActionPlan": PLAN, "CorrectiveAction": ACTION,
    "EnvironmentalAssessment": ASSESSMENT,
}

# Guarded fields reachable from Query that the compiler does not answer: a query selecting
# one runs on the resolver path. Each says why; tests/test_compiled_rules.py keeps the list
# honest (every other guarded field must have a SQL form here).
RESOLVER_ONLY: dict[str, str] = {}
PolicyFor = Callable[[str], str]
