"""No extra queries for permissions or per row: a customer's dashboard page of 50 connected
factories costs the same number of SQL statements as a page of 5."""
import httpx
from starlette.applications import Starlette

from db.engine import Database
from tests.api.world import dashboard_factories
from tests.helpers import Cast, gql, statements

PAGE = 50
DASHBOARD = """
query Dashboard($first: Int!) {
  factories(first: $first, filter: {connectedOnly: true}) {
    totalCount
    nodes {
      id name country certificationStatus certifiedUntil
      address workerCount contactEmail
      viewerAccess { isOwner scopes connection { status grantedScopes } }
      currentCertificate { number status validUntil }
      certificates { number issuedOn }
      latestAudit {
        type conductedOn status
        findingsSummary { zeroTolerance critical major minor total }
        findings { severity clause }
        report { downloadUrl }
      }
      correctiveActionPlans {
        status dueOn
        actions { status dueDate finding { severity } evidence { filename downloadUrl } }
      }
      environmentalAssessments { periodYear ghgTco2e verified }
    }
  }
}
"""


async def statements_for(app: Starlette, client: httpx.AsyncClient, token: str,
                         first: int) -> list[str]:
    with statements(app) as seen:
        body = await gql(client, DASHBOARD, token, first=first)
    assert "errors" not in body, body["errors"]
    assert len(body["data"]["factories"]["nodes"]) == first
    return seen


async def test_a_page_of_50_factories_costs_the_same_statements_as_a_page_of_5(
        app: Starlette, client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given: customer_a connected with every scope to 50 factories with their whole story
    await dashboard_factories(database, cast, "customer_a", PAGE)
    token = cast.token("customer_a_user")
    await statements_for(app, client, token, 1)  # warm the pool: connections are made once
    # when
    small = await statements_for(app, client, token, 5)
    large = await statements_for(app, client, token, PAGE)
    # then
    assert len(large) == len(small), "\n\n".join(large)
    # One batch per relationship, the access check and the access log insert, not per row.
    assert len(small) <= 25, "\n\n".join(small)
