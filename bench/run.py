"""The dashboard benchmark, in one command (see bench/README.md):

    python bench/run.py [--duration 20] [--clients 20] [--warmup 3] [--rounds 1] [--profile]

Builds the data set if missing, serves our API and the single-SQL endpoint with uvicorn (one
worker each), checks that they answer the same, counts SQL statements per request, drives the
dashboard query against each under identical conditions, and prints a table; the figures are
written as JSON to bench/results/.
"""
import argparse
import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402

from auth.tokens import issue_token  # noqa: E402
from bench import dataset, driver, measure, profile_summary, servers, verify  # noqa: E402
from db.embedded import to_libpq_url  # noqa: E402
from db.settings import Settings  # noqa: E402

BENCH = Path(__file__).resolve().parent
QUERY = (BENCH / "dashboard.graphql").read_text()


def arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the customer dashboard query.")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per target")
    p.add_argument("--clients", type=int, default=20, help="concurrent clients")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    p.add_argument("--rounds", type=int, default=1,
                   help="alternate the targets this many times (evens out a noisy machine)")
    p.add_argument("--quiet-wait", type=float, default=120.0,
                   help="before each run, wait up to this long for other work on the machine "
                        "to stop (0: do not wait)")
    p.add_argument("--profile", action="store_true",
                   help="afterwards, profile our API under the same load with py-spy")
    p.add_argument("--rebuild", action="store_true", help="rebuild the data set first")
    p.add_argument("--data-dir", type=Path, default=Path(".escp-bench"),
                   help="embedded PostgreSQL's home when DATABASE_URL is unset")
    p.add_argument("--results", type=Path, default=BENCH / "results")
    return p.parse_args(argv)


async def viewer_headers(conn: asyncpg.Connection, settings: Settings) -> dict[str, str]:
    user = await conn.fetchrow("SELECT id, organization_id, role FROM users WHERE email = $1",
                               dataset.DASHBOARD_USER)
    token, _ = issue_token(settings, user_id=user["id"], organization_id=user["organization_id"],
                           role=user["role"])
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def load_one(server: servers.Server, headers: dict[str, str], bodies: list[bytes],
                   args: argparse.Namespace, conn: asyncpg.Connection) -> dict[str, Any]:
    """One measured run against one target, with the CPU and log output it caused."""
    # Same starting point for every target: the access log grows by ~100 rows per request.
    await conn.execute("TRUNCATE access_log")
    busy_before = await measure.wait_for_quiet(args.quiet_wait)
    edges: dict[str, Any] = {}

    async def on_window(edge: str) -> None:
        pids = await measure.postgres_pids(conn)
        edges[edge] = (measure.CpuSnapshot.take(server.pid, pids, time.perf_counter()),
                       server.log_bytes())

    load = await driver.drive(server.url, headers, bodies, clients=args.clients,
                              warmup=args.warmup, duration=args.duration, on_window=on_window)
    cpu = measure.CpuUse.between(edges["start"][0], edges["end"][0])
    per_request = 1000 / max(load.requests, 1)
    return {
        "requests": load.requests, "failures": load.failures, "rps": load.rps,
        "seconds": load.seconds, "latencies_ms": load.latencies_ms,
        "p50_ms": load.percentile(50), "p99_ms": load.percentile(99), "mean_ms": load.mean_ms,
        "server_cpu_ms_per_request": _scaled(cpu.server, per_request),
        "postgres_cpu_ms_per_request": _scaled(cpu.postgres, per_request),
        "driver_cpu_ms_per_request": cpu.driver * per_request,
        "machine_busy_percent": 100 * cpu.machine / (cpu.wall * (os.cpu_count() or 1)),
        # CPU the machine spent on work that is none of ours (the server, PostgreSQL, driver)
        "other_processes_cores": _scaled(cpu.others, 1 / cpu.wall),
        "steal_cores": cpu.steal / cpu.wall,  # included in other_processes_cores
        "busy_cores_before": busy_before,
        "log_bytes_per_request": (edges["end"][1] - edges["start"][1]) / max(load.requests, 1),
    }


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one target: throughput and latency percentiles over all of them, the rest
    averaged. Takes the raw latencies out of the rounds (they are not written)."""
    latencies = [ms for r in runs for ms in r.pop("latencies_ms")]
    load = driver.Load(sum(r["requests"] for r in runs), sum(r["failures"] for r in runs),
                       sum(r["seconds"] for r in runs), latencies)
    averaged = {key: (sum(r[key] for r in runs) / len(runs)
                      if all(r[key] is not None for r in runs) else None)
                for key in runs[0]}
    return {**averaged, "requests": load.requests, "failures": load.failures, "rps": load.rps,
            "p50_ms": load.percentile(50), "p99_ms": load.percentile(99),
            "mean_ms": load.mean_ms}


async def profile(server: servers.Server, headers: dict[str, str], bodies: list[bytes],
                  args: argparse.Namespace, results: Path, stamp: str) -> str | None:
    """py-spy on our API under the same load: a flame graph (SVG) and a ranked summary."""
    spy = servers.py_spy()
    if spy is None:
        print("profile skipped: py-spy is not installed (pip install py-spy)")
        return None
    seconds = str(int(args.warmup + args.duration))
    svg, raw = results / f"profile-{stamp}.svg", results / f"profile-{stamp}.txt"
    common = ["record", "--pid", str(server.pid), "--duration", seconds, "--rate", "100",
              "--nonblocking"]
    spies = [subprocess.Popen([spy, *common, "-o", str(svg)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL),
             subprocess.Popen([spy, *common, "--format", "raw", "-o", str(raw)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    await asyncio.sleep(1.0)  # let py-spy attach before the load starts
    await driver.drive(server.url, headers, bodies, clients=args.clients, warmup=0,
                       duration=float(seconds))
    for spy_process in spies:
        spy_process.wait(60)
    summary = profile_summary.summarize(raw.read_text())
    (results / f"profile-{stamp}-summary.txt").write_text(summary)
    return summary


def machine(conn_version: str, load_before: tuple[float, float, float]) -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH, text=True,
                            capture_output=True).stdout.strip()
    return {"cpus": os.cpu_count(), "cpu_model": model,
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "postgres": conn_version,
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "commit": commit}


def table(report: dict[str, Any]) -> str:
    rows = [("target", "rps", "p50 ms", "p99 ms", "SQL/req", "trips/req", "srv CPU ms/req",
             "PG CPU ms/req", "drv CPU ms/req", "log B/req", "RSS MB", "other work")]
    for name, t in report["targets"].items():
        rows.append((name, f"{t['rps']:.1f}", f"{t['p50_ms']:.0f}", f"{t['p99_ms']:.0f}",
                     f"{t['statements_per_request']:.1f}", f"{t['round_trips_per_request']:.0f}",
                     _fmt(t["server_cpu_ms_per_request"]), _fmt(t["postgres_cpu_ms_per_request"]),
                     _fmt(t["driver_cpu_ms_per_request"]), f"{t['log_bytes_per_request']:.0f}",
                     _fmt(t["rss_mb"], 0), _fmt(t["other_processes_cores"], 2) + " cores"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    ratio = report["ratio"]
    lines.append(f"our throughput / single-SQL limit: {ratio:.3f}x   "
                 f"(statements per page: {report['targets']['graphql']['statements_per_page']})")
    return "\n".join(lines)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


async def run(args: argparse.Namespace) -> int:
    load_before = os.getloadavg()
    server_url = dataset.server_url(args.data_dir)
    url = await dataset.ensure(server_url, rebuild=args.rebuild)
    settings = Settings(database_url=url, jwt_secret_env=secrets.token_urlsafe(48),
                        jwt_ttl_seconds=24 * 3600)
    conn = await asyncpg.connect(to_libpq_url(url))
    logs = servers.log_dir()
    env = servers.environment(url, settings.jwt_secret, args.data_dir)
    running = {t.name: servers.start(t, env, logs) for t in servers.TARGETS}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results.mkdir(parents=True, exist_ok=True)
    try:
        headers = await viewer_headers(conn, settings)
        for server in running.values():
            await servers.wait_ready(server)
        walks = {}
        async with httpx.AsyncClient(headers=headers, timeout=60.0) as http:
            for name, server in running.items():
                walks[name] = await verify.walk(http, server.url, QUERY, conn)
        verify.compare(walks["graphql"], walks["single-sql"])
        bodies = [json.dumps({"query": QUERY, "variables": {"after": page.after}}).encode()
                  for page in walks["graphql"]]
        print(f"same answers from both targets on all {len(bodies)} pages "
              f"(data, errors, access log)")
        costs = {"graphql": await measure.api_cost(settings, headers, bodies),
                 "single-sql": await measure.single_sql_cost(settings, headers, bodies)}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in running}
        for n in range(args.rounds):
            for name, server in running.items():
                print(f"round {n + 1}/{args.rounds}: {name} ({args.clients} clients, "
                      f"{args.warmup:g}s warm-up + {args.duration:g}s)", flush=True)
                runs[name].append(result := await load_one(server, headers, bodies, args, conn))
                print(f"  {result['rps']:.1f} rps, p50 {result['p50_ms']:.0f} ms, p99 "
                      f"{result['p99_ms']:.0f} ms; other work on the machine: "
                      f"{_fmt(result['other_processes_cores'], 2)} cores", flush=True)
                if result["requests"] < 30:
                    print("  few requests completed in the window: a longer --duration gives "
                          "steadier figures", flush=True)
        rss = {name: measure.rss_mb(server.pid) for name, server in running.items()}
        summary = (await profile(running["graphql"], headers, bodies, args, args.results, stamp)
                   if args.profile else None)
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
        for server in running.values():
            servers.stop(server)
            servers.keep_head(server.log, args.results / f"server-{stamp}-{server.target.name}.log")
        servers.remove(logs)
    targets = {}
    for name, cost in costs.items():
        targets[name] = {**combine(runs[name]), "rss_mb": rss[name],
                         "statements_per_request": cost.statements_per_request,
                         "statements_per_page": cost.statements,
                         "connections_per_request": cost.connections,
                         "transactions_per_request": cost.transactions,
                         "round_trips_per_request": cost.round_trips,
                         "rounds": runs[name]}
    report = {
        "when": stamp, "machine": machine(version, load_before),
        "settings": {"duration_s": args.duration, "clients": args.clients,
                     "warmup_s": args.warmup, "rounds": args.rounds, "pages": len(bodies),
                     "walk": "each client posts the dashboard's pages in turn (after = "
                             "previous endCursor), starting at page k mod pages"},
        "targets": targets,
        "ratio": targets["graphql"]["rps"] / targets["single-sql"]["rps"],
    }
    (args.results / f"dashboard-{stamp}.json").write_text(json.dumps(report, indent=2))
    (args.results / "latest.json").write_text(json.dumps(report, indent=2))
    print(table(report))
    if summary:
        print(summary)
    failures = sum(t["failures"] for t in targets.values())
    if failures:
        print(f"FAILED: {failures} requests did not answer 200", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    try:
        sys.exit(asyncio.run(run(args)))
    except verify.Mismatch as exc:
        print(f"MISMATCH: the single-SQL endpoint and our API disagree: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
