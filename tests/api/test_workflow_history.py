"""History: every move recorded (who, when, from, to), read by the owner and the program only;
an audit firm lists the applications assigned to it."""
import httpx
import pytest

from db.engine import Database
from db.enums import ShareScope
from tests.api.workflow import MINOR, Journey, connect, gql, ok
from tests.helpers import Cast

HISTORY = """
query History($id: ID!) {
  node(id: $id) {
    ... on Application {
      status
      transitions {
        fromStatus toStatus occurredAt note actor { name role } actorOrganization { name }
      }
    }
  }
}
"""

ASSIGNMENTS = """
query Assignments($first: Int, $after: String, $status: ApplicationStatus) {
  viewer {
    assignments(first: $first, after: $after, status: $status) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id status factory { name } }
    }
  }
}
"""


@pytest.fixture
async def journey(client: httpx.AsyncClient, database: Database, cast: Cast) -> Journey:
    return Journey(client, database, cast)


async def history(journey: Journey, who: str) -> dict:
    return await gql(journey.client, HISTORY, journey.token(who), id=journey.ids["application"])


async def test_owner_and_program_read_every_move_with_its_actor(journey: Journey) -> None:
    await journey.to_under_review([MINOR])
    await journey.cap_submitted()
    ok(await journey.review("REQUIRE_FOLLOW_UP", notes="Check the exits again."))

    bodies = {who: await history(journey, who) for who in ("supplier_a_user", "admin",
                                                           "reviewer")}

    body = bodies["reviewer"]
    assert bodies["admin"] == body and "errors" not in body
    moves = [(t["fromStatus"], t["toStatus"], t["actor"]["name"], t["note"])
             for t in body["data"]["node"]["transitions"]]
    assert moves == [
        (None, "SUBMITTED", "supplier_a_user", None),
        ("SUBMITTED", "AUDIT_FIRM_ASSIGNED", "reviewer", None),
        ("AUDIT_FIRM_ASSIGNED", "AUDIT_SCHEDULED", "firm_a_user", None),
        ("AUDIT_SCHEDULED", "UNDER_REVIEW", "firm_a_user", None),
        ("UNDER_REVIEW", "FOLLOW_UP_REQUIRED", "reviewer", "Check the exits again."),
    ]
    # The owner reads the same moves; who made them by organization, and the person's name
    # only for its own people.
    owner = bodies["supplier_a_user"]["data"]["node"]["transitions"]
    assert [(t["fromStatus"], t["toStatus"], t["actorOrganization"]["name"],
             t["actor"] and t["actor"]["name"]) for t in owner] == [
        (None, "SUBMITTED", "supplier_a org", "supplier_a_user"),
        ("SUBMITTED", "AUDIT_FIRM_ASSIGNED", "program org", None),
        ("AUDIT_FIRM_ASSIGNED", "AUDIT_SCHEDULED", "firm_a org", None),
        ("AUDIT_SCHEDULED", "UNDER_REVIEW", "firm_a org", None),
        ("UNDER_REVIEW", "FOLLOW_UP_REQUIRED", "program org", None),
    ]
    # Each denied field is null with its own error; the actor itself stays.
    denied = {tuple(e["path"]): e["extensions"]["code"]
              for e in bodies["supplier_a_user"]["errors"]}
    assert denied == {("node", "transitions", i, "actor", field): "FORBIDDEN"
                      for i in (1, 2, 3, 4) for field in ("name", "role")}
    assert owner[1]["actor"] == {"name": None, "role": None}
    times = [t["occurredAt"] for t in body["data"]["node"]["transitions"]]
    assert times == sorted(times)


async def test_the_audit_firm_and_a_connected_customer_get_forbidden_on_the_history(
        journey: Journey, database: Database, cast: Cast) -> None:
    await connect(database, cast, "customer_a", "alpha", list(ShareScope))
    await journey.to_assigned()

    for who in ("firm_a_user", "customer_a_user"):
        body = await history(journey, who)
        assert body["data"]["node"] == {"status": "AUDIT_FIRM_ASSIGNED", "transitions": None}
        (error,) = body["errors"]
        assert error["path"] == ["node", "transitions"]
        assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": "OWNER"}


async def test_a_firm_lists_only_the_applications_assigned_to_it(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    alpha = Journey(client, database, cast)
    await alpha.to_scheduled()
    beta = Journey(client, database, cast, factory="beta", supplier="supplier_b_user")
    await beta.to_assigned()
    await Journey(client, database, cast, factory="hidden", firm="firm_b").to_assigned()

    body = await gql(client, ASSIGNMENTS, cast.token("firm_a_user"))

    page = body["data"]["viewer"]["assignments"]
    assert page["totalCount"] == 2
    assert [(n["factory"]["name"], n["status"]) for n in page["nodes"]] == [
        ("beta factory", "AUDIT_FIRM_ASSIGNED"), ("alpha factory", "AUDIT_SCHEDULED")]
    scheduled = await gql(client, ASSIGNMENTS, cast.token("firm_a_user"),
                          status="AUDIT_SCHEDULED")
    assert [n["id"] for n in scheduled["data"]["viewer"]["assignments"]["nodes"]] == [
        alpha.ids["application"]]


async def test_assignments_page_by_cursor(client: httpx.AsyncClient, database: Database,
                                          cast: Cast) -> None:
    for factory, supplier in (("alpha", "supplier_a_user"), ("beta", "supplier_b_user"),
                              ("hidden", "supplier_a_user")):
        await Journey(client, database, cast, factory=factory, supplier=supplier).to_assigned()

    first = (await gql(client, ASSIGNMENTS, cast.token("firm_a_user"),
                       first=2))["data"]["viewer"]["assignments"]
    rest = (await gql(client, ASSIGNMENTS, cast.token("firm_a_user"), first=2,
                      after=first["pageInfo"]["endCursor"]))["data"]["viewer"]["assignments"]

    assert first["pageInfo"]["hasNextPage"] is True and rest["pageInfo"]["hasNextPage"] is False
    names = [n["factory"]["name"] for n in first["nodes"] + rest["nodes"]]
    assert names == ["hidden factory", "beta factory", "alpha factory"]


async def test_another_firm_supplier_program_and_customer_have_no_assignments(
        journey: Journey) -> None:
    await journey.to_assigned()

    for who in ("firm_b_user", "supplier_a_user", "admin", "customer_a_user"):
        body = await gql(journey.client, ASSIGNMENTS, journey.token(who))
        assert body["data"]["viewer"]["assignments"] == {
            "totalCount": 0, "nodes": [],
            "pageInfo": {"hasNextPage": False, "endCursor": None}}, who
