"""ESCP Connect: the Starlette application and the `escp` command line."""
import argparse
import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from auth.backend import TokenBackend, unauthenticated
from auth.viewer import ANONYMOUS
from db.embedded import DatabaseUnavailable
from db.engine import Database, make_engine
from db.settings import Settings
from resolvers.context import Context
from schema import build_schema

log = logging.getLogger("escp")

GRAPHQL_BODY_LIMIT = 1024 * 1024


class GraphQLApp(GraphQL):
    """Strawberry over HTTP (POST, GET for queries, GraphiQL) and graphql-transport-ws only."""

    async def get_context(self, request: Any, response: Any) -> Context:
        state = request.app.state
        user = request.scope.get("user")
        viewer = getattr(user, "viewer", ANONYMOUS)
        return Context(database=state.database, settings=state.settings, viewer=viewer,
                       request=request, response=response, services=state.services)


class BodySizeLimit:
    """Refuses request bodies over `limit` bytes (413), declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.limit:
            return await PlainTextResponse("Request body too large", 413)(scope, receive, send)
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
            await PlainTextResponse("Request body too large", 413)(scope, receive, send)


class TooLarge(Exception):
    pass


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    if await request.app.state.database.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "database unreachable"}, status_code=503)


def create_app(settings: Settings | None = None, schema: Schema | None = None) -> Starlette:
    """The application; `schema` defaults to the one built from `settings`."""
    settings = settings or Settings()
    if not settings.database_url:
        raise DatabaseUnavailable("DATABASE_URL is not set (escp serve sets it)")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.database = Database(make_engine(settings.database_url))  # type: ignore[arg-type]
        app.state.services = {}
        try:
            yield
        finally:
            await app.state.database.dispose()

    graphql = GraphQLApp(schema or build_schema(settings),
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,))
    routes = [
        Route("/healthz", healthz), Route("/readyz", readyz),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    middleware = [
        Middleware(BodySizeLimit, limit=GRAPHQL_BODY_LIMIT),
        Middleware(AuthenticationMiddleware, backend=TokenBackend(), on_error=unauthenticated),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


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
    os.environ["DATABASE_URL"] = url  # uvicorn's workers read it
    return url


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    prepare(Settings())
    log.info("serving on http://%s:%s/graphql", args.host, args.port)
    uvicorn.run("app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="info", ws="websockets")


def cmd_migrate(args: argparse.Namespace) -> None:
    prepare(Settings())
    print("database is at the newest migration")


def cmd_create_admin(args: argparse.Namespace) -> None:
    from resolvers.accounts import create_user, ensure_program

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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        args.run(args)
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
