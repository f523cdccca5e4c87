"""Connection tests' shared steps: the four mutations over HTTP, and snapshots of the tables a
refused move must leave alone."""
from typing import Any

import httpx
from sqlalchemy import select, text

from db import CustomerConnection, Notification
from db.engine import Database
from schema.ids import decode_as, encode_id
from tests.helpers import Cast, gql

PAYLOAD = """
  connection { id status requestedScopes grantedScopes message requestedAt respondedAt expiresAt
               factory { id name } customer { id name } }
  userErrors { field message code }
"""

REQUEST = f"""
mutation Request($factoryId: ID!, $scopes: [ShareScope!]!, $message: String) {{
  requestConnection(input: {{factoryId: $factoryId, scopes: $scopes, message: $message}}) {{
    {PAYLOAD}
  }}
}}
"""

RESPOND = f"""
mutation Respond($id: ID!, $accept: Boolean!, $scopes: [ShareScope!], $expiresAt: DateTime) {{
  respondToConnectionRequest(input: {{connectionId: $id, accept: $accept, scopes: $scopes,
                                      expiresAt: $expiresAt}}) {{
    {PAYLOAD}
  }}
}}
"""

UPDATE_SCOPES = f"""
mutation UpdateScopes($id: ID!, $scopes: [ShareScope!]!) {{
  updateConnectionScopes(input: {{connectionId: $id, scopes: $scopes}}) {{
    {PAYLOAD}
  }}
}}
"""

UPDATE_SCOPES_AND_END = f"""
mutation UpdateScopesAndEnd($id: ID!, $scopes: [ShareScope!]!, $expiresAt: DateTime) {{
  updateConnectionScopes(input: {{connectionId: $id, scopes: $scopes, expiresAt: $expiresAt}}) {{
    {PAYLOAD}
  }}
}}
"""

END = f"""
mutation End($id: ID!) {{
  endConnection(input: {{connectionId: $id}}) {{
    {PAYLOAD}
  }}
}}
"""


def result(body: dict[str, Any]) -> dict[str, Any]:
    """The payload of the response's one mutation."""
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    return payload


def connection_of(body: dict[str, Any]) -> dict[str, Any]:
    payload = result(body)
    assert payload["userErrors"] == [], payload
    return payload["connection"]


def error_codes(body: dict[str, Any]) -> list[str]:
    payload = result(body)
    assert payload["connection"] is None, payload
    return [e["code"] for e in payload["userErrors"]]


async def request(client: httpx.AsyncClient, cast: Cast, who: str, factory: str,
                  scopes: list[str], message: str | None = None) -> dict[str, Any]:
    return await gql(client, REQUEST, cast.token(who), factoryId=cast.factory_gid(factory),
                     scopes=scopes, message=message)


async def respond(client: httpx.AsyncClient, cast: Cast, who: str, connection_id: str,
                  accept: bool = True, scopes: list[str] | None = None,
                  expires_at: str | None = None) -> dict[str, Any]:
    return await gql(client, RESPOND, cast.token(who), id=connection_id, accept=accept,
                     scopes=scopes, expiresAt=expires_at)


async def update_scopes(client: httpx.AsyncClient, cast: Cast, who: str, connection_id: str,
                        scopes: list[str]) -> dict[str, Any]:
    return await gql(client, UPDATE_SCOPES, cast.token(who), id=connection_id, scopes=scopes)


async def end(client: httpx.AsyncClient, cast: Cast, who: str,
              connection_id: str) -> dict[str, Any]:
    return await gql(client, END, cast.token(who), id=connection_id)


async def requested(client: httpx.AsyncClient, cast: Cast, customer: str = "customer_a",
                    factory: str = "alpha", scopes: list[str] | None = None) -> str:
    """Given: a PENDING request; its global id."""
    body = await request(client, cast, f"{customer}_user", factory,
                         scopes or ["PROFILE", "CERTIFICATION", "ENVIRONMENT"])
    return connection_of(body)["id"]


async def accepted(client: httpx.AsyncClient, cast: Cast, customer: str = "customer_a",
                   factory: str = "alpha", scopes: list[str] | None = None,
                   owner: str = "supplier_a_user") -> str:
    """Given: an ACCEPTED connection (the requested scopes unless `scopes`); its global id."""
    connection_id = await requested(client, cast, customer, factory)
    connection_of(await respond(client, cast, owner, connection_id, scopes=scopes))
    return connection_id


def pk(connection_id: str) -> int:
    found = decode_as(connection_id, "CustomerConnection")
    assert found is not None
    return found


def gid(number: int) -> str:
    return encode_id("CustomerConnection", number)


async def expire_by_date(database: Database, connection_id: str) -> None:
    """Given: the connection's end has passed (as time would make it), with no job run."""
    async with database.unit_of_work() as session:
        await session.execute(text(
            "UPDATE customer_connections SET expires_at = now() - interval '1 minute' "
            "WHERE id = :id"), {"id": pk(connection_id)})


async def snapshot(database: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every connection row and every outbox row, to show a refused move changed nothing."""
    table = CustomerConnection.__table__
    async with database.read() as conn:
        connections = [tuple(row) for row in await conn.execute(
            select(table).order_by(table.c.id))]
        outbox = [tuple(row) for row in await conn.execute(
            select(Notification.__table__).order_by(Notification.id))]
    return connections, outbox


async def outbox(database: Database) -> list[tuple[str, str, str]]:
    """(topic, recipient, subject) of every notice, in the order they were written."""
    async with database.read() as conn:
        rows = await conn.execute(select(Notification.topic, Notification.recipient,
                                         Notification.subject).order_by(Notification.id))
        # a Row is the tuple its select names; tuple() of it is tuple[Any, ...] to mypy
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def connection_row(database: Database, connection_id: str) -> Any:
    async with database.read() as conn:
        return (await conn.execute(select(CustomerConnection.__table__).where(
            CustomerConnection.id == pk(connection_id)))).one()
