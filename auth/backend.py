"""From a bearer token to a Viewer, for HTTP (Starlette middleware) and WebSocket alike."""
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, any_, bindparam, func, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from auth import api_keys, portal_sessions, socket_tickets
from auth.tokens import InvalidToken, verify_token
from auth.viewer import Viewer
from db import ApiKey, Organization, User
from db.engine import Database
from db.enums import OrganizationKind, Role
from db.settings import Settings


class ViewerUser(BaseUser):
    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return str(self.viewer.user_id)


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` value (or `ApiKey escp_…`); InvalidToken for
    any other scheme."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if not token or not (scheme.lower() == "bearer"
                         or (scheme.lower() == "apikey" and api_keys.is_api_key(token))):
        raise InvalidToken("malformed")
    return token


# A key that never expires keeps its socket open until the socket closes.
NEVER = datetime(9999, 1, 1, tzinfo=UTC)


async def viewer_for_token(database: Database, settings: Settings, token: str) -> Viewer:
    """Verify the token, then read the user fresh: a deleted or deactivated user's token stops
    working at once, and a changed role takes effect."""
    if socket_tickets.is_ticket(token):
        raise InvalidToken("a socket ticket is accepted in connection_init only")
    viewer, _ = await session_for_token(database, settings, token)
    return viewer


async def session_for_token(database: Database, settings: Settings,
                            token: str) -> tuple[Viewer, datetime]:
    """The viewer and the moment its token (or API key) expires (a socket closes then)."""
    if api_keys.is_api_key(token):
        return await session_for_key(database, token)
    if socket_tickets.is_ticket(token):  # a portal page's socket (only HTTP refuses them)
        return await session_for_ticket(database, settings, token)
    claims = verify_token(settings, token)
    async with database.read() as conn:
        viewer = (await active_viewers(conn, [claims.user_id])).get(claims.user_id)
    if viewer is None:
        raise InvalidToken("user inactive")
    return viewer, claims.expires_at


async def session_for_portal(database: Database, settings: Settings,
                             secret: str) -> tuple[Viewer, portal_sessions.Live]:
    """A portal session's viewer, read like a token's: the session must work (not signed out,
    expired or idle) and its user be active."""
    async with database.read() as conn:
        live = await portal_sessions.touch(conn, settings, secret)
        viewer = live and (await active_viewers(conn, [live.user_id])).get(live.user_id)
    if not viewer or live is None:
        raise InvalidToken("session ended")
    return viewer, live


async def session_for_ticket(database: Database, settings: Settings,
                             token: str) -> tuple[Viewer, datetime]:
    """A portal page's socket: the ticket used for the first time, while its session works.
    The viewer carries the session, so the socket's events stop when it ends."""
    ticket = socket_tickets.verify_ticket(settings, token)
    live = await portal_sessions.use_ticket(database, settings, ticket.id, ticket.session_id,
                                            ticket.user_id)
    if live is None:
        raise InvalidToken("socket ticket used, or its session ended")
    async with database.read() as conn:
        viewer = (await active_viewers(conn, [live.user_id])).get(live.user_id)
    if viewer is None:
        raise InvalidToken("user inactive")
    return replace(viewer, portal_session_id=live.id), live.expires_at


# A key works while it is neither revoked nor expired and its creator is an active member of
# its organization: checked on every request, so revoking or deactivating takes effect at once.
def _live_keys(*columns: Any) -> Any:
    return (select(*columns)
            .join(User, (User.id == ApiKey.created_by_id)
                  & (User.organization_id == ApiKey.organization_id))
            .join(Organization, Organization.id == ApiKey.organization_id)
            .where(ApiKey.revoked_at.is_(None), User.active.is_(True),
                   or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now())))


_LIVE_KEY = _live_keys(ApiKey.id, ApiKey.role, ApiKey.secret_hash, ApiKey.expires_at,
                       ApiKey.organization_id, User.id.label("user_id"),
                       User.role.label("creator_role"), Organization.kind
                       ).where(ApiKey.id == bindparam("key_id", type_=BigInteger))
_LIVE_KEYS = _live_keys(ApiKey.id).where(
    ApiKey.id == any_(bindparam("key_ids", type_=ARRAY(BigInteger))))


async def session_for_key(database: Database, key: str) -> tuple[Viewer, datetime]:
    """The viewer an API key acts as: its organization, with the key's role (never above its
    creator's current one), for its creator; logged under the key."""
    key_id, secret = api_keys.parse_key(key)
    async with database.read() as conn:
        row = (await conn.execute(_LIVE_KEY, {"key_id": key_id})).first()
    # One reason for every way a key fails, so a client learns nothing about which keys exist.
    if (row is None or not api_keys.secret_matches(secret, row.secret_hash)
            or not api_keys.within(Role(row.role), Role(row.creator_role))):
        raise InvalidToken("API key unknown, revoked or expired")
    viewer = Viewer(user_id=row.user_id, organization_id=row.organization_id,
                    organization_kind=OrganizationKind(row.kind), role=Role(row.role),
                    api_key_id=row.id)
    return viewer, row.expires_at or NEVER


async def live_keys(conn: AsyncConnection, key_ids: Iterable[int]) -> set[int]:
    """Of these keys, those that still work (not revoked or expired, creator active): an open
    socket's events stop with its key, like a person's stop when they are deactivated."""
    ids = sorted(set(key_ids))
    if not ids:
        return set()
    return set((await conn.execute(_LIVE_KEYS, {"key_ids": ids})).scalars())


# Built once: every signed-in request runs it, and SQLAlchemy memoizes a statement object's
# cache key, so only the parameters are new per request.
_ACTIVE_VIEWERS = (select(User.id, User.role, User.organization_id, Organization.kind)
                   .join(Organization, Organization.id == User.organization_id)
                   .where(User.id == any_(bindparam("user_ids", type_=ARRAY(BigInteger))),
                          User.active.is_(True)))


async def active_viewers(conn: AsyncConnection, user_ids: Iterable[int]) -> dict[int, Viewer]:
    """The users as they are now, by id, as viewers; deleted or deactivated users are absent.
    One statement for any number of them (subscription feeds ask for all their listeners)."""
    rows = (await conn.execute(_ACTIVE_VIEWERS, {"user_ids": sorted(set(user_ids))})).all()
    return {row.id: Viewer(user_id=row.id, organization_id=row.organization_id,
                           organization_kind=OrganizationKind(row.kind), role=Role(row.role))
            for row in rows}


class TokenBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if conn.scope["type"] == "websocket":
            return None  # WebSockets send the token in connection_init instead
        state = conn.app.state
        try:
            token = bearer_token(conn.headers.get("authorization"))
            if token is None:
                return None
            viewer = await viewer_for_token(state.database, state.settings, token)
        except InvalidToken as exc:
            raise AuthenticationError(exc.reason) from exc
        except (DBAPIError, OSError) as exc:  # e.g. the first request after a database restart
            raise ViewerUnavailable(str(exc).splitlines()[0] if str(exc) else "") from exc
        return AuthCredentials(["authenticated"]), ViewerUser(viewer)


class ViewerUnavailable(AuthenticationError):
    """The token's user could not be read: the database is unreachable right now."""


def unauthenticated(conn: HTTPConnection, exc: Exception) -> Any:
    """A bad token is refused outright (401), never treated as anonymous; a viewer that cannot
    be read is a 503 to retry, not a crash."""
    if isinstance(exc, ViewerUnavailable):
        body = {"data": None, "errors": [{"message": "The database is unavailable; try again.",
                                          "extensions": {"code": "SERVICE_UNAVAILABLE"}}]}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    body = {"data": None, "errors": [{"message": f"Invalid token: {exc}",
                                      "extensions": {"code": "UNAUTHENTICATED"}}]}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
