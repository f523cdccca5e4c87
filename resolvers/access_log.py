"""The access log: which customer read which scope of a factory, one insert per request."""
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, tuple_

from db import AccessLogEntry
from resolvers.context import Context


async def record_reads(ctx: Context) -> None:
    """Write the request's customer reads of scoped data in one INSERT, after it resolved."""
    if not ctx.scoped_reads or ctx.viewer.organization_id is None:
        return
    rows = [{"factory_id": factory_id, "organization_id": ctx.viewer.organization_id,
             "scope": scope.value} for factory_id, scope in sorted(ctx.scoped_reads)]
    ctx.scoped_reads.clear()
    # One multi-row INSERT statement (not an executemany): one round trip for the request.
    async with ctx.database.engine.begin() as conn:
        await conn.execute(insert(AccessLogEntry).values(rows))


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
