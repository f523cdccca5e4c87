"""The portal's pages over HTTP (in-process): sessions, CSRF, the policy, and each page's data
coming from the schema as the viewer."""
import fnmatch
import re
import tomllib
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from starlette.applications import Starlette

from auth.socket_tickets import issue_ticket
from db import Certificate
from db.engine import Database
from db.settings import Settings
from tests.given import PDF, audited_factory, connect
from tests.helpers import Cast
from tests.portal.steps import codes, csrf_of, page, post, sign_in
from web.portal import public
from web.portal.graph import Unavailable
from web.portal.messages import MESSAGES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def browser(app: Starlette, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escp.test") as client:
        yield client


async def test_every_page_has_a_policy_without_inline_scripts(browser: httpx.AsyncClient,
                                                               cast: Cast) -> None:
    response = await browser.get("/portal/")
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["connect-src"] == "'self' ws://escp.test"
    assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'self'"
    # and no page carries an inline script or style attribute the policy would block
    for template in (ROOT / "web" / "portal" / "templates").glob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), template
        assert " style=" not in html, template
        assert not re.search(r"\son[a-z]+=", html), template


async def test_the_session_cookie_is_httponly_samesite_lax_and_secure_over_https(
        app: Starlette, cast: Cast) -> None:
    for base, secure in (("http://escp.test", False), ("https://escp.test", True)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=base) as client:
            signed = await sign_in(client, "customer_a_user@example.test")
            assert signed.status_code == 303, signed.text
            cookies = signed.headers.get_list("set-cookie")
            session = next(c for c in cookies if c.startswith("escp_session="))
            flags = {f.strip().lower() for f in session.split(";")[1:]}
            assert {"httponly", "samesite=lax", "path=/portal"} <= flags
            assert ("secure" in flags) is secure
            assert any(f.startswith("max-age=") for f in flags)


async def test_a_form_without_the_right_csrf_token_is_refused_and_changes_nothing(
        browser: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await sign_in(browser, "customer_a_user@example.test")
    factory = cast.factory_gid("alpha")
    for token in ("", "forged"):
        refused = await post(browser, f"/portal/factories/{factory}/connect",
                             {"scopes": "PROFILE"}, csrf=token)
        assert refused.status_code == 403 and codes(refused.text) == ["CSRF_FAILED"]
    # from another site, even with the token
    refused = await browser.post(f"/portal/factories/{factory}/connect",
                                 data={"csrf": csrf_of(browser), "scopes": "PROFILE"},
                                 headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    html = await page(browser, f"/portal/factories/{factory}")
    assert "Ask to connect" in html  # no request was made
    sent = await post(browser, f"/portal/factories/{factory}/connect", {"scopes": "PROFILE"})
    assert sent.status_code == 303
    assert "Your connection" in await page(browser, f"/portal/factories/{factory}")


async def test_sign_in_failures_show_their_message_and_the_api_throttle_applies(
        browser: httpx.AsyncClient, cast: Cast, limit_sign_ins: Callable[..., None]) -> None:
    limit_sign_ins(login_attempts_per_account=2)
    wrong = await sign_in(browser, "customer_a_user@example.test", "not-the-password")
    assert wrong.status_code == 422 and codes(wrong.text) == ["INVALID_CREDENTIALS"]
    assert "escp_session" not in wrong.headers.get("set-cookie", "")
    await sign_in(browser, "customer_a_user@example.test", "not-the-password")
    throttled = await sign_in(browser, "customer_a_user@example.test")
    assert throttled.status_code == 429 and codes(throttled.text) == ["TOO_MANY_ATTEMPTS"]
    assert "Try again in" in throttled.text


async def test_sign_up_then_sign_out_ends_the_session(browser: httpx.AsyncClient,
                                                      cast: Cast) -> None:
    await page(browser, "/portal/sign-up")
    short = await post(browser, "/portal/sign-up", {
        "organizationKind": "SUPPLIER", "organizationName": "Gamma Mills", "name": "Ann",
        "email": "ann@gamma.test", "password": "short"})
    assert short.status_code == 422 and codes(short.text) == ["WEAK_PASSWORD"]
    assert 'value="Gamma Mills"' in short.text  # what was typed stays
    made = await post(browser, "/portal/sign-up", {
        "organizationKind": "SUPPLIER", "organizationName": "Gamma Mills", "name": "Ann",
        "email": "ann@gamma.test", "password": "long-enough-password"})
    assert made.status_code == 303 and made.headers["location"] == "/portal/mine"
    assert "Gamma Mills factories" in await page(browser, "/portal/mine")
    out = await post(browser, "/portal/sign-out")
    assert out.status_code == 303
    assert not browser.cookies.get("escp_session", path="/portal")
    gone = await browser.get("/portal/mine")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/portal/sign-in")


async def test_every_user_error_code_of_the_schema_has_a_message() -> None:
    sdl = (ROOT / "schema.graphql").read_text()
    described = set()
    for text in re.findall(r"(?:Codes?|userErrors): ([A-Z_, ()a-z]+)", sdl):
        described |= set(re.findall(r"\b[A-Z][A-Z_]{2,}\b", text))
    for body in re.findall(r"enum \w+ErrorCode \{(.*?)\}", sdl, re.DOTALL):  # the typed codes
        described |= set(re.findall(r"^\s+([A-Z][A-Z_]+)$", body, re.MULTILINE))
    raised = set()
    for path in (ROOT / "resolvers").rglob("*.py"):
        raised |= set(re.findall(r'BusinessRuleError\(\s*"([A-Z_]+)"', path.read_text()))
    assert described and raised
    assert (described | raised | {"TOO_MANY_ATTEMPTS"}) - set(MESSAGES) == set()


async def test_the_directory_filters_and_the_factory_page(browser: httpx.AsyncClient,
                                                          cast: Cast) -> None:
    everything = await page(browser, "/portal/factories")
    assert "alpha factory" in everything and "beta factory" in everything
    assert "hidden factory" not in everything  # unlisted: the API does not list it
    vietnam = await page(browser, "/portal/factories?country=vn")
    assert "beta factory" in vietnam and "alpha factory" not in vietnam
    certified = await page(browser, "/portal/factories?status=CERTIFIED")
    assert "No factory matches" in certified
    found = await page(browser, "/portal/factories?search=alpha")
    assert "alpha factory" in found and "beta factory" not in found
    alpha = await page(browser, f"/portal/factories/{cast.factory_gid('alpha')}")
    assert "Sign in</a> as a customer" in alpha
    assert "alpha street" not in alpha  # PROFILE is not public
    await page(browser, "/portal/factories/Tm9wZTox", 404)


async def test_verification(browser: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    async with database.unit_of_work() as session:
        session.add(Certificate(number="C009001", factory_id=cast.factories["alpha"],
                                issued_on=date(2026, 1, 10), valid_until=date(2099, 1, 10)))
    html = await page(browser, "/portal/verify?certificate=C009001")
    assert "Valid</strong>: certificate C009001" in html and "alpha factory" in html
    assert "No certificate with the number NOPE" in await page(
        browser, "/portal/verify?certificate=NOPE")
    html = await page(browser, "/portal/verify?auditor=REG-FIRM_A_LEAD")
    assert "Accredited</strong>: firm_a_lead" in html


async def test_the_dashboard_shows_what_is_shared_and_not_shared(
        browser: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await connect(database, cast, "customer_a", "alpha", ["PROFILE", "AUDITS"])
    await sign_in(browser, "customer_a_user@example.test")
    html = await page(browser, "/portal/dashboard")
    assert "alpha street 1" in html  # PROFILE
    row = html[html.index('data-scope="CERTIFICATION"'):]
    assert row.split("</dd>")[0].endswith('<span class="not-shared">not shared</span>')
    assert "no audit yet" in html
    csv = await browser.get("/portal/exports/factories.csv")
    assert csv.status_code == 200 and "alpha factory" in csv.text
    assert csv.text.splitlines()[1].endswith("PROFILE AUDITS")


async def test_pages_for_the_wrong_kind_of_account_are_refused(browser: httpx.AsyncClient,
                                                               cast: Cast) -> None:
    assert (await browser.get("/portal/dashboard")).status_code == 303  # signed out: sign in
    await sign_in(browser, "supplier_a_user@example.test")
    await page(browser, "/portal/dashboard", 403)
    await page(browser, f"/portal/mine/{cast.factory_gid('beta')}", 404)  # another's factory
    html = await page(browser, f"/portal/mine/{cast.factory_gid('alpha')}")
    assert "No application yet" in html and "Nobody has viewed" in html


async def test_a_socket_ticket_works_in_connection_init_only(
        browser: httpx.AsyncClient, app: Starlette, cast: Cast) -> None:
    assert (await browser.get("/portal/socket-ticket")).status_code == 401
    await sign_in(browser, "customer_a_user@example.test")
    ticket = (await browser.get("/portal/socket-ticket")).json()["ticket"]
    assert ticket.startswith("wsticket_")
    refused = await browser.post("/graphql", json={"query": "{ viewer { user { id } } }"},
                                 headers={"Authorization": f"Bearer {ticket}"})
    assert refused.status_code == 401
    assert "escp_session" not in (await browser.get("/portal/dashboard")).text
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app),
                                 base_url="http://escp.test") as client, \
            aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"type": "connection_init",
                            "payload": {"Authorization": f"Bearer {ticket}"}})
        assert (await ws.receive_json())["type"] == "connection_ack"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {
            "query": "{ viewer { user { email } } }"}})
        answer = await ws.receive_json()
        assert answer["payload"]["data"]["viewer"]["user"]["email"] == \
            "customer_a_user@example.test"


async def test_a_forged_or_expired_ticket_is_refused_at_connection_init(
        app: Starlette, cast: Cast, settings: Settings) -> None:
    user = cast.people["customer_a_user"].user_id
    no_session = issue_ticket(settings, user, 999_999)
    forged = issue_ticket(settings, user, 1)[:-3] + "abc"
    for ticket in (no_session, forged, "wsticket_nonsense"):
        async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app),
                                     base_url="http://escp.test") as client, \
                aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json({"type": "connection_init",
                                "payload": {"Authorization": f"Bearer {ticket}"}})
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive_json()
            assert closed.value.code == 4403


async def test_the_progress_page_shows_the_steps_and_the_plan_to_write(
        browser: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    audited = await audited_factory(database, cast, findings=2)
    await sign_in(browser, "supplier_a_user@example.test")
    html = await page(browser, f"/portal/mine/{cast.factory_gid('alpha')}")
    for step in ("1. Application", "2. Audit firm", "3. Audit, report and corrective actions",
                 "4. Review", "5. Certificate"):
        assert step in html
    assert "firm_a org" in html and "REPORT SUBMITTED" in html
    assert f'name="audit" value="{audited.audit_gid}"' in html
    for finding in audited.finding_gids:
        assert f'<label for="action-{finding}">' in html
    # a plan with a past date is refused with its message, and the page shown again
    refused = await post(browser, f"/portal/mine/{cast.factory_gid('alpha')}/cap", {
        "audit": audited.audit_gid, "finding": audited.finding_gids[:1],
        f"action-{audited.finding_gids[0]}": "Fix it", f"due-{audited.finding_gids[0]}":
        "2020-01-01", f"agrees-{audited.finding_gids[0]}": "yes"})
    assert refused.status_code == 422 and codes(refused.text) == ["VALIDATION"]
    assert "Every finding needs an action: 1 of 2 have none." in refused.text


async def test_an_unreachable_database_is_a_page_to_reload(
        browser: httpx.AsyncClient, cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    async def unavailable(*args: object, **kwargs: object) -> None:
        raise Unavailable()

    monkeypatch.setattr(public, "execute", unavailable)
    response = await browser.get("/portal/factories")
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert codes(response.text) == ["SERVICE_UNAVAILABLE"]


async def test_a_factory_answers_requests_applies_and_reports_its_figures(
        browser: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    customer = httpx.AsyncClient(transport=browser._transport, base_url="http://escp.test")
    async with customer:
        await sign_in(customer, "customer_a_user@example.test")
        for name in ("alpha", "hidden"):
            await post(customer, f"/portal/factories/{cast.factory_gid(name)}/connect",
                       {"scopes": ["PROFILE"], "message": "Hello"})
        refused = await post(customer, f"/portal/factories/{cast.factory_gid('hidden')}/connect",
                             {"scopes": ["PROFILE"]})
        assert refused.status_code in (404, 422)
    await sign_in(browser, "supplier_a_user@example.test")
    alpha = f"/portal/mine/{cast.factory_gid('alpha')}"
    html = await page(browser, alpha)
    assert "customer_a org asks to connect" in html and "<blockquote>Hello</blockquote>" in html
    connection = re.search(r'/portal/connections/([^/]+)/respond', html).group(1)
    declined = await post(browser, f"/portal/connections/{connection}/respond",
                          {"answer": "decline", "back": cast.factory_gid("alpha")})
    assert declined.headers["location"] == f"{alpha}?done=declined"
    html = await page(browser, declined.headers["location"])
    assert "The request was declined." in html and "No request waiting." in html
    again = await post(browser, f"/portal/connections/{connection}/respond",
                       {"answer": "accept", "scopes": ["PROFILE"],
                        "back": cast.factory_gid("alpha")})
    assert again.status_code == 422 and codes(again.text) == ["INVALID_STATE"]

    applied = await post(browser, f"{alpha}/apply", {"kind": "NEW"})
    assert applied.status_code == 303
    html = await page(browser, applied.headers["location"])
    assert "New application" in html and "Registration fee" in html
    assert "An application is in progress" in html and "/apply" not in html
    twice = await post(browser, f"{alpha}/apply", {"kind": "NEW"})
    assert codes(twice.text) == ["APPLICATION_OPEN"]

    reported = await post(browser, f"{alpha}/environment",
                          {"periodYear": "2025", "energyKwh": "1200.5", "waterM3": ""})
    assert reported.status_code == 303
    assert "<td>2025</td><td>1200.5</td><td>—</td>" in await page(
        browser, reported.headers["location"])
    bad = await post(browser, f"{alpha}/environment", {"periodYear": "1200"})
    assert bad.status_code == 422 and codes(bad.text) == ["VALIDATION"]


async def test_uploads_need_the_session_and_the_csrf_token(browser: httpx.AsyncClient,
                                                           cast: Cast) -> None:
    files = {"file": ("report.pdf", PDF, "application/pdf")}
    assert (await browser.post("/portal/uploads", files=files)).status_code == 401
    await sign_in(browser, "supplier_a_user@example.test")
    refused = await browser.post("/portal/uploads", files=files,
                                 headers={"X-CSRF-Token": "forged"})
    assert refused.status_code == 403 and refused.json()["code"] == "CSRF_FAILED"
    done = await browser.post("/portal/uploads", files=files,
                              headers={"X-CSRF-Token": csrf_of(browser)})
    assert done.status_code == 201 and done.json()["filename"] == "report.pdf"
    wrong = await browser.post("/portal/uploads", headers={"X-CSRF-Token": csrf_of(browser)},
                               files={"file": ("x.pdf", b"not a pdf", "application/pdf")})
    assert wrong.status_code == 415 and wrong.json()["code"] == "UNSUPPORTED_TYPE"


def test_the_templates_and_static_files_are_shipped_in_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["web.portal"]
    portal = ROOT / "web" / "portal"
    files = [p for folder in ("templates", "static") for p in (portal / folder).iterdir()]
    assert len(files) > 10
    for path in files:
        relative = path.relative_to(portal).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
