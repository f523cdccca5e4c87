"""Pages for everyone: the directory, a factory's page, verification, signing in and out."""
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from auth.backend import viewer_for_token
from auth.viewer import Viewer
from web.portal.graph import execute
from web.portal.pages import (
    checked_scopes,
    form_of,
    problems,
    redirect,
    refused_form,
    render,
    signed_in,
)
from web.portal.session import end_session, session_of, start_session

STATUSES = ["NOT_CERTIFIED", "IN_PROGRESS", "CERTIFIED", "SUSPENDED", "EXPIRED", "REVOKED"]
DIRECTORY = """
query Directory($after: String, $filter: FactoryFilter) {
  factories(first: 20, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id name country city productCategories certificationStatus certifiedUntil }
  }
}"""
FACTORY = """
query Factory($id: ID!) {
  factory(id: $id) {
    id name country city productCategories listed certificationStatus certifiedUntil
    viewerAccess { isOwner scopes connection { id status requestedScopes grantedScopes } }
  }
}"""
REQUEST = """
mutation Request($input: RequestConnectionInput!) {
  requestConnection(input: $input) { connection { id } userErrors { code field message } }
}"""
VERIFY_CERTIFICATE = """
query VerifyCertificate($number: String!) {
  verifyCertificate(number: $number) { number valid status factoryName country validUntil }
}"""
VERIFY_AUDITOR = """
query VerifyAuditor($number: String!) {
  verifyAuditor(registrationNumber: $number) { registrationNumber name auditFirm active }
}"""
LOGIN = """
mutation SignIn($input: LoginInput!) {
  login(input: $input) { accessToken expiresAt userErrors { code field message } }
}"""
SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { accessToken expiresAt userErrors { code field message } }
}"""


async def directory(request: Request) -> Response:
    viewer = (await session_of(request)).viewer
    params = request.query_params
    search, country = params.get("search", "").strip(), params.get("country", "").strip()
    status = params.get("status", "")
    filters: dict[str, Any] = {}
    if search:
        filters["search"] = search
    if country:
        filters["country"] = country.upper()
    if status in STATUSES:
        filters["certificationStatus"] = status
    answer = await execute(request, viewer, DIRECTORY,
                           {"after": params.get("after") or None, "filter": filters or None})
    return await render(request, "directory.html", factories=answer.data.get("factories"),
                        errors=problems(answer, ""), search=search, country=country,
                        status=status, statuses=STATUSES)


async def factory_page(request: Request, errors: list[dict[str, Any]] | None = None,
                       status: int = 200) -> Response:
    viewer = (await session_of(request)).viewer
    answer = await execute(request, viewer, FACTORY, {"id": request.path_params["id"]})
    factory = answer.data.get("factory")
    if factory is None:
        return await render(request, "error.html", 404, errors=problems(answer, "") or [
            {"code": "NOT_FOUND", "message": "No factory with that id is listed.", "detail": ""}])
    return await render(request, "factory.html", status, factory=factory, errors=errors or [])


async def request_connection(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    form = await form_of(request)
    if form is None:
        return await refused_form(request)
    factory_id = request.path_params["id"]
    answer = await execute(request, viewer, REQUEST, {"input": {
        "factoryId": factory_id, "scopes": checked_scopes(form),
        "message": str(form.get("message") or "").strip() or None}})
    errors = problems(answer, "requestConnection")
    if errors:
        return await factory_page(request, errors, 422)
    return redirect(f"/portal/factories/{factory_id}", "requested")


async def verify(request: Request) -> Response:
    viewer = (await session_of(request)).viewer
    certificate = request.query_params.get("certificate", "").strip()
    auditor = request.query_params.get("auditor", "").strip()
    found: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    if certificate:
        answer = await execute(request, viewer, VERIFY_CERTIFICATE, {"number": certificate})
        found["certificate"] = answer.data.get("verifyCertificate")
        errors += problems(answer, "")
    if auditor:
        answer = await execute(request, viewer, VERIFY_AUDITOR, {"number": auditor})
        found["auditor"] = answer.data.get("verifyAuditor")
        errors += problems(answer, "")
    return await render(request, "verify.html", certificate=certificate, auditor=auditor,
                        found=found, errors=errors)


def _home_of(kind: str | None) -> str:
    return {"CUSTOMER": "/portal/dashboard", "SUPPLIER": "/portal/mine"}.get(kind or "",
                                                                             "/portal/")


def _next(form_value: object) -> str | None:
    """Where to go after signing in: a path of the portal only (never another site)."""
    value = str(form_value or "")
    return value if value.startswith("/portal/") and "//" not in value else None


async def sign_in_page(request: Request) -> Response:
    return await render(request, "sign_in.html", email="",
                        next=_next(request.query_params.get("next")) or "", errors=[])


async def sign_in(request: Request) -> Response:
    form = await form_of(request)
    if form is None:
        return await refused_form(request)
    email, after = str(form.get("email") or ""), _next(form.get("next"))
    answer = await execute(request, Viewer(), LOGIN, {"input": {
        "email": email, "password": str(form.get("password") or "")}})
    return await _signed(request, answer, "login", "sign_in.html", after,
                         email=email, next=after or "")


async def sign_up_page(request: Request) -> Response:
    return await render(request, "sign_up.html", form={}, errors=[])


async def sign_up(request: Request) -> Response:
    form = await form_of(request)
    if form is None:
        return await refused_form(request)
    values = {name: str(form.get(name) or "").strip() for name in
              ("email", "name", "organizationName", "organizationKind")}
    if values["organizationKind"] not in ("SUPPLIER", "CUSTOMER"):
        values["organizationKind"] = "CUSTOMER"
    answer = await execute(request, Viewer(), SIGN_UP, {"input": {
        **values, "password": str(form.get("password") or "")}})
    return await _signed(request, answer, "signUp", "sign_up.html", None, form=values)


async def _signed(request: Request, answer: Any, payload: str, template: str,
                  after: str | None, **values: Any) -> Response:
    """Start the session with the mutation's token, or show the form again with its errors."""
    errors = problems(answer, payload)
    signed = answer.data.get(payload) or {}
    if errors or not signed.get("accessToken"):
        status = 429 if "TOO_MANY_ATTEMPTS" in answer.codes() else 422
        return await render(request, template, status, errors=errors, **values)
    # The mutation's token only says who signed in; the session is ours (server-side), and the
    # token goes no further than this function.
    state = request.app.state
    viewer = await viewer_for_token(state.database, state.settings, signed["accessToken"])
    response = redirect(after or _home_of(viewer.organization_kind and
                                          viewer.organization_kind.value))
    await start_session(request, response, viewer.user_id or 0)
    return response


async def sign_out(request: Request) -> Response:
    form = await form_of(request)
    if form is None:
        return await refused_form(request)
    response = redirect("/portal/sign-in", "signed-out")
    await end_session(request, response)
    return response
