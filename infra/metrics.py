"""The Prometheus metrics of a worker process, and their exposition (GET /metrics).

Metrics live in the process (prometheus-client's default registry). With several uvicorn
workers each process counts its own: set PROMETHEUS_MULTIPROC_DIR (an empty directory, the same
for every worker of a host) and each worker writes its values there and whichever worker answers
a scrape reports the sum (gauges as their modes below say). Labels take bounded values only:
operation names are capped (operation_label), codes and reasons are ours.
"""
import asyncio
import logging
import os
import re
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import Database
from db.outbox import Notification

log = logging.getLogger(__name__)

# prometheus-client's own variable, which the library reads itself (db.settings.OTHER_VARIABLES).
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
if MULTIPROCESS:  # each metric below opens its file there at once
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
# Request latencies: a dashboard page takes tens of milliseconds, a sign-in hundreds.
LATENCY_BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)

HTTP_REQUESTS = Counter("escp_http_requests_total", "HTTP requests answered",
                        ["route", "method", "status"])
HTTP_LATENCY = Histogram("escp_http_request_duration_seconds", "HTTP request latency",
                         ["route", "method"], buckets=LATENCY_BUCKETS)
OPERATIONS = Counter("escp_graphql_operations_total",
                     "GraphQL operations over HTTP, by operation name and outcome "
                     "(ok, partial: data and errors, error: no data)",
                     ["operation", "type", "outcome"])
OPERATION_LATENCY = Histogram("escp_graphql_operation_duration_seconds",
                              "GraphQL operation latency over HTTP", ["operation", "outcome"],
                              buckets=LATENCY_BUCKETS)
ERRORS = Counter("escp_graphql_errors_total", "GraphQL errors answered, by extensions.code",
                 ["code"])
READS = Counter("escp_graphql_reads_total",
                "HTTP queries by the path that answered them (compiled, resolver) and, for the "
                "resolver path, why", ["path", "reason"])
PERSISTED = Counter("escp_persisted_queries_total",
                    "Persisted-query look-ups: hit, miss, registered, refused", ["outcome"])
SOCKETS = Gauge("escp_websockets_open", "Open WebSocket connections",
                multiprocess_mode="livesum")
SUBSCRIPTIONS = Gauge("escp_subscriptions_active", "Running subscription operations", ["topic"],
                      multiprocess_mode="livesum")
EVENTS_DELIVERED = Counter("escp_events_delivered_total", "Events delivered to subscribers",
                           ["topic"])
EVENTS_DROPPED = Counter("escp_events_dropped_total",
                         "Events dropped for subscribers too slow to take them", ["topic"])
EVENT_DELAY = Histogram("escp_event_delivery_delay_seconds",
                        "From an event's change to its delivery to a subscriber", ["topic"],
                        buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
OUTBOX_BACKLOG = Gauge("escp_outbox_backlog", "Notices in the outbox not sent yet "
                       "(read from the database at each scrape)", multiprocess_mode="mostrecent")
OUTBOX_SENT = Counter("escp_outbox_sent_total", "Notices the mail server accepted")
OUTBOX_FAILURES = Counter("escp_outbox_failures_total", "Failed attempts to mail a notice")
POOL_IN_USE = Gauge("escp_db_pool_connections_in_use", "Pooled database connections checked out",
                    multiprocess_mode="livesum")
LOGINS = Counter("escp_login_attempts_total",
                 "Sign-in attempts: signed_in, refused (wrong email or password), throttled "
                 "(over a sign-in limit, not checked)", ["outcome"])

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
MAX_OPERATION_NAMES = 200
_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """The operation's name as a label: `anonymous` without one; past MAX_OPERATION_NAMES
    distinct names in this process, `other` (clients choose names: a label per name unbounded
    would let any client grow the metrics without end)."""
    if not name:
        return "anonymous"
    if name in _operation_names:
        return name
    if not _NAME.fullmatch(name) or len(_operation_names) >= MAX_OPERATION_NAMES:
        return "other"
    _operation_names.add(name)
    return name


def watch_pool(engine: AsyncEngine) -> None:
    """Counts the engine's checked-out connections (pool events also follow a pool that
    SQLAlchemy recreates after a database restart)."""
    event.listen(engine.sync_engine, "checkout", lambda *_: POOL_IN_USE.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: POOL_IN_USE.dec())


async def exposition(database: Database) -> tuple[bytes, str]:
    """The text a scrape gets, and its content type. While the database cannot answer, the
    backlog keeps its last value: the other metrics matter most then."""
    try:
        async with asyncio.timeout(2), database.read() as conn:
            OUTBOX_BACKLOG.set((await conn.execute(
                select(func.count()).where(Notification.sent_at.is_(None)))).scalar_one())
    except Exception:
        log.warning("metrics: the outbox backlog could not be read", exc_info=True)
    # This worker's value read from its pool itself: the events count every engine of the
    # process (tests make several) and drift when a pool is thrown away with connections out.
    POOL_IN_USE.set(database.engine.pool.checkedout())
    registry: Any = REGISTRY
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_ended(pid: int) -> None:
    """Drops a stopped worker's live gauges (multiprocess mode only)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)
