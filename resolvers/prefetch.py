"""Look-ahead for a page of factories: load what the selected fields will need, before they ask.

A page's relationships are loaded in the same batches the fields would trigger themselves (so the
number of SQL statements does not change), but up front, so that by the time the fields resolve
the loaders already hold their values and `settled` can answer synchronously: no coroutine, no
task, no await per field. Only factories whose access grants the scope are loaded for a scoped
relationship; the fields' own rules still decide what is shown.
"""
import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from db.enums import ShareScope
from resolvers import loaders as L
from resolvers.context import Context

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


def _granted(ctx: Context, ids: Iterable[int], scope: ShareScope) -> list[int]:
    found = ctx.access_cache
    return [i for i in ids if i in found and scope in found[i].scopes]


async def _load(loader: Any, keys: list[Any]) -> list[Any]:
    return await loader.load_many(keys) if keys else []


async def prefetch_factories(ctx: Context, ids: list[int], paths: set[str]) -> None:
    """Warm the loaders for `paths` (dotted field names under Factory) of these factories."""
    first: list[Awaitable[Any]] = []
    if paths & {"certificationStatus", "certifiedUntil", "currentCertificate"}:
        first.append(_load(ctx.loader(L.CertificationByFactory), ids))
    if paths & {"latestAudit", "audits"}:
        first.append(_load(ctx.loader(L.AuditsByFactory),
                           _granted(ctx, ids, ShareScope.AUDITS)))
    if "correctiveActionPlans" in paths:
        first.append(_load(ctx.loader(L.CapsByFactory),
                           _granted(ctx, ids, ShareScope.CORRECTIVE_ACTIONS)))
    if "environmentalAssessments" in paths:
        first.append(_load(ctx.loader(L.AssessmentsByFactory),
                           _granted(ctx, ids, ShareScope.ENVIRONMENT)))
    await asyncio.gather(*first)
    await asyncio.gather(*_second_wave(ctx, ids, paths))


def _second_wave(ctx: Context, ids: list[int], paths: set[str]) -> list[Awaitable[Any]]:
    """Relationships of what the first wave loaded (already in the loaders' caches)."""
    wave: list[Awaitable[Any]] = []
    if "currentCertificate" in paths:
        rows = _cached(ctx.loader(L.CertificationByFactory),
                       _granted(ctx, ids, ShareScope.CERTIFICATION))
        wave.append(_load(ctx.loader(L.CertificateById),
                          [r.certificate_id for r in rows if r and r.certificate_id]))
    if "latestAudit.findingsSummary" in paths:
        audits = _cached(ctx.loader(L.AuditsByFactory), _granted(ctx, ids, ShareScope.AUDITS))
        wave.append(_load(ctx.loader(L.FindingsSummaryByAudit),
                          [rows[0].id for rows in audits if rows]))
    if "correctiveActionPlans.actions" in paths:
        plans = _cached(ctx.loader(L.CapsByFactory),
                        _granted(ctx, ids, ShareScope.CORRECTIVE_ACTIONS))
        wave.append(_load(ctx.loader(L.ActionsByCap),
                          [plan.id for rows in plans for plan in rows]))
    return wave


def _cached(loader: Any, keys: list[int]) -> list[Any]:
    return [loader.load(key).result() for key in keys]
