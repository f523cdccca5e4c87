"""What runs in the background of every worker while the app serves."""
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from db.engine import Database
from db.settings import Settings
from infra.events import EventHub, prune_forever
from resolvers.access_log import ReadsBuffer
from resolvers.subscriptions import quiet, start_feeds, until_quiet
from tasks.expiry import sweep_forever
from tasks.memory import MemoryKeeper
from tasks.outbox import OutboxSender
from tasks.webhooks import WebhookDispatcher, WebhookSender


@asynccontextmanager
async def outbox_sender(database: Database, smtp_url: str | None,
                        feeds: dict[str, Any] | None = None) -> AsyncIterator[None]:
    """Mail the notification outbox in the background while the app runs (one per worker;
    senders share the outbox safely). Without an SMTP URL it only logs the notices. Each batch
    waits for the worker's feeds to finish delivering an event (a change notifies every
    subscriber's user too: those notices must not hold up the subscribers' deliveries)."""
    pause = (lambda: until_quiet(feeds)) if feeds else None
    task = asyncio.create_task(OutboxSender(database, smtp_url, pause=pause).run_forever(),
                               name="escp-outbox-sender")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])  # lets a batch in flight be recorded; keeps our own cancel


@asynccontextmanager
async def webhook_sender(database: Database, settings: Settings) -> AsyncIterator[None]:
    """Send due webhook deliveries in the background (one per worker; senders share rows)."""
    task = asyncio.create_task(WebhookSender(database, settings).run_forever(),
                               name="escp-webhook-sender")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])


@asynccontextmanager
async def event_feeds(database: Database, settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """This worker's one LISTEN connection, the subscription feeds on it, and the sweeper that
    announces what changes by date alone (certificate and connection expiry)."""
    assert settings.database_url is not None  # create_app refuses settings without one
    hub = EventHub(settings.database_url)
    await hub.start()
    reads = ReadsBuffer(database)
    feeds = start_feeds(hub, database, reads)
    dispatcher = WebhookDispatcher(hub, database)
    tasks = [asyncio.create_task(sweep_forever(database, settings.sweep_interval),
                                 name="escp-expiry-sweeper"),
             asyncio.create_task(reads.run_forever(), name="escp-subscription-reads"),
             asyncio.create_task(MemoryKeeper(
                 lambda: quiet(feeds),
                 lambda: sum(feed.listening for feed in feeds.values())).run_forever(),
                 name="escp-memory-keeper"),
             asyncio.create_task(prune_forever(database, settings.event_retention_seconds,
                                               min(settings.event_retention_seconds / 4, 600)),
                                 name="escp-event-pruner")]
    try:
        for feed in feeds.values():
            await feed.start()
        await dispatcher.start()
        yield {"feeds": feeds, "reads": reads}
    finally:
        for feed in feeds.values():
            await feed.stop()
        await dispatcher.stop()
        await hub.stop()  # ends every subscription, whose last reads go to the buffer
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)

