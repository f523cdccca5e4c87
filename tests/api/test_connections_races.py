"""Racing moves on one connection, fired at once over HTTP: the row lock lets exactly one win,
the other gets a clean userError, and the row, its version and its notices stay consistent."""
import asyncio

import httpx

from db.engine import Database
from tests.api.connection_steps import (
    accepted,
    connection_of,
    connection_row,
    end,
    outbox,
    request,
    requested,
    respond,
    result,
    update_scopes,
)
from tests.helpers import Cast

ROUNDS = 5  # each round is one race; several make an interleaving likely


async def test_two_simultaneous_responses_end_with_one_winner(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    for _ in range(ROUNDS):
        connection_id = await requested(client, cast)

        bodies = await asyncio.gather(
            respond(client, cast, "supplier_a_user", connection_id, scopes=["PROFILE"]),
            respond(client, cast, "supplier_a_user", connection_id, accept=False))

        payloads = [result(body) for body in bodies]
        winners = [p["connection"] for p in payloads if p["connection"] is not None]
        losers = [p["userErrors"] for p in payloads if p["connection"] is None]
        assert len(winners) == 1
        assert [[e["code"] for e in errors] for errors in losers] == [["INVALID_STATE"]]
        row = await connection_row(database, connection_id)
        assert row.status == winners[0]["status"]
        assert row.granted_scopes == (["PROFILE"] if row.status == "ACCEPTED" else [])
        assert row.version == 2  # requested, then exactly one response
        if row.status == "ACCEPTED":
            connection_of(await end(client, cast, "customer_a_user", connection_id))

    responses = [t for t, _, _ in await outbox(database)
                 if t in ("connection.accepted", "connection.declined")]
    assert len(responses) == ROUNDS


async def test_scope_change_racing_a_revoke_never_outlives_the_revoke(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    for _ in range(ROUNDS):
        connection_id = await accepted(client, cast, scopes=["PROFILE", "AUDITS"])

        change, revoke = await asyncio.gather(
            update_scopes(client, cast, "supplier_a_user", connection_id, ["ENVIRONMENT"]),
            end(client, cast, "supplier_a_user", connection_id))

        # The revoke always wins; the scope change either came first or finds it REVOKED.
        assert connection_of(revoke)["status"] == "REVOKED"
        changed = result(change)
        assert changed["connection"] is not None or [
            e["code"] for e in changed["userErrors"]] == ["INVALID_STATE"]
        row = await connection_row(database, connection_id)
        assert (row.status, row.granted_scopes) == ("REVOKED", [])
        assert row.version == 3 + (changed["connection"] is not None)

    topics = [t for t, _, _ in await outbox(database)]
    assert topics.count("connection.revoked") == ROUNDS
    applied = topics.count("connection.scopes_changed")
    assert 0 <= applied <= ROUNDS


async def test_two_simultaneous_requests_create_one_connection(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    for _ in range(ROUNDS):
        bodies = await asyncio.gather(
            *(request(client, cast, "customer_a_user", "alpha", ["PROFILE"]) for _ in range(2)))

        payloads = [result(body) for body in bodies]
        made = [p["connection"] for p in payloads if p["connection"] is not None]
        assert len(made) == 1
        assert [[e["code"] for e in p["userErrors"]] for p in payloads
                if p["connection"] is None] == [["DUPLICATE_CONNECTION"]]
        connection_of(await end(client, cast, "customer_a_user", made[0]["id"]))

    assert [t for t, _, _ in await outbox(database)].count("connection.requested") == ROUNDS
