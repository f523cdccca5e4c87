"""A denied field is null with its own error, and never takes its parent down with it."""
import httpx

from db.engine import Database
from tests.api.world import matrix_world
from tests.helpers import Cast, errors_at, gql

PLANS_WITH_SEVERITY = """
query($id: ID!) {
  factory(id: $id) {
    correctiveActionPlans { id status actions { action finding { id severity } } }
  }
}
"""


async def test_customer_with_corrective_actions_keeps_its_plans_when_asking_a_findings_severity(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    world = await matrix_world(database, cast)

    body = await gql(client, PLANS_WITH_SEVERITY, cast.token("customer_corrective_actions_user"),
                     id=world.gids["alpha"])

    [plan] = body["data"]["factory"]["correctiveActionPlans"]
    assert plan["id"] == world.gids["cap"] and plan["status"] == "SUBMITTED"
    first = plan["actions"][0]
    assert first["action"] == "Fix 4.2"
    assert first["finding"] == {"id": world.gids["finding"], "severity": None}
    denied = errors_at(body)[("factory", "correctiveActionPlans", 0, "actions", 0, "finding",
                              "severity")]
    assert denied["extensions"] == {"code": "FORBIDDEN", "requiredScope": "AUDITS"}
