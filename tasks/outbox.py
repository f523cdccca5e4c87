"""The outbox sender: mails the notices mutations wrote (resolvers.notifications) over SMTP.

`OutboxSender` runs in the background of every worker (tasks.background); any number of senders
share one database.
"""
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Interval, Table, bindparam, func, select, update

from db.engine import Database
from db.outbox import Notification
from infra import mailer
from infra.metrics import OUTBOX_FAILURES, OUTBOX_SENT

logger = logging.getLogger(__name__)

# Core statements on the table: the sender moves rows in bulk and never needs them as objects.
_outbox = cast(Table, Notification.__table__)
_FIRST_RETRY_SECONDS = 5
LOG_ONLY_BATCH = 1000
_MAX_RETRY_SECONDS = 3600


def retry_delay(attempts: int) -> timedelta:
    """Wait after a failed attempt, given how many attempts had failed before it."""
    return timedelta(seconds=min(_FIRST_RETRY_SECONDS * 2 ** attempts, _MAX_RETRY_SECONDS))


@dataclass(frozen=True)
class _Claimed:
    id: int
    recipient: str
    subject: str
    body: str
    topic: str
    attempts: int
    created_at: datetime


class OutboxSender:
    """Mails due outbox rows; any number of senders may share one database.

    A batch is three steps, and no transaction is open while SMTP talks:
    1. claim: one short transaction picks up to `batch` due rows (`FOR UPDATE SKIP LOCKED`, so
       concurrent senders never pick the same row) and pushes their `next_attempt_at` out by
       `lease`; other senders leave them alone until the lease ends;
    2. send them over one SMTP connection (aiosmtplib), stopping before half the lease is used;
    3. record: one short transaction sets `sent_at` on what the server accepted, and on each
       failure `attempts + 1`, a one-line `last_error` and `next_attempt_at = now() + 5 s *
       2^attempts` (at most an hour). Rows are never deleted and never given up on.
    A sender that dies between 1 and 3 leaves its rows leased: they are retried when the lease
    ends, so a notice is sent at least once, and twice only if the worker died after the server
    accepted it. Cancelling a sender mid-send waits for the batch in flight and records it.

    Without `smtp_url` (ESCP_SMTP_URL unset) nothing is mailed: mail goes to the outbox table
    and the log. Each due notice is logged (at INFO its id and topic, its recipient and subject
    only at DEBUG) and its `next_attempt_at` pushed out by `log_only_hold` (a day) but it is not
    marked sent, so it is logged once a day at most and is still there to mail once SMTP is
    configured. With no SMTP session to bound, it claims up to LOG_ONLY_BATCH at a time (a
    certification change notifies every connected customer's users: 1,000 notices were 20
    transactions).
    """

    def __init__(self, database: Database, smtp_url: str | None,
                 sender_address: str = "no-reply@escp.example", batch: int = 50,
                 poll_interval: float = 1.0, *, lease: timedelta = timedelta(minutes=5),
                 smtp_timeout: float = 30.0, log_only_hold: timedelta = timedelta(days=1),
                 pause: Callable[[], Awaitable[None]] | None = None) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.database = database
        self.smtp_config = mailer.parse_smtp_url(smtp_url) if smtp_url is not None else None
        self.sender_address = sender_address
        self.batch = batch
        self.poll_interval = poll_interval
        self.lease = lease
        self.smtp_timeout = smtp_timeout
        self.log_only_hold = log_only_hold
        self.pause = pause  # awaited before each batch (tasks.background: yields to deliveries)
        # How many one claim takes: `batch` per SMTP session; more when only logging.
        self.claim_size = batch if self.smtp_config is not None else max(batch, LOG_ONLY_BATCH)

    async def run_once(self) -> int:
        """Claim at most `batch` due notices and mail them; returns how many the server accepted."""
        _, sent = await self._run_batch()
        return sent

    async def run_forever(self) -> None:
        """Send until cancelled: full batches back to back, otherwise every `poll_interval`."""
        while True:
            if self.pause is not None:
                await self.pause()
            try:
                claimed, _ = await self._run_batch()
            except Exception:  # the database may be away for a while; the outbox waits for it
                logger.exception("outbox: sending failed, retrying in %s s", self.poll_interval)
                claimed = 0
            if claimed < self.claim_size:
                await asyncio.sleep(self.poll_interval)

    async def _run_batch(self) -> tuple[int, int]:
        started = time.monotonic()
        claimed = await self._claim(self.lease if self.smtp_config else self.log_only_hold)
        if not claimed:
            return 0, 0
        if self.smtp_config is None:
            for row in claimed:
                # Recipient and subject are personal data: INFO says only that a notice waits.
                logger.info("outbox: no SMTP configured, notice %d (%s) kept in the outbox",
                            row.id, row.topic)
                logger.debug("outbox: notice %d to %s: %s", row.id, row.recipient, row.subject)
            return len(claimed), 0
        deadline = started + self.lease.total_seconds() / 2
        outcomes = await self._send(self.smtp_config, claimed, deadline)
        await self._record(claimed, outcomes)
        return len(claimed), sum(1 for error in outcomes.values() if error is None)

    async def _claim(self, hold: timedelta) -> list[_Claimed]:
        due = (
            select(_outbox.c.id)
            .where(_outbox.c.sent_at.is_(None), _outbox.c.next_attempt_at <= func.now())
            .order_by(_outbox.c.id)
            .limit(self.claim_size)
            .with_for_update(skip_locked=True)
        )
        lease = (
            update(_outbox)
            .where(_outbox.c.id.in_(due))
            .values(next_attempt_at=func.now() + hold)
            .returning(_outbox.c.id, _outbox.c.recipient, _outbox.c.subject, _outbox.c.body,
                       _outbox.c.topic, _outbox.c.attempts, _outbox.c.created_at)
        )
        async with self.database.unit_of_work() as session:
            rows = (await session.execute(lease)).all()
        return sorted((_Claimed(*row) for row in rows), key=lambda row: row.id)

    async def _send(self, smtp: mailer.SmtpConfig, claimed: list[_Claimed],
                    deadline: float) -> dict[int, str | None]:
        outcomes: dict[int, str | None] = {}
        outgoing = []
        for row in claimed:
            try:
                outgoing.append(mailer.Outgoing(row.id, mailer.build_message(
                    notification_id=row.id, created_at=row.created_at,
                    sender=self.sender_address, recipient=row.recipient,
                    subject=row.subject, body=row.body)))
            except ValueError as exc:  # a row written around enqueue() with a broken header
                outcomes[row.id] = mailer.describe_error(exc)
        sending = asyncio.ensure_future(mailer.send_batch(
            smtp, outgoing, timeout=self.smtp_timeout, deadline=deadline))
        try:
            outcomes.update(await asyncio.shield(sending))
        except asyncio.CancelledError:
            # A message cut off mid-DATA may or may not have been accepted: let the batch
            # finish and record what the server accepted, so the next sender does not mail it
            # again.
            outcomes.update(await sending)
            await self._record(claimed, outcomes)
            raise
        return outcomes

    async def _record(self, claimed: list[_Claimed], outcomes: dict[int, str | None]) -> None:
        sent = [row.id for row in claimed if row.id in outcomes and outcomes[row.id] is None]
        failed = [
            {"row_id": row.id, "error": outcomes[row.id], "delay": retry_delay(row.attempts)}
            for row in claimed if outcomes.get(row.id) is not None
        ]
        async with self.database.unit_of_work() as session:
            if sent:
                await session.execute(
                    update(_outbox)
                    .where(_outbox.c.id.in_(sent), _outbox.c.sent_at.is_(None))
                    .values(sent_at=func.now())
                )
            if failed:
                await session.execute(_RECORD_FAILURE, failed)
        OUTBOX_SENT.inc(len(sent))
        OUTBOX_FAILURES.inc(len(failed))
        for failure in failed:
            logger.warning("outbox: notice %d not sent, retrying in %s: %s",
                           failure["row_id"], failure["delay"],
                           mailer.without_addresses(str(failure["error"])))


_RECORD_FAILURE = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("row_id"), _outbox.c.sent_at.is_(None))
    .values(
        attempts=_outbox.c.attempts + 1,
        last_error=bindparam("error"),
        next_attempt_at=func.now() + bindparam("delay", type_=Interval()),
    )
)
