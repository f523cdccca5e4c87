"""GraphiQL works without internet: its page loads every file from the server, files shipped in
the package (vendored from npm with their licenses), and renders in a headless browser."""
import asyncio
import base64
import fnmatch
import hashlib
import re
import shutil
import tempfile
import tomllib
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from db.settings import Settings
from tests.served import served

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
