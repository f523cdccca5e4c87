"""submitCorrectiveActionPlan: the owning supplier answers every finding of an audit once."""
import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from db import CorrectiveActionPlan
from db.engine import Database
from tests.given import AuditedFactory, audited_factory, plan_state, uploaded
from tests.helpers import Cast, errors_at, gql

SUBMIT = """
mutation($input: SubmitCorrectiveActionPlanInput!) {
  submitCorrectiveActionPlan(input: $input) {
    correctiveActionPlan {
      status submittedAt
      audit { id }
      actions { action dueDate status agreesWithFinding factoryComment
                finding { id clause } evidence { id filename downloadUrl } }
    }
    userErrors { field message code }
  }
}
"""
NEXT_WEEK = (date.today() + timedelta(days=7)).isoformat()


def actions_for(audit: AuditedFactory, **overrides: Any) -> list[dict[str, Any]]:
    return [{"findingId": gid, "action": f"Fix finding {i + 1}", "dueDate": NEXT_WEEK,
             "agreesWithFinding": True, **overrides}
            for i, gid in enumerate(audit.finding_gids)]


async def submit(client: httpx.AsyncClient, token: str | None, audit: AuditedFactory,
                 actions: list[dict[str, Any]]) -> dict[str, Any]:
    return await gql(client, SUBMIT, token, input={"auditId": audit.audit_gid,
                                                   "actions": actions})


def user_error(body: dict[str, Any]) -> dict[str, Any]:
    payload = body["data"]["submitCorrectiveActionPlan"]
    assert payload["correctiveActionPlan"] is None
    [error] = payload["userErrors"]
    return error


async def test_owning_supplier_submits_one_action_per_finding_with_evidence(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    token = cast.token("supplier_a_user")
    audit = await audited_factory(database, cast)
    evidence = await uploaded(client, token, filename="fire-exit.pdf")
    actions = actions_for(audit)
    actions[0] |= {"agreesWithFinding": False, "comment": " The exit was blocked for an hour. ",
                   "evidenceDocumentIds": [evidence, evidence]}

    body = await submit(client, token, audit, actions)

    payload = body["data"]["submitCorrectiveActionPlan"]
    assert payload["userErrors"] == []
    plan = payload["correctiveActionPlan"]
    assert plan["status"] == "SUBMITTED" and plan["submittedAt"]
    assert plan["audit"]["id"] == audit.audit_gid
    first, second = plan["actions"]
    assert first["finding"] == {"id": audit.finding_gids[0], "clause": "4.1"}
    assert (first["action"], first["dueDate"], first["status"], first["agreesWithFinding"],
            first["factoryComment"]) == ("Fix finding 1", NEXT_WEEK, "OPEN", False,
                                         "The exit was blocked for an hour.")
    assert [(d["id"], d["filename"]) for d in first["evidence"]] == [(evidence,
                                                                      "fire-exit.pdf")]
    assert first["evidence"][0]["downloadUrl"].startswith(f"/documents/{evidence}?")
    assert (second["finding"]["id"], second["evidence"], second["factoryComment"]) == (
        audit.finding_gids[1], [], None)


async def test_an_audit_without_findings_takes_an_empty_plan(client: httpx.AsyncClient,
                                                             cast: Cast,
                                                             database: Database) -> None:
    audit = await audited_factory(database, cast, findings=0)
    body = await submit(client, cast.token("supplier_a_user"), audit, [])
    assert body["data"]["submitCorrectiveActionPlan"]["correctiveActionPlan"]["status"] == \
        "SUBMITTED"


async def test_anonymous_and_other_roles_are_refused_before_anything_happens(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    audit = await audited_factory(database, cast)
    before = await plan_state(database, audit.plan_id)
    for who, code, required in ((None, "UNAUTHENTICATED", "SIGNED_IN"),
                                ("customer_a_user", "FORBIDDEN", "SUPPLIER"),
                                ("firm_a_user", "FORBIDDEN", "SUPPLIER"),
                                ("admin", "FORBIDDEN", "SUPPLIER")):
        body = await submit(client, cast.token(who) if who else None, audit,
                            actions_for(audit))
        assert body["data"] is None
        error = errors_at(body)[("submitCorrectiveActionPlan",)]
        assert error["extensions"] == {"code": code, "requiredScope": required}, who
    assert await plan_state(database, audit.plan_id) == before


async def test_a_supplier_not_owning_the_factory_gets_not_found(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    audit = await audited_factory(database, cast)
    before = await plan_state(database, audit.plan_id)

    body = await submit(client, cast.token("supplier_b_user"), audit, actions_for(audit))

    assert user_error(body) | {"message": ""} == {
        "field": ["input", "auditId"], "code": "NOT_FOUND", "message": ""}
    assert await plan_state(database, audit.plan_id) == before


async def test_wrong_findings_are_validation_errors_and_change_nothing(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    audit = await audited_factory(database, cast)
    other = await audited_factory(database, cast, factory="hidden")
    before = await plan_state(database, audit.plan_id)
    one, two = actions_for(audit)
    foreign = actions_for(other)[0]
    cases = {
        "missing": ([one], ["input", "actions"]),
        "twice": ([one, two, one], ["input", "actions", "2", "findingId"]),
        "another audit": ([one, two, foreign], ["input", "actions", "2", "findingId"]),
        "not a finding id": ([one, two | {"findingId": audit.audit_gid}],
                             ["input", "actions", "1", "findingId"]),
        "past due date": ([one, two | {"dueDate": (date.today() - timedelta(days=1))
                                       .isoformat()}], ["input", "actions", "1", "dueDate"]),
        "blank action": ([one | {"action": "   "}, two], ["input", "actions", "0", "action"]),
    }
    for name, (actions, field) in cases.items():
        error = user_error(await submit(client, cast.token("supplier_a_user"), audit, actions))
        assert (error["code"], error["field"]) == ("VALIDATION", field), name
    assert await plan_state(database, audit.plan_id) == before


async def test_evidence_uploaded_by_another_organization_is_refused(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    audit = await audited_factory(database, cast)
    theirs = await uploaded(client, cast.token("supplier_b_user"))
    mine = await uploaded(client, cast.token("supplier_a_user"))
    before = await plan_state(database, audit.plan_id)
    actions = actions_for(audit)
    actions[1]["evidenceDocumentIds"] = [mine, theirs]

    error = user_error(await submit(client, cast.token("supplier_a_user"), audit, actions))

    assert (error["code"], error["field"]) == (
        "NOT_FOUND", ["input", "actions", "1", "evidenceDocumentIds", "1"])
    assert await plan_state(database, audit.plan_id) == before


async def test_a_submitted_plan_cannot_be_submitted_again(client: httpx.AsyncClient,
                                                          cast: Cast,
                                                          database: Database) -> None:
    token = cast.token("supplier_a_user")
    audit = await audited_factory(database, cast)
    await submit(client, token, audit, actions_for(audit))
    before = await plan_state(database, audit.plan_id)

    error = user_error(await submit(client, token, audit, actions_for(audit, action="Again")))

    assert error["code"] == "INVALID_TRANSITION"
    assert await plan_state(database, audit.plan_id) == before


async def test_a_returned_plan_is_resubmitted_and_its_actions_replaced(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    token = cast.token("supplier_a_user")
    audit = await audited_factory(database, cast)
    evidence = await uploaded(client, token)
    first = actions_for(audit)
    first[0]["evidenceDocumentIds"] = [evidence]
    await submit(client, token, audit, first)
    old = await plan_state(database, audit.plan_id)
    async with database.unit_of_work() as session:  # the program returns it (reviewAudit)
        await session.execute(update(CorrectiveActionPlan).values(status="RETURNED")
                              .where(CorrectiveActionPlan.id == audit.plan_id))

    body = await submit(client, token, audit, actions_for(audit, action="Better fix"))

    plan = body["data"]["submitCorrectiveActionPlan"]["correctiveActionPlan"]
    assert plan["status"] == "SUBMITTED"
    assert [(a["action"], a["evidence"]) for a in plan["actions"]] == [("Better fix", [])] * 2
    new = await plan_state(database, audit.plan_id)
    assert {a[0] for a in new["actions"]}.isdisjoint({a[0] for a in old["actions"]})
    assert new["evidence"] == [] and new["submitted_at"] > old["submitted_at"]


async def test_two_submissions_at_once_only_one_succeeds(client: httpx.AsyncClient,
                                                         cast: Cast,
                                                         database: Database) -> None:
    token = cast.token("supplier_a_user")
    audit = await audited_factory(database, cast)

    bodies = await asyncio.gather(*(submit(client, token, audit, actions_for(audit, action=a))
                                    for a in ("First", "Second")))

    outcomes = sorted(b["data"]["submitCorrectiveActionPlan"]["userErrors"][0]["code"]
                      if b["data"]["submitCorrectiveActionPlan"]["userErrors"] else "OK"
                      for b in bodies)
    assert outcomes == ["INVALID_TRANSITION", "OK"]
    state = await plan_state(database, audit.plan_id)
    assert len(state["actions"]) == 2 and len({a[3] for a in state["actions"]}) == 1


async def test_the_evidence_link_downloads_the_uploaded_bytes(client: httpx.AsyncClient,
                                                              cast: Cast,
                                                              database: Database) -> None:
    token = cast.token("supplier_a_user")
    audit = await audited_factory(database, cast)
    content = b"%PDF-1.4\n% training records\n"
    evidence = await uploaded(client, token, content)
    actions = actions_for(audit)
    actions[0]["evidenceDocumentIds"] = [evidence]
    body = await submit(client, token, audit, actions)
    url = body["data"]["submitCorrectiveActionPlan"]["correctiveActionPlan"][
        "actions"][0]["evidence"][0]["downloadUrl"]

    response = await client.get(url)

    assert response.status_code == 200 and response.content == content
