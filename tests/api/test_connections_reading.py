"""Who reads which connections: both sides through `viewer.connections`, the owner and the
program through `Factory.connections`, and nobody else by any path."""
import httpx

from db.engine import Database
from tests.api.connection_steps import accepted, connection_of, end, outbox, requested, respond
from tests.helpers import Cast, errors_at, gql

MY_CONNECTIONS = """
query Mine($status: ConnectionStatus) {
  viewer { connections(status: $status) { id status factory { name } customer { name } } }
}
"""

FACTORY_CONNECTIONS = """
query FactoryConnections($id: ID!, $status: ConnectionStatus) {
  factory(id: $id) { name connections(status: $status) { id status } }
}
"""

NODE = """
query Node($id: ID!) { node(id: $id) { __typename ... on CustomerConnection { id status } } }
"""

VIEWER_ACCESS = """
query Access($id: ID!) {
  factory(id: $id) { viewerAccess { isOwner scopes connection { id status grantedScopes } } }
}
"""


async def given_three_connections(client: httpx.AsyncClient, cast: Cast) -> dict[str, str]:
    """customer_a: accepted to alpha, pending to beta; customer_b: declined by alpha."""
    ids = {"a_alpha": await accepted(client, cast, scopes=["PROFILE"]),
           "a_beta": await requested(client, cast, factory="beta"),
           "b_alpha": await requested(client, cast, customer="customer_b")}
    connection_of(await respond(client, cast, "supplier_a_user", ids["b_alpha"], accept=False))
    return ids


async def mine(client: httpx.AsyncClient, cast: Cast, who: str,
               status: str | None = None) -> list[tuple[str, str]]:
    body = await gql(client, MY_CONNECTIONS, cast.token(who), status=status)
    return sorted((c["id"], c["status"]) for c in body["data"]["viewer"]["connections"])


async def test_each_side_lists_its_own_connections_filtered_by_status(
        client: httpx.AsyncClient, cast: Cast) -> None:
    ids = await given_three_connections(client, cast)

    assert await mine(client, cast, "customer_a_user") == sorted(
        [(ids["a_alpha"], "ACCEPTED"), (ids["a_beta"], "PENDING")])
    assert await mine(client, cast, "customer_a_user", "PENDING") == [(ids["a_beta"], "PENDING")]
    assert await mine(client, cast, "customer_b_user") == [(ids["b_alpha"], "DECLINED")]
    assert await mine(client, cast, "customer_b_user", "ACCEPTED") == []
    assert await mine(client, cast, "supplier_a_user") == sorted(
        [(ids["a_alpha"], "ACCEPTED"), (ids["b_alpha"], "DECLINED")])
    assert await mine(client, cast, "supplier_a_user", "DECLINED") == [
        (ids["b_alpha"], "DECLINED")]
    assert await mine(client, cast, "supplier_b_user") == [(ids["a_beta"], "PENDING")]
    # The program and audit firms are party to no connection: they have none of their own.
    for outsider in ("admin", "firm_a_user"):
        assert await mine(client, cast, outsider) == []


async def test_customer_reads_both_ends_of_its_connection(
        client: httpx.AsyncClient, cast: Cast) -> None:
    await given_three_connections(client, cast)
    body = await gql(client, MY_CONNECTIONS, cast.token("customer_a_user"), status="ACCEPTED")
    assert body["data"]["viewer"]["connections"][0]["factory"] == {"name": "alpha factory"}
    assert body["data"]["viewer"]["connections"][0]["customer"] == {"name": "customer_a org"}


async def test_owner_and_program_read_factory_connections_and_everyone_else_is_forbidden(
        client: httpx.AsyncClient, cast: Cast) -> None:
    ids = await given_three_connections(client, cast)
    alpha = cast.factory_gid("alpha")

    for who in ("supplier_a_user", "admin", "reviewer"):
        body = await gql(client, FACTORY_CONNECTIONS, cast.token(who), id=alpha)
        assert sorted((c["id"], c["status"]) for c in body["data"]["factory"]["connections"]) \
            == sorted([(ids["a_alpha"], "ACCEPTED"), (ids["b_alpha"], "DECLINED")])
        body = await gql(client, FACTORY_CONNECTIONS, cast.token(who), id=alpha,
                         status="ACCEPTED")
        assert body["data"]["factory"]["connections"] == [
            {"id": ids["a_alpha"], "status": "ACCEPTED"}]

    # Even the connected customer reads its connection through viewer, not the factory's list.
    for reader in ("customer_a_user", "customer_b_user", "supplier_b_user", "firm_a_user", None):
        body = await gql(client, FACTORY_CONNECTIONS, cast.token(reader) if reader else None,
                         id=alpha)
        assert body["data"]["factory"] == {"name": "alpha factory", "connections": None}
        assert errors_at(body)[("factory", "connections")]["extensions"] == {
            "code": "FORBIDDEN", "requiredScope": "OWNER"}


async def test_another_customer_never_sees_a_connection_by_any_path(
        client: httpx.AsyncClient, cast: Cast) -> None:
    ids = await given_three_connections(client, cast)
    theirs = ids["a_alpha"]

    body = await gql(client, NODE, cast.token("customer_b_user"), id=theirs)
    assert body == {"data": {"node": None}}
    body = await gql(client, VIEWER_ACCESS, cast.token("customer_b_user"),
                     id=cast.factory_gid("alpha"))
    assert body["data"]["factory"]["viewerAccess"] == {
        "isOwner": False, "scopes": [],
        "connection": {"id": ids["b_alpha"], "status": "DECLINED", "grantedScopes": []}}
    assert theirs not in [i for i, _ in await mine(client, cast, "customer_b_user")]
    for who in ("supplier_b_user", "firm_a_user", None):
        body = await gql(client, NODE, cast.token(who) if who else None, id=theirs)
        assert body == {"data": {"node": None}}


async def test_both_sides_and_the_program_resolve_the_connection_node(
        client: httpx.AsyncClient, cast: Cast) -> None:
    ids = await given_three_connections(client, cast)
    for who in ("customer_a_user", "supplier_a_user", "admin"):
        body = await gql(client, NODE, cast.token(who), id=ids["a_alpha"])
        assert body == {"data": {"node": {"__typename": "CustomerConnection",
                                          "id": ids["a_alpha"], "status": "ACCEPTED"}}}
    body = await gql(client, VIEWER_ACCESS, cast.token("customer_a_user"),
                     id=cast.factory_gid("alpha"))
    assert body["data"]["factory"]["viewerAccess"] == {
        "isOwner": False, "scopes": ["PROFILE"],
        "connection": {"id": ids["a_alpha"], "status": "ACCEPTED", "grantedScopes": ["PROFILE"]}}
    body = await gql(client, VIEWER_ACCESS, cast.token("supplier_a_user"),
                     id=cast.factory_gid("alpha"))
    assert body["data"]["factory"]["viewerAccess"]["isOwner"] is True
    assert body["data"]["factory"]["viewerAccess"]["connection"] is None


async def test_customer_cancels_its_pending_request_and_its_accepted_connection(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    pending = await requested(client, cast)
    live = await accepted(client, cast, factory="beta", owner="supplier_b_user")

    withdrawn = connection_of(await end(client, cast, "customer_a_user", pending))
    ended = connection_of(await end(client, cast, "customer_a_user", live))

    assert (withdrawn["status"], ended["status"]) == ("CANCELLED", "CANCELLED")
    assert ended["grantedScopes"] == []
    notices = [(topic, to, subject) for topic, to, subject in await outbox(database)
               if topic == "connection.cancelled"]
    assert notices == [
        ("connection.cancelled", "supplier_a_user@example.test",
         "customer_a org withdrew its connection request for alpha factory"),
        ("connection.cancelled", "supplier_b_user@example.test",
         "customer_a org ended its connection to beta factory"),
    ]
