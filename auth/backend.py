"""From a bearer token to a Viewer, for HTTP (Starlette middleware) and WebSocket alike."""
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, any_, bindparam, select
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

from auth.tokens import InvalidToken, verify_token
from auth.viewer import Viewer
from db import Organization, User
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
    """The token of an `Authorization: Bearer …` value; InvalidToken for any other scheme."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("malformed")
    return token.strip()


async def viewer_for_token(database: Database, settings: Settings, token: str) -> Viewer:
    """Verify the token, then read the user fresh: a deleted or deactivated user's token stops
    working at once, and a changed role takes effect."""
    viewer, _ = await session_for_token(database, settings, token)
    return viewer


async def session_for_token(database: Database, settings: Settings,
                            token: str) -> tuple[Viewer, datetime]:
    """The viewer and the moment its token expires (a socket closes then)."""
    claims = verify_token(settings, token)
    async with database.read() as conn:
        viewer = (await active_viewers(conn, [claims.user_id])).get(claims.user_id)
    if viewer is None:
        raise InvalidToken("user inactive")
    return viewer, claims.expires_at


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
