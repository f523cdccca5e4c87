"""Fixtures: one migrated database per test session, tables truncated between tests."""
import os

os.environ.setdefault("ESCP_PASSWORD_HASH", "fast")  # before auth.passwords is imported
import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from argon2 import profiles
from starlette.applications import Starlette

from db import migrate
from app import create_app
from db.engine import Database, make_engine
from db.settings import Settings
from infra.events import EventHub
from tests.database import RestartableServer, fresh_database
from tests.helpers import Cast, WatchedHasher, standard_cast, truncate_all, watched_hashing


@pytest.fixture(scope="session")
async def database_url() -> str:
    url = await fresh_database("escp_test")
    await migrate.upgrade_async(url)
    return url


@pytest.fixture(scope="session")
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(make_engine(database_url))
    yield database
    await database.dispose()


@pytest.fixture(autouse=True)
async def clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test that touches the database starts from empty tables."""
    yield
    if "database" not in request.fixturenames:
        return
    await truncate_all(request.getfixturevalue("database"))


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("escp-data")
    # No expiry sweeps behind a test's back: tests of the sweeper run it themselves.
    return Settings(database_url=database_url, data_dir=data,
                    jwt_secret_env="test-secret-" + "x" * 40, sweep_interval=3600)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    # Tests that mail run the outbox sender themselves (tests/api/test_connections_mail.py).
    application = create_app(settings, send_outbox=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client driving the ASGI app as a browser or script would."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://escp.test") as c:
        yield c


@pytest.fixture
async def cast(database: Database, settings: Settings) -> Cast:
    return await standard_cast(database, settings)


@pytest.fixture
async def restartable_server() -> AsyncIterator[RestartableServer]:
    server = await asyncio.to_thread(RestartableServer)
    await migrate.upgrade_async(server.url)  # publishing writes to the events table
    yield server
    await asyncio.to_thread(server.server.cleanup)
    shutil.rmtree(server.data_dir, ignore_errors=True)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[EventHub]:
    """An event hub of the test's own, as a worker runs one. No liveness query within a test's
    time: a prompt reconnection is the termination listener's. Its own application_name, so a
    test can terminate its connection and not the app's."""
    hub = EventHub(database_url, check_interval=60, application_name="escp-events-under-test")
    await hub.start()
    yield hub
    await hub.stop()


@pytest.fixture
def hashing() -> Iterator[WatchedHasher]:
    """The suite's cheap hash profile, watched."""
    with watched_hashing(profiles.CHEAPEST) as hasher:
        yield hasher


@pytest.fixture
def real_hashing() -> Iterator[WatchedHasher]:
    """The production hash profile (RFC 9106 low memory), watched: what a served sign-in costs."""
    with watched_hashing(profiles.RFC_9106_LOW_MEMORY) as hasher:
        yield hasher


@pytest.fixture
def limit_sign_ins(app: Starlette) -> Iterator[Callable[..., None]]:
    """Set the app's sign-in limits for one test (login_window_seconds, login_attempts_per_…).
    Not monkeypatch: it would delete the attribute from Starlette's State afterwards."""
    original = app.state.settings

    def limit(**limits: int) -> None:
        app.state.settings = original.model_copy(update=limits)

    yield limit
    app.state.settings = original
