"""Answers shared by the HTTP endpoints: GraphQL-shaped errors, attachments, the viewer."""
import logging
from typing import Any
from urllib.parse import quote

from cross_web import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from strawberry.schema.exceptions import CannotGetOperationTypeError

from auth.viewer import ANONYMOUS, Viewer
from web.media import (
    GRAPHQL_RESPONSE,
    JSON,
    content_type,
)

log = logging.getLogger("escp")


def viewer_of(conn: HTTPConnection) -> Viewer:
    """The viewer the authentication middleware found (anonymous without a token)."""
    return getattr(conn.scope.get("user"), "viewer", ANONYMOUS)



def refusal(refused: HTTPException, media: str) -> Response:
    """Strawberry's plain-text refusals as GraphQL errors with a code, in the request's media
    type. An operationName that names no operation is a request error like a validation one
    (200 in application/json, 400 in application/graphql-response+json)."""
    if isinstance(refused.__cause__, CannotGetOperationTypeError):
        status = 400 if media == GRAPHQL_RESPONSE else 200
        return json_error(status, "OPERATION_RESOLUTION_FAILURE", refused.reason, data=True,
                          media=media)
    if refused.status_code == 405:
        return json_error(405, "METHOD_NOT_ALLOWED", refused.reason, media=media,
                          headers={"Allow": "POST"})
    code = "NOT_FOUND" if refused.status_code == 404 else "BAD_REQUEST"
    return json_error(refused.status_code, code, refused.reason, media=media)



def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
               data: bool = False, media: str = JSON) -> JSONResponse:
    """An error body shaped like a GraphQL error, with `"data": null` when it answers a GraphQL
    request in application/json (application/graphql-response+json has no data entry then)."""
    body: dict[str, Any] = {"data": None} if data and media == JSON else {}
    body["errors"] = [{"message": message, "extensions": {"code": code}}]
    return JSONResponse(body, status_code=status, headers=headers, media_type=content_type(media))


def is_unavailable_answer(response_data: Any) -> bool:
    """An answer holding a SERVICE_UNAVAILABLE error (schema.extensions.MaskInternalErrors)."""
    errors = response_data.get("errors") if isinstance(response_data, dict) else None
    return any((error.get("extensions") or {}).get("code") == "SERVICE_UNAVAILABLE"
               for error in errors or ())



def attachment(filename: str) -> str:
    """Content-Disposition as Starlette's FileResponse writes it (RFC 6266, RFC 5987 if needed)."""
    quoted = quote(filename)
    if quoted != filename:
        return f"attachment; filename*=utf-8''{quoted}"
    return f'attachment; filename="{filename}"'


async def client_went_away(request: Request, exc: Exception) -> Response:
    """A client that leaves mid-request is no server error: no traceback, nothing to answer
    (the status is for the access log only: 499, "client closed request", as nginx says)."""
    log.debug("client went away during %s %s", request.method, request.url.path)
    return Response(status_code=499)


