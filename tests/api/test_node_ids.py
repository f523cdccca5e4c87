"""node(id:) answers the same for an object the viewer may not see as for an id that does not
exist, so ids cannot be used to count another organization's audits, findings or plans."""
import httpx
import pytest

from db.engine import Database
from schema.ids import decode_id, encode_id
from tests.api.world import World, matrix_world
from tests.helpers import Cast, gql

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Factory { name address }
    ... on Application { applicationStatus: status }
    ... on Fee { feeKind: kind amount }
    ... on Audit { status conductedOn }
    ... on Finding { severity }
    ... on CorrectiveActionPlan { planStatus: status }
    ... on CorrectiveAction { action }
    ... on EnvironmentalAssessment { periodYear }
    ... on Certificate { number }
    ... on CustomerConnection { connectionStatus: status }
    ... on Organization { name }
    ... on User { email }
    ... on Document { filename }
  }
}
"""
# One object of each node type that none of the outsiders below may see (world keys; alpha is
# listed, so its hidden sibling stands for Factory). Auditors are public, like verifyAuditor.
HIDDEN = ("hidden", "application", "fee_registration", "fee_audit", "audit", "finding", "cap",
          "action", "assessment", "certificate", "connection_certification",
          "org_customer_certification", "user_supplier_a", "audit_report")
OUTSIDERS = {"anonymous": None, "another_customer": "customer_a_user",
             "customer_connected_with_PROFILE_only": "customer_profile_user",
             "another_supplier": "supplier_b_user", "another_audit_firm": "firm_b_user"}


def missing_twin(gid: str) -> str:
    """An id of the same type whose row does not exist."""
    decoded = decode_id(gid)
    assert decoded is not None
    return encode_id(decoded[0], decoded[1] + 1_000_000)


@pytest.fixture
async def world(database: Database, cast: Cast) -> World:
    world = await matrix_world(database, cast)
    world.keep("hidden", "Factory", cast.factories["hidden"])
    world.keep("org_customer_certification", "Organization",
               cast.organizations["customer_certification"])
    return world


@pytest.mark.parametrize("outsider", OUTSIDERS)
async def test_an_outsider_cannot_tell_a_hidden_object_from_a_missing_one(
        client: httpx.AsyncClient, cast: Cast, world: World, outsider: str) -> None:
    who = OUTSIDERS[outsider]
    token = cast.token(who) if who else None
    for key in HIDDEN:
        hidden = await gql(client, NODE, token, id=world.gids[key])
        missing = await gql(client, NODE, token, id=missing_twin(world.gids[key]))
        assert hidden == missing == {"data": {"node": None}}, key


async def test_the_owner_still_gets_each_object_by_id(client: httpx.AsyncClient, cast: Cast,
                                                      world: World) -> None:
    token = cast.token("supplier_a_user")
    for key in HIDDEN:
        if key in ("audit_report", "org_customer_certification", "connection_certification"):
            continue  # firm_a's upload; a customer the owner is connected to; checked elsewhere
        body = await gql(client, NODE, token, id=world.gids[key])
        assert body["data"]["node"]["id"] == world.gids[key] and "errors" not in body, key


async def test_a_customer_with_corrective_actions_knows_the_audit_its_plan_holds(
        client: httpx.AsyncClient, cast: Cast, world: World) -> None:
    token = cast.token("customer_corrective_actions_user")
    body = await gql(client, NODE, token, id=world.gids["audit"])
    assert body["data"]["node"] == {"__typename": "Audit", "id": world.gids["audit"],
                                    "status": None, "conductedOn": None}
    assert {e["extensions"]["requiredScope"] for e in body["errors"]} == {"AUDITS"}
