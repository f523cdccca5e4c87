"""Suppliers create their factories and change them; nobody else changes them."""
import httpx
import pytest
from sqlalchemy import select

from db import Factory
from db.engine import Database
from schema.ids import encode_id
from tests.helpers import Cast, gql

FIELDS = "name country city address productCategories workerCount contactEmail listed " \
         "viewerAccess { isOwner }"
CREATE = """
mutation($input: CreateFactoryInput!) {
  createFactory(input: $input) { factory { id %s } userErrors { field message code } }
}
""" % FIELDS
UPDATE = """
mutation($input: UpdateFactoryInput!) {
  updateFactory(input: $input) { factory { id %s } userErrors { field message code } }
}
""" % FIELDS
NEW = {"name": "Chittagong Knit", "country": "BD", "city": "Chittagong",
       "address": "Plot 7, EPZ", "productCategories": ["knitwear", " t-shirts ", "knitwear"],
       "workerCount": 420, "contactEmail": "Compliance@CKnit.test"}


async def stored(database: Database, factory_id: int) -> dict:
    async with database.read() as conn:
        row = (await conn.execute(select(Factory).where(Factory.id == factory_id))).one()
    return {key: getattr(row, key) for key in ("name", "city", "address", "worker_count",
                                                 "contact_email", "listed", "country")}


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_supplier_creates_a_factory_it_owns(client: httpx.AsyncClient, cast: Cast) -> None:
    # when
    body = await gql(client, CREATE, cast.token("supplier_b_user"), input=NEW)
    # then
    payload = body["data"]["createFactory"]
    assert payload["userErrors"] == []
    assert payload["factory"] | {"id": "-"} == {
        "id": "-", "name": "Chittagong Knit", "country": "BD", "city": "Chittagong",
        "address": "Plot 7, EPZ", "productCategories": ["knitwear", "t-shirts"],
        "workerCount": 420, "contactEmail": "compliance@cknit.test", "listed": True,
        "viewerAccess": {"isOwner": True}}
    mine = await gql(client, "{ viewer { factories { nodes { name } } } }",
                     cast.token("supplier_b_user"))
    assert {"name": "Chittagong Knit"} in mine["data"]["viewer"]["factories"]["nodes"]


async def test_a_lower_case_country_code_is_stored_upper_case(client: httpx.AsyncClient,
                                                              cast: Cast) -> None:
    body = await gql(client, CREATE, cast.token("supplier_a_user"),
                     input={"name": "Hanoi Sew", "country": "vn", "listed": False})
    assert body["data"]["createFactory"]["factory"]["country"] == "VN"
    assert body["data"]["createFactory"]["factory"]["listed"] is False


@pytest.mark.parametrize(("changes", "field"), [
    ({"country": "XX"}, "country"), ({"country": "BGD"}, "country"), ({"country": ""}, "country"),
    ({"workerCount": -1}, "workerCount"), ({"contactEmail": "not an email"}, "contactEmail"),
    ({"name": "   "}, "name"), ({"productCategories": ["ok", " "]}, "productCategories"),
])
async def test_create_factory_refuses_invalid_input_and_creates_nothing(
        client: httpx.AsyncClient, cast: Cast, database: Database, changes: dict,
        field: str) -> None:
    body = await gql(client, CREATE, cast.token("supplier_a_user"), input={**NEW, **changes})
    payload = body["data"]["createFactory"]
    assert payload["factory"] is None and codes(payload) == [("VALIDATION", [field])]
    async with database.read() as conn:
        assert (await conn.execute(select(Factory.id).where(Factory.name == NEW["name"]))
                ).first() is None


@pytest.mark.parametrize(("who", "code"), [(None, "UNAUTHENTICATED"),
                                           ("customer_a_user", "FORBIDDEN"),
                                           ("firm_a_user", "FORBIDDEN"), ("admin", "FORBIDDEN")])
async def test_only_a_supplier_creates_or_updates_factories(
        client: httpx.AsyncClient, cast: Cast, who: str | None, code: str) -> None:
    token = cast.token(who) if who else None
    created = await gql(client, CREATE, token, input=NEW)
    updated = await gql(client, UPDATE, token,
                        input={"factoryId": cast.factory_gid("alpha"), "name": "Mine now"})
    for body in (created, updated):
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code


async def test_owner_updates_only_the_fields_it_sends_and_null_clears(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given
    alpha = cast.factories["alpha"]
    before = await stored(database, alpha)
    # when
    body = await gql(client, UPDATE, cast.token("supplier_a_user"), input={
        "factoryId": cast.factory_gid("alpha"), "workerCount": 150, "address": None,
        "listed": False})
    # then
    assert body["data"]["updateFactory"]["userErrors"] == []
    assert await stored(database, alpha) == {**before, "worker_count": 150, "address": None,
                                             "listed": False}


async def test_another_supplier_gets_forbidden_on_a_factory_it_can_see_and_nothing_changes(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given: alpha is listed, so supplier_b knows it exists
    before = await stored(database, cast.factories["alpha"])
    # when
    body = await gql(client, UPDATE, cast.token("supplier_b_user"),
                     input={"factoryId": cast.factory_gid("alpha"), "name": "Taken over"})
    # then
    payload = body["data"]["updateFactory"]
    assert payload["factory"] is None and codes(payload) == [("FORBIDDEN", ["factoryId"])]
    assert await stored(database, cast.factories["alpha"]) == before


@pytest.mark.parametrize("target", ["hidden", "nonexistent", "certificate-id", "garbage"])
async def test_a_factory_the_supplier_cannot_see_is_not_found(
        client: httpx.AsyncClient, cast: Cast, database: Database, target: str) -> None:
    # given: hidden is supplier_a's unlisted factory; the others are not factories at all
    ids = {"hidden": cast.factory_gid("hidden"), "nonexistent": encode_id("Factory", 9999),
           "certificate-id": encode_id("Certificate", cast.factories["beta"]),
           "garbage": "%%%"}
    before = await stored(database, cast.factories["hidden"])
    # when
    body = await gql(client, UPDATE, cast.token("supplier_b_user"),
                     input={"factoryId": ids[target], "name": "Found you"})
    # then
    assert codes(body["data"]["updateFactory"]) == [("NOT_FOUND", ["factoryId"])]
    assert await stored(database, cast.factories["hidden"]) == before


async def test_update_with_invalid_input_changes_nothing(client: httpx.AsyncClient, cast: Cast,
                                                         database: Database) -> None:
    before = await stored(database, cast.factories["alpha"])
    body = await gql(client, UPDATE, cast.token("supplier_a_user"), input={
        "factoryId": cast.factory_gid("alpha"), "name": "Renamed", "workerCount": -5})
    assert codes(body["data"]["updateFactory"]) == [("VALIDATION", ["workerCount"])]
    assert await stored(database, cast.factories["alpha"]) == before
