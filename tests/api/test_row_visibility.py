"""Rows a viewer may not know exist are absent on every path: lists, factory(id:), node(id:)."""
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from db import CustomerConnection
from db.engine import Database
from db.enums import Announcement, ApplicationStatus, ConnectionStatus, ShareScope
from schema.ids import encode_id
from tests.api import world as w
from tests.helpers import Cast, errors_at, gql

PRESENCE = """
query($id: ID!) {
  factories(first: 100) { nodes { id } }
  factory(id: $id) { id }
  node(id: $id) { id }
}
"""
CONNECTIONS = """
query($alpha: ID!, $theirs: ID!) {
  viewer { connections { id customer { id } } }
  factory(id: $alpha) { viewerAccess { connection { id } } connections { id } }
  node(id: $theirs) { id }
}
"""
AUDITS = """
query($alpha: ID!, $theirs: ID!, $theirFinding: ID!, $theirApplication: ID!) {
  factory(id: $alpha) {
    audits { totalCount nodes { id } }
    latestAudit { id }
    correctiveActionPlans { audit { id } }
    applications { id }
  }
  audit: node(id: $theirs) { id }
  finding: node(id: $theirFinding) { id }
  application: node(id: $theirApplication) { id }
}
"""
EVERY_PATH = """
query($alpha: ID!) {
  factories(first: 100, filter: {connectedOnly: true}) {
    nodes { certificates { number } address latestAudit { id } correctiveActionPlans { id }
            environmentalAssessments { id } }
  }
  viewer { connections { factory { certificates { number } workerCount audits { totalCount } } } }
  factory(id: $alpha) { viewerAccess { scopes connection { factory { contactEmail } } } }
}
"""


async def _connect(database: Database, cast: Cast, customer: str, factory: str,
                   status: ConnectionStatus, scopes: list[ShareScope]) -> str:
    async with database.unit_of_work() as session:
        row = await w.connection(session, cast.organizations[customer], cast.factories[factory],
                                 status, scopes)
    return encode_id("CustomerConnection", row.id)


@pytest.mark.parametrize(("who", "sees_it"), [
    (None, False), ("customer_a_user", True), ("customer_b_user", False),
    ("supplier_a_user", True), ("supplier_b_user", False), ("firm_a_user", True),
    ("firm_b_user", False), ("reviewer", True), ("admin", True),
])
async def test_unlisted_factory_is_present_only_for_those_entitled_on_every_path(
        client: httpx.AsyncClient, cast: Cast, database: Database, who: str | None,
        sees_it: bool) -> None:
    # given: customer_a connected (ACCEPTED), customer_b only asking (PENDING), firm_a assigned
    await _connect(database, cast, "customer_a", "hidden", ConnectionStatus.ACCEPTED,
                   [ShareScope.CERTIFICATION])
    await _connect(database, cast, "customer_b", "hidden", ConnectionStatus.PENDING,
                   [ShareScope.PROFILE])
    async with database.unit_of_work() as session:
        await w.application(session, cast.factories["hidden"], cast.organizations["firm_a"])
    hidden = cast.factory_gid("hidden")
    # when
    body = await gql(client, PRESENCE, cast.token(who) if who else None, id=hidden)
    # then
    listed = hidden in [n["id"] for n in body["data"]["factories"]["nodes"]]
    assert (listed, body["data"]["factory"], body["data"]["node"]) == (
        (True, {"id": hidden}, {"id": hidden}) if sees_it else (False, None, None))


@pytest.mark.parametrize("ended", ["expired", "revoked"])
async def test_a_connection_that_ended_no_longer_shows_the_unlisted_factory(
        client: httpx.AsyncClient, cast: Cast, database: Database, ended: str) -> None:
    # given
    await _connect(database, cast, "customer_a", "hidden", ConnectionStatus.ACCEPTED,
                   [ShareScope.PROFILE])
    change = ({"expires_at": datetime.now(UTC) - timedelta(minutes=1)} if ended == "expired"
              else {"status": "REVOKED", "granted_scopes": []})
    async with database.unit_of_work() as session:
        await session.execute(update(CustomerConnection).values(**change))
    # when
    body = await gql(client, PRESENCE, cast.token("customer_a_user"),
                     id=cast.factory_gid("hidden"))
    # then
    assert body["data"]["factory"] is None and body["data"]["node"] is None


async def test_another_customers_connection_is_never_visible_to_a_customer(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given: both customers connected to alpha
    mine = await _connect(database, cast, "customer_a", "alpha", ConnectionStatus.ACCEPTED,
                          list(ShareScope))
    theirs = await _connect(database, cast, "customer_b", "alpha", ConnectionStatus.ACCEPTED,
                            list(ShareScope))
    # when
    body = await gql(client, CONNECTIONS, cast.token("customer_a_user"),
                     alpha=cast.factory_gid("alpha"), theirs=theirs)
    # then
    data = body["data"]
    assert data["viewer"]["connections"] == [{"id": mine,
                                              "customer": {"id": cast.org_gid("customer_a")}}]
    assert data["factory"]["viewerAccess"]["connection"] == {"id": mine}
    assert data["factory"]["connections"] is None
    assert errors_at(body)[("factory", "connections")]["extensions"] == {
        "code": "FORBIDDEN", "requiredScope": "OWNER"}
    assert data["node"] is None


async def test_the_owner_sees_every_connection_of_its_factory(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    ids = {await _connect(database, cast, c, "alpha", ConnectionStatus.PENDING,
                          [ShareScope.PROFILE]) for c in ("customer_a", "customer_b")}
    theirs = ids.copy().pop()
    body = await gql(client, CONNECTIONS, cast.token("supplier_a_user"),
                     alpha=cast.factory_gid("alpha"), theirs=theirs)
    assert {c["id"] for c in body["data"]["factory"]["connections"]} == ids
    assert body["data"]["node"] == {"id": theirs}


async def _audits_by_two_firms(database: Database, cast: Cast) -> dict[str, str]:
    """alpha: a rejected application audited by firm_b, an open one audited by firm_a."""
    org, alpha, found = cast.organizations, cast.factories["alpha"], {}
    async with database.unit_of_work() as session:
        for firm, status in (("firm_b", ApplicationStatus.REJECTED),
                             ("firm_a", ApplicationStatus.UNDER_REVIEW)):
            app = await w.application(session, alpha, org[firm], status)
            audit = await w.audit(session, app, org[firm], None, Announcement.ANNOUNCED, True)
            finding = await w.finding(session, audit, "MINOR", "1.1")
            doc = await w.document(session, org["supplier_a"], "e.pdf")
            await w.plan(session, audit, [finding], [doc])
            found.update({f"{firm}_audit": encode_id("Audit", audit.id),
                          f"{firm}_finding": encode_id("Finding", finding.id),
                          f"{firm}_application": encode_id("Application", app.id)})
    return found


@pytest.mark.parametrize(("firm", "other"), [("firm_a", "firm_b"), ("firm_b", "firm_a")])
async def test_an_audit_firm_sees_only_its_own_audits_and_another_firms_are_absent(
        client: httpx.AsyncClient, cast: Cast, database: Database, firm: str,
        other: str) -> None:
    # given
    ids = await _audits_by_two_firms(database, cast)
    # when
    body = await gql(client, AUDITS, cast.token(f"{firm}_user"), alpha=cast.factory_gid("alpha"),
                     theirs=ids[f"{other}_audit"], theirFinding=ids[f"{other}_finding"],
                     theirApplication=ids[f"{other}_application"])
    # then
    assert "errors" not in body, body["errors"]
    factory, own = body["data"]["factory"], {"id": ids[f"{firm}_audit"]}
    assert factory["audits"] == {"totalCount": 1, "nodes": [own]}
    assert factory["latestAudit"] == own
    assert factory["correctiveActionPlans"] == [{"audit": own}]
    assert factory["applications"] == [{"id": ids[f"{firm}_application"]}]
    assert (body["data"]["audit"], body["data"]["finding"], body["data"]["application"]) == (
        None, None, None)


async def test_customer_with_only_certification_is_refused_the_rest_on_every_path(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given
    await _connect(database, cast, "customer_a", "alpha", ConnectionStatus.ACCEPTED,
                   [ShareScope.CERTIFICATION])
    async with database.unit_of_work() as session:
        await w.certificate(session, cast.factories["alpha"], None)
    # when
    body = await gql(client, EVERY_PATH, cast.token("customer_a_user"),
                     alpha=cast.factory_gid("alpha"))
    # then: certificates everywhere, FORBIDDEN for everything else with the scope it needs
    data, errors = body["data"], errors_at(body)
    listed = data["factories"]["nodes"][0]
    assert len(listed["certificates"]) == 1
    assert data["viewer"]["connections"][0]["factory"]["certificates"] == listed["certificates"]
    assert data["factory"]["viewerAccess"]["scopes"] == ["CERTIFICATION"]
    denied = {
        ("factories", "nodes", 0, "address"): "PROFILE",
        ("factories", "nodes", 0, "latestAudit"): "AUDITS",
        ("factories", "nodes", 0, "correctiveActionPlans"): "CORRECTIVE_ACTIONS",
        ("factories", "nodes", 0, "environmentalAssessments"): "ENVIRONMENT",
        ("viewer", "connections", 0, "factory", "workerCount"): "PROFILE",
        ("viewer", "connections", 0, "factory", "audits"): "AUDITS",
        ("factory", "viewerAccess", "connection", "factory", "contactEmail"): "PROFILE",
    }
    assert {path: e["extensions"] for path, e in errors.items()} == {
        path: {"code": "FORBIDDEN", "requiredScope": scope} for path, scope in denied.items()}
    assert listed["address"] is None and listed["latestAudit"] is None
