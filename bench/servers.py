"""The benchmark's targets, each served by uvicorn in a subprocess of its own (1 worker)."""
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    """What is measured: an app uvicorn serves, and where a workload's body is POSTed."""

    name: str
    app: str  # uvicorn factory, module:function
    path: str  # "{workload}" in it is replaced by the workload's name (dashboard, directory)
    env: tuple[tuple[str, str], ...] = ()  # settings of its own, e.g. ESCP_COMPILED_READS=off

    def path_for(self, workload: str) -> str:
        return self.path.format(workload=workload)


LIMIT = Target("single-sql", "bench.single_sql:create_app", "/{workload}")
BUILT_IN = {t.name: t for t in (
    Target("graphql", "app:create_app", "/graphql"),  # as served: compiled reads where they apply
    Target("resolvers", "app:create_app", "/graphql", (("ESCP_COMPILED_READS", "off"),)),
    LIMIT)}


def parse_targets(text: str) -> list[Target]:
    """`--targets`: comma-separated built-in names or `NAME=MODULE:FACTORY@PATH[+VAR=VALUE...]`
    (another read path: its own app, path or settings). The single-SQL limit is always
    measured: every target is verified against it and reported as a ratio of it."""
    targets = [LIMIT]
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, spec = item.partition("=")
        if not spec:
            if name not in BUILT_IN:
                raise ValueError(f"unknown target {name!r}: built in are {', '.join(BUILT_IN)}; "
                                 "others are given as NAME=MODULE:FACTORY@PATH[+VAR=VALUE...]")
            target = BUILT_IN[name]
        else:
            app, at, rest = spec.partition("@")
            path, *settings = rest.split("+")
            pairs = [pair.partition("=") for pair in settings]
            if (":" not in app or not at or not path.startswith("/")
                    or any(not key or not sep for key, sep, _ in pairs)):
                raise ValueError(f"target {item!r}: expected NAME=MODULE:FACTORY@PATH"
                                 "[+VAR=VALUE...]")
            target = Target(name, app, path, tuple((key, value) for key, _, value in pairs))
        if target.name not in {t.name for t in targets}:
            targets.append(target)
    return targets[1:] + targets[:1]  # the limit last, as before


@dataclass
class Server:
    target: Target
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, workload: str) -> str:
        return f"http://127.0.0.1:{self.port}{self.target.path_for(workload)}"

    def log_bytes(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(target: Target, env: dict[str, str], log_dir: Path, workers: int = 1) -> Server:
    """`uvicorn <app> --factory --workers 1 --log-level warning`; its output goes to a log file
    (the app's error log is part of what a request costs). With `workers` > 1, uvicorn's
    supervisor and its worker processes (bench/subscriptions.py measures them all)."""
    port = free_port()
    log = log_dir / f"{target.name}.log"
    env = {**env, **dict(target.env)}
    command = [sys.executable, "-m", "uvicorn", target.app, "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--log-level", "warning",
               # as `escp serve` runs it (cli.cmd_serve)
               "--ws", "websockets-sansio", "--ws-per-message-deflate", "false"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    return Server(target, process, port, log)


async def wait_ready(server: Server, timeout: float = 60.0) -> None:
    health = f"http://127.0.0.1:{server.port}/healthz"
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=2.0) as http:
        while asyncio.get_running_loop().time() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.target.name} exited:\n{tail(server.log)}")
            try:
                if (await http.get(health)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.target.name} not ready after {timeout:.0f}s:\n{tail(server.log)}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def tail(path: Path, limit: int = 4000) -> str:
    data = path.read_bytes() if path.exists() else b""
    return data[-limit:].decode(errors="replace")


def keep_head(log: Path, into: Path, limit: int = 64 * 1024) -> None:
    """Keep the first `limit` bytes of a server log (they can run to hundreds of MB)."""
    with open(log, "rb") as src, open(into, "wb") as dst:
        dst.write(src.read(limit))
        if src.read(1):
            dst.write(b"\n[... truncated by bench/run.py ...]\n")


def log_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="escp-bench-logs-"))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def py_spy() -> str | None:
    found = shutil.which("py-spy")
    beside = Path(sys.executable).with_name("py-spy")
    return found or (str(beside) if beside.exists() else None)


def environment(database_url: str, jwt_secret: str, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "ESCP_JWT_SECRET": jwt_secret,
            "ESCP_DATA_DIR": str(data_dir.resolve())}
