"""Request body limits, stated per route."""
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from web.responses import json_error

GRAPHQL_BODY_LIMIT = 1024 * 1024


class BodySizeLimit:
    """Refuses request bodies over `limit` bytes (413), declared or streamed.

    It wraps one route's endpoint, so each route that reads a body states its own limit.
    """

    def __init__(self, app: ASGIApp, limit: int, code: str = "REQUEST_TOO_LARGE") -> None:
        self.app, self.limit, self.code = app, limit, code

    def refuse(self) -> JSONResponse:
        return json_error(413, self.code, f"The request body may have at most {self.limit} bytes.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.limit:
            return await self.refuse()(scope, receive, send)
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except TooLarge:
            await self.refuse()(scope, receive, send)


class TooLarge(Exception):
    pass

