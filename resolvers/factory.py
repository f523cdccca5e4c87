"""Reading factories: the directory page, one factory, a supplier's own factories."""
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select, tuple_

from auth import policies
from db import Factory
from db.enums import CertificationStatus
from db.queries import certification_status_of
from resolvers.context import Context
from resolvers.loaders import VisibleFactoryById


@dataclass(frozen=True)
class FactoryFilter:
    search: str | None = None
    country: str | None = None
    certification_status: CertificationStatus | None = None
    connected_only: bool = False
    owned_only: bool = False


@dataclass
class FactoryPage:
    rows: list[Any]
    has_next_page: bool
    has_previous_page: bool
    count_statement: Select


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(ctx: Context, f: FactoryFilter) -> list[Any]:
    viewer = ctx.viewer
    conditions: list[Any] = [policies.visible_factories(viewer)]
    if f.search:
        pattern = f"%{_escape_like(f.search.strip())}%"
        conditions.append(or_(Factory.name.ilike(pattern), Factory.city.ilike(pattern)))
    if f.country:
        conditions.append(Factory.country == f.country.upper())
    if f.certification_status:
        conditions.append(certification_status_of(Factory.id) == f.certification_status.value)
    if f.connected_only:
        # Only a customer has connections of its own; for anyone else the list is empty.
        conditions.append(policies.factories_connected_to(viewer.organization_id)
                          if viewer.is_customer and viewer.organization_id else false())
    if f.owned_only:
        conditions.append(Factory.supplier_id == viewer.organization_id
                          if viewer.is_supplier else false())
    return conditions


async def list_factories(ctx: Context, first: int, after: list[Any] | None,
                         f: FactoryFilter) -> FactoryPage:
    """A keyset page in (name, id) order: stable under inserts, no OFFSET scans."""
    conditions = _conditions(ctx, f)
    page = select(*Factory.__table__.c).where(and_(*conditions))
    if after is not None:
        page = page.where(tuple_(Factory.name, Factory.id) > tuple_(str(after[0]), int(after[1])))
    page = page.order_by(Factory.name, Factory.id).limit(first + 1)
    async with ctx.database.read() as conn:
        rows = list((await conn.execute(page)).all())
    loader = ctx.loader(VisibleFactoryById)
    for row in rows[:first]:
        loader.prime(row.id, row)
    count = select(func.count()).select_from(Factory).where(and_(*conditions))
    return FactoryPage(rows[:first], len(rows) > first, after is not None, count)


async def count(ctx: Context, statement: Select) -> int:
    async with ctx.database.read() as conn:
        return int((await conn.execute(statement)).scalar_one())
