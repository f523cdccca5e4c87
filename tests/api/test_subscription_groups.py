"""Answer once, write many: subscribers share an event's answer only where it cannot differ.

Across organizations an answer is shared only when the selection reads nothing that tells them
apart (schema.grouping); customers with other scopes, another connection state or, where the
selection reads the organization, another organization never get another's answer, and every
subscriber's reads are in the access log under its own organization."""
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from auth.access import FactoryAccess
from auth.viewer import Viewer
from db.engine import Database
from db.enums import OrganizationKind, Role, ShareScope
from db.settings import Settings
from schema import build_schema
from schema.grouping import profile_for
from tests.api.connection_steps import accepted, end, requested
from tests.api.test_metrics_served import samples
from tests.api.test_subscriptions import logged_reads
from tests.api.workflow import SET_CERTIFICATE_STATUS, Journey, ok, run
from tests.helpers import Cast, add_organization, add_person
from tests.served import Served, graphql_socket, served

SHAREABLE = """subscription { certificationStatusChanged { status factory { name address } } }"""
PER_ORGANIZATION = """subscription { certificationStatusChanged { status factory {
    name viewerAccess { scopes connection { id } } } } }"""


@pytest.fixture(scope="module")
async def live(database_url: str, settings: Settings) -> AsyncIterator[Served]:
    async with served(database_url, settings) as app:
        yield app


@pytest.fixture
async def http(live: Served, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.http, timeout=30) as client:
        yield client


async def add_customer(database: Database, cast: Cast, key: str) -> None:
    await add_organization(database, cast, key, OrganizationKind.CUSTOMER)
    await add_person(database, cast, f"{key}_user", key, Role.CUSTOMER)


async def delivered(http: httpx.AsyncClient) -> float:
    scraped = samples((await http.get("/metrics")).text)
    return scraped.get(("escp_events_delivered_total", frozenset({("topic", "certification")})),
                       0.0)


async def test_answers_are_shared_only_where_they_cannot_differ_and_every_read_is_logged(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    await add_person(database, cast, "customer_a_second", "customer_a", Role.CUSTOMER)
    for key in ("customer_c", "customer_d"):
        await add_customer(database, cast, key)
    connections = {
        "customer_a": await accepted(http, cast, "customer_a", scopes=["CERTIFICATION", "PROFILE"]),
        "customer_b": await accepted(http, cast, "customer_b", scopes=["CERTIFICATION"]),
        "customer_c": await accepted(http, cast, "customer_c", scopes=["CERTIFICATION", "PROFILE"]),
    }
    await requested(http, cast, "customer_d", scopes=["CERTIFICATION", "PROFILE"])  # pending
    users = {"customer_a_user": "customer_a", "customer_a_second": "customer_a",
             "customer_b_user": "customer_b", "customer_c_user": "customer_c"}
    started = datetime.now(UTC)
    delivered_before = await delivered(http)
    async with (graphql_socket(live, cast.token("customer_a_user")) as a1,
                graphql_socket(live, cast.token("customer_a_second")) as a2,
                graphql_socket(live, cast.token("customer_b_user")) as b,
                graphql_socket(live, cast.token("customer_c_user")) as c,
                graphql_socket(live, cast.token("customer_d_user")) as pending):
        sockets = dict(zip(users, (a1, a2, b, c), strict=True))
        for sock in (*sockets.values(), pending):
            assert await sock.subscribe(SHAREABLE) == "1"
            assert await sock.subscribe(PER_ORGANIZATION) == "2"
        await Journey(http, database, cast).submit()
        answers = {}
        for user, sock in sockets.items():
            messages = [await sock.receive() for _ in range(2)]
            answers[user] = {m["id"]: m["payload"] for m in messages}
        await pending.silent(0.5)
    # Each frame a socket was written counts as delivered, shared or not (4 sockets x 2).
    assert await delivered(http) - delivered_before == 8

    with_profile = {"data": {"certificationStatusChanged": {
        "status": "IN_PROGRESS", "factory": {"name": "alpha factory",
                                             "address": "alpha street 1"}}}}
    for user in ("customer_a_user", "customer_a_second", "customer_c_user"):
        assert answers[user]["1"] == with_profile
    shareless = answers["customer_b_user"]["1"]
    assert shareless["data"]["certificationStatusChanged"]["factory"] == {
        "name": "alpha factory", "address": None}
    assert [e["extensions"]["requiredScope"] for e in shareless["errors"]] == ["PROFILE"]
    for user, organization in users.items():
        access = answers[user]["2"]["data"]["certificationStatusChanged"]["factory"][
            "viewerAccess"]
        assert access["connection"] == {"id": connections[organization]}
        expected = ["CERTIFICATION"] if organization == "customer_b" else [
            "PROFILE", "CERTIFICATION"]
        assert access["scopes"] == expected
    # Each subscriber is on record with what it was shown (address: PROFILE), under its own
    # organization, whichever group answered it.
    await logged_reads(database, cast.organizations["customer_a"], started, [
        "PROFILE", "PROFILE"])
    await logged_reads(database, cast.organizations["customer_c"], started, ["PROFILE"])
    await logged_reads(database, cast.organizations["customer_b"], started, [])
    await logged_reads(database, cast.organizations["customer_d"], started, [])


def delivery(organization: int, scopes: set[ShareScope], connection: int | None,
             kind: str = "CUSTOMER", role: str = "CUSTOMER") -> SimpleNamespace:
    viewer = Viewer(user_id=organization * 10, organization_id=organization,
                    organization_kind=OrganizationKind(kind), role=Role(role))
    access = FactoryAccess(factory_id=1, visible=True, is_owner=kind == "SUPPLIER",
                           is_program=kind == "PROGRAM", is_auditing_firm=False,
                           scopes=frozenset(scopes), connection_id=connection)
    return SimpleNamespace(viewer=viewer, access=access)


def grouping_of(query: str):
    schema = build_schema()._schema
    document = parse(query)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    fragments = {d.name.value: d for d in document.definitions[1:]
                 if isinstance(d, FragmentDefinitionNode)}
    return profile_for(schema, operation, fragments)


def test_the_grouping_follows_what_the_selection_reads() -> None:
    both = {ShareScope.CERTIFICATION, ShareScope.PROFILE}
    a, a_again = delivery(1, both, 11), delivery(1, both, 11)
    other_org_same_scopes = delivery(2, both, 12)
    fewer_scopes = delivery(3, {ShareScope.CERTIFICATION}, 13)
    owner = delivery(4, set(ShareScope), None, kind="SUPPLIER", role="SUPPLIER")

    shareable = grouping_of(SHAREABLE)
    assert shareable(a) == shareable(a_again) == shareable(other_org_same_scopes)
    assert len({shareable(a), shareable(fewer_scopes), shareable(owner)}) == 3

    per_organization = grouping_of(PER_ORGANIZATION)  # viewerAccess reads the organization
    assert per_organization(a) == per_organization(a_again)
    assert len({per_organization(d) for d in (a, other_org_same_scopes, fewer_scopes,
                                              owner)}) == 4
    for query in ("subscription { certificationStatusChanged { status @include(if: true) } }",
                  "subscription { certificationStatusChanged"
                  " { factory { certificates { id } } } }"):
        assert grouping_of(query)(a) != grouping_of(query)(other_org_same_scopes)


async def test_every_event_is_answered_by_what_each_may_see_and_logged_for_each_subscriber(
        live: Served, http: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    """Several events in a row, each answered once per group: every delivery of every event is
    in the access log (not only the last one's), and a customer whose connection is pending or
    ended hears none of them."""
    await add_person(database, cast, "customer_a_second", "customer_a", Role.CUSTOMER)
    for key in ("customer_c", "customer_d", "customer_e"):
        await add_customer(database, cast, key)
    for key, scopes in (("customer_a", ["CERTIFICATION", "PROFILE"]),
                        ("customer_b", ["CERTIFICATION"]),
                        ("customer_c", ["CERTIFICATION", "PROFILE"])):
        await accepted(http, cast, key, scopes=scopes)
    await requested(http, cast, "customer_d", scopes=["CERTIFICATION", "PROFILE"])
    ended = await accepted(http, cast, "customer_e", scopes=["CERTIFICATION", "PROFILE"])
    assert "errors" not in await end(http, cast, "customer_e_user", ended)
    hearing = {"customer_a_user": "customer_a", "customer_a_second": "customer_a",
               "customer_b_user": "customer_b", "customer_c_user": "customer_c"}
    started = datetime.now(UTC)
    async with contextlib.AsyncExitStack() as stack:
        sockets = {user: await stack.enter_async_context(graphql_socket(live, cast.token(user)))
                   for user in (*hearing, "customer_d_user", "customer_e_user")}
        for sock in sockets.values():
            assert await sock.subscribe(SHAREABLE) == "1"
        journey = Journey(http, database, cast)
        await journey.to_certified()  # NOT_CERTIFIED → IN_PROGRESS → CERTIFIED
        ok(await run(http, SET_CERTIFICATE_STATUS, cast.token("admin"),
                     certificateId=journey.ids["certificate"], status="SUSPENDED",
                     reason="Monitoring visit."))
        received = {user: [await sockets[user].next() for _ in range(3)] for user in hearing}
        for user in ("customer_d_user", "customer_e_user"):
            await sockets[user].silent(0.5)

    statuses = ["IN_PROGRESS", "CERTIFIED", "SUSPENDED"]
    for user, payloads in received.items():
        assert [p["data"]["certificationStatusChanged"]["status"] for p in payloads] == statuses
        address = None if hearing[user] == "customer_b" else "alpha street 1"
        assert {p["data"]["certificationStatusChanged"]["factory"]["address"]
                for p in payloads} == {address}
    expected = {"customer_a": ["PROFILE"] * 6, "customer_c": ["PROFILE"] * 3,
                "customer_b": [], "customer_d": [], "customer_e": []}
    for key, reads in expected.items():
        await logged_reads(database, cast.organizations[key], started, reads)
