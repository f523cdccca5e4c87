"""Cross-process events over PostgreSQL LISTEN/NOTIFY, kept in a table for replay.

A mutation calls `publish` inside its unit of work: it inserts the event into `events` (db.event),
whose commit trigger numbers it in commit order (`seq`) and sends the NOTIFY, so PostgreSQL
delivers the event when that transaction commits and never when it rolls back. Each worker
process runs one `EventHub`: one listening connection whose callback fans every event out, in
memory, to the subscribers that want its topic. The hub remembers the last number it passed on:
after reconnecting it replays, in order, the kept events numbered above it, and it passes on no
number twice. Payloads carry ids and enum values only; subscribers load fresh data (and check
permissions again) themselves. Kept events are deleted after ESCP_EVENT_RETENTION_SECONDS.
"""
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.embedded import to_libpq_url

log = logging.getLogger(__name__)

CHANNEL = "escp_events"
RECONNECTED = "_reconnected"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; the trigger puts `"seq":n,` in front.
MAX_PAYLOAD_BYTES = 7999 - len('"seq":9223372036854775807,')
DEFAULT_QUEUE_SIZE = 1000
# Replayed events are read this many at a time, and each is passed on once every subscriber's
# queue is at most half full (a long outage must not overflow them), waiting at most
# REPLAY_WAIT seconds for one that does not drain (it then loses its oldest events, as any
# slow subscriber does).
REPLAY_PAGE = 100
REPLAY_WAIT = 2.0

Event = dict[str, Any]

_INSERT = text("INSERT INTO events (payload) VALUES (:payload)")
_PRUNE = text("DELETE FROM events WHERE created_at < now() - make_interval(secs => :age)")


def occurred_now() -> str:
    """An event's `at`: when its change was made (ISO 8601, UTC)."""
    return datetime.now(UTC).isoformat()


async def publish(
    session_or_conn: AsyncSession | AsyncConnection, topic: str, payload: dict[str, Any]
) -> None:
    """Queue `{"topic": topic, **payload}` in the caller's transaction; sent on its commit."""
    if "topic" in payload or "seq" in payload:
        raise ValueError("the payload must not carry its own 'topic' or 'seq'")
    data = orjson.dumps({"topic": topic, **payload})  # orjson writes UUIDs and enums as-is
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"event payload of {len(data)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    await session_or_conn.execute(_INSERT, {"payload": data.decode()})


async def prune(conn: AsyncConnection, max_age_seconds: float) -> int:
    """Delete kept events older than `max_age_seconds` (a longer outage cannot be replayed)."""
    return (await conn.execute(_PRUNE, {"age": max_age_seconds})).rowcount


async def prune_forever(database: Any, max_age_seconds: float, interval: float) -> None:
    while True:
        # Waits first: a worker that starts has better things to do, and old events can wait.
        await asyncio.sleep(interval)
        try:
            async with database.unit_of_work() as session:
                await prune(session, max_age_seconds)  # type: ignore[arg-type]
        except Exception:  # the database may be down: the next pass tries again
            log.exception("pruning old events failed")


class Subscription:
    """An async iterator over the events of some topics; ends when the hub stops.

    Its queue is bounded: a consumer that falls behind loses its oldest events (counted in
    `dropped`) rather than holding up the listener and every other subscriber.
    """

    def __init__(self, topics: Iterable[str] | None, queue_size: int) -> None:
        self.topics = frozenset(topics) if topics is not None else None
        self.dropped = 0
        # None marks the end, queued by `close` so that a waiting consumer wakes up and stops.
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(queue_size)
        self._ended = False

    def wants(self, topic: object) -> bool:
        return self.topics is None or topic in self.topics

    def put(self, item: Event | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event subscriber too slow: %d events dropped", self.dropped)
        self._queue.put_nowait(item)

    def close(self) -> None:
        self.put(None)

    def half_full(self) -> bool:
        return self._queue.qsize() * 2 > self._queue.maxsize

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Event:
        if not self._ended:
            item = await self._queue.get()
            if item is not None:
                return item
            self._ended = True
        raise StopAsyncIteration


class EventHub:
    """One per worker: a single LISTEN connection, kept alive, fanning events out in memory.

    If the connection is lost, the hub reconnects by itself with backoff; subscribers stay
    subscribed, receive the events committed meanwhile (replayed from the table, in order) and
    then `{"topic": "_reconnected"}` (if they want that topic). Events older than the retention
    are gone.
    """

    def __init__(
        self,
        dsn: str,
        *,
        check_interval: float = 2.0,
        check_timeout: float = 2.0,
        connect_timeout: float = 5.0,
        max_backoff: float = 5.0,
        application_name: str = "escp-events",
    ) -> None:
        self._dsn = to_libpq_url(dsn)
        self._application_name = application_name
        self._check_interval = check_interval
        self._check_timeout = check_timeout
        self._connect_timeout = connect_timeout
        self._max_backoff = max_backoff
        self._subscriptions: set[Subscription] = set()
        self._conn: asyncpg.Connection | None = None
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        # The number of the last event passed on (None before the first connection), and the
        # notifications that arrive while the hub catches up, passed on after it.
        self._last_seq: int | None = None
        self._held: list[Event] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once the hub is listening; raise TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def start(self) -> None:
        """Connect and LISTEN; raises if the database is unreachable now (fail at startup)."""
        if self._supervisor is not None:
            raise RuntimeError("EventHub already started")
        await self._connect()
        self._supervisor = asyncio.create_task(self._supervise(), name="escp-event-hub")

    async def stop(self) -> None:
        """Close the connection and end every subscription."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.wait([self._supervisor])  # unlike `await`, keeps our own cancellation
            self._supervisor = None
        await self._close()
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()

    @contextlib.asynccontextmanager
    async def subscribe(
        self, topics: Iterable[str] | None = None, *, queue_size: int = DEFAULT_QUEUE_SIZE
    ) -> AsyncIterator[Subscription]:
        """Events of `topics` (all topics when None) for as long as the block runs."""
        if self._supervisor is None:
            raise RuntimeError("EventHub is not running")
        subscription = Subscription(topics, queue_size)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def _pass_on(self, event: Event) -> None:
        """Fan out a numbered event once, and only if it is newer than the last passed on."""
        seq = event.pop("seq", None)
        if isinstance(seq, int):
            if self._last_seq is not None and seq <= self._last_seq:
                return  # replayed already, or heard twice
            self._last_seq = seq
        self._fan_out(event)

    def _fan_out(self, event: Event) -> None:
        topic = event.get("topic")
        for subscription in self._subscriptions:
            if subscription.wants(topic):
                subscription.put(dict(event))  # a copy: one consumer's edits stay its own

    # The listening connection

    async def _connect(self) -> None:
        conn = await asyncpg.connect(
            self._dsn,
            timeout=self._connect_timeout,
            server_settings={"application_name": self._application_name},  # pg_stat_activity
        )
        self._held = []
        try:
            conn.add_termination_listener(self._on_termination)
            async with asyncio.timeout(self._connect_timeout):
                await conn.add_listener(CHANNEL, self._on_notification)
            await self._catch_up(conn)
        except BaseException:
            conn.terminate()
            raise
        finally:
            self._held = None
        self._conn = conn
        self._lost.clear()
        self._connected.set()

    async def _catch_up(self, conn: asyncpg.Connection) -> None:
        """Listening already: pass on what was committed since the last event passed on (on the
        first connection: nothing, the past is not news), then what arrived meanwhile."""
        if self._last_seq is None:
            async with asyncio.timeout(self._connect_timeout):
                self._last_seq = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM events")
        while True:
            async with asyncio.timeout(self._connect_timeout):
                rows = await conn.fetch("SELECT seq, payload FROM events WHERE seq > $1 "
                                        "ORDER BY seq LIMIT $2", self._last_seq, REPLAY_PAGE)
            for row in rows:
                if any(s.half_full() for s in self._subscriptions):
                    await self._drained()
                self._pass_on({**orjson.loads(row["payload"]), "seq": row["seq"]})
            if len(rows) < REPLAY_PAGE:
                break
        held, self._held = self._held or [], None
        for event in held:
            self._pass_on(event)

    async def _drained(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REPLAY_WAIT):
                while any(s.half_full() for s in self._subscriptions):
                    await asyncio.sleep(0.01)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        self._connected.clear()
        if conn is None:
            return
        try:
            await conn.close(timeout=self._check_timeout)
        except Exception:  # stopping must not fail: whatever went wrong, drop the socket
            conn.terminate()

    def _drop(self) -> None:
        # The connection is dead or stuck: a polite close could wait for a server that is gone.
        conn, self._conn = self._conn, None
        self._connected.clear()
        if conn is not None:
            conn.terminate()

    def _on_notification(self, conn: object, pid: int, channel: str, payload: str) -> None:
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("ignoring a malformed event on %s: %.200s", CHANNEL, payload)
            return
        if not isinstance(event, dict):
            return
        if self._held is not None:
            self._held.append(event)
        else:
            self._pass_on(event)

    def _on_termination(self, conn: object) -> None:
        # asyncpg calls this later (call_soon), possibly after we replaced the connection.
        if conn is self._conn:
            self._connected.clear()
            self._lost.set()

    # Staying connected

    async def _supervise(self) -> None:
        while True:
            await self._wait_until_lost()
            log.warning("event listener connection lost; reconnecting")
            self._drop()
            await self._reconnect()
            log.info("event listener reconnected")
            self._fan_out({"topic": RECONNECTED})

    async def _wait_until_lost(self) -> None:
        # The termination listener reports a closed socket at once; the periodic query finds a
        # silently dead one (host gone, network cut) that would otherwise hang until TCP gives up.
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), self._check_interval)
                return
            except TimeoutError:
                if not await self._is_alive():
                    return

    async def _is_alive(self) -> bool:
        assert self._conn is not None
        try:
            async with asyncio.timeout(self._check_timeout):
                await self._conn.fetchval("SELECT 1")
            return True
        except Exception:  # any failure, not only the expected ones, must end in a reconnect
            return False

    async def _reconnect(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._connect()
                return
            except Exception as exc:  # whatever the cause, the database may come back: retry
                log.warning("event listener cannot connect (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)
