"""What browsers are told: security headers on every response, a content security policy that
lets GraphiQL work and nothing else, and CORS off unless origins are allowed by setting."""
import base64
import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from app import create_app
from db.settings import Settings
from tests.api.test_security import serving
from tests.helpers import Cast

APP_ORIGIN = "https://app.example.com"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


def assert_secured(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_every_response_carries_the_security_headers(client: httpx.AsyncClient,
                                                           cast: Cast) -> None:
    token = {"Authorization": f"Bearer {cast.token('customer_a_user')}"}
    responses = [
        await client.get("/healthz"),
        await client.get("/readyz"),
        await client.post("/graphql", json={"query": "{ __typename }"}),
        await client.get("/graphql", params={"query": "{ __typename }"}),
        await client.post("/graphql", json={"query": "{ __typename }"},
                          headers={"Authorization": "Bearer not-a-token"}),  # 401
        await client.post("/graphql", content=b"x" * (2 * 1024 * 1024),
                          headers={"Content-Type": "application/json"}),  # 413
        await client.post("/documents", headers=token),  # 400, no file
        await client.get("/documents/nope?expires=1&signature=x"),  # 404
        await client.get("/nowhere"),  # 404 from the router
        await client.get("/graphql", headers={"Accept": "text/html"}),  # GraphiQL
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 401, 413, 400, 404, 404,
                                                  200]
    for response in responses:
        assert_secured(response)
    for response in responses[:-1]:  # JSON, never a page: its policy allows nothing
        assert response.headers["content-security-policy"] == API_POLICY


async def test_even_a_crash_answers_with_the_security_headers(settings: Settings) -> None:
    app = create_app(settings, send_outbox=False)

    async def crash(request: object) -> None:
        raise RuntimeError("a bug")

    app.add_route("/crash", crash)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://escp.test") as client:
        response = await client.get("/crash")
    assert response.status_code == 500
    assert_secured(response)


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (d.split() for d in policy.split(";"))}


async def test_graphiql_has_a_policy_that_allows_exactly_what_the_page_loads(
        client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    policy = directives(page.headers["content-security-policy"])
    html = page.text
    # Its inline script may run (by hash), and the files it loads from its own origin (the
    # page names them by relative paths: no other host); nothing else.
    inline = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert inline
    hashes = {"'sha256-%s'" % base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
              for code in inline}
    scripts = set(re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', html))
    stylesheets = set(re.findall(r'<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"', html))
    assert len(scripts) >= 3 and stylesheets
    assert not any(":" in url or url.startswith("/") for url in scripts | stylesheets)
    assert set(policy["script-src"]) == hashes | {"'self'"}
    assert "'self'" in policy["style-src"]
    # It talks to its own origin, over HTTP and WebSocket (subscriptions).
    assert policy["connect-src"] == ["'self'", "ws://escp.test"]
    assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "data:" in policy["font-src"] and "data:" in policy["img-src"]  # its icon and fonts
    assert not any("unsafe-eval" in v or v == "*" for vs in policy.values() for v in vs)


async def preflight(client: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await client.options("/graphql", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    answer = await client.post("/graphql", json={"query": "{ __typename }"},
                               headers={"Origin": APP_ORIGIN})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    refused = await preflight(client, APP_ORIGIN)
    assert refused.status_code == 405 and "access-control-allow-origin" not in refused.headers


@pytest.fixture
async def browser_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(settings.model_copy(update=dict(cors_origins=(APP_ORIGIN,))),
                                  send_outbox=False)) as client:
        yield client


async def test_cors_allows_the_listed_origins_only(browser_app: httpx.AsyncClient,
                                                   cast: Cast) -> None:
    allowed = await preflight(browser_app, APP_ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert_secured(allowed)
    answer = await browser_app.post("/graphql", json={"query": "{ __typename }"},
                                    headers={"Origin": APP_ORIGIN})
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    # A refusal a browser app must be able to read carries the CORS headers too.
    refused = await browser_app.post("/graphql", json={"query": "{ __typename }"},
                                     headers={"Origin": APP_ORIGIN,
                                              "Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == APP_ORIGIN

    other = "https://evil.example.net"
    assert (await preflight(browser_app, other)).status_code == 400
    foreign = await browser_app.post("/graphql", json={"query": "{ __typename }"},
                                     headers={"Origin": other})
    assert "access-control-allow-origin" not in foreign.headers
