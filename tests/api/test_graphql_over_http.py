"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): Accept negotiation,
application/graphql-response+json with its status codes, request errors with a code, and the
graphql-http audit suite run against a real server."""
import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.settings import Settings
from schema.extensions import MAX_DEPTH
from tests.api.test_security import nested_factories
from tests.served import served
from web.media import GRAPHQL_RESPONSE, JSON, response_media_type


@pytest.mark.parametrize(("accept", "media"), [
    (None, JSON),  # no Accept: the legacy type, as clients older than the spec expect
    ("", JSON),
    ("*/*", JSON),
    ("application/*", JSON),
    ("application/json", JSON),
    (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
    # the spec's recommended header: the first listed of equals
    (f"{GRAPHQL_RESPONSE}; charset=utf-8, application/json; charset=utf-8", GRAPHQL_RESPONSE),
    ("application/json, application/graphql-response+json", JSON),
    ("application/json;q=0.5, application/graphql-response+json;q=0.9", GRAPHQL_RESPONSE),
    ("application/graphql-response+json;q=0.2, */*", JSON),
    ("application/json;q=0, */*", GRAPHQL_RESPONSE),  # the named type's weight wins
    ("text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8", JSON),  # a browser
    ("text/plain", None),
    ("application/json;q=0", None),
    ("application/json;q=nope", None),
])
def test_the_answer_media_type_follows_accept(accept: str | None, media: str | None) -> None:
    assert response_media_type(accept) == media


async def post(client: httpx.AsyncClient, body: Any, accept: str) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return await client.post("/graphql", content=content,
                             headers={"Content-Type": "application/json", "Accept": accept})


# (request body, code of its error); each is a request error: nothing runs.
REQUEST_ERRORS = [
    ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
    ({"query": "{ " + "__typename " * 5001 + "}"}, "GRAPHQL_PARSE_FAILED"),  # the token limit
    ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
    ({"query": "query Q($id: ID!) { node(id: $id) { id } }", "variables": {"id": None}},
     "BAD_USER_INPUT"),
    ({"query": "query A { __typename } query B { __typename }"},
     "OPERATION_RESOLUTION_FAILURE"),
    ({"query": "query A { __typename }", "operationName": "B"}, "OPERATION_RESOLUTION_FAILURE"),
    ({"query": nested_factories(MAX_DEPTH + 3)}, "QUERY_TOO_DEEP"),
]


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_a_request_error_is_400_without_data_in_graphql_response_json(
        client: httpx.AsyncClient, body: dict[str, Any], code: str) -> None:
    response = await post(client, body, GRAPHQL_RESPONSE)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    answer = response.json()
    assert "data" not in answer
    assert [e["extensions"]["code"] for e in answer["errors"]] == [code]


@pytest.mark.parametrize(("body", "code"), REQUEST_ERRORS)
async def test_a_request_error_is_200_with_null_data_in_json(
        client: httpx.AsyncClient, body: dict[str, Any], code: str) -> None:
    response = await post(client, body, JSON)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON
    answer = response.json()
    assert answer["data"] is None
    assert [e["extensions"]["code"] for e in answer["errors"]] == [code]


async def test_what_executed_is_200_in_graphql_response_json_even_with_field_errors(
        client: httpx.AsyncClient) -> None:
    done = await post(client, {"query": "{ __typename }"}, GRAPHQL_RESPONSE)
    assert done.status_code == 200
    assert done.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert done.json() == {"data": {"__typename": "Query"}}
    # A field error ran the operation: a (partial, here null) result, not a request error.
    field_error = await post(client, {"query": "{ factories(first: 1000) { totalCount } }"},
                             GRAPHQL_RESPONSE)
    assert field_error.status_code == 200
    answer = field_error.json()
    assert answer["data"] is None and answer["errors"][0]["path"] == ["factories"]


async def test_operation_name_chooses_among_several_operations(client: httpx.AsyncClient) -> None:
    # Only a document of several operations *without* operationName is a request error.
    for name in ("A", "B"):
        chosen = await post(client, {"query": "query A { a: __typename } query B { b: __typename }",
                                     "operationName": name}, GRAPHQL_RESPONSE)
        assert chosen.status_code == 200, chosen.text
        assert chosen.json() == {"data": {name.lower(): "Query"}}


async def test_a_request_that_is_not_graphql_is_400_with_a_code(
        client: httpx.AsyncClient) -> None:
    for body in ["NONSENSE", {"qeury": "{ __typename }"}, {"query": "{ __typename }",
                                                           "variables": [7]},
                 {"query": "{ __typename }", "operationName": 7}]:
        for accept in (JSON, GRAPHQL_RESPONSE):
            response = await post(client, body, accept)
            assert response.status_code == 400, (body, response.text)
            assert response.headers["content-type"].startswith(accept)
            assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_mutation_sent_with_get_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={
        "query": 'mutation { login(email: "a@b.example", password: "x") { __typename } }'})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_a_request_accepting_neither_type_is_406(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ __typename }"}, "text/plain")
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"
    # A browser asking for the page still gets GraphiQL.
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


JS = Path(__file__).resolve().parents[1] / "js"
AUDIT_NEEDS = ("needs node and graphql-http (npm ci --prefix tests/js; the README's test "
               "command runs it where npm is installed)")


@pytest.mark.skipif(shutil.which("node") is None
                    or not (JS / "node_modules" / "graphql-http").is_dir(), reason=AUDIT_NEEDS)
async def test_the_graphql_http_audit_passes_every_must_and_should(
        database_url: str, settings: Settings) -> None:
    async with served(database_url, settings) as app:
        audit = await asyncio.create_subprocess_exec(
            "node", str(JS / "audit.mjs"), f"{app.http}/graphql",
            stdout=asyncio.subprocess.PIPE)
        async with asyncio.timeout(60):
            output, _ = await audit.communicate()
    assert audit.returncode == 0
    results = json.loads(output)
    assert len(results) >= 50  # the suite ran (graphql-http 1.23 has 61 audits)
    failed = [f"{r['status']}: {r['name']} ({r['reason']})" for r in results
              if r["name"].startswith(("MUST", "SHOULD")) and r["status"] != "ok"]
    assert failed == []
