"""API keys for machine clients: created, listed and revoked by their organization's members."""
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from auth.permissions import ManagesKeys, Rule, SignedIn
from db.enums import Role as RoleEnum
from overrides.guards import guarded
from resolvers import api_keys
from schema.common import UserError, user_errors
from schema.enums import Role
from schema.ids import encode_id
from schema.mutation import perform, require_id
from schema.user_errors import API_KEY_ERRORS


def managers() -> list[Rule]:
    return [SignedIn(), ManagesKeys()]


@strawberry.type(description="A named API key of the organization; its secret is never shown "
                             "again after creation.")
class ApiKey:
    id: strawberry.ID = strawberry.field(description=(
        "The key's ID, to pass to revokeApiKey; also the number in its secret (escp_<id>_…)."))
    name: str = strawberry.field(description="What the key is for, as its creator named it.")
    role: Role = strawberry.field(description="The role the key acts with.")
    created_by_email: str | None = strawberry.field(description="Who created the key.")
    created_at: datetime = strawberry.field(description="When the key was created.")
    expires_at: datetime | None = strawberry.field(description="Null: never expires.")
    revoked_at: datetime | None = strawberry.field(description=(
        "When the key was revoked; null while it works."))

    @classmethod
    def from_row(cls, row: Any, email: str | None = None) -> "ApiKey":
        return cls(id=strawberry.ID(encode_id("ApiKey", row.id)), name=row.name,
                   role=Role(row.role), created_by_email=email, created_at=row.created_at,
                   expires_at=row.expires_at, revoked_at=row.revoked_at)


@strawberry.input(description="A new API key of the viewer's organization.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="What the key is for, 1 to 100 characters.")
    role: Role = strawberry.field(description="At most the creator's role.")
    expires_at: datetime | None = strawberry.field(default=None,
                                                    description="Null: never expires.")


@strawberry.input(description="The key to revoke.")
class RevokeApiKeyInput:
    id: strawberry.ID = strawberry.field(description="A key of the viewer's organization.")


@strawberry.type(description="The answer of createApiKey.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description=(
        "The key created; null when userErrors is not empty."))
    secret: str | None = strawberry.field(
        description="The whole key, shown this once: send as `Authorization: Bearer <secret>`.")
    user_errors: list[UserError] = user_errors()
    api_key_user_errors = API_KEY_ERRORS.field()


@strawberry.type(description="The answer of revokeApiKey.")
class ApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description=(
        "The key, now revoked; null when userErrors is not empty."))
    user_errors: list[UserError] = user_errors()
    api_key_user_errors = API_KEY_ERRORS.field()


def _created(found: api_keys.CreatedKey | None, errors: list[UserError]) -> CreateApiKeyPayload:
    if found is None:
        return CreateApiKeyPayload(api_key=None, secret=None, user_errors=errors)
    return CreateApiKeyPayload(api_key=ApiKey.from_row(found.row), secret=found.secret,
                               user_errors=errors)


@strawberry.type
class Query:
    @guarded(managers(), description="The viewer's organization's API keys, newest first "
                                     "(revoked ones too).")
    async def api_keys(self, info: Info) -> list[ApiKey] | None:
        async with info.context.database.unit_of_work() as session:
            rows = await api_keys.organization_keys(session, info.context.viewer)
        return [ApiKey.from_row(key, email) for key, email in rows]


@strawberry.type
class Mutation:
    @guarded(managers(), description="A new API key of the viewer's organization. Codes: "
                                     "VALIDATION, ROLE_ABOVE_CREATOR, TOO_MANY_KEYS.")
    async def create_api_key(self, info: Info, input: Annotated[
            CreateApiKeyInput, strawberry.argument(
                description="The key's name, role and expiry.")]) -> CreateApiKeyPayload | None:
        viewer = info.context.viewer
        return await perform(info, lambda session: api_keys.create_key(
            session, viewer, name=input.name, role=RoleEnum(input.role),
            expires_at=input.expires_at), _created)

    @guarded(managers(), description="Revoke a key of the viewer's organization: refused from "
                                     "its next request on. Code: NOT_FOUND.")
    async def revoke_api_key(self, info: Info, input: Annotated[
            RevokeApiKeyInput, strawberry.argument(
                description="The key to revoke.")]) -> ApiKeyPayload | None:
        viewer = info.context.viewer

        async def work(session: Any) -> Any:
            return await api_keys.revoke_key(session, viewer,
                                             require_id(input.id, "ApiKey", "id"))
        return await perform(info, work, lambda row, errors: ApiKeyPayload(
            api_key=ApiKey.from_row(row) if row is not None else None, user_errors=errors))
