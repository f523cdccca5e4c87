"""Security headers on every response, and GraphiQL's page with its own policy."""
import base64
import functools
import hashlib
import re
from importlib import resources
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

# ---------------------------------------------------------------- security headers

# On every HTTP response. The API answers JSON, never a page: its policy allows nothing at all
# (GraphiQL's page sets its own, graphiql_policy). Framing is forbidden both ways old and new
# browsers understand; no Referer leaves a page of ours (download links carry a signature).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]+)?|\[[0-9A-Fa-f:.]+\](:[0-9]+)?")


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


@functools.cache
def graphiql_page() -> str:
    """GraphiQL's page: Strawberry's, loading its files from this package (web/graphiql,
    served at /graphiql) instead of a CDN, so it works without internet."""
    return (resources.files("web") / "graphiql.html").read_text(encoding="utf-8")


@functools.cache
def _graphiql_sources(html: str) -> str:
    """What GraphiQL's page loads, as policy directives: its inline script by hash, its files
    from our own origin (each also pinned by SRI in the page), inline styles (its components
    set them), data: icons and fonts. No eval: GraphiQL 3 does not need it."""
    inline = [base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
              for code in re.findall(r"<script>(.*?)</script>", html, re.S)]
    return "; ".join([
        "default-src 'none'",
        "script-src 'self' " + " ".join(f"'sha256-{h}'" for h in inline),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:", "font-src 'self' data:",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ])


def graphiql_policy(html: str, url: Any) -> str:
    """The GraphiQL page's policy: its sources, and its own origin over HTTP and WebSocket
    (older browsers do not count ws: as 'self')."""
    connect = "connect-src 'self'"
    if _HOST.fullmatch(url.netloc or ""):
        connect += f" {'wss' if url.scheme == 'https' else 'ws'}://{url.netloc}"
    return f"{_graphiql_sources(html)}; {connect}"

