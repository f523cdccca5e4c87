"""Subscriptions: who hears which event, decided per event against fresh data.

Each worker runs one `Feed` per topic. A feed takes its topic's events from the worker's
EventHub (LISTEN/NOTIFY), and for each event reads, in a few statements whatever the number of
listeners, what deciding and answering needs: the subscribers' users as they are now (a
deactivated user hears nothing more, a changed role counts at once), the factory, its live
connections, the certificate or the connection the event is about. It then hands each listener
the event together with the viewer's access to the factory, or nothing when it may not hear it,
so a revoked, narrowed or expired connection stops delivery at the very next event.

A listener answers each event in a context of its own, emptied per event (`Context.begin_event`):
the rows the feed read are primed into that event's loaders, so nested fields obey the same field
rules as queries without a query per subscriber, and nothing read for one event is reused later.

A direct listener (overrides.fanout: an operation on a socket) is answered by the feed itself: one
execution per group of listeners whose answers cannot differ, one encoded frame, queued to each.
"""
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from auth import portal_sessions
from auth.access import FactoryAccess, access_key, load_access_of_viewers
from auth.backend import active_viewers, live_keys
from auth.viewer import Viewer
from db import Certificate, CustomerConnection, Factory
from db.engine import Database
from db.enums import ShareScope
from db.queries import certification_of_factories
from infra.events import EventHub
from infra.metrics import EVENT_DELAY, EVENTS_DELIVERED, EVENTS_DROPPED, SUBSCRIPTIONS
from resolvers.access_log import ReadsBuffer
from resolvers.connection import EVENT_TOPIC as CONNECTION_TOPIC
from resolvers.context import Context
from resolvers.loaders import (
    CertificateById,
    CertificationByFactory,
    VisibleConnectionById,
    VisibleFactoryById,
)
from resolvers.workflow import CERTIFICATION_TOPIC

log = logging.getLogger(__name__)

LISTENER_QUEUE_SIZE = 100
Event = dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    """One event for one listener: the viewer as it is now, its access to the event's factory
    and the rows to prime that event's loaders with."""

    event: Event
    viewer: Viewer
    access: FactoryAccess | None
    primes: dict[type, dict[int, Any]]
    # The event's answers, one dict shared by all its deliveries (overrides.sharing).
    answers: dict[Any, Any]

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromisoformat(self.event["at"])


@dataclass(eq=False)
class Listener:
    """One subscription operation: its viewer, its filter and a bounded queue.

    A listener that falls behind loses its oldest deliveries rather than holding up the feed.
    """

    viewer: Viewer
    factory_ids: frozenset[int] | None = None
    # A overrides.fanout.Direct: the feed answers by group and queues text frames, not deliveries.
    direct: Any = None
    queue: asyncio.Queue[Any] = field(
        default_factory=lambda: asyncio.Queue(LISTENER_QUEUE_SIZE))

    def wants(self, event: Event) -> bool:
        return self.factory_ids is None or event.get("factory_id") in self.factory_ids

    def put(self, delivery: Delivery | tuple[str, datetime], topic: str | None = None) -> bool:
        """Queue the delivery (a Delivery, or a direct listener's frame of `topic` with when its
        event occurred); True when
        the oldest one was dropped to make room."""
        dropped = self.queue.full()
        if dropped:
            oldest = self.queue.get_nowait()
            EVENTS_DROPPED.labels(oldest.event.get("topic") if isinstance(oldest, Delivery)
                                  else topic).inc()
            log.warning("subscriber of user %s too slow: an event was dropped",
                        self.viewer.user_id)
        self.queue.put_nowait(delivery)
        return dropped


# Decides, for one event, which listeners hear it and with what (one read for all of them).
Audience = Callable[[AsyncConnection, Event, list[Listener]], Awaitable[dict[Listener, Delivery]]]


class Feed:
    """One per worker and topic: one hub subscription, one audience read per event."""

    def __init__(self, hub: EventHub, database: Database, topic: str,
                 audience: Audience, reads: ReadsBuffer | None = None) -> None:
        self._hub, self._database, self._topic = hub, database, topic
        self._reads = reads
        self._audience = audience
        self._listeners: set[Listener] = set()
        self._task: asyncio.Task[None] | None = None
        self._dispatching = False
        self._unwritten = 0  # frames queued to direct listeners and not written yet

    @property
    def listening(self) -> int:
        return len(self._listeners)

    @property
    def delivering(self) -> bool:
        """An event is being decided, answered or written (background work waits for this)."""
        return self._dispatching or self._unwritten > 0

    def written(self) -> None:
        """A direct listener wrote a frame the feed queued for it."""
        self._unwritten -= 1

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready), name=f"escp-feed-{self._topic}")
        await ready.wait()  # subscribed to the hub before the first listener can come

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])

    @contextlib.asynccontextmanager
    async def listen(self, viewer: Viewer, factory_ids: Iterable[int] | None = None,
                     direct: Any = None) -> AsyncIterator[Listener]:
        listener = Listener(viewer, frozenset(factory_ids) if factory_ids is not None else None,
                            direct)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
            if direct is not None:  # what it leaves unwritten never will be
                self._unwritten -= listener.queue.qsize()

    async def _run(self, ready: asyncio.Event) -> None:
        async with self._hub.subscribe([self._topic]) as events:
            ready.set()
            async for event in events:
                self._dispatching = True
                try:
                    await self.dispatch(event)
                finally:
                    self._dispatching = False

    async def dispatch(self, event: Event) -> None:
        listeners = [listener for listener in self._listeners if listener.wants(event)]
        if not listeners:
            return
        try:
            async with self._database.read() as conn:
                deliveries = await self._audience(conn, event, listeners)
        except Exception:  # the database may be restarting: this event is lost, the feed lives
            log.exception("cannot decide who hears %s event %s", self._topic, event)
            return
        groups: dict[tuple[Any, ...], list[tuple[Listener, Delivery]]] = {}
        for listener, delivery in deliveries.items():
            if listener.direct is None:
                listener.put(delivery)
            else:
                groups.setdefault(listener.direct.key(delivery), []).append((listener, delivery))
        for members in groups.values():
            await self._answer(members)

    async def _answer(self, members: list[tuple[Listener, Delivery]]) -> None:
        """Execute once for the group, queue the same frame to each, log each one's reads."""
        try:
            payload, reads = await members[0][0].direct.answer(members[0][1])
        except Exception:  # one group's failure must not stop the feed or other groups
            log.exception("cannot answer %s event for a group", self._topic)
            return
        frames: dict[str, str] = {}  # by operation id: most clients name theirs alike
        occurred_at = members[0][1].occurred_at
        for listener, _ in members:
            direct = listener.direct
            frame = frames.get(direct.operation_id)
            if frame is None:
                frame = frames[direct.operation_id] = direct.frame(payload)
            if not listener.put((frame, occurred_at), self._topic):
                self._unwritten += 1
        if reads and self._reads is not None:
            self._reads.add_shown([(d.viewer.organization_id, d.viewer.api_key_id)
                                   for _, d in members], reads)


# ---------------------------------------------------------------- fresh data, once per event

async def _one(conn: AsyncConnection, statement: Any, id: int | None = None) -> Any:
    return (await conn.execute(statement, {} if id is None else {"id": id})).first()


# Built once (SQLAlchemy then reuses their compiled form without recomputing a cache key).
_FACTORY = select(*Factory.__table__.c).where(Factory.id == bindparam("id", type_=BigInteger))
_CERTIFICATE = select(*Certificate.__table__.c).where(
    Certificate.id == bindparam("id", type_=BigInteger))
_CERTIFICATION = certification_of_factories(bindparam("id", type_=BigInteger))


async def listening_viewers(conn: AsyncConnection,
                            listeners: list["Listener"]) -> dict["Listener", Viewer]:
    """Each listener's viewer as it is now; absent for a deactivated user. An API key's socket
    keeps the key's role and id, and hears nothing more once the key is revoked or expired; a
    portal page's socket hears nothing more once its session ends (signed out, expired)."""
    # Sockets are signed in: each listener's user_id is set (Viewer's is Optional for anonymous).
    user_ids = (listener.viewer.user_id for listener in listeners)
    viewers = await active_viewers(conn, user_ids)  # type: ignore[arg-type]  # set, as said
    keys = await live_keys(conn, (listener.viewer.api_key_id for listener in listeners
                                  if listener.viewer.api_key_id is not None))
    sessions = await portal_sessions.working(conn, (
        listener.viewer.portal_session_id for listener in listeners
        if listener.viewer.portal_session_id is not None))
    found = {}
    for listener in listeners:
        viewer = viewers.get(listener.viewer.user_id)  # type: ignore[arg-type]  # as above
        key = listener.viewer.api_key_id
        if viewer is not None and key is not None:
            viewer = (replace(viewer, role=listener.viewer.role, api_key_id=key)
                      if key in keys else None)
        session = listener.viewer.portal_session_id
        if viewer is not None and session is not None:  # a portal page's: until sign-out
            viewer = replace(viewer, portal_session_id=session) if session in sessions else None
        if viewer is not None:
            found[listener] = viewer
    return found


async def certification_audience(conn: AsyncConnection, event: Event,
                                 listeners: list[Listener]) -> dict[Listener, Delivery]:
    """Everyone who may see the factory with CERTIFICATION right now hears the change."""
    factory_id = int(event["factory_id"])
    factory = await _one(conn, _FACTORY, factory_id)
    if factory is None:
        return {}
    viewers = await listening_viewers(conn, listeners)
    # The same statement and row policies a query's access comes from (auth.access).
    accesses = await load_access_of_viewers(conn, factory_id, viewers.values())
    primes: dict[type, dict[int, Any]] = {
        CertificationByFactory: {factory_id: await _one(conn, _CERTIFICATION, factory_id)}}
    certificate_id = event.get("certificate_id")
    if certificate_id is not None:
        primes[CertificateById] = {certificate_id: await _one(conn, _CERTIFICATE,
                                                              certificate_id)}
    primes[VisibleFactoryById] = {factory_id: factory}
    deliveries: dict[Listener, Delivery] = {}
    answers: dict[Any, Any] = {}
    for listener in listeners:
        viewer = viewers.get(listener)
        if viewer is None:
            continue
        access = accesses[access_key(viewer)]
        if ShareScope.CERTIFICATION in access.scopes:
            deliveries[listener] = Delivery(event, viewer, access, primes, answers)
    return deliveries


async def connection_audience(conn: AsyncConnection, event: Event,
                              listeners: list[Listener]) -> dict[Listener, Delivery]:
    """Both sides of the connection hear its change: the customer and the factory's owner."""
    connection_id = int(event["connection_id"])
    row = await _one(conn, select(*CustomerConnection.__table__.c)
                     .where(CustomerConnection.id == connection_id))
    factory = await _one(conn, select(Factory.supplier_id).where(Factory.id == row.factory_id)
                         ) if row is not None else None
    if factory is None:
        return {}
    viewers = await listening_viewers(conn, listeners)
    parties = {row.customer_id, factory.supplier_id}
    primes: dict[type, dict[int, Any]] = {VisibleConnectionById: {connection_id: row}}
    deliveries: dict[Listener, Delivery] = {}
    answers: dict[Any, Any] = {}
    for listener in listeners:
        viewer = viewers.get(listener)
        if viewer is not None and viewer.organization_id in parties:
            deliveries[listener] = Delivery(event, viewer, None, primes, answers)
    return deliveries


def quiet(feeds: dict[str, Feed]) -> bool:
    """No feed is delivering an event: background work may take the event loop now."""
    return not any(feed.delivering for feed in feeds.values())


async def until_quiet(feeds: dict[str, Feed], at_most: float = 1.0) -> None:
    """Wait (at most `at_most` seconds: background work must not starve) for `quiet`."""
    deadline = asyncio.get_running_loop().time() + at_most
    # polled: a feed finishing its delivery fires no event to wait on
    while not quiet(feeds) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def start_feeds(hub: EventHub, database: Database,
                reads: ReadsBuffer | None = None) -> dict[str, Feed]:
    return {CERTIFICATION_TOPIC: Feed(hub, database, CERTIFICATION_TOPIC, certification_audience,
                                      reads),
            CONNECTION_TOPIC: Feed(hub, database, CONNECTION_TOPIC, connection_audience, reads)}


# ---------------------------------------------------------------- what a subscription yields

async def deliveries(ctx: Context, topic: str,
                     factory_ids: Iterable[int] | None = None) -> AsyncIterator[Delivery]:
    """The listener's deliveries, each with `ctx` made ready for it (fresh loaders, primed)."""
    feed: Feed = ctx.services["feeds"][topic]
    reads: ReadsBuffer = ctx.services["reads"]
    delivered, delay = EVENTS_DELIVERED.labels(topic), EVENT_DELAY.labels(topic)
    async with feed.listen(ctx.viewer, factory_ids) as listener:
        SUBSCRIPTIONS.labels(topic).inc()
        try:
            while True:
                delivery = await listener.queue.get()
                reads.add(ctx)  # what the previous event showed, before it is forgotten
                ctx.begin_event(delivery.viewer, delivery.access, delivery.primes, delivery.answers)
                delivered.inc()
                delay.observe((datetime.now(UTC) - delivery.occurred_at).total_seconds())
                yield delivery
        finally:
            SUBSCRIPTIONS.labels(topic).dec()
            reads.add(ctx)


async def write_directly(ctx: Context, topic: str, factory_ids: Iterable[int] | None,
                         direct: Any) -> None:
    """A direct listener's task: write the frames the feed queues for it, in order, until the
    operation ends (its task is cancelled)."""
    feed: Feed = ctx.services["feeds"][topic]
    delivered, delay = EVENTS_DELIVERED.labels(topic), EVENT_DELAY.labels(topic)
    async with feed.listen(ctx.viewer, factory_ids, direct) as listener:
        SUBSCRIPTIONS.labels(topic).inc()  # running, like the others (tests wait on it too)
        try:
            while True:
                frame, occurred_at = await listener.queue.get()
                try:
                    await direct.send_text(frame)
                finally:
                    feed.written()
                delivered.inc()
                delay.observe((datetime.now(UTC) - occurred_at).total_seconds())
        finally:
            SUBSCRIPTIONS.labels(topic).dec()
