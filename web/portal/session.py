"""The portal's session and CSRF protection.

The session is kept server-side (auth.portal_sessions); the HttpOnly, SameSite=Lax cookie (Secure
over HTTPS), which page scripts cannot read, holds only its random id. Every request finds the
session and reads its user as the API reads a token's (auth.backend.session_for_portal), so
signing out, a deactivated user or an ended session signs the browser out at once. Forms carry
a CSRF token that must equal the CSRF cookie (double submit); a POST whose Origin is another
site is refused as well.
"""
import hmac
import secrets
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from auth import portal_sessions
from auth.backend import session_for_portal
from auth.tokens import InvalidToken
from auth.viewer import ANONYMOUS, Viewer

SESSION_COOKIE = "escp_session"
CSRF_COOKIE = "escp_csrf"
CSRF_FIELD = "csrf"
PATH = "/portal"


class Session:
    """Who is signed in on this request (anonymous without a valid session cookie)."""

    def __init__(self, viewer: Viewer = ANONYMOUS, id: int | None = None) -> None:
        self.viewer, self.id = viewer, id  # id: the session's row (socket tickets name it)


async def session_of(request: Request) -> Session:
    cached = getattr(request.state, "portal_session", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    secret = request.cookies.get(SESSION_COOKIE)
    session = Session()
    if secret:
        state = request.app.state
        try:
            viewer, live = await session_for_portal(state.database, state.settings, secret)
            session = Session(viewer, live.id)
        except InvalidToken:
            pass  # an ended session reads as signed out
    request.state.portal_session = session
    return session


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def start_session(request: Request, response: Response, user_id: int) -> None:
    """Sign in: a new session (a new id, ending the one this browser had), its id in the cookie,
    and a new CSRF token (none from before survives)."""
    state = request.app.state
    secret, expires_at = await portal_sessions.start(
        state.database, state.settings, user_id, request.cookies.get(SESSION_COOKIE))
    seconds = max(0, int((expires_at - datetime.now(UTC)).total_seconds()))
    response.set_cookie(SESSION_COOKIE, secret, max_age=seconds, path=PATH, httponly=True,
                        samesite="lax", secure=_secure(request))
    set_csrf(request, response, secrets.token_urlsafe(32))


async def end_session(request: Request, response: Response) -> None:
    """Sign out: the session ends in the database (a copy of the cookie signs nobody in), and
    the browser forgets its cookies."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        await portal_sessions.end(request.app.state.database, secret)
    response.delete_cookie(SESSION_COOKIE, path=PATH, httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, path=PATH, httponly=True, samesite="lax")


def csrf_token(request: Request) -> str:
    """This browser's CSRF token, made on its first page (set by `set_csrf` on the response)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if token is None:
        token = request.state.new_csrf = secrets.token_urlsafe(32)
    return token


def set_csrf(request: Request, response: Response, token: str | None = None) -> None:
    token = token or getattr(request.state, "new_csrf", None)
    if token is not None:
        response.set_cookie(CSRF_COOKIE, token, path=PATH, httponly=True, samesite="lax",
                            secure=_secure(request))


def csrf_valid(request: Request, submitted: object) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return False
    return (bool(cookie) and isinstance(submitted, str)
            and hmac.compare_digest(cookie.encode(), submitted.encode()))
