"""`escp demo` shows everything a customer can see: through its customer logins, every scope
has data, every audit and plan state appears, and a document downloads."""
from typing import Any

import httpx

from db.engine import Database
from db.enums import AuditStatus, CapStatus, ShareScope
from db.settings import Settings
from demo.data import CUSTOMERS, PASSWORD, load_demo
from tests.helpers import gql

LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { accessToken userErrors { code } }
}
"""
DASHBOARD = """
{
  factories(first: 50, filter: {connectedOnly: true}) {
    nodes {
      name
      address workerCount
      certificates { number status }
      applications { status }
      audits(first: 20) { nodes { status findings { severity } report { downloadUrl } } }
      correctiveActionPlans { status actions { action evidence { downloadUrl } } }
      environmentalAssessments { periodYear report { downloadUrl } }
    }
  }
}
"""
# The fields holding each scope's data on the dashboard.
SCOPE_FIELDS = {ShareScope.PROFILE: "address", ShareScope.CERTIFICATION: "certificates",
                ShareScope.AUDITS: "audits", ShareScope.CORRECTIVE_ACTIONS: "correctiveActionPlans",
                ShareScope.ENVIRONMENT: "environmentalAssessments"}


async def dashboard(client: httpx.AsyncClient, email: str) -> list[dict[str, Any]]:
    login = (await gql(client, LOGIN, email=email, password=PASSWORD))["data"]["login"]
    assert login["userErrors"] == [], email
    body = await gql(client, DASHBOARD, login["accessToken"])
    # Scopes a connection does not grant are FORBIDDEN; nothing else fails.
    assert {e["extensions"]["code"] for e in body.get("errors", [])} <= {"FORBIDDEN"}
    return body["data"]["factories"]["nodes"]  # type: ignore[no-any-return]


def download_urls(factory: dict[str, Any]) -> list[str]:
    audits = (factory["audits"] or {"nodes": []})["nodes"]
    holders = ([a["report"] for a in audits]
               + [d for p in factory["correctiveActionPlans"] or () for a in p["actions"]
                  for d in a["evidence"]]
               + [e["report"] for e in factory["environmentalAssessments"] or ()])
    return [h["downloadUrl"] for h in holders if h]


async def test_the_demo_customers_see_every_scope_every_state_and_a_download(
        client: httpx.AsyncClient, database: Database, settings: Settings) -> None:
    await load_demo(database, settings)

    factories = [f for _, email in CUSTOMERS for f in await dashboard(client, email)]

    for scope, field in SCOPE_FIELDS.items():
        assert any(f[field] for f in factories), f"no {scope.value} data for any demo customer"
    audits = [a for f in factories for a in (f["audits"] or {"nodes": []})["nodes"]]
    assert {a["status"] for a in audits} == {s.value for s in AuditStatus}
    plans = [p for f in factories for p in f["correctiveActionPlans"] or ()]
    assert {p["status"] for p in plans} == {s.value for s in CapStatus}
    assert any(p["actions"] for p in plans)
    urls = [url for f in factories for url in download_urls(f)]
    assert urls
    download = await client.get(urls[0])
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
