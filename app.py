"""ESCP Connect: the Starlette application and the `escp` command line."""
import argparse
import asyncio
import base64
import contextlib
import functools
import hashlib
import logging
import logging.config
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import quote

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.datastructures import MutableHeaders
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry import Schema
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from cross_web import HTTPException
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from auth.backend import TokenBackend, bearer_token, session_for_token, unauthenticated
from auth.passwords import refuse_test_profile
from auth.tokens import LEEWAY_SECONDS, InvalidToken
from auth.viewer import ANONYMOUS, Viewer
from db.embedded import DatabaseUnavailable
from db.engine import Database, make_engine
from db.settings import Settings, SettingError
from resolvers.context import Context
from resolvers.document import (
    DocumentRefused,
    LinkCheck,
    check_download,
    document_for_download,
    incoming_dir,
    record_upload,
)
from resolvers.access_log import ReadsBuffer
from resolvers.document_store import document_store
from resolvers.document_upload import UPLOAD_BODY_LIMIT, receive_upload
from resolvers.events import EventHub, prune_forever
from resolvers.expiry import sweep_forever
from resolvers.metrics import process_ended, watch_pool
from resolvers.notifications import OutboxSender
from resolvers.memory import MemoryKeeper
from resolvers.subscriptions import quiet, start_feeds, until_quiet
from resolvers.webhooks import WebhookDispatcher, WebhookSender
from schema import build_schema
from schema.extensions import UNAVAILABLE_MESSAGE
from schema.fanout import CURRENT_OPERATION
from schema.ids import decode_as, encode_id
from web.media import (
    GRAPHQL_RESPONSE,
    JSON,
    content_type,
    error_status,
    is_request_error,
    response_media_type,
)
from schema.persisted import PersistedDocuments
from telemetry import RequestTelemetry, log_config, metrics

log = logging.getLogger("escp")

GRAPHQL_BODY_LIMIT = 1024 * 1024


def viewer_of(conn: HTTPConnection) -> Viewer:
    """The viewer the authentication middleware found (anonymous without a token)."""
    return getattr(conn.scope.get("user"), "viewer", ANONYMOUS)


# ---------------------------------------------------------------- GraphQL over WebSocket

WS_MESSAGE_LIMIT = 64 * 1024
SUBSCRIPTIONS_PER_SOCKET = 20


class SocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, sending every message as a text frame and refusing a message over
    WS_MESSAGE_LIMIT (close 1009, "message too big") before it is decoded."""

    async def send_text(self, frame: str) -> None:
        """A message encoded already (schema.fanout: one encoding for many sockets)."""
        try:
            await self.ws.send_text(frame)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def send_json(self, message: Mapping[str, object]) -> None:
        # graphql-transport-ws messages are text frames: the standard clients (graphql-ws,
        # GraphiQL, gql) refuse binary ones. encode_json gives bytes, which suits HTTP.
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncIterator[object]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > WS_MESSAGE_LIMIT:
                    await self.close(1009, f"A message may have at most {WS_MESSAGE_LIMIT} bytes")
                    return
                try:
                    yield self.view.decode_json(text)
                except ValueError as exc:  # orjson's and json's decode errors both are
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
        except KeyError as exc:  # a binary frame
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass


class OperationContexts:
    """The schema as a socket handler sees it, giving each operation a context of its own.

    Strawberry hands every operation of a socket the socket's one context; ours is emptied per
    subscription event (Context.begin_event), which must not touch another operation's."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema

    def __getattr__(self, name: str) -> Any:
        return getattr(self._schema, name)

    async def stream(self, *args: Any, context_value: Context, **kwargs: Any) -> Any:
        return await self._schema.stream(*args, context_value=context_value.fresh(), **kwargs)


class OpenSockets:
    """This worker's signed-in sockets, counted per user, at most `limit` each: every socket
    holds feeds and tasks, and a client that reconnects in a loop must not pile them up."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: Counter[int] = Counter()

    def take(self, user_id: int) -> bool:
        if self.counts[user_id] >= self.limit:
            return False
        self.counts[user_id] += 1
        return True

    def release(self, user_id: int) -> None:
        self.counts[user_id] -= 1
        if self.counts[user_id] <= 0:
            del self.counts[user_id]


class SocketHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws, signed in by the token in the connection_init payload.

    No token: close 4401; a bad, expired or revoked one: close 4403, before any operation
    runs; a user's socket over ESCP_MAX_SOCKETS_PER_USER: close 4429. An open socket closes
    (4401) the moment its token expires."""

    def __init__(self, *, schema: Any, **kwargs: Any) -> None:
        super().__init__(schema=OperationContexts(schema), **kwargs)
        self._expiry: asyncio.Task[None] | None = None
        self._holder: int | None = None  # the user this socket is counted for

    async def handle_connection_init(self, message: Any) -> None:
        payload = message.get("payload") or {}
        if isinstance(payload, dict) and not self.connection_init_received:
            refusal = await self._sign_in(payload)
            if refusal is not None:
                self.connection_init_received = True
                await self.websocket.close(*refusal)
                return
        await super().handle_connection_init(message)

    async def _sign_in(self, payload: dict[str, Any]) -> tuple[int, str] | None:
        header = payload.get("Authorization") or payload.get("authorization")
        state = self.context.request.app.state
        try:
            token = bearer_token(header if isinstance(header, str) else None)
            if token is None:
                return 4401, "Unauthorized: send Authorization in the connection_init payload"
            viewer, expires_at = await session_for_token(state.database, state.settings, token)
        except InvalidToken as exc:
            return 4403, f"Forbidden: invalid token ({exc.reason})"
        sockets: OpenSockets = state.sockets
        if not sockets.take(viewer.user_id):
            return 4429, f"Too many open sockets: at most {sockets.limit} per user"
        self._holder = viewer.user_id
        self.context.viewer = viewer
        self._expiry = asyncio.create_task(self._close_at(expires_at))
        return None

    async def _close_at(self, expires_at: datetime) -> None:
        # The same leeway as every token check, or a socket could outlive an HTTP request.
        end = expires_at + timedelta(seconds=LEEWAY_SECONDS)
        await asyncio.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
        with contextlib.suppress(Exception):  # the socket may be closing already
            await self.websocket.close(4401, "Unauthorized: the token has expired")

    async def run_operation(self, operation: Any) -> None:
        # The operation's resolver finds its id and socket here (schema.fanout).
        CURRENT_OPERATION.set(operation)
        await super().run_operation(operation)

    async def shutdown(self) -> None:
        if self._holder is not None:
            self.context.request.app.state.sockets.release(self._holder)
            self._holder = None
        if self._expiry is not None:
            self._expiry.cancel()
        await super().shutdown()


class GraphQLApp(GraphQL):
    """Strawberry over HTTP (POST, GET for queries, GraphiQL) and graphql-transport-ws only,
    answering in the media type the request accepts (web.media: GraphQL over HTTP)."""

    websocket_adapter_class = SocketAdapter
    graphql_transport_ws_handler_class = SocketHandler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        request = Request(scope, receive)
        media = response_media_type(request.headers.get("accept"))
        if media is None and not self.should_render_graphql_ide(request):
            response: Response = json_error(
                406, "NOT_ACCEPTABLE", f"Accept {GRAPHQL_RESPONSE} or {JSON}.")
        else:
            request.state.media_type = media or JSON
            try:
                response = await self.run(request)
            except HTTPException as refused:
                response = refusal(refused, request.state.media_type)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> bytes:
        # orjson: several times faster than json.dumps on a dashboard's large responses.
        return orjson.dumps(data)

    @property
    def graphql_ide_html(self) -> str:
        return graphiql_page()

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET with a persisted query's hash (Apollo's useGETForHashedQueries) has no `query`
        # and accepts */*: an operation, not a browser asking for GraphiQL.
        return ("extensions" not in request.query_params
                and super().should_render_graphql_ide(request))

    async def render_graphql_ide(self, request: Request) -> Response:
        page = await super().render_graphql_ide(request)
        page.headers["Content-Security-Policy"] = graphiql_policy(self.graphql_ide_html,
                                                                  request.url)
        return page

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = request.state.media_type
        return sub_response

    async def process_result(self, request: Request, result: Any) -> Any:
        answer = await super().process_result(request, result)
        if request.state.media_type == GRAPHQL_RESPONSE and is_request_error(result.data,
                                                                              result.errors):
            answer.pop("data", None)  # nothing ran: no data entry, and a 4xx (create_response)
        return answer

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        media = sub_response.media_type or JSON
        if is_unavailable_answer(response_data):
            # The database went away during the request: the whole request is to be sent again,
            # so the answer is a 503 like the authentication middleware's, not partial data.
            return json_error(503, "SERVICE_UNAVAILABLE", UNAVAILABLE_MESSAGE,
                              headers={"Retry-After": "1"}, data=True, media=media)
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = content_type(media)
        if isinstance(response_data, dict) and "data" not in response_data:
            response.status_code = error_status(response_data)
        return response

    async def parse_http_body(self, request: Any) -> Any:
        parsed = await super().parse_http_body(request)
        names = [p.operation_name for p in (parsed if isinstance(parsed, list) else [parsed])]
        if any(not isinstance(name, str | None) for name in names):
            # Not a well-formed request (Strawberry checks query, variables and extensions).
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string "
                                     "or null, if provided.")
        return parsed

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as refused:
            if isinstance(refused.__cause__, InvalidOperationTypeError):
                # GraphQL over HTTP: a mutation sent with GET is 405, not run.
                raise HTTPException(405, "Only queries may be sent with GET; send mutations "
                                         "with POST.") from refused.__cause__
            raise

    async def get_context(self, request: Any, response: Any) -> Context:
        state = request.app.state
        return Context(database=state.database, settings=state.settings,
                       viewer=viewer_of(request), request=request, response=response,
                       services=state.services)


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


async def upload_document(request: Request) -> JSONResponse:
    """POST /documents: multipart field `file`, signed in; 201 {id, sha256, sizeBytes}."""
    viewer = viewer_of(request)
    if not viewer.is_authenticated:
        return json_error(401, "UNAUTHENTICATED", "Sign in to upload documents.",
                          headers={"WWW-Authenticate": "Bearer"})
    state = request.app.state
    try:
        received = await receive_upload(request.headers.get("content-type"), request.stream(),
                                        incoming_dir(state.settings))
        row = await record_upload(state.database, state.documents, viewer, received)
    except DocumentRefused as refused:
        return json_error(refused.status, refused.code, refused.message)
    return JSONResponse({"id": encode_id("Document", row.id), "sha256": row.sha256,
                         "sizeBytes": row.size_bytes}, status_code=201)


async def download_document(request: Request) -> Response:
    """GET /documents/{id}?expires=…&signature=…: the link Document.downloadUrl made."""
    state, params = request.app.state, request.query_params
    document_id = decode_as(request.path_params["id"], "Document")
    if document_id is None:
        return json_error(404, "NOT_FOUND", "No document with that id.")
    check = check_download(state.settings, document_id, params.get("expires"),
                           params.get("signature"))
    if check is LinkCheck.EXPIRED:
        return json_error(403, "LINK_EXPIRED", "This download link has expired; ask for a new one.")
    if check is not LinkCheck.VALID:
        return json_error(403, "INVALID_SIGNATURE", "This download link is not valid.")
    try:
        row = await document_for_download(state.database, state.documents, document_id)
    except DocumentRefused as refused:
        return json_error(refused.status, refused.code, refused.message)
    # Always an attachment, never sniffed: an uploaded file must not render as a page of ours.
    headers = {"Content-Disposition": attachment(row.filename),
               "Content-Length": str(row.size_bytes), "ETag": f'"{row.sha256}"',
               "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    if request.method == "HEAD":
        return Response(headers=headers, media_type=row.content_type)
    return StreamingResponse(state.documents.read(state.database, row.sha256, row.size_bytes),
                             media_type=row.content_type, headers=headers)


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


EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


async def export_factories(request: Request) -> Response:
    """GET /exports/factories.csv|.xlsx: a customer's connected factories, a supplier's own,
    as the dashboard shows them (web.exports), streamed."""
    from web.exports import ExportRefused, csv_chunks, factory_rows, started, xlsx_chunks

    viewer = viewer_of(request)
    if not viewer.is_authenticated:
        return json_error(401, "UNAUTHENTICATED", "Sign in first.",
                          headers={"WWW-Authenticate": "Bearer"})
    if not (viewer.is_customer or viewer.is_supplier):
        return json_error(403, "FORBIDDEN", "Only customers and suppliers export factories.")
    kind = request.path_params["format"]
    if kind not in EXPORT_TYPES:
        return json_error(404, "NOT_FOUND", "Exports are factories.csv and factories.xlsx.")
    try:
        rows = await started(factory_rows(request, viewer))
    except ExportRefused as refused:  # e.g. the database went away: to be asked again
        return json_error(503, "SERVICE_UNAVAILABLE", f"The export failed: {refused}",
                          headers={"Retry-After": "1"})
    chunks = csv_chunks(rows) if kind == "csv" else xlsx_chunks(rows)
    return StreamingResponse(chunks, media_type=EXPORT_TYPES[kind], headers={
        "Content-Disposition": attachment(f"factories.{kind}"), "Cache-Control": "no-store"})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    if await request.app.state.database.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "database unreachable"}, status_code=503)


@asynccontextmanager
async def outbox_sender(database: Database, smtp_url: str | None,
                        feeds: dict[str, Any] | None = None) -> AsyncIterator[None]:
    """Mail the notification outbox in the background while the app runs (one per worker;
    senders share the outbox safely). Without an SMTP URL it only logs the notices. Each batch
    waits for the worker's feeds to finish delivering an event (a change notifies every
    subscriber's user too: those notices must not hold up the subscribers' deliveries)."""
    pause = (lambda: until_quiet(feeds)) if feeds else None
    task = asyncio.create_task(OutboxSender(database, smtp_url, pause=pause).run_forever(),
                               name="escp-outbox-sender")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])  # lets a batch in flight be recorded; keeps our own cancel


@asynccontextmanager
async def webhook_sender(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Send due webhook deliveries in the background (one per worker; senders share rows)."""
    task = asyncio.create_task(WebhookSender(database, settings).run_forever(),
                               name="escp-webhook-sender")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])


@asynccontextmanager
async def event_feeds(database: Database, settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """This worker's one LISTEN connection, the subscription feeds on it, and the sweeper that
    announces what changes by date alone (certificate and connection expiry)."""
    hub = EventHub(settings.database_url)  # type: ignore[arg-type]
    await hub.start()
    reads = ReadsBuffer(database)
    feeds = start_feeds(hub, database, reads)
    dispatcher = WebhookDispatcher(hub, database)
    tasks = [asyncio.create_task(sweep_forever(database, settings.sweep_interval),
                                 name="escp-expiry-sweeper"),
             asyncio.create_task(reads.run_forever(), name="escp-subscription-reads"),
             asyncio.create_task(MemoryKeeper(
                 lambda: quiet(feeds),
                 lambda: sum(feed.listening for feed in feeds.values())).run_forever(),
                 name="escp-memory-keeper"),
             asyncio.create_task(prune_forever(database, settings.event_retention_seconds,
                                               min(settings.event_retention_seconds / 4, 600)),
                                 name="escp-event-pruner")]
    try:
        for feed in feeds.values():
            await feed.start()
        await dispatcher.start()
        yield {"feeds": feeds, "reads": reads}
    finally:
        for feed in feeds.values():
            await feed.stop()
        await dispatcher.stop()
        await hub.stop()  # ends every subscription, whose last reads go to the buffer
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)


def create_app(settings: Settings | None = None, schema: Schema | None = None, *,
               send_outbox: bool = True) -> Starlette:
    """The application. `schema` defaults to the one built from `settings`; `send_outbox=False`
    leaves the outbox and the webhook deliveries to someone else (tests that run the senders
    themselves)."""
    settings = settings or Settings()
    if not settings.database_url:
        raise DatabaseUnavailable("DATABASE_URL is not set (escp serve sets it)")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.documents = document_store(settings)
        app.state.database = Database(make_engine(settings.database_url))  # type: ignore[arg-type]
        watch_pool(app.state.database.engine)
        app.state.services = {}
        app.state.sockets = OpenSockets(settings.max_sockets_per_user)
        app.state.schema = schema  # exports run queries of their own (web.exports)
        try:
            async with AsyncExitStack() as running:
                app.state.services.update(await running.enter_async_context(
                    event_feeds(app.state.database, settings)))
                if send_outbox:
                    await running.enter_async_context(
                        outbox_sender(app.state.database, settings.smtp_url,
                                      app.state.services.get("feeds")))
                    await running.enter_async_context(
                        webhook_sender(app.state.database, settings))
                yield
        finally:
            await app.state.database.dispose()
            process_ended(os.getpid())

    schema = schema or build_schema(settings)
    graphql = GraphQLApp(schema,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
                         max_subscriptions_per_connection=SUBSCRIPTIONS_PER_SOCKET)
    routes = [
        Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics),
        Route("/graphql", BodySizeLimit(graphql, GRAPHQL_BODY_LIMIT), methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/documents", BodySizeLimit(request_response(upload_document), UPLOAD_BODY_LIMIT,
                                          code="DOCUMENT_TOO_LARGE"), methods=["POST"]),
        Route("/documents/{id}", download_document, methods=["GET"]),
        Route("/exports/factories.{format:str}", export_factories, methods=["GET"]),
        Mount("/graphiql", StaticFiles(packages=[("web", "graphiql")]), name="graphiql"),
    ]
    middleware = []
    if settings.cors_origins:  # off by default: browsers then allow same-origin calls only
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Retry-After", "WWW-Authenticate", "X-Request-ID"], max_age=600))
    # Inside CORS: its 401 and 503 answers carry the CORS headers a browser app needs to read them.
    middleware.append(
        Middleware(AuthenticationMiddleware, backend=TokenBackend(), on_error=unauthenticated))
    return SecuredStarlette(routes=routes, middleware=middleware, lifespan=lifespan,
                            exception_handlers={ClientDisconnect: client_went_away})


class SecuredStarlette(Starlette):
    """Starlette with SecurityHeaders outside it, so even its own 500 page carries them, and
    RequestTelemetry outermost, so every request is counted and logged with its id."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestTelemetry(SecurityHeaders(super().build_middleware_stack()))


# ---------------------------------------------------------------- the `escp` command line

def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded PostgreSQL under ESCP_DATA_DIR (started if needed)."""
    if settings.database_url:
        return settings.database_url
    from db.embedded import ensure_database, start_embedded

    server = start_embedded(settings.data_dir)
    return asyncio.run(ensure_database(server, "escp"))


def prepare(settings: Settings) -> str:
    from db import migrate
    from db.engine import check_reachable

    url = database_url(settings)
    asyncio.run(check_reachable(url))
    migrate.upgrade(url)
    asyncio.run(move_documents(url, settings))
    os.environ["DATABASE_URL"] = url  # uvicorn's workers read it
    return url


async def move_documents(url: str, settings: Settings) -> None:
    """Documents this host kept on disk before the store existed go into it (once per host)."""
    from resolvers.document_store import move_from_disk

    database = Database(make_engine(url, pool_size=1))
    try:
        moved = await move_from_disk(database, document_store(settings), settings.documents_dir)
    except DocumentRefused as refused:  # the bucket cannot be reached: serve anyway, move later
        log.warning("documents on disk not moved (%s); run `escp migrate` again", refused.message)
        return
    finally:
        await database.dispose()
    if moved.moved or moved.present:
        log.info("moved %s document files from %s into the %s store (%s were stored already)",
                 moved.moved + moved.present, settings.documents_dir, settings.document_store,
                 moved.present)
    if moved.refused:
        log.warning("%s document files in %s do not match their names and were left there",
                    len(moved.refused), settings.documents_dir)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    refuse_test_profile("escp serve")
    settings = Settings()
    PersistedDocuments.of(settings)  # a bad manifest stops escp here, naming the variable
    fresh_metrics_dir()
    prepare(settings)
    # uvicorn re-raises SIGTERM after its graceful shutdown; as SystemExit it lets atexit stop
    # the embedded PostgreSQL instead of killing the process outright.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("serving on http://%s:%s/graphql", args.host, args.port)
    uvicorn.run("app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_config=log_config(settings.log_format),
                access_log=False, ws="websockets-sansio",
                # Events are small: compressing each for each subscriber costs more CPU than
                # the bytes it saves.
                ws_per_message_deflate=False)


def fresh_metrics_dir() -> None:
    """prometheus-client's multiprocess mode wants the files of a previous run gone (they would
    still be counted); this process's own (made at import) stay: with one worker it serves."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db") and not name.endswith(f"_{os.getpid()}.db"):
                os.remove(os.path.join(directory, name))


def cmd_migrate(args: argparse.Namespace) -> None:
    prepare(Settings())
    print("database is at the newest migration")


def cmd_create_admin(args: argparse.Namespace) -> None:
    from resolvers.accounts import create_user, ensure_program

    refuse_test_profile("escp create-admin")
    url = prepare(Settings())

    async def run() -> None:
        from db.enums import Role

        database = Database(make_engine(url))
        try:
            async with database.unit_of_work() as session:
                program = await ensure_program(session)
                await create_user(session, email=args.email, password=args.password,
                                  name=args.name or args.email, role=Role.ADMIN,
                                  organization=program)
        finally:
            await database.dispose()

    asyncio.run(run())
    print(f"admin {args.email} created")


def cmd_demo(args: argparse.Namespace) -> None:
    from resolvers.demo import load_demo

    url = prepare(Settings())

    async def run() -> list[tuple[str, str, str]]:
        database = Database(make_engine(url))
        try:
            return await load_demo(database)
        finally:
            await database.dispose()

    logins = asyncio.run(run())
    print("Demo data loaded. Sign in with (email / password / who):")
    for email, password, who in logins:
        print(f"  {email:32} {password:18} {who}")


def cmd_export_schema(args: argparse.Namespace) -> None:
    from schema import export_sdl

    sys.stdout.write(export_sdl())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="escp", description="ESCP Connect")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=cmd_serve)
    sub.add_parser("migrate", help="bring the database to the newest migration"
                   ).set_defaults(run=cmd_migrate)
    admin = sub.add_parser("create-admin", help="create a program administrator")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    admin.add_argument("--name")
    admin.set_defaults(run=cmd_create_admin)
    sub.add_parser("demo", help="load demo data and print its logins").set_defaults(run=cmd_demo)
    sub.add_parser("export-schema", help="print the GraphQL SDL"
                   ).set_defaults(run=cmd_export_schema)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        logging.config.dictConfig(log_config(Settings().log_format))
        args.run(args)
    except SettingError as exc:  # checked before anything starts: one line, no traceback
        print(f"escp: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except DatabaseUnavailable as exc:
        print(f"escp: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception as exc:
        from resolvers.errors import BusinessRuleError

        if isinstance(exc, BusinessRuleError):
            print(f"escp: {exc.message}", file=sys.stderr)
            raise SystemExit(1) from None
        raise


if __name__ == "__main__":
    main()
