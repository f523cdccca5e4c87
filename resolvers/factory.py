"""Factories: the directory page, one factory, a supplier's own factories; creating and
changing them (members of the owning supplier only)."""
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from auth import policies
from auth.viewer import Viewer
from db import Factory
from db.enums import CertificationStatus
from db.queries import certification_status_of
from resolvers.accounts import valid_email
from resolvers.context import Context
from resolvers.countries import ISO_3166_ALPHA2
from resolvers.errors import BusinessRuleError, not_found
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
    count_statement: Select[Any]


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(ctx: Context, f: FactoryFilter) -> list[Any]:
    viewer = ctx.viewer
    conditions: list[Any] = [policies.visible_factories(viewer)]
    if f.search:
        pattern = f"%{escape_like(f.search.strip())}%"
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


async def count(ctx: Context, statement: Select[Any]) -> int:
    async with ctx.database.read() as conn:
        return int((await conn.execute(statement)).scalar_one())


# ---------------------------------------------------------------- writes

MAX_TEXT = 300
MAX_CATEGORIES = 50


def _invalid(message: str, field: str) -> BusinessRuleError:
    return BusinessRuleError("VALIDATION", message, [field])


def _name(value: str) -> str:
    name = value.strip()
    if not name or len(name) > MAX_TEXT:
        raise _invalid(f"The name must be 1 to {MAX_TEXT} characters.", "name")
    return name


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in ISO_3166_ALPHA2:
        raise _invalid("The country must be an ISO 3166-1 alpha-2 code, e.g. BD.", "country")
    return code


def _text(field: str) -> Callable[[str | None], str | None]:
    def check(value: str | None) -> str | None:
        text = (value or "").strip()
        if len(text) > MAX_TEXT:
            raise _invalid(f"At most {MAX_TEXT} characters.", field)
        return text or None
    return check


def _worker_count(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise _invalid("The worker count cannot be negative.", "workerCount")
    return value


def _contact_email(value: str | None) -> str | None:
    return valid_email(value, ["contactEmail"]) if value and value.strip() else None


def _categories(value: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(c.strip() for c in value))
    if len(cleaned) > MAX_CATEGORIES or any(not c or len(c) > MAX_TEXT for c in cleaned):
        raise _invalid(f"Up to {MAX_CATEGORIES} non-blank product categories.",
                       "productCategories")
    return cleaned


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": _name, "country": _country, "city": _text("city"), "address": _text("address"),
    "product_categories": _categories, "worker_count": _worker_count,
    "contact_email": _contact_email, "listed": bool,
}
# Null for one of these means "not given" (unchanged, or the default); for the others it clears.
_NOT_NULL = {"name", "country", "product_categories", "listed"}


def factory_values(given: dict[str, Any]) -> dict[str, Any]:
    """Validated column values for the fields given (VALIDATION naming the first bad one)."""
    return {key: _CHECKS[key](value) for key, value in given.items()
            if not (value is None and key in _NOT_NULL)}


async def create_factory(session: AsyncSession, viewer: Viewer, given: dict[str, Any]) -> Factory:
    """A new factory of the viewer's supplier organization."""
    factory = Factory(supplier_id=viewer.organization_id, **factory_values(given))
    session.add(factory)
    await session.flush()
    return factory


async def update_factory(session: AsyncSession, viewer: Viewer, factory_id: int | None,
                         given: dict[str, Any]) -> Factory:
    """Change a factory of the viewer's own organization.

    NOT_FOUND for a factory the viewer may not know exists; FORBIDDEN for one it sees (a listed
    factory of another supplier) but does not own.
    """
    statement = (select(Factory, policies.owned_factories(viewer).label("owned"))
                 .where(Factory.id == factory_id, policies.visible_factories(viewer))
                 .with_for_update(of=Factory))
    found = (await session.execute(statement)).first() if factory_id else None
    if found is None:
        raise not_found("factory", ["factoryId"])
    if not found.owned:
        raise BusinessRuleError("FORBIDDEN", "Only the factory's own organization can change it.",
                                ["factoryId"])
    factory: Factory = found.Factory
    for key, value in factory_values(given).items():
        setattr(factory, key, value)
    await session.flush()
    return factory
