"""No request can hold a worker for long: a document's cost (fields after fragment expansion,
times the list sizes above them) is bounded before it is validated or executed, over HTTP and
WebSocket alike, and the dashboard stays well under the bound."""
import asyncio
import time
from pathlib import Path

import httpx
import pytest
from graphql import parse
from starlette.applications import Starlette

from app import create_app
from db.settings import Settings
from schema import build_schema
from schema.limits import DEFAULT_PAGE_SIZE, LIST_SIZE, MAX_ALIASES, measure
from tests.api.test_sql_statements import DASHBOARD as RICH_DASHBOARD
from tests.api.test_security import serving
from tests.helpers import Cast, gql
from tests.served import graphql_socket, served

DASHBOARD = (Path(__file__).resolve().parents[2] / "bench" / "dashboard.graphql").read_text()
MAX_COST = Settings().max_query_cost


def doubling_bomb(levels: int, on: str = "Query", leaf: str = "__typename") -> str:
    """Each fragment spreads the one below it twice: 2**levels fields in well under 1 KB."""
    fragments = [f"fragment F0 on {on} {{ {leaf} }}"] + [
        f"fragment F{i} on {on} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return "{ ...F%d }\n%s" % (levels, "\n".join(fragments))


def alias_bomb(levels: int) -> str:
    """Twenty aliases, doubled at each level: under the alias limit as written."""
    aliases = " ".join(f"a{i}: __typename" for i in range(20))
    fragments = [f"fragment F0 on Query {{ {aliases} }}"] + [
        f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1)]
    return "{ ...F%d }\n%s" % (levels, "\n".join(fragments))


NESTED_LISTS = """{ factories(first: 100) { nodes { certificates { factory { certificates {
  factory { certificates { factory { applications { fees { amount } } } } } } } } } } }"""

BOMBS = {
    "nested fragment bomb": doubling_bomb(24),
    "alias bomb": alias_bomb(20),
    "nested lists": NESTED_LISTS,
    "huge first": "{ factories(first: 1000000000) { nodes { id name } } }",
}


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


# ------------------------------------------------------------------ the measure itself

def test_dashboards_cost_well_under_the_limit_even_at_the_largest_page() -> None:
    schema = build_schema()._schema
    assert measure(schema, parse(DASHBOARD)).cost == 14_001  # 50 factories and their lists
    largest = DASHBOARD.replace("first: 50", "first: 100")
    assert measure(schema, parse(largest)).cost < MAX_COST / 10
    # the richest dashboard of the tests: plans, actions, their findings and evidence
    assert measure(schema, parse(RICH_DASHBOARD), {"first": 100}).cost < MAX_COST * 0.6


def test_connections_count_first_and_lists_count_a_default_page() -> None:
    schema = build_schema()._schema
    cost = lambda query, **variables: measure(schema, parse(query), variables).cost  # noqa: E731
    assert cost("{ factories(first: 10) { totalCount nodes { id name } } }") == 1 + 10 * 4
    assert cost("query($n: Int) { factories(first: $n) { nodes { id } } }", n=7) == 1 + 7 * 2
    assert cost("{ factories { nodes { id } } }") == 1 + DEFAULT_PAGE_SIZE * 2
    assert cost('{ factory(id: "x") { certificates { number } } }') == 1 + 1 + LIST_SIZE * 1
    # first: 0 must not hide what it would multiply
    assert cost("{ factories(first: 0) { nodes { id } } }") == 1 + 2


def test_the_walk_is_linear_in_the_document_however_fragments_multiply() -> None:
    schema = build_schema()._schema
    started = time.perf_counter()
    found = measure(schema, parse(doubling_bomb(400)))
    assert time.perf_counter() - started < 0.5
    assert found.cost > 10**12  # saturated, still a plain JSON number
    chain = "\n".join(["{ ...F2999 }", "fragment F0 on Query { __typename }"] + [
        f"fragment F{i} on Query {{ ...F{i - 1} }}" for i in range(1, 3000)])
    assert measure(schema, parse(chain)).cost == 1  # no RecursionError on a long chain


# ------------------------------------------------------------------ over HTTP, in process

@pytest.mark.parametrize("name", list(BOMBS))
async def test_a_costly_document_is_refused_fast_with_its_cost(client: httpx.AsyncClient,
                                                               name: str) -> None:
    # The work the document causes in this process (client and app run in it), not the wall
    # clock, which a loaded machine stretches; the served test below checks the wall clock.
    started = time.process_time()
    body = await gql(client, BOMBS[name])
    assert time.process_time() - started < 0.5
    assert body.get("data") is None
    [error] = body["errors"]
    if name == "alias bomb":
        assert error["extensions"]["code"] == "TOO_MANY_ALIASES"
        assert f"Allowed: {MAX_ALIASES}" in error["message"]
    else:
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert error["extensions"]["cost"] > error["extensions"]["maxCost"] == MAX_COST


async def test_first_given_as_a_variable_counts_too(client: httpx.AsyncClient) -> None:
    query = "query($n: Int) { factories(first: $n) { nodes { id } } }"
    assert codes(await gql(client, query, n=10**9)) == ["QUERY_TOO_COMPLEX"]
    assert codes(await gql(client, query, n=10)) == []


async def test_the_cost_of_an_accepted_query_is_reported_when_asked(
        client: httpx.AsyncClient, cast: Cast) -> None:
    token = cast.token("customer_a_user")
    asked = await client.post("/graphql", headers={"Authorization": f"Bearer {token}"},
                              json={"query": DASHBOARD, "extensions": {"cost": True}})
    body = asked.json()
    assert "errors" not in body, body
    assert body["extensions"] == {"cost": 14_001, "maxCost": MAX_COST}
    not_asked = await gql(client, DASHBOARD, token)
    assert "extensions" not in not_asked or "cost" not in not_asked["extensions"]


async def test_the_limit_is_a_setting(settings: Settings) -> None:
    small = settings.model_copy(update=dict(max_query_cost=10))
    async with serving(create_app(small, build_schema(small))) as client:
        refused = await gql(client, "{ factories(first: 5) { nodes { id } } }")
        accepted = await gql(client, "{ factories(first: 4) { nodes { id } } }")
    assert codes(refused) == ["QUERY_TOO_COMPLEX"]
    assert refused["errors"][0]["extensions"]["maxCost"] == 10
    assert codes(accepted) == []


async def test_validated_documents_are_still_cached(client: httpx.AsyncClient,
                                                    app: Starlette) -> None:
    from strawberry.extensions.validation_cache import _get_validate_cache
    cache = _get_validate_cache(512)
    query = "{ factories(first: 3) { totalCount } }"
    await gql(client, query)
    hits = cache.cache_info().hits
    await gql(client, query)
    assert cache.cache_info().hits == hits + 1


# ------------------------------------------------------------------ served by one worker

async def test_one_worker_refuses_bombs_fast_and_keeps_answering_healthz(
        database_url: str, settings: Settings, cast: Cast) -> None:
    async with served(database_url, settings, workers=1) as app, \
            httpx.AsyncClient(base_url=app.http, timeout=5) as http:

        async def health_latencies() -> list[float]:
            latencies = []
            for _ in range(10):
                started = time.perf_counter()
                assert (await http.get("/healthz")).status_code == 200
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)
            return latencies

        async def refuse(query: str) -> float:
            started = time.perf_counter()
            body = (await http.post("/graphql", json={"query": query})).json()
            assert codes(body) in (["QUERY_TOO_COMPLEX"], ["TOO_MANY_ALIASES"]), body
            return time.perf_counter() - started

        health = asyncio.create_task(health_latencies())
        refusals = await asyncio.gather(*(refuse(q) for q in BOMBS.values() for _ in range(3)))
        assert max(refusals) < 0.5, refusals
        assert max(await health) < 0.5

        # and over WebSocket: the same limits, before the operation runs
        async with graphql_socket(app, cast.token("customer_a_user")) as sock:
            await sock.send({"id": "1", "type": "subscribe",
                             "payload": {"query": BOMBS["nested fragment bomb"]}})
            started = time.perf_counter()
            message = await sock.receive()
            assert time.perf_counter() - started < 0.5
            assert message["id"] == "1" and "QUERY_TOO_COMPLEX" in str(message), message
            # string inputs too: the same check, in the same place
            await sock.send({"id": "2", "type": "subscribe", "payload": {
                "query": "query($n: String!) { verifyCertificate(number: $n) { valid } }",
                "variables": {"n": "A\x00"}}})
            message = await sock.receive()
            assert message["id"] == "2" and "BAD_USER_INPUT" in str(message), message
