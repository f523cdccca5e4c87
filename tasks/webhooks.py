"""The webhook background tasks of a worker: the dispatcher that turns hub events into delivery
rows, and the sender that signs and POSTs them with retries (what they decide and sign with,
and the endpoints' rules, are resolvers.webhooks')."""
import asyncio
import logging
import time
from datetime import timedelta
from typing import Any, cast

import httpx
from sqlalchemy import (
    Interval,
    Table,
    any_,
    bindparam,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from db.engine import Database
from db.settings import Settings
from db.webhooks import WebhookDelivery, WebhookEndpoint
from infra.events import EventHub
from resolvers.errors import BusinessRuleError
from resolvers.webhooks import (
    MAX_ERROR_LENGTH,
    TYPE_OF_TOPIC,
    body_of,
    check_url,
    event_key,
    hearing,
    sign,
)

log = logging.getLogger(__name__)


class WebhookDispatcher:
    """Turns this worker's hub events into delivery rows (see the module's docstring)."""

    def __init__(self, hub: EventHub, database: Database) -> None:
        self._hub, self._database = hub, database
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready), name="escp-webhook-dispatcher")
        await ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])

    async def _run(self, ready: asyncio.Event) -> None:
        async with self._hub.subscribe(TYPE_OF_TOPIC) as events:
            ready.set()
            async for event in events:
                try:
                    await self.dispatch(event)
                except Exception:  # the database may be restarting: this event is lost
                    log.exception("webhooks: cannot dispatch event %s", event)

    async def dispatch(self, event: dict[str, Any]) -> int:
        event_type = TYPE_OF_TOPIC[event["topic"]]
        async with self._database.read() as conn:
            endpoints = (await conn.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.created_by,
                       WebhookEndpoint.organization_id)
                .where(WebhookEndpoint.enabled.is_(True),
                       literal(event_type) == any_(WebhookEndpoint.event_types)))).all()
            chosen = await hearing(conn, event_type, event, endpoints)
        if not chosen:
            return 0
        key = event_key(event)
        async with self._database.unit_of_work() as session:
            await session.execute(
                insert(WebhookDelivery).on_conflict_do_nothing(
                    index_elements=["endpoint_id", "event_key"]),
                [{"endpoint_id": endpoint_id, "event_type": event_type, "event": event,
                  "event_key": key} for endpoint_id in sorted(chosen)])
        return len(chosen)


# ---------------------------------------------------------------- sending

# Declarative classes type their __table__ as any FromClause; these are Tables (update() needs one).
_deliveries = cast(Table, WebhookDelivery.__table__)
_endpoints = cast(Table, WebhookEndpoint.__table__)


class WebhookSender:
    """Sends due deliveries; any number of senders may share one database (rows are leased)."""

    def __init__(self, database: Database, settings: Settings, *, batch: int = 20,
                 lease: timedelta = timedelta(minutes=5)) -> None:
        self.database, self.settings = database, settings
        self.batch, self.lease = batch, lease

    def retry_delay(self, attempts: int) -> timedelta:
        """Wait after a failed attempt, given how many attempts had failed before it."""
        return timedelta(seconds=min(self.settings.webhook_retry_seconds * 2 ** attempts, 86400))

    async def run_forever(self) -> None:
        while True:
            try:
                claimed = await self.run_once()
            except Exception:  # the database may be away for a while; deliveries wait
                log.exception("webhooks: sending failed")
                claimed = 0
            if claimed < self.batch:
                await asyncio.sleep(self.settings.webhook_poll_seconds)

    async def run_once(self) -> int:
        """Claim up to `batch` due deliveries and attempt each; returns how many were claimed."""
        rows = await self._claim()
        if not rows:
            return 0
        async with httpx.AsyncClient(timeout=self.settings.webhook_timeout,
                                     follow_redirects=False) as client:
            await asyncio.gather(*(self._attempt(client, row) for row in rows))
        return len(rows)

    async def _claim(self) -> list[Any]:
        due = (select(_deliveries.c.id)
               .join(_endpoints, _endpoints.c.id == _deliveries.c.endpoint_id)
               .where(_deliveries.c.status == "PENDING", _endpoints.c.enabled.is_(True),
                      _deliveries.c.next_attempt_at <= func.now())
               .order_by(_deliveries.c.id).limit(self.batch)
               .with_for_update(of=_deliveries, skip_locked=True))
        lease = (update(_deliveries).where(_deliveries.c.id.in_(due))
                 .values(next_attempt_at=func.now() + self.lease)
                 .returning(*_deliveries.c))
        async with self.database.unit_of_work() as session:
            rows = (await session.execute(lease)).all()
            ids = {row.endpoint_id for row in rows}
            endpoints = {e.id: e for e in (await session.execute(
                select(*_endpoints.c).where(_endpoints.c.id.in_(ids)))).all()} if ids else {}
        return [(row, endpoints[row.endpoint_id]) for row in sorted(rows, key=lambda r: r.id)]

    async def _attempt(self, client: httpx.AsyncClient, claimed: Any) -> None:
        row, endpoint = claimed
        async with self.database.read() as conn:
            allowed = await hearing(conn, row.event_type, row.event, [endpoint])
        if not allowed:  # the receiver may no longer see it: nothing is sent, ever
            await self._skipped(row.id)
            return
        status_code, error = await self._post(client, row, endpoint)
        if error is None:
            await self._succeeded(row, endpoint, status_code)
        else:
            await self._failed(row, endpoint, status_code, error)

    async def _post(self, client: httpx.AsyncClient, row: Any,
                    endpoint: Any) -> tuple[int | None, str | None]:
        message_id = f"msg_{row.id}"
        timestamp = int(time.time())
        body = body_of(row.event_type, row.event)
        headers = {"content-type": "application/json", "webhook-id": message_id,
                   "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(endpoint.secret, message_id, timestamp, body)}
        try:
            # Again at delivery: a name may resolve elsewhere than when it was registered.
            await check_url(endpoint.url, self.settings.webhook_allow_insecure)
            # Streamed and never read: the receiver's answer body is of no use and may be large.
            async with client.stream("POST", endpoint.url, content=body,
                                     headers=headers) as response:
                status_code = response.status_code
        except BusinessRuleError as refused:
            return None, refused.message
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH] or "request failed"
        if 200 <= status_code < 300:
            return status_code, None
        return status_code, f"HTTP {status_code}"

    async def _skipped(self, delivery_id: int) -> None:
        async with self.database.unit_of_work() as session:
            await session.execute(update(_deliveries).where(_deliveries.c.id == delivery_id)
                                  .values(status="SKIPPED",
                                          last_error="the receiver may no longer see this event"))

    async def _succeeded(self, row: Any, endpoint: Any, status_code: int | None) -> None:
        async with self.database.unit_of_work() as session:
            await session.execute(update(_deliveries).where(_deliveries.c.id == row.id).values(
                status="DELIVERED", attempts=_deliveries.c.attempts + 1,
                last_status_code=status_code, last_error=None, delivered_at=func.now()))
            await session.execute(update(_endpoints).where(_endpoints.c.id == endpoint.id)
                                  .values(consecutive_failures=0))

    async def _failed(self, row: Any, endpoint: Any, status_code: int | None, error: str) -> None:
        exhausted = row.attempts + 1 >= self.settings.webhook_max_attempts
        async with self.database.unit_of_work() as session:
            await session.execute(
                update(_deliveries).where(_deliveries.c.id == row.id).values(
                    status="FAILED" if exhausted else "PENDING",
                    attempts=_deliveries.c.attempts + 1, last_status_code=status_code,
                    last_error=error[:MAX_ERROR_LENGTH],
                    next_attempt_at=func.now() + bindparam(
                        "delay", self.retry_delay(row.attempts), type_=Interval())))
            failures = (await session.execute(
                update(_endpoints).where(_endpoints.c.id == endpoint.id)
                .values(consecutive_failures=_endpoints.c.consecutive_failures + 1)
                .returning(_endpoints.c.consecutive_failures))).scalar()
            if failures is not None and failures >= self.settings.webhook_disable_after:
                await session.execute(
                    update(_endpoints).where(_endpoints.c.id == endpoint.id,
                                             _endpoints.c.enabled.is_(True))
                    .values(enabled=False, disabled_at=func.now()))
        log.warning("webhooks: delivery %d to endpoint %d failed (%s)%s", row.id, endpoint.id,
                    error, "" if exhausted else f", retrying in {self.retry_delay(row.attempts)}")
