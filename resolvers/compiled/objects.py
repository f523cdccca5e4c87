"""Where each compiled GraphQL type's fields come from in SQL (Join Monster's idea: table and
join metadata per type), for the types below a factory.

Every object below a factory belongs to that factory, so all of them read the factory's access
row `p` (auth.access.access_select with its scopes). Texts are templates: `{t}` is the object's
own table alias, `{up}` its parent's, so a table may appear at several depths of one statement.
A type names the columns its rules read (`rule_columns`, as the Python objects name them: an
audit's `audit_firm_id`, ...); a relation may override them (`columns`, "^name" takes the
parent's). Lists are ordered exactly as the loaders order them, and filtered by the same row
policy (auth.policies), named with the table it applies to.
"""
from dataclasses import dataclass, field

from auth.viewer import Viewer
from db.enums import ShareScope
from resolvers.compiled.sqltext import global_id, iso_datetime

SCOPE_ORDER = ("PROFILE", "CERTIFICATION", "AUDITS", "CORRECTIVE_ACTIONS", "ENVIRONMENT")
SAME_FACTORY = "same factory"  # a relation back to the factory row `p` itself
OWNED_FACTORIES = "owned factories"  # Viewer.factories: a page of the supplier's own


@dataclass(frozen=True)
class Relation:
    type_name: str
    source: str  # FROM … WHERE … with `{t}` for the child's alias
    many: bool = False
    order: str = ""
    policy: tuple[str, str] | None = None  # (auth.policies function, table it filters)
    columns: dict[str, str] = field(default_factory=dict)
    # Arguments: a page ("offset" or "moment" keyset cursors), or a filter of the list
    page: str | None = None
    where: str | None = None  # a condition over the arguments' parameters `{a}_…`
    after: str | None = None  # keyset pages: the rows after the cursor's key
    # Objects of other factories: the SQL of each row's factory id (its access becomes `p`)
    enters: str | None = None
    held_by: ShareScope | None = None  # documents: the scope of the field holding them
    cursor: str | None = None  # keyset pages: the cursor's key of a row


@dataclass(frozen=True)
class ObjectSql:
    leaves: dict[str, str]
    relations: dict[str, Relation] = field(default_factory=dict)
    rule_columns: dict[str, str] = field(default_factory=dict)
    signed: frozenset[str] = frozenset()  # leaves holding a document id to sign in Python


def _scopes_in_order(scopes: str) -> str:
    order = ", ".join(f"'{s}'" for s in SCOPE_ORDER)
    return (f"to_json(ARRAY(SELECT s FROM unnest(ARRAY[{order}]) WITH ORDINALITY o(s, n) "
            f"WHERE s = ANY({scopes}) ORDER BY n))")


def _organization(column: str) -> Relation:
    return Relation("Organization", f"organizations {{t}} WHERE {{t}}.id = {column}")


def _working_days_after(start: str, n: int) -> str:
    """resolvers.certification_rules.add_working_days: the n-th Monday-to-Friday after start."""
    return (f"(SELECT d::date FROM generate_series({start} + 1, {start} + {3 * n + 3}, "
            f"interval '1 day') d WHERE extract(isodow FROM d) < 6 ORDER BY d "
            f"OFFSET {n - 1} LIMIT 1)")


REPORT_WORKING_DAYS = 7  # resolvers.certification_rules.REPORT_WORKING_DAYS (a test ties them)
_REPORT_DUE = _working_days_after("{t}.conducted_on", REPORT_WORKING_DAYS)
_FACTORY = Relation("Factory", SAME_FACTORY)
_AUDITS_OF = ("visible_audits", "audits")
# connection.effective_status: ACCEPTED reads EXPIRED once past expires_at
_EFFECTIVE = ("CASE WHEN {t}.status = 'ACCEPTED' AND {t}.expires_at <= now() THEN 'EXPIRED' "
              "ELSE {t}.status END")

FACTORY = ObjectSql(
    leaves={
        "id": global_id("Factory", "p.id"), "name": "p.name", "country": "p.country",
        "city": "p.city", "productCategories": "to_json(p.product_categories)",
        "listed": "p.listed", "address": "p.address", "workerCount": "p.worker_count",
        "contactEmail": "p.contact_email", "certificationStatus": "p.certification_status",
        "certifiedUntil": "p.certified_until",
    },
    relations={
        "viewerAccess": Relation("FactoryAccess", SAME_FACTORY),
        "supplier": _organization("p.supplier_id"),
        "currentCertificate": Relation(
            "Certificate", "certificates {t} WHERE {t}.id = p.certificate_id"),
        "certificates": Relation(
            "Certificate", "certificates {t} WHERE {t}.factory_id = p.id", many=True,
            order="{t}.issued_on DESC, {t}.id DESC"),
        "applications": Relation(
            "Application", "applications {t} WHERE {t}.factory_id = p.id", many=True,
            order="{t}.submitted_at DESC, {t}.id DESC",
            policy=("visible_applications", "applications")),
        "latestAudit": Relation(
            "Audit", "audits {t} WHERE {t}.factory_id = p.id",
            order="{t}.created_at DESC, {t}.id DESC", policy=_AUDITS_OF),
        "correctiveActionPlans": Relation(
            "CorrectiveActionPlan",
            "corrective_action_plans {t} JOIN audits {t}_a ON {t}_a.id = {t}.audit_id "
            "WHERE {t}.factory_id = p.id", many=True, order="{t}.created_at DESC, {t}.id DESC",
            policy=("visible_corrective_action_plans", "corrective_action_plans")),
        "environmentalAssessments": Relation(
            "EnvironmentalAssessment", "environmental_assessments {t} WHERE {t}.factory_id = p.id",
            many=True, order="{t}.period_year DESC"),
        "connections": Relation(
            "CustomerConnection", "customer_connections {t} WHERE {t}.factory_id = p.id",
            many=True, order="{t}.requested_at DESC, {t}.id DESC",
            policy=("visible_connections", "customer_connections"),
            where=f"(«{{a}}_status» IS NULL OR {_EFFECTIVE} = «{{a}}_status»)"),
        "audits": Relation(
            "Audit", "audits {t} WHERE {t}.factory_id = p.id", many=True,
            order="{t}.created_at DESC, {t}.id DESC", policy=_AUDITS_OF, page="offset"),
        "accessLog": Relation(
            "AccessLogEntry", "access_log {t} WHERE {t}.factory_id = p.id", many=True,
            order="{t}.viewed_at DESC, {t}.id DESC", page="moment",
            after="({t}.viewed_at, {t}.id) < («{a}_after_at», «{a}_after_id»)",
            cursor=f"json_build_array({iso_datetime('{t}.viewed_at')}, {{t}}.id)"),
    },
)

ACCESS_LOG_ENTRY = ObjectSql(
    leaves={"viewedAt": iso_datetime("{t}.viewed_at"), "scope": "{t}.scope"},
    relations={"organization": _organization("{up}.organization_id")},
)

FACTORY_ACCESS = ObjectSql(
    leaves={"isOwner": "p.is_owner", "scopes": _scopes_in_order("p.scopes")},
    relations={"connection": Relation(
        "CustomerConnection", "customer_connections {t} WHERE {t}.id = p.connection_id",
        policy=("visible_connections", "customer_connections"))},
)

ORGANIZATION = ObjectSql(leaves={
    "id": global_id("Organization", "{t}.id"), "name": "{t}.name", "kind": "{t}.kind"})

USER = ObjectSql(
    leaves={"id": global_id("User", "{t}.id"), "name": "{t}.name", "role": "{t}.role",
            "email": "{t}.email"},
    relations={"organization": _organization("{up}.organization_id")},
    rule_columns={"organization_id": "{t}.organization_id"},
)

AUDITOR = ObjectSql(
    leaves={"id": global_id("Auditor", "{t}.id"), "name": "{t}.name",
            "registrationNumber": "{t}.registration_number", "active": "{t}.active"},
    relations={"auditFirm": _organization("{up}.audit_firm_id")},
)

CERTIFICATE = ObjectSql(
    leaves={
        "id": global_id("Certificate", "{t}.id"), "number": "{t}.number",
        # resolvers.certification_rules.certificate_status: ACTIVE reads EXPIRED after valid_until
        "status": "CASE WHEN {t}.status = 'ACTIVE' AND current_date > {t}.valid_until "
                  "THEN 'EXPIRED' ELSE {t}.status END",
        "issuedOn": "{t}.issued_on", "validUntil": "{t}.valid_until",
    },
    relations={"factory": _FACTORY},
)

_COUNT = "count(*) FILTER (WHERE {{t}}.severity = '{}')"
FINDINGS_SUMMARY = ObjectSql(leaves={
    "zeroTolerance": _COUNT.format("ZERO_TOLERANCE"), "critical": _COUNT.format("CRITICAL"),
    "major": _COUNT.format("MAJOR"), "minor": _COUNT.format("MINOR"), "total": "count(*)",
})

AUDIT = ObjectSql(
    leaves={
        "id": global_id("Audit", "{t}.id"), "announcement": "{t}.announcement",
        "type": "{t}.type", "status": "{t}.status", "windowStart": "{t}.window_start",
        "windowEnd": "{t}.window_end", "plannedDate": "{t}.planned_date",
        "conductedOn": "{t}.conducted_on", "reviewedAt": iso_datetime("{t}.reviewed_at"),
        "reportDueOn": f"CASE WHEN {{t}}.conducted_on IS NOT NULL THEN {_REPORT_DUE} END",
        "isReportOverdue": f"({{t}}.conducted_on IS NOT NULL AND {{t}}.report_submitted_at "
                           f"IS NULL AND current_date > {_REPORT_DUE})",
    },
    relations={
        "factory": _FACTORY,
        "auditFirm": _organization("{up}.audit_firm_id"),
        "leadAuditor": Relation("Auditor", "auditors {t} WHERE {t}.id = {up}.lead_auditor_id"),
        # An aggregate over the audit's findings: one row even when there are none.
        "findingsSummary": Relation("FindingsSummary",
                                    "findings {t} WHERE {t}.audit_id = {up}.id"),
        "findings": Relation("Finding", "findings {t} WHERE {t}.audit_id = {up}.id",
                             many=True, order="{t}.id",
                             columns={"audit_firm_id": "{up}.audit_firm_id"}),
        "correctiveActionPlan": Relation(
            "CorrectiveActionPlan",
            "corrective_action_plans {t} JOIN audits {t}_a ON {t}_a.id = {t}.audit_id "
            "WHERE {t}.audit_id = {up}.id", order="{t}.id",
            policy=("visible_corrective_action_plans", "corrective_action_plans")),
        "report": Relation("Document", "documents {t} WHERE {t}.id = {up}.report_document_id",
                           held_by=ShareScope.AUDITS,
                           columns={"audit_firm_id": "{up}.audit_firm_id"}),
    },
    rule_columns={"audit_firm_id": "{t}.audit_firm_id", "conducted_on": "{t}.conducted_on",
                  "announcement": "{t}.announcement"},
)

FINDING = ObjectSql(
    leaves={"id": global_id("Finding", "{t}.id"), "clause": "{t}.clause",
            "category": "{t}.category", "severity": "{t}.severity",
            "description": "{t}.description"},
)

PLAN = ObjectSql(
    leaves={"id": global_id("CorrectiveActionPlan", "{t}.id"), "status": "{t}.status",
            "submittedAt": iso_datetime("{t}.submitted_at"), "dueOn": "{t}.due_on",
            # certification_rules.is_overdue: a plan is done once out of DRAFT and RETURNED
            "isOverdue": "({t}.status IN ('DRAFT', 'RETURNED') AND current_date > {t}.due_on)"},
    relations={
        "actions": Relation(
            "CorrectiveAction", "corrective_actions {t} WHERE {t}.plan_id = {up}.id",
            many=True, order="{t}.id", columns={"audit_firm_id": "^audit_firm_id"}),
        "audit": Relation("Audit", "audits {t} WHERE {t}.id = {up}.audit_id",
                          policy=_AUDITS_OF),
    },
    rule_columns={"audit_firm_id": "{t}_a.audit_firm_id"},
)

ACTION = ObjectSql(
    leaves={"id": global_id("CorrectiveAction", "{t}.id"), "action": "{t}.action",
            "dueDate": "{t}.due_date", "status": "{t}.status",
            "agreesWithFinding": "{t}.agrees_with_finding",
            "factoryComment": "{t}.factory_comment"},
    relations={
        "finding": Relation("Finding", "findings {t} WHERE {t}.id = {up}.finding_id",
                            columns={"audit_firm_id": "^audit_firm_id"}),
        "evidence": Relation(
            "Document", "corrective_action_evidence {t}_e JOIN documents {t} ON "
            "{t}.id = {t}_e.document_id WHERE {t}_e.action_id = {up}.id", many=True,
            order="{t}.id", held_by=ShareScope.CORRECTIVE_ACTIONS,
            columns={"audit_firm_id": "^audit_firm_id"}),
    },
)

ASSESSMENT = ObjectSql(
    leaves={"id": global_id("EnvironmentalAssessment", "{t}.id"),
            "periodYear": "{t}.period_year", "energyKwh": "{t}.energy_kwh",
            "waterM3": "{t}.water_m3", "wasteKg": "{t}.waste_kg", "ghgTco2e": "{t}.ghg_tco2e",
            "verified": "{t}.verified"},
    relations={"factory": _FACTORY,
               "report": Relation("Document",
                                  "documents {t} WHERE {t}.id = {up}.report_document_id",
                                  held_by=ShareScope.ENVIRONMENT)},
)

DOCUMENT = ObjectSql(
    leaves={"id": global_id("Document", "{t}.id"), "filename": "{t}.filename",
            "contentType": "{t}.content_type", "sizeBytes": "{t}.size_bytes",
            "sha256": "{t}.sha256", "downloadUrl": "{t}.id"},
    rule_columns={"organization_id": "{t}.organization_id"},
    signed=frozenset({"downloadUrl"}),
)


CONNECTION = ObjectSql(
    leaves={"id": global_id("CustomerConnection", "{t}.id"), "status": _EFFECTIVE,
            "requestedScopes": "to_json({t}.requested_scopes)",
            "grantedScopes": f"CASE WHEN {_EFFECTIVE} = 'ACCEPTED' "
                             "THEN to_json({t}.granted_scopes) ELSE '[]'::json END",
            "message": "{t}.message", "requestedAt": iso_datetime("{t}.requested_at"),
            "respondedAt": iso_datetime("{t}.responded_at"),
            "expiresAt": iso_datetime("{t}.expires_at")},
    relations={"factory": _FACTORY, "customer": _organization("{up}.customer_id")},
    rule_columns={"customer_id": "{t}.customer_id"},
)

APPLICATION = ObjectSql(
    leaves={"id": global_id("Application", "{t}.id"), "kind": "{t}.kind",
            "status": "{t}.status", "submittedAt": iso_datetime("{t}.submitted_at"),
            "assignedAt": iso_datetime("{t}.assigned_at")},
    relations={
        "factory": _FACTORY,
        "auditFirm": _organization("{up}.audit_firm_id"),
        "fees": Relation("Fee", "fees {t} WHERE {t}.application_id = {up}.id", many=True,
                         order="{t}.id", policy=("visible_fees", "fees")),
        "audits": Relation("Audit", "audits {t} WHERE {t}.application_id = {up}.id",
                           many=True, order="{t}.created_at DESC, {t}.id DESC",
                           policy=_AUDITS_OF),
        "transitions": Relation(
            "WorkflowTransition", "workflow_transitions {t} WHERE {t}.application_id = {up}.id",
            many=True, order="{t}.occurred_at, {t}.id"),
    },
    rule_columns={"audit_firm_id": "{t}.audit_firm_id"},
)

FEE = ObjectSql(
    leaves={"id": global_id("Fee", "{t}.id"), "kind": "{t}.kind", "round": "{t}.round",
            "amount": "{t}.amount::text", "amountDecimal": "{t}.amount::text", "currency": "{t}.currency", "status": "{t}.status",
            "paidAt": iso_datetime("{t}.paid_at"), "paymentReference": "{t}.payment_reference"},
    relations={"payee": _organization("{up}.payee_id")},
    rule_columns={"payee_id": "{t}.payee_id", "kind": "{t}.kind"},
)

TRANSITION = ObjectSql(
    leaves={"fromStatus": "{t}.from_status", "toStatus": "{t}.to_status",
            "occurredAt": iso_datetime("{t}.occurred_at"), "note": "{t}.note"},
    relations={
        "actor": Relation("User", "users {t} WHERE {t}.id = {up}.actor_id"),
        "actorOrganization": Relation(
            "Organization", "users {t}_u JOIN organizations {t} ON {t}.id = {t}_u.organization_id "
            "WHERE {t}_u.id = {up}.actor_id"),
    },
)

def viewer_spec(viewer: Viewer) -> ObjectSql:
    """Query.viewer for a signed-in viewer of this kind (schema.query.Viewer)."""
    ordered = {"many": True, "order": "{t}.requested_at DESC, {t}.id DESC", "enters": "{t}.factory_id",
               "policy": ("visible_connections", "customer_connections"),
               "where": f"(«{{a}}_status» IS NULL OR {_EFFECTIVE} = «{{a}}_status»)"}
    if viewer.is_customer:
        connections = Relation("CustomerConnection",
                               "customer_connections {t} WHERE {t}.customer_id = «org»", **ordered)
    elif viewer.is_supplier:
        connections = Relation(
            "CustomerConnection", "customer_connections {t} JOIN factories {t}_f ON "
            "{t}_f.id = {t}.factory_id WHERE {t}_f.supplier_id = «org»", **ordered)
    else:
        connections = Relation("CustomerConnection", "customer_connections {t} WHERE false",
                               **ordered)
    firm = "{t}.audit_firm_id = «org»" if viewer.is_audit_firm else "false"
    assignments = Relation(  # resolvers.application.assignments
        "Application", f"applications {{t}} WHERE {firm}", many=True,
        order="{t}.assigned_at DESC, {t}.id DESC", policy=("visible_applications", "applications"),
        page="assignments", enters="{t}.factory_id",
        where="(«{a}_status» IS NULL OR {t}.status = «{a}_status»)",
        after="({t}.assigned_at, {t}.id) < («{a}_after_at», «{a}_after_id»)",
        cursor=f"json_build_array({iso_datetime('{t}.assigned_at')}, {{t}}.id)")
    return ObjectSql(leaves={}, relations={
        "assignments": assignments,
        "user": Relation("User", "users {t} WHERE {t}.id = «uid»"),
        "organization": Relation("Organization", "organizations {t} WHERE {t}.id = «org»"),
        "factories": Relation("FactoryConnection", OWNED_FACTORIES),
        "connections": connections,
    })


def _by_id(type_name: str, source: str, **more: object) -> Relation:
    return Relation(type_name, source, **more)  # type: ignore[arg-type]


# node(id:): each type as its by-id loader reads it (resolvers.loaders), `«id»` the decoded key.
_CAP_BY_ID = ("corrective_action_plans {t} JOIN audits {t}_a ON {t}_a.id = {t}.audit_id "
              "WHERE {t}.id = «id»")
NODE_SOURCES: dict[str, Relation] = {
    "Certificate": _by_id("Certificate", "certificates {t} WHERE {t}.id = «id»",
                          enters="{t}.factory_id"),
    "Application": _by_id("Application", "applications {t} WHERE {t}.id = «id»",
                          enters="{t}.factory_id",
                          policy=("visible_applications", "applications")),
    "Fee": _by_id("Fee", "fees {t} JOIN applications {t}_app ON {t}_app.id = {t}.application_id "
                  "WHERE {t}.id = «id»", enters="{t}_app.factory_id",
                  policy=("visible_fees", "fees")),
    "Audit": _by_id("Audit", "audits {t} WHERE {t}.id = «id»", enters="{t}.factory_id",
                    policy=_AUDITS_OF),
    "Finding": _by_id("Finding", "findings {t} JOIN audits {t}_a ON {t}_a.id = {t}.audit_id "
                      "WHERE {t}.id = «id»", enters="{t}_a.factory_id",
                      policy=("visible_audits", "audits", "{t}_a"),
                      columns={"audit_firm_id": "{t}_a.audit_firm_id"}),
    "CorrectiveActionPlan": _by_id(
        "CorrectiveActionPlan", _CAP_BY_ID, enters="{t}.factory_id",
        policy=("visible_corrective_action_plans", "corrective_action_plans")),
    "CorrectiveAction": _by_id(
        "CorrectiveAction", "corrective_actions {t} JOIN corrective_action_plans {t}_p ON "
        "{t}_p.id = {t}.plan_id JOIN audits {t}_a ON {t}_a.id = {t}_p.audit_id "
        "WHERE {t}.id = «id»", enters="{t}_p.factory_id",
        policy=("visible_corrective_action_plans", "corrective_action_plans", "{t}_p"),
        columns={"audit_firm_id": "{t}_a.audit_firm_id"}),
    "EnvironmentalAssessment": _by_id(
        "EnvironmentalAssessment", "environmental_assessments {t} WHERE {t}.id = «id»",
        enters="{t}.factory_id"),
    "CustomerConnection": _by_id(
        "CustomerConnection", "customer_connections {t} WHERE {t}.id = «id»",
        enters="{t}.factory_id", policy=("visible_connections", "customer_connections")),
    "Organization": _by_id("Organization", "organizations {t} WHERE {t}.id = «id»",
                           policy=("visible_organizations", "organizations")),
    "User": _by_id("User", "users {t} WHERE {t}.id = «id»", policy=("visible_users", "users")),
    "Auditor": _by_id("Auditor", "auditors {t} WHERE {t}.id = «id»"),
    "Document": _by_id("Document", "documents {t} WHERE {t}.id = «id»"),
}

# schema.node: the scopes of the fields holding an object, any of which lets a viewer know it by
# its id (owner and program hold them all); applications and fees as their functions say.
_HOLDING = {"Certificate": ("CERTIFICATION",), "Audit": ("AUDITS", "CORRECTIVE_ACTIONS"),
            "Finding": ("AUDITS", "CORRECTIVE_ACTIONS"),
            "CorrectiveActionPlan": ("CORRECTIVE_ACTIONS",),
            "CorrectiveAction": ("CORRECTIVE_ACTIONS",), "EnvironmentalAssessment": ("ENVIRONMENT",)}


def knows_sql(type_name: str, viewer: Viewer) -> str:
    """schema.node's rule for objects of a factory, over the factory's access row `p`."""
    if type_name == "Application":  # certification_or_firm
        return "TRUE" if viewer.is_audit_firm else "'CERTIFICATION' = ANY(p.scopes)"
    if type_name == "Fee":  # owner_program_or_firm
        return "TRUE" if viewer.is_audit_firm or viewer.is_program else "p.is_owner"
    if type_name == "CustomerConnection":
        return "TRUE"
    held = " OR ".join(f"'{scope}' = ANY(p.scopes)" for scope in _HOLDING[type_name])
    return f"({held})"


OBJECTS: dict[str, ObjectSql] = {
    "Factory": FACTORY, "FactoryAccess": FACTORY_ACCESS, "Organization": ORGANIZATION,
    "User": USER, "Auditor": AUDITOR, "Certificate": CERTIFICATE, "Audit": AUDIT,
    "FindingsSummary": FINDINGS_SUMMARY, "Finding": FINDING, "CorrectiveActionPlan": PLAN,
    "CorrectiveAction": ACTION, "EnvironmentalAssessment": ASSESSMENT,
    "CustomerConnection": CONNECTION, "Application": APPLICATION, "Fee": FEE,
    "WorkflowTransition": TRANSITION, "AccessLogEntry": ACCESS_LOG_ENTRY,
    "Document": DOCUMENT,
}

# Guarded fields reachable from Query that the compiler does not answer: a query selecting one
# runs on the resolver path. Each says why; tests/test_compiled_rules.py holds every other
# guarded field reachable from Query to a SQL form here.
RESOLVER_ONLY: dict[str, str] = {
    "Query.apiKeys": "an organization's key list is small, read by its managers only, and "
                     "never part of a dashboard: the compiler's roots do not include it",
    "Query.webhookEndpoints": "an organization's own few webhook endpoints and their delivery "
                              "log (schema.webhooks), not factory data a dashboard reads",
}
