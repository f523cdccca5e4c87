"""Organizations, users and auditors: sign-up, sign-in, and what the program's admins create.

Creation is shared by the mutations, the `escp create-admin` command and the demo.
"""
import re
from dataclasses import dataclass
from datetime import datetime

from graphql import GraphQLError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth import passwords
from auth.login_throttle import Limits, begin_attempt, give_back, normalize_email
from auth.passwords import hash_in_pool, needs_rehash, password_problem, verify_in_pool
from auth.tokens import issue_token
from db import Auditor, Organization, User
from db.engine import Database
from db.enums import OrganizationKind, Role
from db.settings import Settings
from resolvers.errors import BusinessRuleError, not_found
from infra.metrics import LOGINS

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
TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
_UNIQUE_VIOLATION = "23505"


class TooManyAttempts(GraphQLError):
    """Over a sign-in limit: refused before the password is looked at. A top-level error (as a
    refusal of the request, like UNAUTHENTICATED) carrying the seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many sign-in attempts; try again in {retry_after} seconds.",
            extensions={"code": TOO_MANY_ATTEMPTS, "retryAfter": retry_after})


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
    user = User(email=email, name=name.strip() or email,
                password_hash=await hash_in_pool(password), role=role.value,
                organization_id=organization.id)
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


async def log_in(database: Database, settings: Settings, email: str, password: str,
                 address: str | None = None) -> SignedIn:
    """A token for the right email and password of an active user; INVALID_CREDENTIALS otherwise,
    and TooManyAttempts, unchecked, over a limit of auth.login_throttle (`address` is the
    client's).

    An unknown email is checked against a dummy hash and counted like a wrong password: neither
    the answer, the time taken nor the limits tell it apart. No database connection is held
    while a hash is computed (on the hash threads), so a flood of sign-ins queues for those
    threads and leaves the connection pool to other requests.
    """
    async with database.read() as conn:
        retry_after = await begin_attempt(conn, Limits.of(settings), email, address)
        found = None if retry_after is not None else (await conn.execute(
            select(User.id, User.password_hash, User.active).where(
                func.lower(User.email) == normalize_email(email)))).one_or_none()
    if retry_after is not None:
        LOGINS.labels("throttled").inc()
        raise TooManyAttempts(retry_after)
    checked = found.password_hash if found else await passwords.dummy_hash_in_pool()
    if not await verify_in_pool(checked, password) or found is None or not found.active:
        LOGINS.labels("refused").inc()
        raise BusinessRuleError(INVALID_CREDENTIALS, INVALID_CREDENTIALS_MESSAGE)
    # A hash made with weaker parameters (older defaults, the test profile) is replaced now,
    # while the password is at hand; computed before the transaction, written in it.
    rehashed = await hash_in_pool(password) if needs_rehash(checked) else None
    async with database.unit_of_work() as session:
        user = await session.get(User, found.id, with_for_update=True)
        # Deactivated, or the password changed, since it was checked: as if it were wrong.
        current = user is not None and user.active and user.password_hash == checked
        if current:
            await give_back(session, email, address)
            if rehashed:
                user.password_hash = rehashed
            signed = _signed_in(settings, user)
    if not current:
        LOGINS.labels("refused").inc()
        raise BusinessRuleError(INVALID_CREDENTIALS, INVALID_CREDENTIALS_MESSAGE)
    LOGINS.labels("signed_in").inc()
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
