"""The access log: each customer read of scoped data, one row per (factory, scope) and request,
written in one INSERT; seen by the factory's owner and the program, not by the customer."""
import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from db import AccessLogEntry
from db.engine import Database
from db.enums import ConnectionStatus, ShareScope
from tests.api import world as w
from tests.helpers import Cast, errors_at, gql, statements

DASHBOARD = """
{
  factories(first: 10, filter: {connectedOnly: true}) {
    nodes {
      name country certificationStatus
      address workerCount
      again: address
      certificates { number }
      audits { totalCount }
    }
  }
}
"""
DIRECTORY_AND_DENIED = "{ factories { nodes { name country city address latestAudit { id } } } }"
ACCESS_LOG = """
query($id: ID!) {
  factory(id: $id) {
    accessLog(first: 50) { totalCount nodes { scope organization { name } viewedAt } }
  }
}
"""
SCOPES = [ShareScope.PROFILE, ShareScope.CERTIFICATION, ShareScope.AUDITS]


async def given_customer_a_connected_to_alpha_and_beta(database: Database, cast: Cast) -> None:
    async with database.unit_of_work() as session:
        for factory in ("alpha", "beta"):
            await w.connection(session, cast.organizations["customer_a"],
                               cast.factories[factory], ConnectionStatus.ACCEPTED, SCOPES)


async def logged(database: Database) -> list[tuple[int, int, str]]:
    async with database.read() as conn:
        rows = await conn.execute(select(AccessLogEntry.factory_id,
                                         AccessLogEntry.organization_id, AccessLogEntry.scope))
        # a Row is the tuple its select names; tuple() of it is tuple[Any, ...] to mypy
        return sorted(tuple(row) for row in rows)  # type: ignore[misc]


def inserts(seen: list[str]) -> list[str]:
    """Statements writing the access log: an INSERT, or a compiled read whose data-modifying
    CTE inserts (resolvers.compiled)."""
    return [s for s in seen if "INSERT INTO ACCESS_LOG" in s.upper()]


async def test_a_customer_read_records_one_row_per_factory_and_scope_in_one_insert(
        app: Starlette, client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given
    await given_customer_a_connected_to_alpha_and_beta(database, cast)
    # when
    with statements(app) as seen:
        body = await gql(client, DASHBOARD, cast.token("customer_a_user"))
    # then
    assert "errors" not in body and len(body["data"]["factories"]["nodes"]) == 2
    [insert] = inserts(seen)
    assert "executemany" not in insert
    customer = cast.organizations["customer_a"]
    assert await logged(database) == sorted(
        (cast.factories[f], customer, scope.value) for f in ("alpha", "beta") for scope in SCOPES)


async def test_each_request_records_its_own_rows(client: httpx.AsyncClient, cast: Cast,
                                                 database: Database) -> None:
    await given_customer_a_connected_to_alpha_and_beta(database, cast)
    for _ in range(2):
        await gql(client, DASHBOARD, cast.token("customer_a_user"))
    assert len(await logged(database)) == 2 * 2 * len(SCOPES)


async def test_directory_fields_denied_fields_and_non_customers_record_nothing(
        app: Starlette, client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given: customer_b is not connected; the owner and the program are not customers
    await given_customer_a_connected_to_alpha_and_beta(database, cast)
    # when
    with statements(app) as seen:
        body = await gql(client, DIRECTORY_AND_DENIED, cast.token("customer_b_user"))
        for who in ("supplier_a_user", "reviewer", "firm_a_user"):
            await gql(client, DASHBOARD.replace("connectedOnly: true", ""), cast.token(who))
    # then
    assert errors_at(body)[("factories", "nodes", 0, "address")]["extensions"]["code"] == (
        "FORBIDDEN")
    # No INSERT of its own (a compiled read's logging CTE may run and write no row).
    own = [s for s in inserts(seen) if s.lstrip().upper().startswith("INSERT")]
    assert own == [] and await logged(database) == []


async def test_owner_and_program_see_the_access_log_the_customer_and_others_do_not(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given: customer_a read alpha's PROFILE, CERTIFICATION and AUDITS
    await given_customer_a_connected_to_alpha_and_beta(database, cast)
    await gql(client, DASHBOARD, cast.token("customer_a_user"))
    alpha = cast.factory_gid("alpha")
    # then: the owner and the program see who read what
    for who in ("supplier_a_user", "reviewer", "admin"):
        log = (await gql(client, ACCESS_LOG, cast.token(who), id=alpha))["data"]["factory"]
        assert log["accessLog"]["totalCount"] == len(SCOPES)
        assert sorted((n["scope"], n["organization"]["name"]) for n in log["accessLog"]["nodes"]
                      ) == sorted((s.value, "customer_a org") for s in SCOPES)
    # and: the customer itself, another supplier and an audit firm are refused
    for who in ("customer_a_user", "supplier_b_user", "firm_a_user"):
        body = await gql(client, ACCESS_LOG, cast.token(who), id=alpha)
        assert body["data"]["factory"] == {"accessLog": None}
        assert errors_at(body)[("factory", "accessLog")]["extensions"] == {
            "code": "FORBIDDEN", "requiredScope": "OWNER"}
