"""Sockets that close leave nothing of theirs behind in the served process (issue 11, item 4).

The served process runs with tests/probe on its PYTHONPATH: on SIGUSR1 it writes how many live
objects of each of our types (and of the web stack's, and asyncio tasks) it holds, without
collecting first, so what is counted is what the app itself left once its sockets closed."""
import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from db.engine import Database
from db.settings import Settings
from tests.api.connection_steps import accepted
from tests.api.workflow import SET_CERTIFICATE_STATUS, Journey, ok, run
from tests.helpers import Cast
from tests.served import Served, graphql_socket, served

PROBE = Path(__file__).resolve().parents[1] / "probe"
SOCKETS = 40
DASHBOARD = """subscription { certificationStatusChanged {
  previousStatus status occurredAt
  factory { id name certificationStatus certifiedUntil }
  certificate { number status validUntil } } }"""


@pytest.fixture(scope="module")
async def probed(database_url: str, settings: Settings,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Served, Path]]:
    counts = tmp_path_factory.mktemp("probe") / "counts.json"
    path = os.pathsep.join(p for p in (str(PROBE), os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": path, "ESCP_TEST_PROBE_FILE": str(counts),
           "ESCP_MAX_SOCKETS_PER_USER": str(SOCKETS)}
    async with served(database_url, settings, env=env) as app:
        yield app, counts


async def objects(app: Served, counts: Path) -> dict[str, int]:
    """The served process's live objects by type, as its probe counts them."""
    counts.unlink(missing_ok=True)
    app.process.send_signal(signal.SIGUSR1)
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            await client.get(app.http + "/healthz")  # the event loop wakes, the handler runs
            if counts.exists():
                return json.loads(counts.read_text())
            await asyncio.sleep(0.05)
    raise AssertionError("the served process's probe did not answer")


def handlers(counts: dict[str, int]) -> int:
    return sum(n for kind, n in counts.items() if kind.endswith(".SocketHandler"))


def grown(before: dict[str, int], after: dict[str, int], by: int) -> dict[str, int]:
    return {kind: n - before.get(kind, 0) for kind, n in after.items()
            if n - before.get(kind, 0) >= by}


async def an_event(http: httpx.AsyncClient, cast: Cast, journey: Journey, status: str) -> None:
    ok(await run(http, SET_CERTIFICATE_STATUS, cast.token("admin"),
                 certificateId=journey.ids["certificate"], status=status, reason="Visit."))


async def test_closed_sockets_leave_none_of_their_objects_behind(
        probed: tuple[Served, Path], cast: Cast, database: Database) -> None:
    app, counts = probed
    async with httpx.AsyncClient(base_url=app.http, timeout=30) as http:
        await accepted(http, cast, scopes=["CERTIFICATION", "PROFILE"])
        journey = Journey(http, database, cast)
        await journey.to_certified()
        token = cast.token("customer_a_user")
        # Once, so that what the first event makes for good (parsed documents, plans,
        # statement caches) is made before counting.
        async with graphql_socket(app, token) as warm:
            await warm.subscribe(DASHBOARD)
            await an_event(http, cast, journey, "SUSPENDED")
            await warm.next()
        before = await objects(app, counts)
        for _ in range(20):  # the warm socket's objects are collected once it has settled
            if not handlers(before):
                break
            await asyncio.sleep(0.5)
            before = await objects(app, counts)

        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(graphql_socket(app, token))
                       for _ in range(SOCKETS)]
            for sock in sockets:
                await sock.subscribe(DASHBOARD)
            await an_event(http, cast, journey, "ACTIVE")
            for sock in sockets:
                assert (await sock.next())["data"]["certificationStatusChanged"]["status"] == \
                    "CERTIFIED"
            during = await objects(app, counts)
        # The probe sees the sockets' objects while they are open (by class name: modules move)
        named = {kind.rpartition(".")[2] for kind in grown(before, during, SOCKETS)}
        assert named >= {"SocketHandler", "Listener", "Direct"}
        # ... and none of them (nothing grows by even a tenth of the sockets) once they closed.
        after = during
        for _ in range(20):
            await asyncio.sleep(0.5)
            after = await objects(app, counts)
            if not grown(before, after, SOCKETS // 10):
                break
        assert grown(before, after, SOCKETS // 10) == {}
