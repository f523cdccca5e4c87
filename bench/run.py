"""The read benchmarks, in one command (see bench/README.md):

    python bench/run.py [--duration 20] [--connections 20] [--warmup 3] [--rounds 1]
                        [--targets graphql] [--workloads dashboard,directory] [--profile]

Builds the data set if missing, serves each target with uvicorn (one worker each; the
single-SQL limit always), checks that every target answers each workload as the limit does,
counts SQL statements per request, drives each workload against each target with wrk under
identical conditions, checks the answers again, and prints a table; the figures are written as
JSON to bench/results/.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx
import psutil

from auth.tokens import issue_token
from bench import dataset, loadgen, measure, profile_summary, servers, verify
from db.embedded import to_libpq_url
from db.settings import Settings

BENCH = Path(__file__).resolve().parent
JSON_BODY = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Workload:
    name: str  # also the single-SQL endpoint's path
    query: str
    signed_in: bool  # as the dashboard customer; else anonymous
    who: str


WORKLOADS = {w.name: w for w in (
    Workload("dashboard", (BENCH / "dashboard.graphql").read_text(), True,
             "the dashboard customer, signed in"),
    Workload("directory", (BENCH / "directory.graphql").read_text(), False, "anonymous"))}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark read queries against the single-SQL limit.")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    p.add_argument("--connections", "--clients", type=int, default=20,
                   help="concurrent keep-alive connections")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--warmup", type=float, default=3.0,
                   help="unmeasured seconds of the same load first (0: none)")
    p.add_argument("--rounds", type=int, default=1,
                   help="alternate the targets this many times (evens out a noisy machine)")
    p.add_argument("--targets", default="graphql",
                   help="comma-separated: built-in names (graphql: our API as served; "
                        "resolvers: with ESCP_COMPILED_READS=off) or "
                        "NAME=MODULE:FACTORY@PATH[+VAR=VALUE...]; the single-SQL limit is "
                        "always measured")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help=f"comma-separated, of: {', '.join(WORKLOADS)}")
    p.add_argument("--quiet-wait", type=float, default=120.0,
                   help="before each run, wait up to this long for other work on the machine "
                        "to stop (0: do not wait)")
    p.add_argument("--profile", action="store_true",
                   help="afterwards, profile our API under the dashboard load with py-spy")
    p.add_argument("--rebuild", action="store_true", help="rebuild the data set first")
    p.add_argument("--data-dir", type=Path, default=Path(".escp-bench"),
                   help="embedded PostgreSQL's home when DATABASE_URL is unset")
    p.add_argument("--results", type=Path, default=BENCH / "results")
    args = p.parse_args(argv)
    try:
        args.targets = servers.parse_targets(args.targets)
    except ValueError as exc:
        p.error(str(exc))
    unknown = set(args.workloads.split(",")) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workloads {sorted(unknown)}; known: {', '.join(WORKLOADS)}")
    args.workloads = [WORKLOADS[name] for name in args.workloads.split(",")]
    return args


async def customer_headers(conn: asyncpg.Connection, settings: Settings) -> dict[str, str]:
    user = await conn.fetchrow("SELECT id, organization_id, role FROM users WHERE email = $1",
                               dataset.DASHBOARD_USER)
    assert user is not None, "the dashboard user is in the data set"
    token, _ = issue_token(settings, user_id=user["id"], organization_id=user["organization_id"],
                           role=user["role"])
    return {**JSON_BODY, "Authorization": f"Bearer {token}"}


Walks = dict[str, dict[str, list[verify.Page]]]  # workload -> target -> pages


async def walk_all(running: dict[str, servers.Server], workloads: list[Workload],
                   headers: dict[str, dict[str, str]], conn: asyncpg.Connection) -> Walks:
    """Every page of every workload from every target, each compared with the limit's."""
    walks: Walks = {}
    for w in workloads:
        async with httpx.AsyncClient(headers=headers[w.name], timeout=120.0) as http:
            walks[w.name] = {name: await verify.walk(http, server.url(w.name), w.query, conn)
                             for name, server in running.items()}
        for name, pages in walks[w.name].items():
            try:
                verify.compare(pages, walks[w.name][servers.LIMIT.name])
            except verify.Mismatch as exc:
                raise verify.Mismatch(f"{w.name}, {name}: {exc}") from None
    return walks


def same_as_before(before: Walks, after: Walks) -> None:
    for workload, targets in after.items():
        for name, pages in targets.items():
            try:
                verify.compare(pages, before[workload][name])
            except verify.Mismatch as exc:
                raise verify.Mismatch(f"{workload}, {name}, after the load: {exc}") from None


async def load_one(server: servers.Server, requests: loadgen.Requests, args: argparse.Namespace,
                   conn: asyncpg.Connection, wrk: str) -> dict[str, Any]:
    """One measured wrk run against one target, with the CPU and log output it caused."""
    # Same starting point for every target: a dashboard request adds ~100 access-log rows.
    await conn.execute("TRUNCATE access_log")
    busy_before = await measure.wait_for_quiet(args.quiet_wait)
    common = {"connections": args.connections, "threads": args.threads}
    warm_failures = 0
    if args.warmup > 0:  # pools, plan caches; wrk has no warm-up of its own
        warm_failures = (await asyncio.to_thread(loadgen.run, wrk, requests,
                                                 seconds=args.warmup, **common)).failures
        await measure.wait_idle(server.pid)  # not to spend the measured run on dropped requests
    start = await _snapshot(server, conn)
    load = await asyncio.to_thread(loadgen.run, wrk, requests, seconds=args.duration, **common)
    end = await _snapshot(server, conn)
    await measure.wait_idle(server.pid)  # nor the next target's
    cpu = measure.CpuUse.between(start[0], end[0], load.generator_cpu_s)
    per_request = 1000 / max(load.requests, 1)
    return {
        "requests": load.requests, "rps": load.rps, "seconds": load.seconds,
        "p50_ms": load.p50_ms, "p99_ms": load.p99_ms, "mean_ms": load.mean_ms,
        "failures": load.failures + warm_failures, "warmup_failures": warm_failures,
        "non200": load.non200, "unexpected_answers": load.unexpected,
        "socket_errors": load.socket_errors, "answers_with_errors": load.with_errors,
        "unexpected_sample": load.unexpected_sample,
        "server_cpu_ms_per_request": _scaled(cpu.server, per_request),
        "postgres_cpu_ms_per_request": _scaled(cpu.postgres, per_request),
        "generator_cpu_ms_per_request": cpu.generator * per_request,
        "generator_cores": cpu.generator / cpu.wall,
        "machine_busy_percent": 100 * cpu.machine / (cpu.wall * (os.cpu_count() or 1)),
        # CPU the machine spent on work that is none of ours (server, PostgreSQL, wrk)
        "other_processes_cores": _scaled(cpu.others, 1 / cpu.wall),
        "steal_cores": cpu.steal / cpu.wall,  # included in other_processes_cores
        "busy_cores_before": busy_before,
        "log_bytes_per_request": (end[1] - start[1]) / max(load.requests, 1),
    }


async def _snapshot(server: servers.Server, conn: asyncpg.Connection
                    ) -> tuple[measure.CpuSnapshot, int]:
    pids = await measure.postgres_pids(conn)
    return (measure.CpuSnapshot.take(server.pid, pids, time.perf_counter()), server.log_bytes())


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


SUMMED = ("requests", "seconds", "failures", "warmup_failures", "non200", "unexpected_answers",
          "socket_errors", "answers_with_errors")


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one target: counts summed, throughput over all of them, the rest (latency
    percentiles included) averaged over the rounds."""
    combined: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        if key in SUMMED:
            combined[key] = sum(values)
        elif all(isinstance(v, int | float) for v in values):
            combined[key] = sum(values) / len(values)
        else:
            combined[key] = next((v for v in values if v is not None), None)
    combined["rps"] = combined["requests"] / combined["seconds"]
    return combined


async def profile(server: servers.Server, requests: loadgen.Requests, args: argparse.Namespace,
                  wrk: str, results: Path, stamp: str) -> str | None:
    """py-spy on our API under the same load: a flame graph (SVG) and a ranked summary."""
    spy = servers.py_spy()
    if spy is None:
        print("profile skipped: py-spy is not installed (pip install py-spy)")
        return None
    seconds = int(args.warmup + args.duration)
    svg, raw = results / f"profile-{stamp}.svg", results / f"profile-{stamp}.txt"
    common = ["record", "--pid", str(server.pid), "--duration", str(seconds), "--rate", "100",
              "--nonblocking"]
    spies = [subprocess.Popen([spy, *common, "-o", str(svg)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL),
             subprocess.Popen([spy, *common, "--format", "raw", "-o", str(raw)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    await asyncio.sleep(1.0)  # let py-spy attach before the load starts
    await asyncio.to_thread(loadgen.run, wrk, requests, connections=args.connections,
                            threads=args.threads, seconds=seconds)
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
    lines = []
    for name, w in report["workloads"].items():
        lines.append(f"{name}: {w['who']}, {w['pages']} pages, {report['settings']['connections']}"
                     f" connections, wrk")
        rows = [("target", "rps", "p50 ms", "p99 ms", "SQL/req", "trips/req", "srv CPU ms/req",
                 "PG CPU ms/req", "wrk CPU ms/req", "log B/req", "other work", "answers")]
        for target, t in w["targets"].items():
            rows.append((target, f"{t['rps']:.1f}", f"{t['p50_ms']:.0f}", f"{t['p99_ms']:.0f}",
                         _fmt(t["statements_per_request"]), _fmt(t["round_trips_per_request"], 0),
                         _fmt(t["server_cpu_ms_per_request"]),
                         _fmt(t["postgres_cpu_ms_per_request"]),
                         _fmt(t["generator_cpu_ms_per_request"], 2),
                         f"{t['log_bytes_per_request']:.0f}",
                         _fmt(t["other_processes_cores"], 2) + " cores", _checked(t)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(cell.rjust(width) if i else cell.ljust(width)
                            for i, (cell, width) in enumerate(zip(row, widths, strict=True)))
                  for row in rows]
        lines += [f"{target} / {servers.LIMIT.name}: {ratio:.3f}x"
                  for target, ratio in w["ratios"].items()]
        lines.append("")
    lines.append("RSS after all runs: " + ", ".join(f"{name} {_fmt(mb, 0)} MB"
                                                     for name, mb in report["rss_mb"].items()))
    return "\n".join(lines)


def _checked(t: dict[str, Any]) -> str:
    if not t["failures"]:
        return f"all {t['requests']} verified"
    return (f"INVALID: {t['non200']} non-200, {t['unexpected_answers']} unexpected, "
            f"{t['socket_errors']} socket errors, {t['warmup_failures']} in warm-up")


def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def target_settings(target: servers.Target, url: str, jwt_secret: str) -> Settings:
    """The settings the target's server reads from its environment, for the in-process count."""
    saved = {name: os.environ.get(name) for name, _ in target.env}
    os.environ.update(dict(target.env))
    try:
        return Settings(database_url=url, jwt_secret_env=jwt_secret, jwt_ttl_seconds=24 * 3600)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def costs(targets: list[servers.Target], workloads: list[Workload],
                headers: dict[str, dict[str, str]], bodies: dict[str, list[bytes]],
                settings: Settings) -> dict[str, dict[str, measure.Cost | None]]:
    found: dict[str, dict[str, measure.Cost | None]] = {}
    assert settings.database_url is not None  # main() made these settings with its database
    for w in workloads:
        found[w.name] = {}
        for t in targets:
            own = target_settings(t, settings.database_url, settings.jwt_secret)
            args = (t.path_for(w.name), own, headers[w.name], bodies[w.name])
            found[w.name][t.name] = await (measure.single_sql_cost(*args) if t == servers.LIMIT
                                           else measure.api_cost(t.app, *args))
    return found


def requests_for(server: servers.Server, w: Workload, headers: dict[str, str],
                 bodies: list[bytes], pages: list[verify.Page]) -> loadgen.Requests:
    """The workload's pages, sent in turn, with one header set (the one viewer of the data
    set); only the answers this target gave in the check count as correct."""
    return loadgen.Requests(server.url(w.name), bodies, [headers], [p.raw for p in pages])


async def run(args: argparse.Namespace) -> int:
    wrk = loadgen.locate()
    load_before = os.getloadavg()
    url = await dataset.ensure(dataset.server_url(args.data_dir), rebuild=args.rebuild)
    settings = Settings(database_url=url, jwt_secret_env=secrets.token_urlsafe(48),
                        jwt_ttl_seconds=24 * 3600)
    conn = await asyncpg.connect(to_libpq_url(url))
    logs = servers.log_dir()
    env = servers.environment(url, settings.jwt_secret, args.data_dir)
    running = {t.name: servers.start(t, env, logs) for t in args.targets}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results.mkdir(parents=True, exist_ok=True)
    try:
        customer = await customer_headers(conn, settings)
        headers = {w.name: customer if w.signed_in else JSON_BODY for w in args.workloads}
        for server in running.values():
            await servers.wait_ready(server)
        before = await walk_all(running, args.workloads, headers, conn)
        bodies = {w.name: [json.dumps({"query": w.query, "variables": {"after": page.after}})
                           .encode() for page in before[w.name][servers.LIMIT.name]]
                  for w in args.workloads}
        print("same answers from every target on every page (data, errors, access log): "
              + ", ".join(f"{name} {len(pages)} pages" for name, pages in bodies.items()))
        cost = await costs(args.targets, args.workloads, headers, bodies, settings)
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            w.name: {name: [] for name in running} for w in args.workloads}
        for n in range(args.rounds):
            for w in args.workloads:
                for name, server in running.items():
                    print(f"round {n + 1}/{args.rounds}: {w.name} on {name} ({args.connections}"
                          f" connections, {args.warmup:g}s warm-up + {args.duration:g}s)",
                          flush=True)
                    requests = requests_for(server, w, headers[w.name], bodies[w.name],
                                            before[w.name][name])
                    result = await load_one(server, requests, args, conn, wrk)
                    runs[w.name][name].append(result)
                    print(f"  {result['rps']:.1f} rps, p50 {result['p50_ms']:.0f} ms, p99 "
                          f"{result['p99_ms']:.0f} ms, {_checked(result)}; other work on the "
                          f"machine: {_fmt(result['other_processes_cores'], 2)} cores",
                          flush=True)
        after = await walk_all(running, args.workloads, headers, conn)
        same_as_before(before, after)
        print("after the load: the same answers again from every target")
        rss = {name: measure.rss_mb(server.pid) for name, server in running.items()}
        summary = None
        if args.profile and "graphql" in running and "dashboard" in bodies:
            w = WORKLOADS["dashboard"]
            summary = await profile(running["graphql"], requests_for(
                running["graphql"], w, headers[w.name], bodies[w.name],
                before[w.name]["graphql"]), args, wrk, args.results, stamp)
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
        for server in running.values():
            servers.stop(server)
            servers.keep_head(server.log, args.results / f"server-{stamp}-{server.target.name}.log")
        servers.remove(logs)
    report: dict[str, Any] = {
        "when": stamp, "machine": machine(version, load_before),
        "settings": {"duration_s": args.duration, "connections": args.connections,
                     "threads": args.threads, "warmup_s": args.warmup, "rounds": args.rounds,
                     "generator": loadgen.version(wrk),
                     "targets": {t.name: {"app": t.app, "path": t.path, "env": dict(t.env)}
                                 for t in args.targets}},
        "workloads": {w.name: workload_report(w, runs[w.name], cost[w.name], len(bodies[w.name]))
                      for w in args.workloads},
        "rss_mb": rss,
    }
    (args.results / f"bench-{stamp}.json").write_text(json.dumps(report, indent=2))
    (args.results / "latest.json").write_text(json.dumps(report, indent=2))
    print(table(report))
    if summary:
        print(summary)
    failures = sum(t["failures"] for w in report["workloads"].values()
                   for t in w["targets"].values())
    if failures:
        print(f"NOT A VALID FIGURE: {failures} requests did not get a verified answer (see "
              f"unexpected_sample in bench/results/bench-{stamp}.json)", file=sys.stderr)
        return 1
    return 0


def workload_report(w: Workload, runs: dict[str, list[dict[str, Any]]],
                    costs: dict[str, measure.Cost | None], pages: int) -> dict[str, Any]:
    targets = {}
    for name, cost in costs.items():
        targets[name] = {**combine(runs[name]), "rounds": runs[name],
                         **_cost_fields(cost)}
    limit = targets[servers.LIMIT.name]["rps"]
    return {"who": w.who, "pages": pages, "targets": targets,
            "ratios": {name: t["rps"] / limit for name, t in targets.items()
                       if name != servers.LIMIT.name}}


def _cost_fields(cost: measure.Cost | None) -> dict[str, Any]:
    if cost is None:  # an app without our engine: its statements are not counted
        return dict.fromkeys(("statements_per_request", "statements_per_page",
                              "connections_per_request", "transactions_per_request",
                              "round_trips_per_request"))
    return {"statements_per_request": cost.statements_per_request,
            "statements_per_page": cost.statements,
            "connections_per_request": cost.connections,
            "transactions_per_request": cost.transactions,
            "round_trips_per_request": cost.round_trips}


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    try:
        sys.exit(asyncio.run(run(args)))
    except loadgen.MissingLoadGenerator as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(3)
    except verify.Mismatch as exc:
        print(f"MISMATCH: a target and the single-SQL limit disagree: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
