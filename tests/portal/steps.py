"""A browser's worth of HTTP for the portal: cookies kept, forms posted with their CSRF token."""
import re
from typing import Any

import httpx

from tests.helpers import PASSWORD


def csrf_of(client: httpx.AsyncClient) -> str:
    return client.cookies.get("escp_csrf", path="/portal") or ""


async def page(client: httpx.AsyncClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:2000])
    return response.text


async def post(client: httpx.AsyncClient, path: str, data: dict[str, Any] | None = None,
               csrf: str | None = None) -> httpx.Response:
    """A form post with this browser's CSRF token (or the one given)."""
    if not csrf_of(client):
        await page(client, "/portal/sign-in")
    body = {"csrf": csrf if csrf is not None else csrf_of(client), **(data or {})}
    return await client.post(path, data=body)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD
                  ) -> httpx.Response:
    await page(client, "/portal/sign-in")
    return await post(client, "/portal/sign-in", {"email": email, "password": password})


def codes(html: str) -> list[str]:
    """The codes of the errors a page shows."""
    return re.findall(r'<li data-code="([A-Z_]*)">', html)
