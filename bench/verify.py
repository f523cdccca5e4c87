"""Every target must answer as the single-SQL limit does: the harness walks every page of each
benchmark query against each target, before and after the timed load, and compares data exactly,
errors as a multiset of (path, code, requiredScope, message), and the access-log rows each
request wrote. Any difference stops the benchmark."""
from collections import Counter
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

MAX_PAGES = 100


class Mismatch(Exception):
    """The single-SQL endpoint and our API disagree; the message says where."""


@dataclass
class Page:
    after: str | None
    body: dict[str, Any]
    access_log: Counter[tuple[Any, ...]]
    raw: bytes  # the answer as sent: the load generator accepts exactly these bytes


async def walk(http: httpx.AsyncClient, url: str, query: str, conn: asyncpg.Connection
               ) -> list[Page]:
    """Every page of a `factories` query, following endCursor, with the access-log rows each
    request wrote."""
    pages: list[Page] = []
    after: str | None = None
    while len(pages) < MAX_PAGES:
        mark = await conn.fetchval("SELECT coalesce(max(id), 0) FROM access_log")
        response = await http.post(url, json={"query": query, "variables": {"after": after}})
        if response.status_code != 200:
            raise Mismatch(f"{url} answered {response.status_code}: {response.text[:500]}")
        body = response.json()
        if not (body.get("data") or {}).get("factories"):
            raise Mismatch(f"{url} answered no data: {response.text[:500]}")
        rows = await conn.fetch("SELECT factory_id, organization_id, scope FROM access_log "
                                "WHERE id > $1", mark)
        pages.append(Page(after, body, Counter(tuple(row) for row in rows), response.content))
        info = body["data"]["factories"]["pageInfo"]
        if not info["hasNextPage"]:
            return pages
        after = info["endCursor"]
    raise Mismatch(f"{url}: more than {MAX_PAGES} pages")


def error_keys(body: dict[str, Any]) -> Counter[tuple[Any, ...]]:
    return Counter((tuple(e.get("path") or ()), (e.get("extensions") or {}).get("code"),
                    (e.get("extensions") or {}).get("requiredScope"), e.get("message"))
                   for e in body.get("errors") or [])


def first_difference(a: Any, b: Any, path: tuple[Any, ...] = ()) -> str | None:
    """Where two JSON values first differ, as `path: a != b`, or None when equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{'.'.join(map(str, path + (key,)))}: present in only one"
            found = first_difference(a[key], b[key], path + (key,))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{'.'.join(map(str, path))}: {len(a)} items != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, path + (i,))
            if found:
                return found
        return None
    # JSON has one number type (PostgreSQL writes 1234.0 as 1234), but true is not 1.
    if isinstance(a, bool) != isinstance(b, bool) or a != b:
        return f"{'.'.join(map(str, path))}: {a!r} != {b!r}"
    return None


def compare(ours: list[Page], limit: list[Page]) -> None:
    """Raise Mismatch unless both walks are the same, page by page."""
    if len(ours) != len(limit):
        raise Mismatch(f"{len(ours)} pages from one, {len(limit)} from the other")
    for n, (a, b) in enumerate(zip(ours, limit, strict=True)):
        where = f"page {n + 1}"
        found = first_difference(a.body.get("data"), b.body.get("data"))
        if found:
            raise Mismatch(f"{where}: data differs at {found}")
        ea, eb = error_keys(a.body), error_keys(b.body)
        if ea != eb:
            only_a, only_b = sorted(ea - eb)[:3], sorted(eb - ea)[:3]
            raise Mismatch(f"{where}: errors differ; only ours: {only_a}; only single SQL: "
                           f"{only_b}")
        if a.access_log != b.access_log:
            raise Mismatch(f"{where}: access log differs: ours wrote {sum(a.access_log.values())}"
                           f" rows, single SQL {sum(b.access_log.values())}; only ours: "
                           f"{sorted(a.access_log - b.access_log)[:3]}; only single SQL: "
                           f"{sorted(b.access_log - a.access_log)[:3]}")
