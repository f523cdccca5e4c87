"""The security baseline: query depth, aliases and tokens are limited, pages are at most 100, big
bodies are refused, internal errors are masked, and introspection can be closed."""
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import strawberry
from sqlalchemy import text
from starlette.applications import Starlette
from strawberry.types import Info

from app import create_app
from web.limits import GRAPHQL_BODY_LIMIT
from db.settings import Settings
from schema import QUERIES, build_schema
from schema.common import encode_cursor
from schema.extensions import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from tests.helpers import Cast, gql

INTROSPECTION = "{ __schema { queryType { name } } }"


def nested_factories(depth: int) -> str:
    """factory -> applications -> factory -> ... `depth` fields deep."""
    inner = "id"
    for _ in range((depth - 1) // 2):
        inner = f"applications {{ factory {{ {inner} }} }}"
    return '{ factory(id: "x") { %s } }' % inner


def only_error(body: dict) -> str:
    assert body.get("data") is None, body
    [error] = body["errors"]
    return str(error["message"])


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own (its own engine, closed after)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://escp.test") as client:
            yield client


async def test_a_query_deeper_than_the_limit_is_refused(client: httpx.AsyncClient,
                                                        cast: Cast) -> None:
    within = await gql(client, nested_factories(MAX_DEPTH - 1))
    assert "errors" not in within or "depth" not in str(within["errors"])
    message = only_error(await gql(client, nested_factories(MAX_DEPTH + 3)))
    assert f"exceeds maximum operation depth of {MAX_DEPTH}" in message


async def test_more_aliases_than_the_limit_are_refused(client: httpx.AsyncClient) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 1))
    message = only_error(await gql(client, "{ %s }" % aliases))
    assert f"{MAX_ALIASES}" in message and "aliases" in message.lower()


async def test_a_document_with_more_tokens_than_the_limit_is_refused(
        client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql",
                                 json={"query": "{ " + "__typename " * MAX_TOKENS + "}"})
    assert response.status_code in (200, 400)
    message = only_error(response.json())
    assert "token" in message.lower() and str(MAX_TOKENS) in message


@pytest.mark.parametrize("query", [
    "{ factories(first: 101) { totalCount } }",
    '{ factory(id: "%(alpha)s") { audits(first: 101) { totalCount } } }',
    '{ factory(id: "%(alpha)s") { accessLog(first: 101) { totalCount } } }',
    "{ viewer { factories(first: 101) { totalCount } } }",
    "{ factories(first: 0) { totalCount } }",
])
async def test_a_page_of_more_than_100_is_refused(client: httpx.AsyncClient, cast: Cast,
                                                  query: str) -> None:
    body = await gql(client, query % {"alpha": cast.factory_gid("alpha")},
                     cast.token("supplier_a_user"))
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert "between 1 and 100" in body["errors"][0]["message"]


@pytest.mark.parametrize(("query", "forged"), [
    ("{ factories(after: $after) { totalCount } }", ["Alpha", "not a number"]),
    ("{ factories(after: $after) { totalCount } }", ["Alpha", 2**70]),
    ('{ factory(id: "%(alpha)s") { audits(after: $after) { totalCount } } }', ["x"]),
    ('{ factory(id: "%(alpha)s") { accessLog(after: $after) { totalCount } } }', ["nope", 1]),
])
async def test_a_forged_cursor_is_bad_user_input_not_an_internal_error(
        client: httpx.AsyncClient, cast: Cast, query: str, forged: list) -> None:
    text_ = ("query($after: String) " + query) % {"alpha": cast.factory_gid("alpha")}
    body = await gql(client, text_, cast.token("supplier_a_user"), after=encode_cursor(forged))
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_a_body_over_the_limit_is_refused_with_413(client: httpx.AsyncClient) -> None:
    padding = "#" + "x" * GRAPHQL_BODY_LIMIT + "\n"
    declared = await client.post("/graphql", json={"query": padding + "{ __typename }"})
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"query": "'
        for _ in range(GRAPHQL_BODY_LIMIT // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = await client.post("/graphql", content=chunks(),
                                 headers={"content-type": "application/json"})
    assert streamed.status_code == 413


@strawberry.type
class BrokenQuery:
    """A test-only root field whose resolver fails for real, in the database."""

    @strawberry.field
    async def broken_report(self, info: Info) -> int:
        async with info.context.database.read() as conn:
            result = await conn.execute(text("SELECT secret_column FROM no_such_table"))
            return int(result.scalar_one())


async def test_an_internal_error_is_masked_and_logged_with_the_id_the_client_gets(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    # given: the real schema assembly with one field that fails inside the database
    app = create_app(settings, build_schema(settings, queries=(*QUERIES, BrokenQuery)))
    # when
    with caplog.at_level(logging.ERROR, logger="escp.graphql"):
        async with serving(app) as client:
            response = await client.post("/graphql", json={"query": "{ brokenReport }"})
    # then: no trace, SQL or driver message reaches the client
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert re.fullmatch(r"[0-9a-f]{32}", error["extensions"]["errorId"])
    for leak in ("no_such_table", "secret_column", "SELECT", "Traceback", "asyncpg", ".py"):
        assert leak not in response.text
    # and: the log has the trace under the same id
    [record] = [r for r in caplog.records if error["extensions"]["errorId"] in r.getMessage()]
    assert record.exc_info is not None and "no_such_table" in str(record.exc_info[1])


async def test_introspection_is_open_by_default_and_closed_by_escp_introspection_off(
        client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    assert (await gql(client, INTROSPECTION))["data"]["__schema"]["queryType"]["name"] == "Query"
    monkeypatch.setenv("ESCP_INTROSPECTION", "off")
    assert Settings().introspection is False
    closed = settings.model_copy(update=dict(introspection=False))
    # when
    async with serving(create_app(closed)) as other:
        body = (await other.post("/graphql", json={"query": INTROSPECTION})).json()
        typename = (await other.post("/graphql", json={"query": "{ __typename }"})).json()
    # then
    assert body.get("data") is None and "introspection" in body["errors"][0]["message"].lower()
    assert typename == {"data": {"__typename": "Query"}}
