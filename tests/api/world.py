"""The "given" of the permission tests: a factory's whole story written straight into the database.

Builders take the session of one unit of work, so a world costs one transaction. `matrix_world`
builds, on top of the standard cast, everything the role x field matrix reads: an application of
factory "alpha" with its fees, six audits by firm_a (each announcement, planned and conducted;
the last one has findings, a report and a corrective action plan with evidence), an
environmental assessment, a certificate, one connected customer per scope and a pending request.
"""
import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db import (
    AccessLogEntry,
    Application,
    Audit,
    Certificate,
    CorrectiveAction,
    CorrectiveActionPlan,
    CustomerConnection,
    Document,
    EnvironmentalAssessment,
    Factory,
    Fee,
    Finding,
    corrective_action_evidence,
)
from db.engine import Database
from db.enums import (
    Announcement,
    ApplicationStatus,
    AuditStatus,
    ConnectionStatus,
    OrganizationKind,
    Role,
    ShareScope,
)
from schema.ids import encode_id
from tests.helpers import Cast, add_organization, add_person

TODAY = date.today()
NOW = datetime.now(UTC)
_serial = itertools.count(1)


@dataclass
class World:
    cast: Cast
    pks: dict[str, int] = field(default_factory=dict)
    gids: dict[str, str] = field(default_factory=dict)

    def keep(self, key: str, type_name: str, pk: int) -> int:
        self.pks[key], self.gids[key] = pk, encode_id(type_name, pk)
        return pk


async def add(session: AsyncSession, row: Any) -> Any:
    session.add(row)
    await session.flush()
    return row


async def document(session: AsyncSession, organization_id: int, filename: str) -> Document:
    digest = hashlib.sha256(f"{filename}{next(_serial)}".encode()).hexdigest()
    return await add(session, Document(organization_id=organization_id, filename=filename,
                                       content_type="application/pdf", size_bytes=1024,
                                       sha256=digest))


async def application(session: AsyncSession, factory_id: int, firm_id: int | None,
                      status: ApplicationStatus = ApplicationStatus.UNDER_REVIEW) -> Application:
    return await add(session, Application(factory_id=factory_id, kind="NEW", status=status.value,
                                          audit_firm_id=firm_id,
                                          assigned_at=NOW if firm_id else None))


async def fee(session: AsyncSession, app: Application, kind: str, payee_id: int) -> Fee:
    return await add(session, Fee(application_id=app.id, kind=kind, amount="1500.00",
                                  payee_id=payee_id, status="PAID", paid_at=NOW,
                                  payment_reference=f"{kind}-{app.id}"))


async def audit(session: AsyncSession, app: Application, firm_id: int, lead_id: int | None,
                announcement: Announcement, conducted: bool,
                report: Document | None = None) -> Audit:
    """Planned: a window ahead with a planned date; conducted: a window past, report submitted."""
    start = TODAY - timedelta(days=40) if conducted else TODAY + timedelta(days=10)
    return await add(session, Audit(
        application_id=app.id, factory_id=app.factory_id, audit_firm_id=firm_id,
        lead_auditor_id=lead_id, type="INITIAL_CERTIFICATION", announcement=announcement.value,
        status=(AuditStatus.REPORT_SUBMITTED if conducted else AuditStatus.SCHEDULED).value,
        window_start=start, window_end=start + timedelta(days=30),
        planned_date=start + timedelta(days=10),
        conducted_on=start + timedelta(days=10) if conducted else None,
        report_document_id=report.id if report else None,
        report_submitted_at=NOW if conducted else None, reviewed_at=NOW if conducted else None))


async def finding(session: AsyncSession, audit_row: Audit, severity: str,
                  clause: str) -> Finding:
    return await add(session, Finding(audit_id=audit_row.id, clause=clause, category="Health",
                                      severity=severity, description=f"Finding {clause}"))


async def plan(session: AsyncSession, audit_row: Audit, found: list[Finding],
               evidence: list[Document]) -> tuple[CorrectiveActionPlan, list[CorrectiveAction]]:
    cap = await add(session, CorrectiveActionPlan(
        audit_id=audit_row.id, factory_id=audit_row.factory_id, status="SUBMITTED",
        due_on=TODAY + timedelta(days=5), submitted_at=NOW))
    actions = []
    for item, doc in zip(found, evidence, strict=True):
        action = await add(session, CorrectiveAction(
            plan_id=cap.id, finding_id=item.id, action=f"Fix {item.clause}",
            due_date=TODAY + timedelta(days=30), status="DONE", agrees_with_finding=True,
            factory_comment="Done and photographed."))
        await session.execute(corrective_action_evidence.insert().values(
            action_id=action.id, document_id=doc.id))
        actions.append(action)
    return cap, actions


async def assessment(session: AsyncSession, factory_id: int,
                     report: Document | None) -> EnvironmentalAssessment:
    return await add(session, EnvironmentalAssessment(
        factory_id=factory_id, period_year=2025, energy_kwh=1.5e6, water_m3=2.0e4,
        waste_kg=3.0e4, ghg_tco2e=800.0, verified=True, verified_at=NOW,
        report_document_id=report.id if report else None))


async def certificate(session: AsyncSession, factory_id: int,
                      app: Application | None) -> Certificate:
    return await add(session, Certificate(
        number=f"C{next(_serial):06d}", factory_id=factory_id,
        application_id=app.id if app else None, status="ACTIVE",
        issued_on=TODAY - timedelta(days=30), valid_until=TODAY + timedelta(days=335)))


async def connection(session: AsyncSession, customer_id: int, factory_id: int,
                     status: ConnectionStatus, scopes: list[ShareScope]) -> CustomerConnection:
    accepted = status is ConnectionStatus.ACCEPTED
    return await add(session, CustomerConnection(
        customer_id=customer_id, factory_id=factory_id, status=status.value,
        requested_scopes=[s.value for s in scopes],
        granted_scopes=[s.value for s in scopes] if accepted else [],
        message="We source knitwear from you.", responded_at=NOW if accepted else None,
        expires_at=NOW + timedelta(days=365) if accepted else None))


async def add_customer(database: Database, cast: Cast, key: str) -> int:
    """A customer organization `key` with one user `key`_user."""
    org = await add_organization(database, cast, key, OrganizationKind.CUSTOMER)
    await add_person(database, cast, f"{key}_user", key, Role.CUSTOMER)
    return org


# One customer per scope: its connection to alpha grants that scope alone.
SCOPED_CUSTOMERS = {scope: f"customer_{scope.value.lower()}" for scope in ShareScope}
VARIANTS = [(a, conducted) for a in Announcement for conducted in (False, True)]


def variant_key(announcement: Announcement, conducted: bool) -> str:
    return f"audit_{announcement.value.lower()}_{'conducted' if conducted else 'planned'}"


async def matrix_world(database: Database, cast: Cast) -> World:
    world = World(cast)
    for key in SCOPED_CUSTOMERS.values():
        await add_customer(database, cast, key)
    org, alpha = cast.organizations, cast.factories["alpha"]
    async with database.unit_of_work() as session:
        await _certification(session, world, org, alpha)
        await _audits(session, world, org, alpha)
        report = await document(session, org["supplier_a"], "assessment-2025.pdf")
        world.keep("assessment_report", "Document", report.id)
        world.keep("assessment", "EnvironmentalAssessment",
                   (await assessment(session, alpha, report)).id)
        await _connections(session, world, org, alpha)
    return world


async def _certification(session: AsyncSession, world: World, org: dict[str, int],
                         alpha: int) -> None:
    app = await application(session, alpha, org["firm_a"])
    world.keep("application", "Application", app.id)
    world.keep("fee_registration", "Fee", (await fee(session, app, "REGISTRATION",
                                                     org["program"])).id)
    world.keep("fee_audit", "Fee", (await fee(session, app, "AUDIT", org["firm_a"])).id)
    world.keep("certificate", "Certificate", (await certificate(session, alpha, app)).id)


async def _audits(session: AsyncSession, world: World, org: dict[str, int], alpha: int) -> None:
    app = await session.get(Application, world.pks["application"])
    assert app is not None
    lead = world.cast.auditors["firm_a_lead"]
    for announcement, conducted in VARIANTS:
        if (announcement, conducted) == (Announcement.UNANNOUNCED, True):
            continue  # the main audit below is this variant
        row = await audit(session, app, org["firm_a"], lead, announcement, conducted)
        world.keep(variant_key(announcement, conducted), "Audit", row.id)
    report = await document(session, org["firm_a"], "audit-report.pdf")
    world.keep("audit_report", "Document", report.id)
    main = await audit(session, app, org["firm_a"], lead, Announcement.UNANNOUNCED, True, report)
    world.keep("audit", "Audit", main.id)
    world.keep(variant_key(Announcement.UNANNOUNCED, True), "Audit", main.id)
    found = [await finding(session, main, "MAJOR", "4.2"),
             await finding(session, main, "MINOR", "7.1")]
    world.keep("finding", "Finding", found[0].id)
    evidence = [await document(session, org["supplier_a"], f"evidence-{f.clause}.jpg")
                for f in found]
    world.keep("evidence", "Document", evidence[0].id)
    cap, actions = await plan(session, main, found, evidence)
    world.keep("cap", "CorrectiveActionPlan", cap.id)
    world.keep("action", "CorrectiveAction", actions[0].id)


async def _connections(session: AsyncSession, world: World, org: dict[str, int],
                       alpha: int) -> None:
    for scope, key in SCOPED_CUSTOMERS.items():
        row = await connection(session, org[key], alpha, ConnectionStatus.ACCEPTED, [scope])
        world.keep(f"connection_{scope.value.lower()}", "CustomerConnection", row.id)
    pending = await connection(session, org["customer_b"], alpha, ConnectionStatus.PENDING,
                               [ShareScope.PROFILE, ShareScope.AUDITS])
    world.keep("connection_pending", "CustomerConnection", pending.id)
    await add(session, AccessLogEntry(factory_id=alpha, scope=ShareScope.PROFILE.value,
                                      organization_id=org[SCOPED_CUSTOMERS[ShareScope.PROFILE]]))
    for key in ("supplier_a", "firm_a", SCOPED_CUSTOMERS[ShareScope.PROFILE]):
        world.keep(f"org_{key}", "Organization", org[key])
    world.keep("user_supplier_a", "User", world.cast.people["supplier_a_user"].user_id)
    world.keep("alpha", "Factory", alpha)


async def dashboard_factories(database: Database, cast: Cast, customer: str, n: int) -> list[int]:
    """`n` listed factories of supplier_a, each with a certificate, a conducted audit by firm_a
    with two findings, a plan with two actions, an assessment, and an ACCEPTED connection of
    `customer` granting every scope."""
    org, ids = cast.organizations, []
    async with database.unit_of_work() as session:
        for i in range(n):
            factory = await add(session, Factory(
                supplier_id=org["supplier_a"], name=f"Dashboard {i:03d}", country="BD",
                city="Dhaka", address="Plot 1", worker_count=100, listed=True,
                contact_email="a@b.test", product_categories=["knitwear"]))
            app = await application(session, factory.id, org["firm_a"])
            main = await audit(session, app, org["firm_a"], None, Announcement.UNANNOUNCED, True)
            found = [await finding(session, main, "MAJOR", "1.1"),
                     await finding(session, main, "MINOR", "1.2")]
            docs = [await document(session, org["supplier_a"], "e.pdf") for _ in found]
            await plan(session, main, found, docs)
            await assessment(session, factory.id, None)
            await certificate(session, factory.id, app)
            await connection(session, org[customer], factory.id, ConnectionStatus.ACCEPTED,
                             list(ShareScope))
            ids.append(factory.id)
    return ids
