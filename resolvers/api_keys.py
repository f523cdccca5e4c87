"""API keys an organization's members create, list and revoke (auth.api_keys: their shape)."""
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth import api_keys
from auth.viewer import Viewer
from db import ApiKey, User
from db.enums import Role
from resolvers.errors import BusinessRuleError, not_found

NAME_MAX = 100
KEYS_PER_ORGANIZATION = 50


@dataclass(frozen=True)
class CreatedKey:
    row: Any
    secret: str  # the whole key, shown this once


async def create_key(session: AsyncSession, viewer: Viewer, *, name: str, role: Role,
                     expires_at: datetime | None) -> CreatedKey:
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise BusinessRuleError("VALIDATION", f"A key's name has 1 to {NAME_MAX} characters.",
                                ["name"])
    if viewer.role is None or not api_keys.within(role, viewer.role):
        raise BusinessRuleError("ROLE_ABOVE_CREATOR",
                                f"A key's role cannot be {role.value}: it is never above "
                                f"yours ({viewer.role.value if viewer.role else None}).",
                                ["role"])
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= datetime.now(UTC):
            raise BusinessRuleError("VALIDATION", "A key's expiry is in the future.",
                                    ["expiresAt"])
    live = (await session.execute(select(ApiKey.id).where(
        ApiKey.organization_id == viewer.organization_id, ApiKey.revoked_at.is_(None)))).all()
    if len(live) >= KEYS_PER_ORGANIZATION:
        raise BusinessRuleError("TOO_MANY_KEYS", f"An organization has at most "
                                f"{KEYS_PER_ORGANIZATION} keys; revoke one first.")
    secret, secret_hash = api_keys.new_secret()
    row = ApiKey(organization_id=viewer.organization_id, created_by_id=viewer.user_id,
                 name=name, role=role.value, secret_hash=secret_hash, expires_at=expires_at)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return CreatedKey(row, api_keys.full_key(row.id, secret))


async def revoke_key(session: AsyncSession, viewer: Viewer, key_id: int | None) -> Any:
    """Revoked at once: the next request with the key is refused. Revoking twice is a no-op."""
    row = None if key_id is None else await session.get(ApiKey, key_id, with_for_update=True)
    if row is None or row.organization_id != viewer.organization_id:
        raise not_found("API key", ["id"])
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await session.flush()
    return row


async def organization_keys(session: AsyncSession, viewer: Viewer) -> list[Any]:
    """The organization's keys, newest first, with their creators' emails."""
    statement = (select(ApiKey, User.email).join(User, User.id == ApiKey.created_by_id)
                 .where(ApiKey.organization_id == viewer.organization_id)
                 .order_by(ApiKey.id.desc()))
    return list((await session.execute(statement)).all())


