"""The access log: which customer read which scope of a factory, one insert per request."""
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Text, and_, bindparam, func, insert, select, tuple_

from db import AccessLogEntry
from resolvers.context import Context

_READS = select(
    func.unnest(bindparam("factory_ids", type_=ARRAY(BigInteger))).label("factory_id"),
    bindparam("organization_id", type_=BigInteger).label("organization_id"),
    func.unnest(bindparam("scopes", type_=ARRAY(Text))).label("scope"),
)
_INSERT_READS = insert(AccessLogEntry).from_select(
    ["factory_id", "organization_id", "scope"], _READS)


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
            "organization_id": ctx.viewer.organization_id})


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
