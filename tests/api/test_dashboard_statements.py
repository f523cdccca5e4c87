"""The customer dashboard runs a constant number of SQL statements, whatever its page size.

Not a timing: the statements are counted on the app's engine while the query runs. The data set
is the benchmark's (bench/dataset.py), scaled down: a customer connected to 110 factories, each
with two audits, findings, a CAP per audit with actions, certificates and assessments, under a
mix of scopes, so the answer carries FORBIDDEN errors as a real dashboard's does.
"""
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from starlette.applications import Starlette

from auth.tokens import issue_token
from bench.dataset import DASHBOARD_USER, Spec, populate
from db.embedded import to_libpq_url
from db.engine import Database
from db.settings import Settings
from tests.helpers import gql

DASHBOARD = """
query Dashboard($first: Int, $after: String) {
  factories(first: $first, after: $after, filter: { connectedOnly: true }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id name country city certificationStatus certifiedUntil
      viewerAccess { scopes }
      currentCertificate { number status issuedOn validUntil }
      latestAudit { type conductedOn status
                    findingsSummary { zeroTolerance critical major minor total } }
      correctiveActionPlans { status actions { status dueDate } }
      environmentalAssessments { periodYear ghgTco2e verified }
    }
  }
}
"""

CONNECTED = 110
SMALL = Spec(factories=130, suppliers=4, connected=CONNECTED, other_connected=20)


@contextmanager
def counted_statements(app: Starlette) -> Iterator[list[str]]:
    """Every SQL statement the app sends while inside the block."""
    engine = app.state.database.engine.sync_engine
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def connected_customer(database_url: str, settings: Settings) -> str:
    """Given the scaled-down bench data set, the dashboard customer's token."""
    conn = await asyncpg.connect(to_libpq_url(database_url))
    try:
        await populate(conn, SMALL)
        user = await conn.fetchrow("SELECT id, organization_id FROM users WHERE email = $1",
                                   DASHBOARD_USER)
    finally:
        await conn.close()
    assert user is not None, "the dashboard user is in the data set"
    token, _ = issue_token(settings, user_id=user["id"], organization_id=user["organization_id"],
                           role="CUSTOMER")
    return token


async def test_customer_dashboard_costs_the_same_statements_for_5_50_and_100_factories(
        app: Starlette, client: httpx.AsyncClient, database_url: str, database: Database,
        settings: Settings) -> None:
    # given the bench data set, scaled down (`database`: its tables are truncated afterwards)
    token = await connected_customer(database_url, settings)

    # when the customer's dashboard asks for 5, 50 and 100 factories
    statements, answers = {}, {}
    for first in (5, 50, 100):
        with counted_statements(app) as seen:
            answers[first] = await gql(client, DASHBOARD, token, first=first)
        statements[first] = len(seen)

    # then each page is full, partly denied, and costs the same number of statements
    for first, body in answers.items():
        page = body["data"]["factories"]
        assert len(page["nodes"]) == first and page["totalCount"] == CONNECTED
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert statements[5] == statements[50] == statements[100], statements
    # compiled reads: the token's user, then the one statement of the whole page
    assert statements[5] == 2, statements
