"""Subscription reads are written together, each with its moment; a moot read never blocks."""
from datetime import datetime

from sqlalchemy import select

from auth.viewer import Viewer
from db import AccessLogEntry
from db.engine import Database
from db.enums import OrganizationKind, Role, ShareScope
from db.settings import Settings
from resolvers.access_log import ReadsBuffer
from resolvers.context import Context
from tests.helpers import Cast


def reading(database: Database, settings: Settings, organization_id: int,
            *reads: tuple[int, ShareScope]) -> Context:
    viewer = Viewer(user_id=1, organization_id=organization_id,
                    organization_kind=OrganizationKind.CUSTOMER, role=Role.CUSTOMER)
    ctx = Context(database=database, settings=settings, viewer=viewer)
    ctx.scoped_reads.update(reads)
    return ctx


async def test_reads_of_many_organizations_are_written_in_one_flush_with_their_moments(
        database: Database, settings: Settings, cast: Cast) -> None:
    buffer = ReadsBuffer(database)
    alpha, a, b = cast.factories["alpha"], cast.organizations["customer_a"], \
        cast.organizations["customer_b"]
    first = reading(database, settings, a, (alpha, ShareScope.CERTIFICATION))
    buffer.add(first)
    buffer.add(reading(database, settings, b, (alpha, ShareScope.PROFILE),
                       (alpha, ShareScope.CERTIFICATION)))
    buffer.add(reading(database, settings, a, (999_999, ShareScope.PROFILE)))  # no such factory
    assert first.scoped_reads == set()  # taken
    await buffer.flush()
    await buffer.flush()  # nothing held twice
    async with database.read() as conn:
        rows = (await conn.execute(select(AccessLogEntry.organization_id, AccessLogEntry.scope,
                                          AccessLogEntry.viewed_at)
                                   .order_by(AccessLogEntry.organization_id,
                                             AccessLogEntry.scope))).all()
    assert [(r.organization_id, r.scope) for r in rows] == [
        (a, "CERTIFICATION"), (b, "CERTIFICATION"), (b, "PROFILE")]
    assert all(isinstance(r.viewed_at, datetime) for r in rows)
    assert rows[0].viewed_at < rows[1].viewed_at  # each read keeps the moment it was made
