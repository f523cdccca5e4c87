"""Every refused connection move: its userError code (or top-level auth error), and no change to
the connections or the outbox after it."""
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from db.engine import Database
from schema.ids import encode_id
from tests.api.connection_steps import (
    REQUEST,
    RESPOND,
    UPDATE_SCOPES_AND_END,
    accepted,
    connection_of,
    connection_row,
    end,
    error_codes,
    expire_by_date,
    gid,
    request,
    requested,
    respond,
    result,
    snapshot,
    update_scopes,
)
from tests.helpers import Cast, gql

# Moments relative to when the test runs (never to when it was collected): the parameters of
# a test stay the same whenever it is collected, and a run across midnight still holds.
PAST, FUTURE = timedelta(days=-1), timedelta(days=30)


def moment(expires_at: timedelta | str | None) -> str | None:
    """An `expiresAt` value: a moment that far from now, or the value as it is."""
    if isinstance(expires_at, timedelta):
        return (datetime.now(UTC) + expires_at).isoformat()
    return expires_at


async def refused(database: Database, move: Awaitable[dict[str, Any]]) -> list[str]:
    """Run a move that must be refused; return its codes after checking nothing changed."""
    before = await snapshot(database)
    codes = error_codes(await move)
    assert await snapshot(database) == before
    return codes


async def denied(database: Database, move: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Run a move the viewer's role does not allow; return the top-level error's extensions."""
    before = await snapshot(database)
    body = await move
    assert body["data"] is None
    (error,) = body["errors"]
    assert await snapshot(database) == before
    return error["extensions"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------- requesting

async def test_customer_with_a_pending_request_gets_duplicate_connection(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await requested(client, cast)
    assert await refused(database, request(client, cast, "customer_a_user", "alpha",
                                           ["PROFILE"])) == ["DUPLICATE_CONNECTION"]


async def test_customer_with_an_accepted_connection_gets_duplicate_connection(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await accepted(client, cast)
    assert await refused(database, request(client, cast, "customer_a_user", "alpha",
                                           ["AUDITS"])) == ["DUPLICATE_CONNECTION"]


async def test_other_customer_may_request_the_same_factory(
        client: httpx.AsyncClient, cast: Cast) -> None:
    await accepted(client, cast)
    body = await request(client, cast, "customer_b_user", "alpha", ["AUDITS"])
    assert connection_of(body)["status"] == "PENDING"


@pytest.mark.parametrize(("scopes", "message", "field"), [
    ([], None, ["scopes"]),
    (["PROFILE"], "x" * 2001, ["message"]),
])
async def test_customer_request_with_invalid_input_gets_validation(
        client: httpx.AsyncClient, cast: Cast, database: Database, scopes: list[str],
        message: str | None, field: list[str]) -> None:
    before = await snapshot(database)
    payload = result(await request(client, cast, "customer_a_user", "alpha", scopes, message))
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("VALIDATION", field)]
    assert await snapshot(database) == before


@pytest.mark.parametrize("factory_id", [
    encode_id("Factory", 999999), encode_id("Certificate", 1), "not-an-id"])
async def test_customer_requesting_an_unknown_factory_gets_not_found(
        client: httpx.AsyncClient, cast: Cast, database: Database, factory_id: str) -> None:
    before = await snapshot(database)
    body = await gql(client, REQUEST, cast.token("customer_a_user"), factoryId=factory_id,
                     scopes=["PROFILE"])
    assert error_codes(body) == ["NOT_FOUND"]
    assert await snapshot(database) == before


async def test_customer_requesting_an_unlisted_factory_it_cannot_see_gets_not_found(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    assert await refused(database, request(client, cast, "customer_a_user", "hidden",
                                           ["PROFILE"])) == ["NOT_FOUND"]


async def test_customer_requesting_an_unlisted_factory_it_is_connected_to_gets_unlisted_factory(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await accepted(client, cast)
    async with database.unit_of_work() as session:  # given: the owner then unlisted it
        await session.execute(text("UPDATE factories SET listed = false WHERE id = :id"),
                              {"id": cast.factories["alpha"]})
    assert await refused(database, request(client, cast, "customer_a_user", "alpha",
                                           ["PROFILE"])) == ["UNLISTED_FACTORY"]


@pytest.mark.parametrize("ending", ["declined", "revoked", "cancelled", "expired"])
async def test_customer_may_request_again_after_a_connection_ended(
        client: httpx.AsyncClient, cast: Cast, database: Database, ending: str) -> None:
    first = await requested(client, cast)
    if ending == "declined":
        connection_of(await respond(client, cast, "supplier_a_user", first, accept=False))
    else:
        connection_of(await respond(client, cast, "supplier_a_user", first))
    if ending == "revoked":
        connection_of(await end(client, cast, "supplier_a_user", first))
    elif ending == "cancelled":
        connection_of(await end(client, cast, "customer_a_user", first))
    elif ending == "expired":
        await expire_by_date(database, first)

    again = connection_of(await request(client, cast, "customer_a_user", "alpha", ["AUDITS"]))

    assert again["status"] == "PENDING" and again["id"] != first
    old = await connection_row(database, first)
    assert old.status == ending.upper() and old.granted_scopes == []
    if ending == "expired":  # written down by the new request, as of its end date
        assert old.ended_at == old.expires_at


# ---------------------------------------------------------------- responding, changing, ending

async def test_owner_accepting_an_accepted_request_gets_invalid_state(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    connection_id = await accepted(client, cast)
    assert await refused(database, respond(client, cast, "supplier_a_user",
                                           connection_id)) == ["INVALID_STATE"]


@pytest.mark.parametrize("ending", ["declined", "revoked", "cancelled_pending", "expired"])
async def test_ended_connection_cannot_be_revived_by_any_move(
        client: httpx.AsyncClient, cast: Cast, database: Database, ending: str) -> None:
    connection_id = await requested(client, cast)
    if ending == "declined":
        connection_of(await respond(client, cast, "supplier_a_user", connection_id, False))
    elif ending == "cancelled_pending":
        connection_of(await end(client, cast, "customer_a_user", connection_id))
    else:
        connection_of(await respond(client, cast, "supplier_a_user", connection_id))
        if ending == "revoked":
            connection_of(await end(client, cast, "supplier_a_user", connection_id))
        else:
            await expire_by_date(database, connection_id)

    for move in (respond(client, cast, "supplier_a_user", connection_id),
                 respond(client, cast, "supplier_a_user", connection_id, accept=False),
                 update_scopes(client, cast, "supplier_a_user", connection_id, ["PROFILE"]),
                 end(client, cast, "supplier_a_user", connection_id),
                 end(client, cast, "customer_a_user", connection_id)):
        assert await refused(database, move) == ["INVALID_STATE"]


async def test_owner_changing_scopes_of_a_pending_request_gets_invalid_state(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    connection_id = await requested(client, cast)
    assert await refused(database, update_scopes(client, cast, "supplier_a_user", connection_id,
                                                 ["PROFILE"])) == ["INVALID_STATE"]


async def test_owner_ending_a_pending_request_gets_invalid_state_and_declines_instead(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    connection_id = await requested(client, cast)
    assert await refused(database, end(client, cast, "supplier_a_user",
                                       connection_id)) == ["INVALID_STATE"]


@pytest.mark.parametrize(("accept", "scopes", "expires_at", "field"), [
    (True, [], None, ["scopes"]),
    (True, ["PROFILE"], PAST, ["expiresAt"]),
    (True, None, "2030-01-01T00:00:00", ["expiresAt"]),  # no UTC offset
    (False, ["PROFILE"], None, ["scopes"]),
    (False, None, FUTURE, ["expiresAt"]),
])
async def test_owner_responding_with_invalid_input_gets_validation(
        client: httpx.AsyncClient, cast: Cast, database: Database, accept: bool,
        scopes: list[str] | None, expires_at: timedelta | str | None, field: list[str]) -> None:
    connection_id = await requested(client, cast)
    before = await snapshot(database)
    payload = result(await respond(client, cast, "supplier_a_user", connection_id, accept,
                                   scopes, moment(expires_at)))
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("VALIDATION", field)]
    assert await snapshot(database) == before


@pytest.mark.parametrize(("scopes", "expires_at", "field"), [
    ([], None, ["scopes"]), (["PROFILE"], PAST, ["expiresAt"])])
async def test_owner_changing_scopes_with_invalid_input_gets_validation(
        client: httpx.AsyncClient, cast: Cast, database: Database, scopes: list[str],
        expires_at: timedelta | None, field: list[str]) -> None:
    connection_id = await accepted(client, cast)
    before = await snapshot(database)
    payload = result(await gql(client, UPDATE_SCOPES_AND_END, cast.token("supplier_a_user"),
                               id=connection_id, scopes=scopes, expiresAt=moment(expires_at)))
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("VALIDATION", field)]
    assert await snapshot(database) == before


async def test_other_supplier_and_other_customer_get_not_found_for_a_connection(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    pending = await requested(client, cast)
    live = await accepted(client, cast, factory="beta", owner="supplier_b_user")

    assert await refused(database, respond(client, cast, "supplier_b_user",
                                           pending)) == ["NOT_FOUND"]
    assert await refused(database, update_scopes(client, cast, "supplier_a_user", live,
                                                 ["PROFILE"])) == ["NOT_FOUND"]
    assert await refused(database, end(client, cast, "supplier_a_user", live)) == ["NOT_FOUND"]
    assert await refused(database, end(client, cast, "customer_b_user",
                                       pending)) == ["NOT_FOUND"]
    for unknown in (gid(999999), cast.factory_gid("alpha"), "garbage"):
        assert await refused(database, end(client, cast, "customer_a_user",
                                           unknown)) == ["NOT_FOUND"]


# ---------------------------------------------------------------- roles (top-level errors)

async def test_roles_outside_each_mutation_are_refused_before_anything_is_read(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    connection_id = await requested(client, cast)
    respond_vars = {"id": connection_id, "accept": True}

    assert await denied(database, gql(client, RESPOND, cast.token("customer_a_user"),
                                      **respond_vars)) == {
        "code": "FORBIDDEN", "requiredScope": "SUPPLIER"}
    assert await denied(database, gql(client, RESPOND, None, **respond_vars)) == {
        "code": "UNAUTHENTICATED", "requiredScope": "SIGNED_IN"}
    assert await denied(database, request(client, cast, "supplier_a_user", "beta",
                                          ["PROFILE"])) == {
        "code": "FORBIDDEN", "requiredScope": "CUSTOMER"}
    assert await denied(database, request(client, cast, "firm_a_user", "alpha",
                                          ["PROFILE"])) == {
        "code": "FORBIDDEN", "requiredScope": "CUSTOMER"}
    # The program sees every connection but is party to none: it may not end one.
    for staff in ("admin", "reviewer"):
        assert await denied(database, end(client, cast, staff, connection_id)) == {
            "code": "FORBIDDEN", "requiredScope": "CUSTOMER|SUPPLIER"}
        assert await denied(database, update_scopes(client, cast, staff, connection_id,
                                                    ["PROFILE"])) == {
            "code": "FORBIDDEN", "requiredScope": "SUPPLIER"}
