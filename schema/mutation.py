"""How every mutation runs: one unit of work that commits in one place.

A BusinessRuleError anywhere inside rolls the whole transaction back and comes out as the
payload's `userErrors` (with a stable code); nothing is half-written. Events and outbox rows are
written inside the same transaction, so they exist exactly when the change does.
"""
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from resolvers.errors import BusinessRuleError, not_found
from schema.common import UserError
from schema.ids import decode_as

P = TypeVar("P")


async def perform(info: Info, work: Callable[[AsyncSession], Awaitable[Any]],
                  payload: Callable[[Any, list[UserError]], P]) -> P:
    try:
        async with info.context.database.unit_of_work() as session:
            result = await work(session)
    except BusinessRuleError as error:
        return payload(None, [UserError.of(each) for each in error.all()])
    return payload(result, [])


def require_id(global_id: str, type_name: str, field: str) -> int:
    """The primary key of an input ID of `type_name`; anything else is the NOT_FOUND userError
    (call it inside the unit of work, so it comes back in the payload)."""
    pk = decode_as(global_id, type_name)
    if pk is None:
        raise not_found(type_name, [field])
    return pk


def optional_id(global_id: str | None, type_name: str, field: str) -> int | None:
    return None if global_id is None else require_id(global_id, type_name, field)
