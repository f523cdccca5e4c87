"""Step 4: the program reviews the report with the factory's CAP; a follow-up round goes back to
the firm and is billed again."""
from datetime import timedelta

import httpx
import pytest

from db.engine import Database
from resolvers.certification_rules import audit_window_limit
from tests.api.workflow import MINOR, REVIEW, TODAY, ZERO_TOLERANCE, Journey, codes, fee_of, gql, ok
from tests.helpers import Cast


@pytest.fixture
async def journey(client: httpx.AsyncClient, database: Database, cast: Cast) -> Journey:
    return Journey(client, database, cast)


async def test_approval_is_refused_for_a_zero_tolerance_finding_and_a_missing_cap_at_once(
        journey: Journey) -> None:
    await journey.to_under_review([ZERO_TOLERANCE])

    payload = await journey.review("APPROVE")

    assert codes(payload) == ["ZERO_TOLERANCE_FINDING", "CAP_NOT_SUBMITTED"]
    application = await journey.application()
    assert application["status"] == "UNDER_REVIEW"
    assert [f["kind"] for f in application["fees"]] == ["REGISTRATION", "AUDIT"]


async def test_a_submitted_cap_does_not_lift_a_zero_tolerance_finding(journey: Journey) -> None:
    await journey.to_under_review([ZERO_TOLERANCE])
    await journey.cap_submitted()

    assert codes(await journey.review("APPROVE")) == ["ZERO_TOLERANCE_FINDING"]


async def test_approval_waits_for_the_cap_then_accepts_it_and_makes_the_seal_fee_due(
        journey: Journey) -> None:
    await journey.to_under_review([MINOR])
    assert codes(await journey.review("APPROVE")) == ["CAP_NOT_SUBMITTED"]  # still a DRAFT
    await journey.cap_submitted()

    payload = ok(await journey.review("APPROVE", notes="Good progress."))

    audit = payload["audit"]
    assert audit["status"] == "APPROVED" and audit["reviewedAt"] is not None
    assert audit["correctiveActionPlan"] == {"status": "ACCEPTED"}
    application = await journey.application()
    assert application["status"] == "APPROVED"
    seal = fee_of(application["fees"], "SEAL")
    assert (seal["amount"], seal["status"]) == ("800.00", "DUE")
    assert seal["payee"]["id"] == journey.cast.org_gid("program")


async def test_a_clean_audit_is_approved_without_a_cap(journey: Journey) -> None:
    await journey.to_under_review([])

    assert ok(await journey.review("APPROVE"))["audit"]["correctiveActionPlan"] is None


async def test_rejection_returns_the_cap_and_ends_the_application(journey: Journey) -> None:
    await journey.to_under_review([ZERO_TOLERANCE])

    payload = ok(await journey.review("REJECT", who="admin", notes="Child labour."))

    assert payload["audit"]["status"] == "REJECTED"
    assert payload["audit"]["correctiveActionPlan"] == {"status": "RETURNED"}
    assert (await journey.application())["status"] == "REJECTED"
    assert (await journey.certification())["certificationStatus"] == "NOT_CERTIFIED"
    ok(await journey.submit())  # a closed application no longer blocks a new one


async def test_reviewing_twice_is_an_invalid_transition(journey: Journey) -> None:
    await journey.to_under_review([])
    ok(await journey.review("REJECT"))

    assert codes(await journey.review("APPROVE")) == ["INVALID_TRANSITION"]
    assert (await journey.application())["status"] == "REJECTED"


async def test_an_audit_still_scheduled_cannot_be_reviewed(journey: Journey) -> None:
    await journey.to_scheduled()

    assert codes(await journey.review("APPROVE")) == ["INVALID_TRANSITION"]


async def test_supplier_firm_and_customer_get_forbidden_on_review(journey: Journey) -> None:
    await journey.to_under_review([])

    for who in ("supplier_a_user", "firm_a_user", "customer_a_user"):
        body = await gql(journey.client, REVIEW, journey.token(who),
                         input={"auditId": journey.ids["audit"], "decision": "APPROVE"})
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN",
                                                   "requiredScope": "ADMIN|REVIEWER"}, who
    assert (await journey.application())["status"] == "UNDER_REVIEW"


async def test_a_follow_up_round_is_a_follow_up_or_progress_visit_billed_as_round_2(
        journey: Journey) -> None:
    await journey.to_under_review([MINOR])
    payload = ok(await journey.review("REQUIRE_FOLLOW_UP", notes="Verify the fire exits."))
    assert payload["audit"]["correctiveActionPlan"] == {"status": "RETURNED"}
    assert (await journey.application())["status"] == "FOLLOW_UP_REQUIRED"

    assert codes(await journey.schedule(type="INITIAL_CERTIFICATION")) == ["INVALID_AUDIT_TYPE"]
    ok(await journey.schedule(type="PROGRESS_VISIT", auditFeeAmount="600.00",
                              windowEnd=audit_window_limit(TODAY).isoformat()))

    application = await journey.application()
    assert application["status"] == "AUDIT_SCHEDULED"
    assert [(a["type"], a["status"]) for a in application["audits"]] == [
        ("PROGRESS_VISIT", "SCHEDULED"), ("INITIAL_CERTIFICATION", "FOLLOW_UP_REQUIRED")]
    first, second = fee_of(application["fees"], "AUDIT"), fee_of(application["fees"], "AUDIT", 2)
    assert (first["amount"], second["amount"], second["status"]) == ("2500.00", "600.00", "DUE")


async def test_a_follow_up_window_counts_from_the_review_not_the_first_assignment(
        journey: Journey) -> None:
    await journey.to_under_review([])
    ok(await journey.review("REQUIRE_FOLLOW_UP"))
    await journey.assigned_on(TODAY - timedelta(days=365))  # given: assigned a year ago

    late = audit_window_limit(TODAY) + timedelta(days=1)
    assert codes(await journey.schedule(type="FOLLOW_UP",
                                        windowEnd=late.isoformat())) == ["WINDOW_TOO_LATE"]
    ok(await journey.schedule(type="FOLLOW_UP", windowEnd=audit_window_limit(TODAY).isoformat()))
