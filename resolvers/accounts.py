"""Organizations, users and auditors: sign-up, sign-in, and what the program's admins create.

Creation is shared by the mutations, the `escp create-admin` command and the demo.
"""
import asyncio
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth import passwords
from auth.login_throttle import clear_failures, delay_for, normalize_email, record_failure
from auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from auth.tokens import issue_token
from db import Auditor, Organization, User
from db.engine import Database
from db.enums import OrganizationKind, Role
from db.settings import Settings
from resolvers.errors import BusinessRuleError, not_found

PROGRAM_NAME = "Ethical Supply Chain Program"

# Which roles a member of each kind of organization may have.
ROLES_BY_KIND = {
    OrganizationKind.PROGRAM: {Role.ADMIN, Role.REVIEWER},
    OrganizationKind.SUPPLIER: {Role.SUPPLIER},
    OrganizationKind.CUSTOMER: {Role.CUSTOMER},
    OrganizationKind.AUDIT_FIRM: {Role.AUDITOR},
}
# Only these register themselves; audit firms are accredited by the program.
SELF_SERVICE = {OrganizationKind.SUPPLIER: Role.SUPPLIER,
                OrganizationKind.CUSTOMER: Role.CUSTOMER}
EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# One message and one code for an unknown email, a wrong password and a deactivated account,
# so a failed sign-in never tells whether the email is registered.
INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
INVALID_CREDENTIALS_MESSAGE = "The email or the password is not right."
_UNIQUE_VIOLATION = "23505"


@dataclass(frozen=True)
class SignedIn:
    user: User
    access_token: str
    expires_at: datetime


def valid_email(email: str, field: list[str]) -> str:
    """The address normalized (trimmed, lower-case); VALIDATION unless it looks like one."""
    email = normalize_email(email)
    if len(email) > 320 or not EMAIL_SHAPE.fullmatch(email):
        raise BusinessRuleError("VALIDATION", "That is not an email address.", field)
    return email


async def _flush_unique(session: AsyncSession, error: BusinessRuleError) -> None:
    """Flush; a unique violation (a twin inserted concurrently) becomes `error`."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == _UNIQUE_VIOLATION:
            raise error from exc
        raise


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


async def create_organization(session: AsyncSession, name: str, kind: OrganizationKind,
                              field: list[str] | None = None) -> Organization:
    """`field` names the input field holding the name, for the user errors."""
    field = field or ["name"]
    name = name.strip()
    if not name:
        raise BusinessRuleError("VALIDATION", "The organization needs a name.", field)
    duplicate = BusinessRuleError("DUPLICATE", f"A {kind.value.lower()} named {name!r} exists.",
                                  field)
    clash = await session.scalar(select(Organization.id).where(
        Organization.kind == kind.value, func.lower(Organization.name) == name.lower()))
    if clash is not None:
        raise duplicate
    organization = Organization(name=name, kind=kind.value)
    session.add(organization)
    await _flush_unique(session, duplicate)
    return organization


async def create_user(session: AsyncSession, *, email: str, password: str, name: str, role: Role,
                      organization: Organization) -> User:
    email = valid_email(email, ["email"])
    problem = password_problem(password)
    if problem:
        raise BusinessRuleError("WEAK_PASSWORD", problem, ["password"])
    if role not in ROLES_BY_KIND[OrganizationKind(organization.kind)]:
        raise BusinessRuleError("VALIDATION",
                                f"A {organization.kind} member cannot be {role.value}.", ["role"])
    taken = BusinessRuleError("EMAIL_TAKEN", "That email address is already registered.",
                              ["email"])
    if await session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise taken
    user = User(email=email, name=name.strip() or email, password_hash=hash_password(password),
                role=role.value, organization_id=organization.id)
    session.add(user)
    await _flush_unique(session, taken)
    return user


def _signed_in(settings: Settings, user: User) -> SignedIn:
    token, expires_at = issue_token(settings, user_id=user.id, organization_id=user.organization_id,
                                    role=user.role)
    return SignedIn(user, token, expires_at)


async def sign_up(session: AsyncSession, settings: Settings, *, email: str, password: str,
                  name: str, organization_name: str, kind: OrganizationKind) -> SignedIn:
    """A supplier or customer registers its organization and first user, and is signed in."""
    role = SELF_SERVICE.get(kind)
    if role is None:
        raise BusinessRuleError("VALIDATION", "Only suppliers and customers sign up themselves; "
                                "the program accredits audit firms.", ["organizationKind"])
    organization = await create_organization(session, organization_name, kind,
                                             ["organizationName"])
    user = await create_user(session, email=email, password=password, name=name, role=role,
                             organization=organization)
    return _signed_in(settings, user)


async def log_in(database: Database, settings: Settings, email: str,
                 password: str) -> SignedIn:
    """A token for the right email and password of an active user; INVALID_CREDENTIALS otherwise.

    Repeated failures for one email are slowed down (auth.login_throttle). The delay is read on a
    short connection and slept outside any transaction, so waiting sign-ins hold no database
    connection. An unknown email is checked against a dummy hash and counted as a failure too:
    neither the answer, the time taken nor the next delay tells it from a wrong password.
    """
    async with database.read() as conn:
        delay = await delay_for(conn, email)
    await asyncio.sleep(delay)
    async with database.unit_of_work() as session:
        user = (await session.execute(select(User).where(
            func.lower(User.email) == normalize_email(email)))).scalar_one_or_none()
        matches = verify_password(user.password_hash if user else passwords.DUMMY_HASH, password)
        if user is None or not matches or not user.active:
            await record_failure(session, email)
            signed = None
        else:
            await clear_failures(session, email)
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            signed = _signed_in(settings, user)
    if signed is None:
        raise BusinessRuleError(INVALID_CREDENTIALS, INVALID_CREDENTIALS_MESSAGE)
    return signed


async def organization_of_kind(session: AsyncSession, organization_id: int | None,
                               field: list[str], kind: OrganizationKind | None = None
                               ) -> Organization:
    """The organization with that id (of that kind, if given); NOT_FOUND otherwise."""
    found = await session.get(Organization, organization_id) if organization_id else None
    if found is None or (kind is not None and found.kind != kind.value):
        raise not_found(kind.value.lower().replace("_", " ") if kind else "organization", field)
    return found


async def create_member(session: AsyncSession, *, organization_id: int | None, email: str,
                        password: str, name: str, role: Role) -> User:
    """A user of an existing organization (program staff, an audit firm's desk, members)."""
    organization = await organization_of_kind(session, organization_id, ["organizationId"])
    return await create_user(session, email=email, password=password, name=name, role=role,
                             organization=organization)


async def register_auditor(session: AsyncSession, *, audit_firm_id: int | None, name: str,
                           registration_number: str) -> Auditor:
    firm = await organization_of_kind(session, audit_firm_id, ["auditFirmId"],
                                      OrganizationKind.AUDIT_FIRM)
    name, number = name.strip(), registration_number.strip().upper()
    if not name:
        raise BusinessRuleError("VALIDATION", "The auditor needs a name.", ["name"])
    if not number:
        raise BusinessRuleError("VALIDATION", "The auditor needs a registration number.",
                                ["registrationNumber"])
    duplicate = BusinessRuleError("DUPLICATE", f"Registration number {number} is taken.",
                                  ["registrationNumber"])
    if await session.scalar(select(Auditor.id).where(
            func.upper(Auditor.registration_number) == number)) is not None:
        raise duplicate
    auditor = Auditor(audit_firm_id=firm.id, name=name, registration_number=number)
    session.add(auditor)
    await _flush_unique(session, duplicate)
    return auditor
