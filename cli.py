"""The `escp` command line."""
import argparse
import asyncio
import logging
import logging.config
import os
import signal
import sys
from typing import Any

from auth.passwords import refuse_test_profile
from db.embedded import DatabaseUnavailable
from db.engine import Database, make_engine
from db.settings import SettingError, Settings
from infra.document_store import DocumentRefused, document_store
from overrides.websocket import WS_MESSAGE_LIMIT
from schema.persisted import PersistedDocuments
from telemetry import log_config

log = logging.getLogger("escp")


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
    from infra.document_store import move_from_disk

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
                access_log=False, **UVICORN_OPTIONS)


# How uvicorn serves the app, for `escp serve` and the tests' servers alike.
UVICORN_OPTIONS: dict[str, Any] = {
    "ws": "websockets-sansio",
    "ws_max_size": WS_MESSAGE_LIMIT,
    # Events are small: compressing each for each subscriber costs more CPU than the bytes it
    # saves.
    "ws_per_message_deflate": False,
}


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
    from demo.data import load_demo

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
