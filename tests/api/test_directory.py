"""The public directory through HTTP, as an anonymous client sees it."""
import httpx
from sqlalchemy import select

from db import Factory
from db.engine import Database
from db.settings import Settings
from demo.data import load_demo

DIRECTORY = """
query Directory($first: Int, $after: String, $filter: FactoryFilter) {
  factories(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id name country city listed certificationStatus certifiedUntil }
  }
}
"""


async def gql(client: httpx.AsyncClient, query: str, **variables: object) -> dict:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


async def test_anonymous_directory_lists_only_listed_factories_in_name_order(
        client: httpx.AsyncClient, database: Database, settings: Settings) -> None:
    await load_demo(database, settings)
    body = await gql(client, DIRECTORY)
    names = [n["name"] for n in body["data"]["factories"]["nodes"]]
    assert names == sorted(names)
    assert "Dhaka Knit Unit 2" not in names  # unlisted
    assert len(names) == 7 and body["data"]["factories"]["totalCount"] == 7


async def test_pages_follow_the_cursor_without_overlap(client: httpx.AsyncClient,
                                                       database: Database,
                                                       settings: Settings) -> None:
    await load_demo(database, settings)
    first = (await gql(client, DIRECTORY, first=2))["data"]["factories"]
    second = (await gql(client, DIRECTORY, first=2,
                        after=first["pageInfo"]["endCursor"]))["data"]["factories"]
    assert first["pageInfo"]["hasNextPage"] is True
    seen = [n["name"] for n in first["nodes"] + second["nodes"]]
    assert len(set(seen)) == 4


async def test_filters_by_country_and_search(client: httpx.AsyncClient,
                                             database: Database,
                                             settings: Settings) -> None:
    await load_demo(database, settings)
    by_country = await gql(client, DIRECTORY, filter={"country": "vn"})
    assert {n["country"] for n in by_country["data"]["factories"]["nodes"]} == {"VN"}
    by_city = await gql(client, DIRECTORY, filter={"search": "denizli"})
    assert [n["name"] for n in by_city["data"]["factories"]["nodes"]] == ["Anatolia Denim Mill"]
    wildcard = await gql(client, DIRECTORY, filter={"search": "%"})
    assert wildcard["data"]["factories"]["nodes"] == []


async def test_first_out_of_range_and_bad_cursor_are_graphql_errors_not_500(
        client: httpx.AsyncClient, database: Database) -> None:
    for variables in ({"first": 0}, {"first": 101}, {"after": "not-a-cursor"}):
        body = await gql(client, DIRECTORY, **variables)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unlisted_factory_is_absent_by_id_and_by_node(client: httpx.AsyncClient,
                                                             database: Database,
                                                             settings: Settings) -> None:
    await load_demo(database, settings)
    async with database.read() as conn:
        pk = (await conn.execute(select(Factory.id).where(
            Factory.name == "Dhaka Knit Unit 2"))).scalar_one()
    from schema.ids import encode_id

    gid = encode_id("Factory", pk)
    body = await gql(client, "query($id: ID!) { factory(id: $id) { name } node(id: $id) { id } }",
                     id=gid)
    assert body["data"] == {"factory": None, "node": None}


async def test_an_id_of_one_type_never_resolves_as_another(client: httpx.AsyncClient,
                                                           database: Database,
                                                           settings: Settings) -> None:
    await load_demo(database, settings)
    listed = (await gql(client, DIRECTORY, first=1))["data"]["factories"]["nodes"][0]["id"]
    from schema.ids import decode_id, encode_id

    as_certificate = encode_id("Certificate", decode_id(listed)[1])  # type: ignore[index]
    body = await gql(client, "query($id: ID!) { factory(id: $id) { name } }", id=as_certificate)
    assert body["data"] == {"factory": None}
    body = await gql(client, "query($id: ID!) { node(id: $id) { __typename } }", id="garbage!")
    assert body["data"] == {"node": None}


async def test_get_serves_queries_and_health_endpoints(client: httpx.AsyncClient,
                                                       database: Database) -> None:
    response = await client.get("/graphql", params={"query": "{ auditFirms { name } }"})
    assert response.status_code == 200 and response.json()["data"] == {"auditFirms": []}
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200


async def test_graphiql_is_served_to_a_browser(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()
