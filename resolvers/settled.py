"""Loader-backed fields that answer without a coroutine when the loader already holds the value
(a subscription event's feed primes its loaders; a loader batch already ran)."""
import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def settled(future: "asyncio.Future[T]", then: Callable[[T], R]) -> R | Awaitable[R]:
    """`then(value)` now if the loader already has the value, else an awaitable of it
    (graphql-core awaits what a resolver returns)."""
    if future.done():
        return then(future.result())

    async def later() -> R:
        return then(await future)
    return later()
