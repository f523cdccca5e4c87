"""Organizations and users: creation shared by sign-up, the admin command and the demo."""
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.passwords import hash_password, password_problem
from db import Organization, User
from db.enums import OrganizationKind, Role
from resolvers.errors import BusinessRuleError

PROGRAM_NAME = "Ethical Supply Chain Program"

# Which roles a member of each kind of organization may have.
ROLES_BY_KIND = {
    OrganizationKind.PROGRAM: {Role.ADMIN, Role.REVIEWER},
    OrganizationKind.SUPPLIER: {Role.SUPPLIER},
    OrganizationKind.CUSTOMER: {Role.CUSTOMER},
    OrganizationKind.AUDIT_FIRM: {Role.AUDITOR},
}


async def ensure_program(session: AsyncSession) -> Organization:
    """The program organization (there is exactly one), created on first use."""
    found = (await session.execute(
        select(Organization).where(Organization.kind == OrganizationKind.PROGRAM.value)
    )).scalar_one_or_none()
    if found is None:
        found = Organization(name=PROGRAM_NAME, kind=OrganizationKind.PROGRAM.value)
        session.add(found)
        await session.flush()
    return found


async def create_organization(session: AsyncSession, name: str,
                              kind: OrganizationKind) -> Organization:
    name = name.strip()
    if not name:
        raise BusinessRuleError("VALIDATION", "The organization needs a name.", ["name"])
    clash = await session.scalar(select(Organization.id).where(
        Organization.kind == kind.value, func.lower(Organization.name) == name.lower()))
    if clash is not None:
        raise BusinessRuleError("DUPLICATE", f"A {kind.value.lower()} named {name!r} exists.",
                                ["organizationName"])
    organization = Organization(name=name, kind=kind.value)
    session.add(organization)
    await session.flush()
    return organization


async def create_user(session: AsyncSession, *, email: str, password: str, name: str, role: Role,
                      organization: Organization) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise BusinessRuleError("VALIDATION", "That is not an email address.", ["email"])
    problem = password_problem(password)
    if problem:
        raise BusinessRuleError("WEAK_PASSWORD", problem, ["password"])
    if role not in ROLES_BY_KIND[OrganizationKind(organization.kind)]:
        raise BusinessRuleError("VALIDATION", f"A {organization.kind} member cannot be {role.value}.",
                                ["role"])
    taken = await session.scalar(select(User.id).where(func.lower(User.email) == email))
    if taken is not None:
        raise BusinessRuleError("EMAIL_TAKEN", "That email address is already registered.",
                                ["email"])
    user = User(email=email, name=name.strip() or email, password_hash=hash_password(password),
                role=role.value, organization_id=organization.id)
    session.add(user)
    await session.flush()
    return user
