"""The access log: which customer read which scope of a factory, one insert per request."""
import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Text, and_, bindparam, func, insert, select, text, tuple_

from db import AccessLogEntry
from db.engine import Database
from resolvers.context import Context

log = logging.getLogger(__name__)

_READS = select(
    func.unnest(bindparam("factory_ids", type_=ARRAY(BigInteger))).label("factory_id"),
    bindparam("organization_id", type_=BigInteger).label("organization_id"),
    func.unnest(bindparam("scopes", type_=ARRAY(Text))).label("scope"),
    bindparam("api_key_id", type_=BigInteger).label("api_key_id"),
)
_INSERT_READS = insert(AccessLogEntry).from_select(
    ["factory_id", "organization_id", "scope", "api_key_id"], _READS)


async def record_reads(ctx: Context) -> None:
    """Write the request's customer reads of scoped data in one INSERT, after it resolved."""
    if not ctx.scoped_reads or ctx.viewer.organization_id is None:
        return
    reads = sorted(ctx.scoped_reads)
    ctx.scoped_reads.clear()
    # One INSERT … SELECT over two arrays: one statement and one round trip whatever the
    # number of reads, and one SQL text, so it is compiled and planned once.
    async with ctx.database.engine.begin() as conn:
        await conn.execute(_INSERT_READS, {
            "factory_ids": [factory_id for factory_id, _ in reads],
            "scopes": [scope.value for _, scope in reads],
            "organization_id": ctx.viewer.organization_id, "api_key_id": ctx.viewer.api_key_id})


# Reads from many organizations at once, each with its own moment. A read of a factory or by an
# organization deleted since is moot: it is skipped rather than failing the whole batch.
_INSERT_MANY = text(
    "INSERT INTO access_log (factory_id, organization_id, scope, viewed_at, api_key_id) "
    "SELECT r.f, r.o, r.s, r.t, (SELECT id FROM api_keys WHERE id = r.k) "
    "FROM unnest(CAST(:factory_ids AS bigint[]), CAST(:organization_ids AS bigint[]), "
    "CAST(:scopes AS text[]), CAST(:viewed_at AS timestamptz[]), CAST(:api_key_ids AS bigint[])) "
    "AS r(f, o, s, t, k) "
    "WHERE EXISTS (SELECT 1 FROM factories WHERE id = r.f) "
    "AND EXISTS (SELECT 1 FROM organizations WHERE id = r.o)")
# While the database is down the buffer keeps what it holds, up to this many reads.
MAX_HELD = 100_000


class ReadsBuffer:
    """The customer reads of this worker's subscription events, written together.

    A subscription event is one small read per subscriber: writing each on its own would cost
    one transaction per subscriber and event. The buffer keeps each read's own moment and
    writes everything it holds every `interval` seconds (and when the app stops) in one INSERT.
    A read is held in memory until then: a worker that dies loses at most that long of them.
    """

    def __init__(self, database: Database, interval: float = 0.5) -> None:
        self._database, self._interval = database, interval
        self._held: list[tuple[int, int, str, datetime, int | None]] = []

    def add(self, ctx: Context) -> None:
        """Take (and clear) the context's reads."""
        if ctx.scoped_reads and ctx.viewer.organization_id is not None:
            moment = datetime.now(UTC)
            key = ctx.viewer.api_key_id
            self._held.extend((factory_id, ctx.viewer.organization_id, scope.value, moment, key)
                              for factory_id, scope in ctx.scoped_reads)
        ctx.scoped_reads.clear()

    def add_shown(self, viewers: Any, reads: Any) -> None:
        """The same reads (factory id, scope), just shown to each of `viewers`: (organization
        id, API key id or None) pairs, one per subscriber."""
        moment = datetime.now(UTC)
        rows = [(factory_id, scope.value) for factory_id, scope in reads]
        self._held.extend((factory_id, organization_id, scope, moment, api_key_id)
                          for organization_id, api_key_id in viewers
                          if organization_id is not None for factory_id, scope in rows)

    async def flush(self) -> None:
        held, self._held = self._held, []
        if not held:
            return
        try:
            async with self._database.engine.begin() as conn:
                await conn.execute(_INSERT_MANY, {
                    "factory_ids": [r[0] for r in held], "organization_ids": [r[1] for r in held],
                    "scopes": [r[2] for r in held], "viewed_at": [r[3] for r in held],
                    "api_key_ids": [r[4] for r in held]})
        except Exception:  # the database may be down: keep them for the next flush
            self._held[:0] = held
            if len(self._held) > MAX_HELD:
                log.error("access log: %d reads dropped, the database is unreachable",
                          len(self._held) - MAX_HELD)
                del self._held[:len(self._held) - MAX_HELD]
            raise

    async def run_forever(self) -> None:
        try:
            while True:
                await asyncio.sleep(self._interval)
                try:
                    await self.flush()
                except Exception:
                    log.exception("cannot write %d access-log reads yet", len(self._held))
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush())


async def page(ctx: Context, factory_id: int, first: int,
               after: list[Any] | None) -> tuple[list[Any], bool, int]:
    """Newest first, keyset on (viewed_at, id)."""
    where = [AccessLogEntry.factory_id == factory_id]
    if after is not None:
        where.append(tuple_(AccessLogEntry.viewed_at, AccessLogEntry.id)
                     < tuple_(datetime.fromisoformat(after[0]), int(after[1])))
    statement = (select(*AccessLogEntry.__table__.c).where(and_(*where))
                 .order_by(AccessLogEntry.viewed_at.desc(), AccessLogEntry.id.desc())
                 .limit(first + 1))
    total = select(func.count()).where(AccessLogEntry.factory_id == factory_id)
    async with ctx.database.read() as conn:
        rows = list((await conn.execute(statement)).all())
        count = int((await conn.execute(total)).scalar_one())
    return rows[:first], len(rows) > first, count
