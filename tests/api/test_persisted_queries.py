"""Persisted queries: Apollo's automatic persisted queries, and trusted documents only when
ESCP_TRUSTED_DOCUMENTS names a manifest."""
import hashlib
import json
from pathlib import Path

import httpx
import pytest
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from app import create_app
from db.settings import SettingError, Settings
from schema.persisted import PersistedDocuments
from tests.api.test_security import serving
from tests.helpers import Cast

DIRECTORY = "query Directory { factories(first: 3) { totalCount nodes { name } } }"
VIEWER = "query Viewer { viewer { user { role } } }"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(digest: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def post(client: httpx.AsyncClient, body: dict, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def code_of(body: dict) -> str:
    [error] = body["errors"]
    return error["extensions"]["code"]  # type: ignore[no-any-return]


async def test_apollo_apq_hash_then_hash_and_document_then_hash_alone(
        client: httpx.AsyncClient, cast: Cast) -> None:
    query = DIRECTORY + " # apq " + cast.factory_gid("alpha")  # a document no other test sent
    digest = sha(query)
    # the hash alone, unknown: Apollo's answer, which makes its clients send the document
    missing = await client.post("/graphql", json={"extensions": persisted(digest)})
    assert missing.status_code == 200
    assert missing.json() == {"data": None, "errors": [{
        "message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
    assert missing.headers["Cache-Control"] == "private, no-cache, must-revalidate"
    # the hash with its document: run, and kept
    body = await post(client, {"query": query, "extensions": persisted(digest)})
    assert body["data"]["factories"]["totalCount"] == 2
    # the hash alone again, by POST and by GET (Apollo's useGETForHashedQueries)
    assert await post(client, {"extensions": persisted(digest)}) == body
    got = await client.get("/graphql", params={
        "operationName": "Directory", "extensions": json.dumps(persisted(digest))})
    assert got.status_code == 200 and got.json() == body


async def test_a_document_that_is_not_the_hash_is_refused_and_not_kept(
        client: httpx.AsyncClient) -> None:
    digest = sha(VIEWER + " # something else")
    body = await post(client, {"query": VIEWER, "extensions": persisted(digest)})
    assert body["data"] is None and code_of(body) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert code_of(await post(client, {"extensions": persisted(digest)})) == (
        "PERSISTED_QUERY_NOT_FOUND")
    malformed = await post(client, {"query": VIEWER,
                                    "extensions": {"persistedQuery": {"version": 2}}})
    assert code_of(malformed) == "PERSISTED_QUERY_INVALID"


def test_the_apq_store_is_a_bounded_lru() -> None:
    documents = PersistedDocuments(apq_size=2)
    first, second, third = (f"{{ __typename }} # {i}" for i in range(3))
    for query in (first, second):
        documents.resolve(query, persisted(sha(query)))
    documents.resolve(None, persisted(sha(first)))  # used: the most recent now
    documents.resolve(third, persisted(sha(third)))
    assert documents.resolve(None, persisted(sha(first))) == first
    with pytest.raises(Exception, match="PersistedQueryNotFound"):
        documents.resolve(None, persisted(sha(second)))


@pytest.fixture(params=["apollo", "map"])
def manifest(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The two manifest forms: Apollo's, and a map of id to document (GraphQL Codegen, Relay)
    whose ids need not be hashes."""
    path = tmp_path / "trusted.json"
    if request.param == "apollo":
        path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1,
                                    "operations": [{"id": sha(DIRECTORY), "name": "Directory",
                                                    "type": "query", "body": DIRECTORY}]}))
    else:
        path.write_text(json.dumps({sha(DIRECTORY): DIRECTORY, "viewer-1": VIEWER}))
    return path


async def test_with_trusted_documents_only_registered_ones_run(
        settings: Settings, cast: Cast, manifest: Path) -> None:
    app = create_app(settings.model_copy(update=dict(trusted_documents=manifest)))
    async with serving(app) as client:
        # registered: by id, and in full
        by_id = await post(client, {"extensions": persisted(sha(DIRECTORY))})
        assert by_id["data"]["factories"]["totalCount"] == 2
        assert await post(client, {"query": DIRECTORY}) == by_id
        assert await post(client, {"query": DIRECTORY,
                                   "extensions": persisted(sha(DIRECTORY))}) == by_id
        # anything else is refused, and APQ registers nothing
        other = "{ factories(first: 1) { totalCount } }"
        for body in ({"query": other}, {"query": other, "extensions": persisted(sha(other))},
                     {"extensions": persisted(sha(other))},
                     {"query": DIRECTORY + " ", "extensions": persisted(sha(DIRECTORY + " "))}):
            refused = await post(client, body)
            assert refused["data"] is None and code_of(refused) == "DOCUMENT_NOT_TRUSTED"
        # a registered id with another document
        mismatch = await post(client, {"query": other, "extensions": persisted(sha(DIRECTORY))})
        assert code_of(mismatch) == "PERSISTED_QUERY_HASH_MISMATCH"


async def test_with_trusted_documents_a_socket_runs_registered_documents_only(
        settings: Settings, cast: Cast, tmp_path: Path) -> None:
    path = tmp_path / "trusted.json"
    path.write_text(json.dumps({"viewer": VIEWER}))
    app = create_app(settings.model_copy(update=dict(trusted_documents=path)))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=ASGIWebSocketTransport(app), base_url="http://escp.test") as client:
        async with aconnect_ws("/graphql", client,
                               subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send_json({"type": "connection_init", "payload": {
                "Authorization": f"Bearer {cast.token('customer_a_user')}"}})
            assert (await ws.receive_json())["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": VIEWER}})
            assert (await ws.receive_json())["payload"] == {
                "data": {"viewer": {"user": {"role": "CUSTOMER"}}}}
            assert (await ws.receive_json())["type"] == "complete"
            await ws.send_json({"id": "2", "type": "subscribe", "payload": {
                "query": "subscription { connectionChanged { id } }"}})
            refused = await ws.receive_json()
            assert refused["type"] == "error"
            assert refused["payload"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"


@pytest.mark.parametrize("content", ["not json", "[]", "{}", '{"id": 3}',
                                     '{"operations": [{"id": "a"}]}'])
def test_a_manifest_that_cannot_be_used_is_a_setting_error(
        settings: Settings, tmp_path: Path, content: str) -> None:
    path = tmp_path / "trusted.json"
    path.write_text(content)
    with pytest.raises(SettingError, match="^ESCP_TRUSTED_DOCUMENTS must"):
        PersistedDocuments.of(settings.model_copy(update=dict(trusted_documents=path)))
