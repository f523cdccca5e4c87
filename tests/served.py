"""The app served by uvicorn in processes of its own, and a graphql-transport-ws client.

Subscriptions are tested as a dashboard uses them: a real WebSocket to a real server, whose
events come through PostgreSQL from whichever process made the change.
"""
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from db.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
WAIT = 5.0  # seconds: a bound on every wait, far above what a healthy run needs
PROTOCOL = "graphql-transport-ws"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    http: str
    ws: str
    process: subprocess.Popen[bytes]


@asynccontextmanager
async def served(database_url: str, settings: Settings, *, workers: int = 1,
                 sweep_seconds: float = 3600,
                 env: dict[str, str] | None = None) -> AsyncIterator[Served]:
    """`uvicorn app:create_app` on a free port, ready when /readyz answers 200; `env` adds
    variables of its own."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ESCP_JWT_SECRET": settings.jwt_secret,
           "ESCP_DATA_DIR": str(settings.data_dir),
           "ESCP_EXPIRY_SWEEP_SECONDS": str(sweep_seconds), **(env or {})}
    metrics = tempfile.TemporaryDirectory(prefix="escp-metrics-")
    if workers > 1:  # /metrics then counts every worker's subscriptions (subscribed() waits)
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics.name)
    # uvicorn as `escp serve` runs it (cli.UVICORN_OPTIONS: the WebSocket message limit, ...)
    serve = ("import cli, uvicorn; uvicorn.run('app:create_app', factory=True, host='127.0.0.1', "
             f"port={port}, workers={workers}, log_level='warning', **cli.UVICORN_OPTIONS)")
    process = subprocess.Popen([sys.executable, "-c", serve], cwd=ROOT, env=env)
    with metrics:
        async with _running(process, port) as app:
            yield app


@asynccontextmanager
async def escp_served(database_url: str, jwt_secret: str, data_dir: Path
                      ) -> AsyncIterator[Served]:
    """`escp serve` as an operator runs it on one host (migrations and all, without the suite's
    cheap hash profile, which it refuses), with a data directory of its own."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ESCP_JWT_SECRET": jwt_secret,
           "ESCP_DATA_DIR": str(data_dir), "ESCP_EXPIRY_SWEEP_SECONDS": "3600",
           "XDG_RUNTIME_DIR": "/tmp"}
    env.pop("ESCP_PASSWORD_HASH", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "serve.log", "wb") as log:  # its stderr, for the test to read
        process = subprocess.Popen(
            [sys.executable, "-c", "import cli; cli.main()", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stderr=log)
    async with _running(process, port) as app:
        yield app


@asynccontextmanager
async def _running(process: subprocess.Popen[bytes], port: int) -> AsyncIterator[Served]:
    """A started server process, once it answers; terminated (killed if need be) after."""
    app = Served(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/graphql", process)
    try:
        await _ready(app)
        yield app
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 15)
        except subprocess.TimeoutExpired:
            process.kill()


async def _ready(app: Served) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if app.process.poll() is not None:
                raise RuntimeError(f"the server exited with {app.process.returncode}")
            try:
                if (await client.get(app.http + "/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


async def subscriptions_active(app: Served) -> float:
    """The subscription operations the server runs now, on every worker (escp_subscriptions_active
    on /metrics)."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(app.http + "/metrics")).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               if family.name == "escp_subscriptions_active" for sample in family.samples)


async def subscribed(app: Served, before: float) -> None:
    """Until the server runs more subscriptions than `before`: an operation has reached its
    feed and hears the next event. (No protocol message says so: the operation starts in a
    task of its own after the subscribe message.)"""
    deadline = time.monotonic() + WAIT
    while await subscriptions_active(app) <= before:
        assert time.monotonic() < deadline, "the subscription never reached its feed"
        await asyncio.sleep(0.01)


class GraphQLSocket:
    """A graphql-transport-ws client: init, subscribe, read what comes."""

    def __init__(self, ws: ClientConnection, app: Served) -> None:
        self.ws, self.app = ws, app
        self._ids = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def init(self, token: str | None) -> None:
        payload = {"Authorization": f"Bearer {token}"} if token is not None else {}
        await self.send({"type": "connection_init", "payload": payload})

    async def subscribe(self, query: str, **variables: Any) -> str:
        """Start an operation; returns once the server has taken it (a ping answered after)."""
        self._ids += 1
        operation = str(self._ids)
        before = await subscriptions_active(self.app)
        await self.send({"id": operation, "type": "subscribe",
                         "payload": {"query": query, "variables": variables}})
        await self.send({"type": "ping"})
        assert (await self.receive())["type"] == "pong"
        await subscribed(self.app, before)
        return operation

    async def receive(self, timeout: float = WAIT) -> dict[str, Any]:
        """The next message; it must come as a text frame, as the protocol says (the standard
        clients refuse binary frames)."""
        async with asyncio.timeout(timeout):
            frame = await self.ws.recv()
        assert isinstance(frame, str), f"a binary frame: {frame!r}"
        return json.loads(frame)  # type: ignore[no-any-return]

    async def next(self, operation: str = "1", timeout: float = WAIT) -> dict[str, Any]:
        """The next `next` payload of the operation (data and any errors)."""
        message = await self.receive(timeout)
        assert message.get("id") == operation and message["type"] == "next", message
        return message["payload"]  # type: ignore[no-any-return]

    async def silent(self, seconds: float = 1.0) -> None:
        """Nothing arrives for `seconds`."""
        try:
            message = await self.receive(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing, got {message}")

    async def closed(self, timeout: float = WAIT) -> int | None:
        """Wait for the server to close the socket; its close code."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None


@asynccontextmanager
async def graphql_socket(app: Served, token: str | None = None,
                         protocol: str = PROTOCOL) -> AsyncIterator[GraphQLSocket]:
    """A socket; signed in (connection_ack checked) when a token is given."""
    async with connect(app.ws, subprotocols=[protocol],  # type: ignore[list-item]
                       open_timeout=WAIT) as ws:
        sock = GraphQLSocket(ws, app)
        if token is not None:
            await sock.init(token)
            assert (await sock.receive())["type"] == "connection_ack"
        yield sock


def worker_holding(app: Served, sock: GraphQLSocket) -> int:
    """The pid of the server process holding this socket's other end (Linux /proc)."""
    client_port = sock.ws.local_address[1]
    server_port = int(app.http.rsplit(":", 1)[1])
    inode = _server_side_inode(server_port, client_port)
    for pid in _children(app.process.pid):
        fds = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == f"socket:[{inode}]" for fd in fds.iterdir()):
                return pid
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def _server_side_inode(server_port: int, client_port: int) -> str:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == \
                client_port:
            return fields[9]
    raise AssertionError(f"no server-side socket for client port {client_port}")


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
