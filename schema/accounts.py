"""Accounts: sign-up, sign-in, and the organizations, users and auditors the program creates.

Codes each mutation can return in `userErrors` are listed in its description.
"""
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from auth.permissions import roles
from db.enums import OrganizationKind as Kind
from db.enums import Role as RoleEnum
from overrides.guards import guarded
from resolvers import accounts
from resolvers.errors import BusinessRuleError
from schema.common import UserError
from schema.enums import OrganizationKind, Role
from schema.ids import decode_as
from schema.mutation import perform
from schema.organization import Auditor, Organization, User


@strawberry.input
class SignUpInput:
    email: str
    password: str
    name: str
    organization_name: str
    organization_kind: OrganizationKind = strawberry.field(description="SUPPLIER or CUSTOMER.")


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.input
class CreateAuditFirmInput:
    name: str


@strawberry.input
class CreateUserInput:
    email: str
    password: str
    name: str
    role: Role
    organization_id: strawberry.ID


@strawberry.input
class RegisterAuditorInput:
    audit_firm_id: strawberry.ID
    name: str
    registration_number: str


@strawberry.type
class AuthPayload:
    access_token: str | None = strawberry.field(
        description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime | None
    user: User | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, signed: accounts.SignedIn | None, errors: list[UserError]) -> "AuthPayload":
        if signed is None:
            return cls(access_token=None, expires_at=None, user=None, user_errors=errors)
        return cls(access_token=signed.access_token, expires_at=signed.expires_at,
                   user=User.from_row(signed.user, proven_self=True), user_errors=errors)


@strawberry.type
class OrganizationPayload:
    organization: Organization | None
    user_errors: list[UserError]


@strawberry.type
class UserPayload:
    user: User | None
    user_errors: list[UserError]


@strawberry.type
class AuditorPayload:
    auditor: Auditor | None
    user_errors: list[UserError]


def _wrap(kind: type, field: str, wrap: Any) -> Any:
    return lambda row, errors: kind(**{field: wrap(row) if row is not None else None,
                                       "user_errors": errors})


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(description="A supplier or customer registers its organization and "
                                     "first user, and is signed in. Codes: VALIDATION, "
                                     "WEAK_PASSWORD, EMAIL_TAKEN, DUPLICATE.")
    async def sign_up(self, info: Info, input: SignUpInput) -> AuthPayload:
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
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
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
    async def create_audit_firm(self, info: Info,
                                input: CreateAuditFirmInput) -> OrganizationPayload:
        return await perform(info, lambda session: accounts.create_organization(
            session, input.name, Kind.AUDIT_FIRM),
            _wrap(OrganizationPayload, "organization", Organization.from_row))

    @guarded(roles(RoleEnum.ADMIN), description="A user of an existing organization, with a role "
                                                "its kind allows. Codes: NOT_FOUND, VALIDATION, "
                                                "WEAK_PASSWORD, EMAIL_TAKEN.")
    async def create_user(self, info: Info, input: CreateUserInput) -> UserPayload:
        return await perform(info, lambda session: accounts.create_member(
            session, organization_id=decode_as(input.organization_id, "Organization"),
            email=input.email, password=input.password, name=input.name,
            role=RoleEnum(input.role)), _wrap(UserPayload, "user", User.from_row))

    @guarded(roles(RoleEnum.ADMIN), description="An accredited auditor of an audit firm. Codes: "
                                                "NOT_FOUND, VALIDATION, DUPLICATE.")
    async def register_auditor(self, info: Info, input: RegisterAuditorInput) -> AuditorPayload:
        return await perform(info, lambda session: accounts.register_auditor(
            session, audit_firm_id=decode_as(input.audit_firm_id, "Organization"),
            name=input.name, registration_number=input.registration_number),
            _wrap(AuditorPayload, "auditor", Auditor.from_row))
