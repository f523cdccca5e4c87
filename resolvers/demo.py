"""`escp demo`: a small, idempotent demo data set, and the logins to try it with.

Run it twice and nothing doubles: each piece is looked up by its natural key first.
"""
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import Auditor, Factory, Organization, User
from db.engine import Database
from db.enums import OrganizationKind, Role
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
    ]),
    ("Anatolia Textiles AS", "supplier@anatoliatex.example", [
        ("Anatolia Denim Mill", "TR", "Denizli", ["denim", "fabric"], 650, True),
        ("Anatolia Home Textiles", "TR", "Bursa", ["home textiles"], 430, True),
    ]),
]
CUSTOMERS = [("Northwind Apparel", "buyer@northwind.example"),
             ("Bluebell Retail Group", "buyer@bluebell.example")]


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


async def load_demo(database: Database) -> list[tuple[str, str, str]]:
    """Load (or complete) the demo data set in one transaction; return (email, password, who)."""
    async with database.unit_of_work() as session:
        return await _people(session)
