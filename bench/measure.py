"""What one request costs besides time: SQL statements, connections, transactions (counted
in-process), and CPU seconds of the server, PostgreSQL and the load generator."""
import asyncio
import importlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import psutil
from sqlalchemy import event

from bench import single_sql
from db.settings import Settings


@dataclass
class Cost:
    """Per request, averaged over the dashboard's pages."""

    statements: list[int]  # SQL statements sent, per page in page order
    connections: float  # connection checkouts from the pool
    transactions: float  # BEGINs sent (each ends with a COMMIT or ROLLBACK)
    round_trips: float  # statements + BEGIN/COMMIT/ROLLBACK + pre-pings (prepares not counted)

    @property
    def statements_per_request(self) -> float:
        return sum(self.statements) / len(self.statements)


# What asyncpg runs besides our statements: transaction control, and SQLAlchemy's pre-ping.
CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", ""}


@contextmanager
def engine_counter(engine: Any) -> Iterator[Counter[str]]:
    """Counts what a (sync) SQLAlchemy engine over asyncpg sends: statements
    (before_cursor_execute), pool checkouts, and, through asyncpg's query logger on every new
    connection, transaction control and pings, which SQLAlchemy's events do not see."""
    counts: Counter[str] = Counter()

    def statement(*args: Any) -> None:
        counts["statements"] += 1

    def checkout(*args: Any) -> None:
        counts["connections"] += 1

    def control(record: Any) -> None:
        word = record.query.strip().rstrip(";").upper()
        if word in CONTROL:
            counts["control"] += 1
            counts["transactions"] += word == "BEGIN"

    def connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(control)

    hooks = [(engine, "before_cursor_execute", statement), (engine.pool, "checkout", checkout),
             (engine, "connect", connect)]
    for target, name, fn in hooks:
        event.listen(target, name, fn)
    try:
        yield counts
    finally:
        for target, name, fn in hooks:
            event.remove(target, name, fn)


@contextmanager
def quiet_strawberry() -> Iterator[None]:
    """Strawberry logs every GraphQL error (each FORBIDDEN, with a traceback) at ERROR; the
    in-process count would print ~90 tracebacks per page. The served app still logs them."""
    logger = logging.getLogger("strawberry.execution")
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


async def api_cost(factory: str, path: str, settings: Settings, headers: dict[str, str],
                   bodies: list[bytes]) -> Cost | None:
    """The pages through an app built like ours (`module:function(settings)`, with its engine
    at app.state.database) in-process, each once to warm up and once counted; a fresh engine,
    so every connection gets the query logger. None for an app without that engine."""
    module, _, function = factory.partition(":")
    app = getattr(importlib.import_module(module), function)(settings)
    statements, totals = [], Counter[str]()
    with quiet_strawberry():
        async with app.router.lifespan_context(app), _client(app) as client:
            database = getattr(app.state, "database", None)
            if database is None:
                return None
            with engine_counter(database.engine.sync_engine) as counts:
                for body in bodies:
                    (await client.post(path, content=body, headers=headers)).raise_for_status()
                    before = counts.copy()
                    (await client.post(path, content=body, headers=headers)).raise_for_status()
                    page = counts - before
                    statements.append(page["statements"])
                    totals += page
    n = len(bodies)
    return Cost(statements, totals["connections"] / n, totals["transactions"] / n,
                (totals["statements"] + totals["control"]) / n)


async def single_sql_cost(path: str, settings: Settings, headers: dict[str, str],
                          bodies: list[bytes]) -> Cost:
    """The same pages through a single-SQL endpoint in-process, counted by asyncpg."""
    seen: list[str] = []
    app = single_sql.create_app(settings, query_logger=lambda record: seen.append(record.query))
    statements = []
    async with app.router.lifespan_context(app), _client(app) as client:
        for body in bodies:
            before = len(seen)
            response = await client.post(path, content=body, headers=headers)
            response.raise_for_status()
            statements.append(len(seen) - before)
    # One statement in its own implicit transaction; our pool reset sends nothing on release.
    return Cost(statements, 1.0, 0.0, sum(statements) / len(statements))


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")


# ---------------------------------------------------------------- CPU accounting

def cpu_seconds(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return float(times.user + times.system)


async def postgres_pids(conn: asyncpg.Connection) -> list[int]:
    """Every process of the server (backends and background workers) but our own backend.
    Only meaningful when the server runs on this machine."""
    rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
    pids = [row["pid"] for row in rows]
    return [pid for pid in pids if _is_postgres(pid)]


def _is_postgres(pid: int) -> bool:
    try:
        return "postgres" in psutil.Process(pid).name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


@dataclass
class CpuSnapshot:
    server: float | None
    postgres: dict[int, float]
    machine_busy: float  # all CPUs, every process on the machine
    steal: float  # taken by the hypervisor for other virtual machines
    wall: float = 0.0

    @classmethod
    def take(cls, server_pid: int, pg_pids: list[int], wall: float) -> "CpuSnapshot":
        pg = {pid: s for pid in pg_pids if (s := cpu_seconds(pid)) is not None}
        return cls(cpu_seconds(server_pid), pg, _busy_seconds(), _steal_seconds(), wall)


@dataclass
class CpuUse:
    """CPU seconds spent in a measured window, by whom."""

    server: float | None
    postgres: float | None
    generator: float  # the load generator's own CPU (measured by the caller: wrk's rusage)
    machine: float
    others: float | None  # the machine's busy time that none of the above explains
    steal: float  # part of `others`: CPU the hypervisor gave other virtual machines
    wall: float

    @classmethod
    def between(cls, start: CpuSnapshot, end: CpuSnapshot, generator: float) -> "CpuUse":
        server = (end.server - start.server
                  if end.server is not None and start.server is not None else None)
        postgres = (sum(s - start.postgres.get(pid, 0.0) for pid, s in end.postgres.items())
                    if end.postgres else None)
        machine = end.machine_busy - start.machine_busy
        ours = generator + (server or 0.0) + (postgres or 0.0)
        others = machine - ours if server is not None and postgres is not None else None
        return cls(server, postgres, generator, machine, others, end.steal - start.steal,
                   end.wall - start.wall)


def _busy_seconds() -> float:
    """CPU seconds the machine's CPUs were not idle, all processes, hypervisor steal included
    (guest time is already part of user time on Linux)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + sum(getattr(t, name, 0.0)
                                                   for name in ("irq", "softirq", "steal")))


def _steal_seconds() -> float:
    return float(getattr(psutil.cpu_times(), "steal", 0.0))


async def wait_for_quiet(max_wait: float, busy_cores: float = 0.3) -> float:
    """Wait up to `max_wait` seconds for a second in which the whole machine is busy on fewer
    than `busy_cores` cores (our servers idle meanwhile, so it is other work: on a shared
    machine, tests of other sessions). Returns the busy cores of the last second seen."""
    deadline = time.monotonic() + max_wait
    while True:
        before = _busy_seconds()
        await asyncio.sleep(1.0)
        busy = _busy_seconds() - before
        if busy <= busy_cores or time.monotonic() >= deadline:
            return busy


async def wait_idle(pid: int, max_wait: float = 60.0, step: float = 0.25) -> None:
    """Wait until a server stops working off requests its load generator gave up on: when wrk
    stops it drops the connections, and the server still runs what it had accepted (our API
    has up to 20 dashboard requests in flight, seconds of CPU). Idle: under 2% of a core."""
    deadline = time.monotonic() + max_wait
    last = cpu_seconds(pid)
    while last is not None and time.monotonic() < deadline:
        await asyncio.sleep(step)
        now = cpu_seconds(pid)
        if now is None or now - last < 0.02 * step:
            return
        last = now


def rss_mb(pid: int) -> float | None:
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
