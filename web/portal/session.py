"""The portal's session and CSRF protection.

The session is the API's own access token, kept in an HttpOnly, SameSite=Lax cookie (Secure
over HTTPS) that page scripts cannot read; every request re-reads its user through the same
function the API uses (auth.backend.session_for_token), so a deactivated user or an expired
token is signed out at once. Forms carry a CSRF token that must equal the CSRF cookie
(double submit); a POST whose Origin is another site is refused as well.
"""
import hmac
import secrets
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from auth.backend import session_for_token
from auth.tokens import InvalidToken
from auth.viewer import ANONYMOUS, Viewer

SESSION_COOKIE = "escp_session"
CSRF_COOKIE = "escp_csrf"
CSRF_FIELD = "csrf"
PATH = "/portal"


class Session:
    """Who is signed in on this request (anonymous without a valid session cookie)."""

    def __init__(self, viewer: Viewer = ANONYMOUS, expires_at: datetime | None = None) -> None:
        self.viewer, self.expires_at = viewer, expires_at


async def session_of(request: Request) -> Session:
    cached = getattr(request.state, "portal_session", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    session = Session()
    if token:
        state = request.app.state
        try:
            viewer, expires_at = await session_for_token(state.database, state.settings, token)
            session = Session(viewer, expires_at)
        except InvalidToken:
            pass  # an expired or revoked session reads as signed out
    request.state.portal_session = session
    return session


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(request: Request, response: Response, token: str,
                  expires_at: datetime) -> None:
    """Sign in: the token in its cookie, and a new CSRF token (none from before survives)."""
    seconds = max(0, int((expires_at - datetime.now(UTC)).total_seconds()))
    response.set_cookie(SESSION_COOKIE, token, max_age=seconds, path=PATH, httponly=True,
                        samesite="lax", secure=_secure(request))
    set_csrf(request, response, secrets.token_urlsafe(32))


def end_session(response: Response) -> None:
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
