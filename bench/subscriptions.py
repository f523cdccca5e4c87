"""Subscription delivery: from a certification change to its delivery to N subscribers, 1 worker.

    python bench/subscriptions.py --subscribers 1000 --events 20

A database of its own (`escp_bench_subscriptions`, rebuilt each run) holds one certified factory
and N customer organizations, each with one user and an ACCEPTED connection granting
CERTIFICATION (or, with --organizations K, N users spread over K organizations; with
--scope-mixes M, organization i is granted one of M scope sets, all holding CERTIFICATION). The
app is served by uvicorn (1 worker, or --workers); N graphql-transport-ws sockets, one per
customer user, each
subscribe to `certificationStatusChanged` with a dashboard's selection. The program then
suspends and reinstates the certificate over HTTP, one change at a time, and each socket
records when each event arrived.

Latency of one delivery = arrival - the event's `occurredAt` (stamped inside the mutation's
transaction, before the commit), on the same machine's clock: it covers the commit, NOTIFY, the
worker's per-event permission read, answering the selection for each subscriber and the socket
write. "All delivered" is, per event, the latency of its last subscriber.
"""
import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auth.tokens import issue_token
from bench import dataset, servers
from db import (
    Certificate,
    CustomerConnection,
    Factory,
    Organization,
    User,
)
from db.embedded import ensure_database
from db.engine import Database, make_engine
from db.migrate import upgrade_async
from db.settings import Settings
from schema.ids import encode_id

DATABASE = "escp_bench_subscriptions"
SUBSCRIPTION = """subscription { certificationStatusChanged {
  previousStatus status occurredAt
  factory { id name certificationStatus certifiedUntil }
  certificate { number status validUntil } } }"""
SET_STATUS = """mutation($input: SetCertificateStatusInput!) {
  setCertificateStatus(input: $input) { certificate { status } userErrors { code } } }"""


# Scope sets of --scope-mixes: each holds CERTIFICATION, so every subscriber hears every event.
SCOPE_MIXES = (["CERTIFICATION"], ["CERTIFICATION", "PROFILE"],
               ["CERTIFICATION", "AUDITS"], ["CERTIFICATION", "PROFILE", "ENVIRONMENT"])


async def build(url: str, subscribers: int, organizations: int,
                settings: Settings, scope_mixes: int = 1) -> dict[str, Any]:
    """The data set; returns the admin's and every subscriber's token and the certificate id."""
    database = Database(make_engine(url))
    try:
        async with database.unit_of_work() as session:
            program = Organization(name="ESCP", kind="PROGRAM")
            supplier = Organization(name="Supplier", kind="SUPPLIER")
            customers = [Organization(name=f"Brand {i}", kind="CUSTOMER")
                         for i in range(organizations)]
            session.add_all([program, supplier, *customers])
            await session.flush()
            admin = User(email="admin@bench.test", name="Admin", password_hash="-",
                         role="ADMIN", organization_id=program.id)
            # Subscriber i belongs to organization i mod `organizations`.
            users = [User(email=f"user{i}@bench.test", name=f"User {i}", password_hash="-",
                          role="CUSTOMER", organization_id=customers[i % organizations].id)
                     for i in range(subscribers)]
            factory = Factory(supplier_id=supplier.id, name="Bench Knitwear", country="BD",
                              city="Dhaka", listed=True, product_categories=["knitwear"])
            session.add_all([admin, *users, factory])
            await session.flush()
            certificate = Certificate(number="C900001", factory_id=factory.id, status="ACTIVE",
                                      issued_on=date.today() - timedelta(days=30),
                                      valid_until=date.today() + timedelta(days=335))
            session.add(certificate)
            session.add_all([CustomerConnection(
                factory_id=factory.id, customer_id=c.id, status="ACCEPTED",
                requested_scopes=SCOPE_MIXES[i % scope_mixes],
                granted_scopes=SCOPE_MIXES[i % scope_mixes])
                for i, c in enumerate(customers)])
            await session.flush()

            def token(user: User) -> str:
                return issue_token(settings, user_id=user.id, organization_id=user.organization_id,
                                   role=user.role)[0]

            return {"admin": token(admin), "subscribers": [token(u) for u in users],
                    "certificate": encode_id("Certificate", certificate.id)}
    finally:
        await database.dispose()


class Subscriber:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.arrivals: dict[str, float] = {}  # occurredAt -> arrival (epoch seconds)

    async def read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message.get("type") == "next":
                event = message["payload"]["data"]["certificationStatusChanged"]
                self.arrivals[event["occurredAt"]] = time.time()


async def subscribe(ws_url: str, token: str) -> Subscriber:
    ws = await connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")],
                       open_timeout=30, max_queue=None)
    await ws.send(json.dumps({"type": "connection_init",
                              "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe",
                              "payload": {"query": SUBSCRIPTION}}))
    return Subscriber(ws)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(jwt_secret_env=secrets.token_urlsafe(48))
    server = dataset.server_url(args.data_dir)
    url = await ensure_database(server, DATABASE, drop_first=True)
    await upgrade_async(url)
    data = await build(url, args.subscribers, args.organizations or args.subscribers, settings,
                       args.scope_mixes)
    logs = servers.log_dir()
    app = servers.start(servers.BUILT_IN["graphql"],
                        servers.environment(url, settings.jwt_secret, args.data_dir), logs,
                        workers=args.workers)
    try:
        await servers.wait_ready(app)
        rss_baseline = server_rss(app.pid)
        ws_url = f"ws://127.0.0.1:{app.port}/graphql"
        opening = asyncio.Semaphore(50)

        async def one(token: str) -> Subscriber:
            async with opening:
                return await subscribe(ws_url, token)

        subscribers = await asyncio.gather(*(one(t) for t in data["subscribers"]))
        readers = [asyncio.create_task(s.read()) for s in subscribers]
        await asyncio.sleep(1.0)  # every operation reaches its feed
        rss_subscribed = server_rss(app.pid)
        server_cpu_before = server_cpu(app.pid)
        per_delivery: list[float] = []
        all_delivered: list[float] = []
        missing = 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.port}",
                                     headers={"Authorization": f"Bearer {data['admin']}"},
                                     timeout=30) as http:
            # The first events run cold (statement caches, first executions): not measured.
            for n in range(args.warmup + args.events):
                status = "SUSPENDED" if n % 2 == 0 else "ACTIVE"
                response = await http.post("/graphql", json={"query": SET_STATUS, "variables": {
                    "input": {"certificateId": data["certificate"], "status": status,
                              "reason": "Bench."}}})
                body = response.json()
                assert not body["data"]["setCertificateStatus"]["userErrors"], body
                occurred = await wait_all(subscribers, n, args.timeout)
                if n == args.warmup - 1:
                    server_cpu_before = server_cpu(app.pid)
                if n < args.warmup:
                    await asyncio.sleep(args.pause)
                    continue
                if occurred is None:
                    missing += 1
                    continue
                moment = datetime.fromisoformat(occurred).timestamp()
                latencies = [s.arrivals[occurred] - moment for s in subscribers
                             if occurred in s.arrivals]
                missing += len(subscribers) - len(latencies)
                per_delivery.extend(latencies)
                all_delivered.append(max(latencies))
                await asyncio.sleep(args.pause)
        cpu = server_cpu(app.pid) - server_cpu_before
        rss = server_rss(app.pid)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*(s.ws.close() for s in subscribers), return_exceptions=True)
        await asyncio.sleep(2.0)  # the server notices the closed sockets
        rss_closed = server_rss(app.pid)
        await asyncio.sleep(3.0)  # and collects what they held between passes of its own
        rss_closed_later = server_rss(app.pid)
    finally:
        servers.stop(app)
        servers.remove(logs)
    ms = 1000.0
    return {
        "subscribers": args.subscribers,
        "organizations": args.organizations or args.subscribers,
        "events": args.events, "missing_deliveries": missing,
        "delivery_p50_ms": percentile(per_delivery, 0.50) * ms,
        "delivery_p99_ms": percentile(per_delivery, 0.99) * ms,
        "delivery_max_ms": max(per_delivery) * ms,
        "all_delivered_p50_ms": percentile(all_delivered, 0.50) * ms,
        "all_delivered_p99_ms": percentile(all_delivered, 0.99) * ms,
        "workers": args.workers, "scope_mixes": args.scope_mixes,
        "server_cpu_ms_per_event": cpu / args.events * ms,
        "server_rss_mb_baseline": rss_baseline,
        "server_rss_mb_subscribed": rss_subscribed,
        "server_rss_mb_after": rss,
        "server_rss_mb_sockets_closed": rss_closed,
        "server_rss_mb_sockets_closed_5s": rss_closed_later,
        "load_average_1min": os.getloadavg()[0],
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "all_delivered_ms_each": [round(v * ms) for v in all_delivered],
    }


def _processes(pid: int) -> list[psutil.Process]:
    """The server: uvicorn's process, and its workers when there are several."""
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def server_cpu(pid: int) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in _processes(pid))


def server_rss(pid: int) -> float:
    return sum(p.memory_info().rss for p in _processes(pid)) / 2**20


async def wait_all(subscribers: list[Subscriber], n: int, timeout: float) -> str | None:
    """The occurredAt of event n once every subscriber has it (or timeout); None if none did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts: dict[str, int] = {}
        for s in subscribers:
            for occurred in s.arrivals:
                counts[occurred] = counts.get(occurred, 0) + 1
        latest = sorted(counts)[n] if len(counts) > n else None
        if latest is not None and counts[latest] == len(subscribers):
            return latest
        await asyncio.sleep(0.01)
    counts = {}
    for s in subscribers:
        for occurred in s.arrivals:
            counts[occurred] = counts.get(occurred, 0) + 1
    return sorted(counts)[n] if len(counts) > n else None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, default=1000)
    p.add_argument("--organizations", type=int, default=0,
                   help="customer organizations the subscribers belong to (0: one each)")
    p.add_argument("--scope-mixes", type=int, default=1, choices=range(1, 5),
                   help="distinct scope sets granted, organization i the (i mod M)th")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--events", type=int, default=20, help="measured changes")
    p.add_argument("--warmup", type=int, default=2, help="changes made first, not measured")
    p.add_argument("--pause", type=float, default=0.3, help="seconds between changes")
    p.add_argument("--timeout", type=float, default=15.0, help="per event, for all deliveries")
    p.add_argument("--data-dir", type=Path, default=Path(".escp-bench"))
    args = p.parse_args(argv)
    report = asyncio.run(run(args))
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    stamp = report["when"].replace(":", "")
    (results / f"subscriptions-{stamp}.json").write_text(json.dumps(report, indent=2))
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:{width}}  {value:.1f}" if isinstance(value, float) else
              f"{key:{width}}  {value}")


if __name__ == "__main__":
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    main()
