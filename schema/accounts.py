"""Accounts: sign-up, sign-in, and the organizations, users and auditors the program creates.

Codes each mutation can return in `userErrors` are listed in its description.
"""
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import roles
from db.enums import OrganizationKind as Kind
from db.enums import Role as RoleEnum
from overrides.guards import guarded
from resolvers import accounts
from resolvers.errors import BusinessRuleError
from schema.common import UserError, user_errors
from schema.enums import OrganizationKind, Role
from schema.ids import decode_as
from schema.mutation import perform
from schema.organization import Auditor, Organization, User
from schema.user_errors import ACCOUNT_ERRORS

EMAIL = "The person's email address, their sign-in name; unique, compared case-insensitively."
PASSWORD = "At least 10 characters (at most 1024); stored only as an argon2id hash."


@strawberry.input(description="A new supplier or customer organization and its first user.")
class SignUpInput:
    email: str = strawberry.field(description=EMAIL)
    password: str = strawberry.field(description=PASSWORD)
    name: str = strawberry.field(description="The person's full name.")
    organization_name: str = strawberry.field(description=(
        "The organization's name, not blank; unique within its kind."))
    organization_kind: OrganizationKind = strawberry.field(description="SUPPLIER or CUSTOMER.")


@strawberry.input(description="A user's credentials.")
class LoginInput:
    email: str = strawberry.field(description="The email address the user signs in with.")
    password: str = strawberry.field(description="The user's password.")


@strawberry.input(description="A newly accredited audit firm.")
class CreateAuditFirmInput:
    name: str = strawberry.field(description="The firm's name, not blank; unique among firms.")


@strawberry.input(description="A new user of an existing organization.")
class CreateUserInput:
    email: str = strawberry.field(description=EMAIL)
    password: str = strawberry.field(description=PASSWORD)
    name: str = strawberry.field(description="The person's full name.")
    role: Role = strawberry.field(description=(
        "A role the organization's kind allows: ADMIN or REVIEWER for the program, AUDITOR "
        "for a firm, SUPPLIER or CUSTOMER for those organizations."))
    organization_id: strawberry.ID = strawberry.field(description="The organization to join.")


@strawberry.input(description="A newly accredited auditor.")
class RegisterAuditorInput:
    audit_firm_id: strawberry.ID = strawberry.field(description="The firm the auditor works for.")
    name: str = strawberry.field(description="The auditor's full name, not blank.")
    registration_number: str = strawberry.field(description=(
        "The accreditation number, not blank; unique."))


@strawberry.type(description="The answer of signUp and login: a token, or why not.")
class AuthPayload:
    access_token: str | None = strawberry.field(
        description="Send as `Authorization: Bearer <token>`; null when userErrors is not empty.")
    expires_at: datetime | None = strawberry.field(description=(
        "When the token stops working: sign in again then."))
    user: User | None = strawberry.field(description=(
        "The signed-in user; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    account_user_errors = ACCOUNT_ERRORS.field()

    @classmethod
    def of(cls, signed: accounts.SignedIn | None, errors: list[UserError]) -> "AuthPayload":
        if signed is None:
            return cls(access_token=None, expires_at=None, user=None, user_errors=errors)
        return cls(access_token=signed.access_token, expires_at=signed.expires_at,
                   user=User.from_row(signed.user, proven_self=True), user_errors=errors)


@strawberry.type(description="The answer of createAuditFirm.")
class OrganizationPayload:
    organization: Organization | None = strawberry.field(description=(
        "The organization created; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    account_user_errors = ACCOUNT_ERRORS.field()


@strawberry.type(description="The answer of createUser.")
class UserPayload:
    user: User | None = strawberry.field(description=(
        "The user created; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    account_user_errors = ACCOUNT_ERRORS.field()


@strawberry.type(description="The answer of registerAuditor.")
class AuditorPayload:
    auditor: Auditor | None = strawberry.field(description=(
        "The auditor registered; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    account_user_errors = ACCOUNT_ERRORS.field()


def _wrap(kind: type, field: str, wrap: Any) -> Any:
    return lambda row, errors: kind(**{field: wrap(row) if row is not None else None,
                                       "user_errors": errors})


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(description="A supplier or customer registers its organization and "
                                     "first user, and is signed in. Codes: VALIDATION, "
                                     "WEAK_PASSWORD, EMAIL_TAKEN, DUPLICATE.")
    async def sign_up(self, info: Info, input: Annotated[SignUpInput, strawberry.argument(
            description="The organization and its first user.")]) -> AuthPayload:
        settings = info.context.settings
        return await perform(info, lambda session: accounts.sign_up(
            session, settings, email=input.email, password=input.password, name=input.name,
            organization_name=input.organization_name, kind=Kind(input.organization_kind)),
            AuthPayload.of)

    @strawberry.mutation(description="A token for an active user's email and password. "
                                     "Code: INVALID_CREDENTIALS (for any failure, so it never "
                                     "tells whether the email is registered). Over the sign-in "
                                     "limits, a top-level error TOO_MANY_ATTEMPTS with "
                                     "`retryAfter` (seconds) instead.")
    async def login(self, info: Info, input: Annotated[LoginInput, strawberry.argument(
            description="The email and password.")]) -> AuthPayload:
        ctx = info.context
        client = getattr(ctx.request, "client", None)
        try:
            signed = await accounts.log_in(ctx.database, ctx.settings, input.email,
                                           input.password, client.host if client else None)
        except BusinessRuleError as error:
            return AuthPayload.of(None, [UserError.of(error)])
        return AuthPayload.of(signed, [])

    @guarded(roles(RoleEnum.ADMIN), description="An accredited audit firm. Codes: VALIDATION, "
                                                "DUPLICATE.")
    async def create_audit_firm(self, info: Info, input: Annotated[
            CreateAuditFirmInput, strawberry.argument(
                description="The firm's name.")]) -> OrganizationPayload:
        return await perform(info, lambda session: accounts.create_organization(
            session, input.name, Kind.AUDIT_FIRM),
            _wrap(OrganizationPayload, "organization", Organization.from_row))

    @guarded(roles(RoleEnum.ADMIN), description="A user of an existing organization, with a role "
                                                "its kind allows. Codes: NOT_FOUND, VALIDATION, "
                                                "WEAK_PASSWORD, EMAIL_TAKEN.")
    async def create_user(self, info: Info, input: Annotated[CreateUserInput, strawberry.argument(
            description="The person, their role and organization.")]) -> UserPayload:
        return await perform(info, lambda session: accounts.create_member(
            session, organization_id=decode_as(input.organization_id, "Organization"),
            email=input.email, password=input.password, name=input.name,
            role=RoleEnum(input.role)), _wrap(UserPayload, "user", User.from_row))

    @guarded(roles(RoleEnum.ADMIN), description="An accredited auditor of an audit firm. Codes: "
                                                "NOT_FOUND, VALIDATION, DUPLICATE.")
    async def register_auditor(self, info: Info, input: Annotated[
            RegisterAuditorInput, strawberry.argument(
                description="The auditor and their firm.")]) -> AuditorPayload:
        return await perform(info, lambda session: accounts.register_auditor(
            session, audit_firm_id=decode_as(input.audit_firm_id, "Organization"),
            name=input.name, registration_number=input.registration_number),
            _wrap(AuditorPayload, "auditor", Auditor.from_row))
