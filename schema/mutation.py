"""How every mutation runs: one unit of work that commits in one place.

A BusinessRuleError anywhere inside rolls the whole transaction back and comes out as the
payload's `userErrors` (with a stable code); nothing is half-written. Events and outbox rows are
written inside the same transaction, so they exist exactly when the change does.
"""
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from resolvers.errors import BusinessRuleError
from schema.common import UserError

P = TypeVar("P")


async def perform(info: Info, work: Callable[[AsyncSession], Awaitable[Any]],
                  payload: Callable[[Any, list[UserError]], P]) -> P:
    try:
        async with info.context.database.unit_of_work() as session:
            result = await work(session)
    except BusinessRuleError as error:
        return payload(None, [UserError.of(error)])
    return payload(result, [])
