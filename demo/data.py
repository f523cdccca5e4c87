"""`escp demo`: a small, idempotent demo data set, and the logins to try it with.

Run it twice and nothing doubles: each piece is looked up by its natural key first. Connections
and certification stages are made through the API's own resolver functions, each step by the
user who does it in reality, so the demo data obeys every rule the API does.
"""
from datetime import timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from db import Application, Auditor, CustomerConnection, Factory, Organization, User
from db.engine import Database
from db.enums import ConnectionStatus, OrganizationKind, Role, ShareScope
from db.settings import Settings
from demo.workflow import (
    ASSIGNED,
    CERTIFIED,
    FOLLOWED_UP_AND_CERTIFIED,
    REJECTED_THEN_REAPPLIED,
    SCHEDULED,
    SUBMITTED,
    SUSPENDED,
    UNDER_REVIEW,
    Parties,
    certify,
)
from resolvers import connection as connections
from resolvers.accounts import create_user, ensure_program

PASSWORD = "demo-password-1"

STAFF = [("admin@escp.example", "Ada Admin", Role.ADMIN),
         ("reviewer@escp.example", "Rui Reviewer", Role.REVIEWER)]
FIRMS = [("Veritas Social Audits", "auditor@veritas.example",
          [("Vera Lind", "ESCP-A-1001"), ("Tomas Berg", "ESCP-A-1002")]),
         ("Clearview Compliance", "auditor@clearview.example",
          [("Chen Wei", "ESCP-A-2001")])]
SUPPLIERS = [
    ("Dhaka Knitwear Ltd", "supplier@dhakaknit.example", [
        ("Dhaka Knit Unit 1", "BD", "Dhaka", ["knitwear", "t-shirts"], 1200, True),
        ("Dhaka Knit Unit 2", "BD", "Gazipur", ["knitwear"], 800, False),
    ]),
    ("Saigon Footwear Co", "supplier@saigonshoes.example", [
        ("Saigon Footwear Binh Duong", "VN", "Thu Dau Mot", ["footwear"], 2500, True),
        ("Saigon Footwear Dong Nai", "VN", "Bien Hoa", ["footwear", "soles"], 1900, True),
        ("Saigon Footwear Long An", "VN", "Tan An", ["footwear"], 1400, True),
    ]),
    ("Anatolia Textiles AS", "supplier@anatoliatex.example", [
        ("Anatolia Denim Mill", "TR", "Denizli", ["denim", "fabric"], 650, True),
        ("Anatolia Home Textiles", "TR", "Bursa", ["home textiles"], 430, True),
        ("Anatolia Knit Works", "TR", "Izmir", ["knitwear"], 380, True),
    ]),
]
CUSTOMERS = [("Northwind Apparel", "buyer@northwind.example"),
             ("Bluebell Retail Group", "buyer@bluebell.example")]
S = ShareScope
# (customer's buyer, factory, the state it ends in, the scopes the factory grants), one per state.
CONNECTIONS = [
    ("buyer@northwind.example", "Dhaka Knit Unit 1", ConnectionStatus.ACCEPTED, list(S)),
    ("buyer@northwind.example", "Saigon Footwear Binh Duong", ConnectionStatus.ACCEPTED,
     [S.PROFILE, S.CERTIFICATION]),
    ("buyer@northwind.example", "Anatolia Denim Mill", ConnectionStatus.ACCEPTED,
     [S.PROFILE, S.AUDITS, S.CORRECTIVE_ACTIONS]),
    ("buyer@northwind.example", "Anatolia Home Textiles", ConnectionStatus.PENDING, []),
    ("buyer@northwind.example", "Saigon Footwear Dong Nai", ConnectionStatus.REVOKED, [S.PROFILE]),
    ("buyer@bluebell.example", "Anatolia Home Textiles", ConnectionStatus.DECLINED, []),
    ("buyer@bluebell.example", "Anatolia Denim Mill", ConnectionStatus.CANCELLED,
     [S.CERTIFICATION]),
    ("buyer@bluebell.example", "Dhaka Knit Unit 1", ConnectionStatus.EXPIRED,
     [S.PROFILE, S.AUDITS]),
    ("buyer@bluebell.example", "Saigon Footwear Dong Nai", ConnectionStatus.ACCEPTED, list(S)),
    ("buyer@bluebell.example", "Anatolia Knit Works", ConnectionStatus.ACCEPTED, list(S)),
]
REQUESTED = [S.PROFILE, S.CERTIFICATION, S.AUDITS]


async def _organization(session: AsyncSession, name: str, kind: OrganizationKind) -> Organization:
    found = (await session.execute(select(Organization).where(
        Organization.kind == kind.value, Organization.name == name))).scalar_one_or_none()
    if found is None:
        found = Organization(name=name, kind=kind.value)
        session.add(found)
        await session.flush()
    return found


async def _user(session: AsyncSession, email: str, name: str, role: Role,
                organization: Organization) -> None:
    exists = await session.scalar(select(User.id).where(func.lower(User.email) == email))
    if exists is None:
        await create_user(session, email=email, password=PASSWORD, name=name, role=role,
                          organization=organization)


async def _factory(session: AsyncSession, supplier: Organization, name: str, country: str,
                   city: str, categories: list[str], workers: int, listed: bool) -> None:
    exists = await session.scalar(select(Factory.id).where(Factory.name == name))
    if exists is None:
        slug = name.lower().replace(" ", ".")
        session.add(Factory(supplier_id=supplier.id, name=name, country=country, city=city,
                            product_categories=categories, worker_count=workers, listed=listed,
                            address=f"{city} industrial zone, plot {len(name)}",
                            contact_email=f"compliance@{slug}.example"))


async def _people(session: AsyncSession) -> list[tuple[str, str, str]]:
    logins: list[tuple[str, str, str]] = []
    program = await ensure_program(session)
    for email, name, role in STAFF:
        await _user(session, email, name, role, program)
        logins.append((email, PASSWORD, f"program {role.value.lower()}"))
    for firm_name, email, auditors in FIRMS:
        firm = await _organization(session, firm_name, OrganizationKind.AUDIT_FIRM)
        await _user(session, email, f"{firm_name} desk", Role.AUDITOR, firm)
        logins.append((email, PASSWORD, f"audit firm {firm_name}"))
        for auditor_name, number in auditors:
            if await session.scalar(select(Auditor.id).where(
                    Auditor.registration_number == number)) is None:
                session.add(Auditor(audit_firm_id=firm.id, name=auditor_name,
                                    registration_number=number))
    for supplier_name, email, factories in SUPPLIERS:
        supplier = await _organization(session, supplier_name, OrganizationKind.SUPPLIER)
        await _user(session, email, f"{supplier_name} compliance", Role.SUPPLIER, supplier)
        logins.append((email, PASSWORD, f"supplier {supplier_name}"))
        for factory in factories:
            await _factory(session, supplier, *factory)
    for customer_name, email in CUSTOMERS:
        customer = await _organization(session, customer_name, OrganizationKind.CUSTOMER)
        await _user(session, email, f"{customer_name} sourcing", Role.CUSTOMER, customer)
        logins.append((email, PASSWORD, f"customer {customer_name}"))
    return logins


async def _viewer(session: AsyncSession, user_filter: ColumnElement[bool]) -> Viewer:
    """The first user matching `user_filter`, as the viewer a signed-in request would have."""
    user, kind = (await session.execute(
        select(User, Organization.kind).join(Organization, Organization.id == User.organization_id)
        .where(user_filter).order_by(User.id).limit(1))).one()
    return Viewer(user.id, user.organization_id, OrganizationKind(kind), Role(user.role))


async def _connection(session: AsyncSession, buyer: str, factory_name: str,
                      state: ConnectionStatus, granted: list[ShareScope]) -> None:
    """One connection brought to `state` through the same moves the API makes."""
    customer = await _viewer(session, User.email == buyer)
    factory = (await session.scalars(select(Factory).where(Factory.name == factory_name))).one()
    if await session.scalar(select(CustomerConnection.id).where(
            CustomerConnection.customer_id == customer.organization_id,
            CustomerConnection.factory_id == factory.id)) is not None:
        return
    owner = await _viewer(session, User.organization_id == factory.supplier_id)
    row = await connections.request_connection(
        session, customer, factory_id=factory.id, scopes=REQUESTED,
        message="We are reviewing our sourcing and would like to see your compliance data.")
    if state is ConnectionStatus.PENDING:
        return
    if state is ConnectionStatus.DECLINED:
        await connections.respond(session, owner, connection_id=row.id, accept=False)
        return
    ends = row.requested_at + timedelta(days=30) if state is ConnectionStatus.EXPIRED else None
    await connections.respond(session, owner, connection_id=row.id, accept=True,
                              scopes=granted, expires_at=ends)
    if state is ConnectionStatus.REVOKED:
        await connections.end_connection(session, owner, connection_id=row.id)
    elif state is ConnectionStatus.CANCELLED:
        await connections.end_connection(session, customer, connection_id=row.id)
    elif state is ConnectionStatus.EXPIRED:
        # As if its 30 days had passed: it reads EXPIRED by date alone, no job marks it.
        await session.execute(update(CustomerConnection).where(CustomerConnection.id == row.id)
                              .values(expires_at=func.now() - timedelta(days=1)))


# --- Certification stages (the steps are in demo.workflow) ---------------------------

VERITAS, CLEARVIEW = "Veritas Social Audits", "Clearview Compliance"
STAGES = {  # factory: (how far its applications go, the firm auditing it)
    "Dhaka Knit Unit 1": (FOLLOWED_UP_AND_CERTIFIED, VERITAS),  # plans RETURNED, ACCEPTED
    "Dhaka Knit Unit 2": (SUBMITTED, VERITAS),
    "Saigon Footwear Binh Duong": (CERTIFIED, CLEARVIEW),
    "Saigon Footwear Dong Nai": (SCHEDULED, VERITAS),  # an unannounced audit, one cancelled
    "Saigon Footwear Long An": (SUSPENDED, CLEARVIEW),
    "Anatolia Denim Mill": (UNDER_REVIEW, CLEARVIEW),  # findings, CAP in DRAFT
    "Anatolia Home Textiles": (ASSIGNED, VERITAS),
    "Anatolia Knit Works": (REJECTED_THEN_REAPPLIED, CLEARVIEW),  # REJECTED; CAP SUBMITTED
}


async def _parties(session: AsyncSession, firm_name: str, supplier_email: str) -> Parties:
    firm = await _organization(session, firm_name, OrganizationKind.AUDIT_FIRM)
    desk = await _viewer(session, User.email == next(
        email for name, email, _ in FIRMS if name == firm_name))
    lead = await session.scalar(select(Auditor.id).where(Auditor.audit_firm_id == firm.id)
                                .order_by(Auditor.id).limit(1))
    return Parties(await _viewer(session, User.email == supplier_email),
                   await _viewer(session, User.email == STAFF[0][0]), desk, firm.id, int(lead))


async def _workflow(session: AsyncSession, settings: Settings) -> None:
    for _, email, factories in SUPPLIERS:
        for name, *_ in factories:
            factory = (await session.execute(select(Factory).where(Factory.name == name))
                       ).scalar_one()
            started = await session.scalar(select(Application.id).where(
                Application.factory_id == factory.id).limit(1))
            if started is None and name in STAGES:
                stage, firm = STAGES[name]
                await certify(session, settings, factory, stage, await _parties(session, firm,
                                                                                 email))


async def load_demo(database: Database,
                    settings: Settings | None = None) -> list[tuple[str, str, str]]:
    """Load (or complete) the demo data set in one transaction; return (email, password, who)."""
    async with database.unit_of_work() as session:
        logins = await _people(session)
        await session.flush()
        for connection in CONNECTIONS:
            await _connection(session, *connection)
        # After the connections, so connected customers hear of the certification changes.
        await _workflow(session, settings or Settings())
        return logins
