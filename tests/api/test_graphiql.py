"""GraphiQL works without internet: its page loads every file from the server, files shipped in
the package (vendored from npm with their licenses), and renders in a headless browser."""
import asyncio
import base64
import fnmatch
import hashlib
import json
import os
import re
import shutil
import tempfile
import tomllib
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from db.engine import Database
from db.settings import Settings
from tests.api.connection_steps import request
from tests.api.test_subscriptions import CONNECTIONS
from tests.helpers import PASSWORD, Cast
from tests.served import served, subscribed, subscriptions_active

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "web" / "graphiql"
PAGE = "http://escp.test/graphql"


async def graphiql_page(client: httpx.AsyncClient) -> str:
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    return page.text


def loaded_files(html: str) -> list[tuple[str, str]]:
    """(url, integrity) of every script and stylesheet the page loads."""
    tags = re.findall(r'<script\b[^>]*>|<link\b[^>]*\brel="stylesheet"[^>]*>', html)
    found = []
    for tag in tags:
        url = re.search(r'\b(?:src|href)="([^"]+)"', tag)
        if url:
            integrity = re.search(r'\bintegrity="([^"]+)"', tag)
            found.append((url.group(1), integrity.group(1) if integrity else ""))
    return found


async def test_the_page_loads_every_file_from_the_server(client: httpx.AsyncClient) -> None:
    html = await graphiql_page(client)
    files = loaded_files(html)
    assert len(files) == 6  # react, react-dom, graphiql (js, css), the explorer (js, css)
    assert "https://" not in html and "unpkg" not in html
    for url, integrity in files:
        response = await client.get(urljoin(PAGE, url))
        assert response.status_code == 200, url
        kind = "text/css" if url.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].startswith(kind), url
        # The very bytes the page pins (its SRI hashes are those of the CDN page before).
        digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
        assert integrity == f"sha384-{digest}", url


def test_each_vendored_package_has_its_license_and_is_shipped_in_the_wheel() -> None:
    files = [p for p in VENDORED.rglob("*") if p.is_file()]
    for folder in {p.parent for p in files if p.parent != VENDORED}:
        assert (folder / "LICENSE").is_file(), folder
    # pyproject's package data covers the page and every vendored file, so a non-editable
    # install (a wheel) ships them.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["web"]
    for path in [ROOT / "web" / "graphiql.html", *files]:
        relative = path.relative_to(ROOT / "web").as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) and relative.count("/") ==
                   pattern.count("/") for pattern in patterns), relative


def browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(browser() is None,
                    reason="needs a headless Chromium (apt-get install chromium)")
async def test_the_page_renders_in_a_browser_without_internet(
        database_url: str, settings: Settings) -> None:
    async with served(database_url, settings) as app:
        with tempfile.TemporaryDirectory() as profile:
            chromium = await asyncio.create_subprocess_exec(
                browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", f"--user-data-dir={profile}",
                # No internet: every host but this machine fails to resolve.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=10000", "--dump-dom", f"{app.http}/graphql",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            async with asyncio.timeout(60):
                dom, _ = await chromium.communicate()
    page = dom.decode()
    # React rendered GraphiQL: its editors and the example operations are on the page.
    assert "graphiql-editors" in page and "Loading..." not in page, page[:2000]
    assert "Directory" in page


JS = ROOT / "tests" / "js"


@pytest.mark.skipif(browser() is None or shutil.which("node") is None
                    or not (JS / "node_modules" / "playwright-core").is_dir(),
                    reason="needs a headless Chromium (apt-get install chromium), node and "
                           "playwright-core (npm ci --prefix tests/js)")
async def test_graphiql_signs_in_and_subscribes(database_url: str, settings: Settings,
                                                database: Database, cast: Cast) -> None:
    """In the browser: the login mutation, then the token in the Headers tab, which GraphiQL
    sends in the subscription's connection_init; the event shows, every frame was text."""
    async with served(database_url, settings) as app, \
            httpx.AsyncClient(base_url=app.http, timeout=30) as http:
        person = cast.people["supplier_a_user"]
        before = await subscriptions_active(app)
        graphiql = await asyncio.create_subprocess_exec(
            "node", str(JS / "graphiql.mjs"), f"{app.http}/graphql", person.email, PASSWORD,
            CONNECTIONS, "PENDING", stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "CHROMIUM": browser() or ""})
        assert graphiql.stdout is not None
        try:
            async with asyncio.timeout(90):
                lines = [await graphiql.stdout.readline() for _ in range(2)]
                lines = [json.loads(line) if line else "(nothing)" for line in lines]
                assert lines == [{"signedIn": True}, {"subscribed": True}], lines
                await subscribed(app, before)
                await request(http, cast, "customer_a_user", "alpha", ["CERTIFICATION"])
                shown = json.loads(await graphiql.stdout.readline())
                frames = json.loads(await graphiql.stdout.readline())
                assert await graphiql.wait() == 0
        finally:
            if graphiql.returncode is None:
                graphiql.kill()
                await graphiql.wait()
    assert "connectionChanged" in shown["shown"] and "alpha factory" in shown["shown"], shown
    assert frames == {"binaryFrames": 0}
