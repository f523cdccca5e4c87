"""ESCP Connect: the Starlette application (routes, middleware, lifespan)."""
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect
from starlette.routing import Mount, Route, WebSocketRoute, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp
from strawberry import Schema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from auth.backend import TokenBackend, unauthenticated
from db.embedded import DatabaseUnavailable
from db.engine import Database, make_engine
from db.settings import Settings
from infra.document_store import document_store
from infra.metrics import process_ended, watch_pool
from overrides.http import GraphQLApp
from overrides.websocket import SUBSCRIPTIONS_PER_SOCKET, OpenSockets
from schema import build_schema
from tasks.background import event_feeds, outbox_sender, webhook_sender
from telemetry import RequestTelemetry, metrics
from web import portal
from web.documents import download_document, upload_document
from web.exports import export_factories
from web.health import healthz, readyz
from web.limits import GRAPHQL_BODY_LIMIT, BodySizeLimit
from web.responses import client_went_away
from web.security import SecurityHeaders
from web.upload import UPLOAD_BODY_LIMIT


def create_app(settings: Settings | None = None, schema: Schema | None = None, *,
               send_outbox: bool = True) -> Starlette:
    """The application. `schema` defaults to the one built from `settings`; `send_outbox=False`
    leaves the outbox and the webhook deliveries to someone else (tests that run the senders
    themselves)."""
    settings = settings or Settings()
    if not settings.database_url:
        raise DatabaseUnavailable("DATABASE_URL is not set (escp serve sets it)")
    url = settings.database_url

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.documents = document_store(settings)
        app.state.database = Database(make_engine(url))
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
        *portal.routes(),  # the Connect portal's pages at /portal (web/portal), and `/`
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

