"""GET /metrics (Prometheus's text format) after some traffic, scraped as Prometheus would.

The app's metrics live in the test process for the whole session: every check compares a
scrape after the traffic with one before it."""
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from db.engine import Database, make_engine
from db.outbox import Notification
from infra.metrics import exposition
from tests.api.connection_steps import REQUEST
from tests.api.test_accounts import LOGIN
from tests.helpers import PASSWORD, Cast, WatchedHasher, gql

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

DIRECTORY = "query Directory { factories(first: 5) { nodes { id name } } }"
UNSUPPORTED = "query Mine { factories(first: 1) @include(if: true) { totalCount } }"


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over the samples of `name` that have these labels (and any others)."""
    return sum(count for (sample, has), count in samples.items()
               if sample == name and set(labels.items()) <= has)


async def test_a_scrape_after_traffic_counts_operations_errors_reads_and_sign_ins(
        client: httpx.AsyncClient, cast: Cast, limit_sign_ins: Callable[..., None],
        hashing: WatchedHasher) -> None:
    before = await scrape(client)
    customer = cast.token("customer_a_user")
    # given: two directory queries (the compiled path), one the compiler leaves to resolvers
    for _ in range(2):
        assert "errors" not in await gql(client, DIRECTORY, customer)
    assert "errors" not in await gql(client, UNSUPPORTED, customer)
    # a query that does not validate, and a field refused to an anonymous viewer
    assert (await gql(client, "query Broken { nope }"))["errors"]
    assert (await gql(client, "mutation Req($f: ID!) { requestConnection(input: "
                              "{factoryId: $f, scopes: [PROFILE]}) { connection { id } } }",
                      f=cast.factory_gid("alpha")))["errors"]
    # sign-ins: one right, one wrong, one over the limit
    limit_sign_ins(login_attempts_per_account=1)
    email = cast.people["customer_a_user"].email
    assert (await gql(client, LOGIN, email=email, password=PASSWORD))["data"]["login"][
        "accessToken"]
    other = cast.people["supplier_a_user"].email
    assert (await gql(client, LOGIN, email=other, password="wrong guess!"))["data"]
    assert (await gql(client, LOGIN, email=other, password=PASSWORD))["errors"][0][
        "extensions"]["code"] == "TOO_MANY_ATTEMPTS"
    # when
    after = await scrape(client)
    # then: operations by name and outcome, their latency, errors by code
    assert grew(before, after, "escp_graphql_operations_total", operation="Directory",
                type="query", outcome="ok") == 2
    assert grew(before, after, "escp_graphql_operation_duration_seconds_count",
                operation="Directory", outcome="ok") == 2
    assert grew(before, after, "escp_graphql_operations_total", operation="Broken",
                type="query", outcome="error") == 1
    assert grew(before, after, "escp_graphql_operations_total", operation="Req",
                type="mutation", outcome="error") == 1
    assert grew(before, after, "escp_graphql_errors_total", code="UNAUTHENTICATED") == 1
    assert grew(before, after, "escp_graphql_errors_total", code="TOO_MANY_ATTEMPTS") == 1
    # which path answered the queries
    assert grew(before, after, "escp_graphql_reads_total", path="compiled", reason="") == 2
    assert grew(before, after, "escp_graphql_reads_total", path="resolver",
                reason="directives (@skip/@include)") == 1
    assert (total(after, "escp_graphql_reads_total", path="resolver")
            - total(before, "escp_graphql_reads_total", path="resolver")) == 1
    # sign-ins, HTTP requests by route and status
    for outcome in ("signed_in", "refused", "throttled"):
        assert grew(before, after, "escp_login_attempts_total", outcome=outcome) == 1
    assert grew(before, after, "escp_http_requests_total", route="/graphql", method="POST",
                status="200") == 8
    assert grew(before, after, "escp_http_requests_total", route="/metrics", method="GET",
                status="200") == 1


async def test_the_pool_gauge_and_the_outbox_backlog(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given: a connection request, which puts notices in the outbox (no sender runs here)
    body = await gql(client, REQUEST, cast.token("customer_a_user"),
                     factoryId=cast.factory_gid("alpha"), scopes=["PROFILE"], message=None)
    assert body["data"]["requestConnection"]["userErrors"] == []
    async with database.read() as conn:
        waiting = (await conn.execute(select(func.count()).select_from(Notification)
                                      .where(Notification.sent_at.is_(None)))).scalar_one()
    assert waiting >= 1
    # when
    samples = await scrape(client)
    # then: the backlog as the database has it; the scrape itself holds no pooled connection
    # once it has read it (nothing else runs)
    assert value(samples, "escp_outbox_backlog") == waiting
    assert value(samples, "escp_db_pool_connections_in_use") == 0


async def test_a_client_chosen_operation_name_cannot_grow_the_labels_without_end(
        client: httpx.AsyncClient) -> None:
    from infra import metrics

    for i in range(metrics.MAX_OPERATION_NAMES + 5):
        await gql(client, f"query Name{i} {{ __typename }}")
    samples = await scrape(client)
    names = {dict(labels)["operation"] for (name, labels) in samples
             if name == "escp_graphql_operations_total"}
    assert len(names) <= metrics.MAX_OPERATION_NAMES + 2  # with "anonymous" and "other"
    assert "other" in names


async def test_a_scrape_answers_while_the_database_cannot(
        caplog: pytest.LogCaptureFixture) -> None:
    """An outage is when metrics matter most: the backlog keeps its last value."""
    gone = Database(make_engine("postgresql://nobody@127.0.0.1:1/none"))
    try:
        body, content_type = await exposition(gone)
    finally:
        await gone.dispose()
    assert b"escp_outbox_backlog" in body and content_type.startswith("text/plain")
    assert "the outbox backlog could not be read" in caplog.text
