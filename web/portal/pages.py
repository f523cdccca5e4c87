"""Rendering pages: templates, the content security policy, forms and their errors."""
import functools
from typing import Any
from urllib.parse import quote

from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from auth.viewer import ANONYMOUS, Viewer
from web.portal.graph import Answer, Unavailable
from web.portal.messages import message_for
from web.portal.session import CSRF_FIELD, csrf_token, csrf_valid, session_of, set_csrf

SCOPES = ["PROFILE", "CERTIFICATION", "AUDITS", "CORRECTIVE_ACTIONS", "ENVIRONMENT"]
SCOPE_NAMES = {"PROFILE": "Profile (address, workers, contact)",
               "CERTIFICATION": "Certification (certificates, applications)",
               "AUDITS": "Audits (reports, findings)",
               "CORRECTIVE_ACTIONS": "Corrective action plans",
               "ENVIRONMENT": "Environmental assessments"}
# Short confirmations shown after a form succeeded (?done=key): fixed texts, nothing echoed.
NOTICES = {
    "requested": "Your connection request was sent; the factory will answer it.",
    "cancelled": "The connection was ended.", "accepted": "The request was accepted.",
    "declined": "The request was declined.", "narrowed": "Sharing was updated.",
    "ended": "The connection was ended.", "applied": "The application was submitted.",
    "cap": "The corrective action plan was submitted.",
    "environment": "The environmental assessment was submitted.",
    "signed-out": "You are signed out.", "signed-up": "Welcome! Your account is ready.",
}


@functools.cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("web.portal", "templates"),
                      autoescape=select_autoescape(["html"]), undefined=ChainableUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(message_for=message_for, SCOPES=SCOPES, SCOPE_NAMES=SCOPE_NAMES,
                       quote=quote)
    return env


def policy(request: Request) -> str:
    """Scripts and styles from our own files only (no inline script, no eval), forms posted to
    ourselves, the page's own origin over HTTP and WebSocket (the live dashboard)."""
    socket = f"{'wss' if request.url.scheme == 'https' else 'ws'}://{request.url.netloc}"
    return "; ".join(["default-src 'none'", "script-src 'self'", "style-src 'self'",
                      "img-src 'self' data:", f"connect-src 'self' {socket}",
                      "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"])


async def render(request: Request, template: str, http_status: int = 200,
                 **values: Any) -> HTMLResponse:
    session = await session_of(request)
    done = request.query_params.get("done")
    html = environment().get_template(template).render(
        request=request, viewer=session.viewer, csrf=csrf_token(request),
        notice=NOTICES.get(done or ""), **values)
    response = HTMLResponse(html, http_status)
    secure_page(request, response)
    return response


def secure_page(request: Request, response: Response) -> None:
    response.headers["Content-Security-Policy"] = policy(request)
    response.headers["Cache-Control"] = "no-store"  # pages show one person's data
    # Not the API's no-referrer: under it a browser sends `Origin: null` with a form, and the
    # CSRF check wants the real origin. same-origin still sends no Referer to another site.
    response.headers["Referrer-Policy"] = "same-origin"
    set_csrf(request, response)


def redirect(path: str, done: str | None = None) -> RedirectResponse:
    return RedirectResponse(path + (f"?done={done}" if done else ""), status_code=303)


async def form_of(request: Request) -> FormData | None:
    """The posted form, None when its CSRF token does not match this browser's."""
    form = await request.form()
    return form if csrf_valid(request, form.get(CSRF_FIELD)) else None


async def refused_form(request: Request) -> HTMLResponse:
    return await render(request, "error.html", 403, errors=[problem("CSRF_FAILED")])


async def signed_in(request: Request) -> Viewer | Response:
    """The viewer, or a redirect to the sign-in page that comes back here."""
    viewer = (await session_of(request)).viewer
    if viewer.is_authenticated:
        return viewer
    return RedirectResponse(f"/portal/sign-in?next={quote(request.url.path)}", status_code=303)


def problem(code: str | None, detail: str = "", field: list[str] | None = None
            ) -> dict[str, Any]:
    return {"code": code or "", "message": message_for(code), "detail": detail,
            "field": (field or [None])[-1]}


def problems(answer: Answer, payload: str) -> list[dict[str, Any]]:
    """A mutation's userErrors and top-level errors, each with its clear message."""
    found = [problem(e.get("code"), e.get("message", ""), e.get("field"))
             for e in ((answer.data.get(payload) or {}).get("userErrors") or [])]
    for error in answer.errors:
        detail = error.get("message", "")
        if error.get("retryAfter"):
            detail = f"Try again in {error['retryAfter']} seconds."
        found.append(problem(error.get("code"), detail))
    return found


def checked_scopes(form: FormData) -> list[str]:
    return [s for s in form.getlist("scopes") if s in SCOPES]


class UnavailablePage:
    """While the database cannot be reached, a page says so (503, to reload), not a crash."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except (Unavailable, DBAPIError):
            html = environment().get_template("error.html").render(
                viewer=ANONYMOUS, csrf="", errors=[problem("SERVICE_UNAVAILABLE")])
            await HTMLResponse(html, 503, headers={
                "Retry-After": "1", "Content-Security-Policy": policy(Request(scope))})(
                scope, receive, send)
