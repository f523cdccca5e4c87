"""The whole journey through the API, each step done by the role that does it in reality: a new
factory goes from application, through an audit and a follow-up round, to an active certificate
that a connected customer sees."""
from decimal import Decimal

import httpx

from db.engine import Database
from db.enums import ShareScope
from tests.api.workflow import MINOR, TODAY, Journey, connect, fee_of, gql, ok
from tests.helpers import Cast

CUSTOMER_VIEW = """
query($id: ID!) {
  factory(id: $id) {
    name certificationStatus certifiedUntil
    currentCertificate { number status validUntil }
  }
}
"""

SUPPLIER_AUDIT_VIEW = """
query($id: ID!) { node(id: $id) { ... on Audit { announcement windowEnd conductedOn } } }
"""

HISTORY = """
query($id: ID!) { node(id: $id) { ... on Application { transitions { toStatus actor { role } } } } }
"""

MAJOR = MINOR | {"clause": "2.3", "category": "Working hours", "severity": "MAJOR",
                 "description": "Overtime above 60 hours a week."}


async def test_a_new_factory_is_certified_after_a_follow_up_round(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    await connect(database, cast, "customer_a", "alpha", [ShareScope.CERTIFICATION])
    journey = Journey(client, database, cast)

    # Step 1: the supplier applies; the registration fee is due to the program.
    application = (await journey.submit())["application"]
    assert fee_of(application["fees"], "REGISTRATION")["amount"] == "1500.00"

    # Step 2: the program records the registration fee and assigns an accredited firm.
    ok(await journey.pay("registration_fee", who="reviewer", reference="WIRE-1"))
    assert (await journey.assign())["application"]["status"] == "AUDIT_FIRM_ASSIGNED"

    # Step 3: the firm schedules an unannounced audit, sets its fee, is paid, audits, reports.
    ok(await journey.schedule(announcement="UNANNOUNCED", auditFeeAmount="2750.00"))
    hidden = await gql(client, SUPPLIER_AUDIT_VIEW, journey.token("supplier_a_user"),
                       id=journey.ids["audit"])
    assert hidden["data"]["node"]["windowEnd"] is None  # unannounced stays unannounced
    ok(await journey.pay("audit_fee", who="firm_a_user", reference="INV-100"))
    report = ok(await journey.report([MINOR, MAJOR]))["audit"]
    assert report["correctiveActionPlan"]["status"] == "DRAFT"

    # Step 4: the factory answers with its CAP; the program asks for a progress visit.
    await journey.cap_submitted()
    ok(await journey.review("REQUIRE_FOLLOW_UP", notes="Verify working hours on site."))

    # The follow-up round: the firm schedules and bills a progress visit, then reports it.
    ok(await journey.schedule(type="PROGRESS_VISIT", announcement="SEMI_ANNOUNCED",
                              auditFeeAmount="900.00"))
    journey.ids["audit_fee"] = fee_of((await journey.application())["fees"], "AUDIT", 2)["id"]
    ok(await journey.pay("audit_fee", who="firm_a_user", reference="INV-101"))
    ok(await journey.report([MINOR]))
    await journey.cap_submitted()

    # Step 5: the program approves; the seal fee, once recorded, issues the certificate.
    ok(await journey.review("APPROVE", who="admin"))
    await journey.seal_fee()
    paid = ok(await journey.pay("seal_fee", who="admin", reference="SEAL-1"))
    assert paid["application"]["status"] == "CERTIFIED"

    # The connected customer sees the certificate; the money adds up to the cent.
    view = (await gql(client, CUSTOMER_VIEW, journey.token("customer_a_user"),
                      id=cast.factory_gid("alpha")))["data"]["factory"]
    assert view["certificationStatus"] == "CERTIFIED"
    assert view["currentCertificate"]["status"] == "ACTIVE"
    assert view["currentCertificate"]["validUntil"] == view["certifiedUntil"]
    fees = (await journey.application())["fees"]
    assert all(f["status"] == "PAID" for f in fees)
    assert sum(Decimal(f["amount"]) for f in fees) == Decimal("5950.00")

    history = await gql(client, HISTORY, journey.token("admin"), id=journey.ids["application"])
    assert [(t["toStatus"], t["actor"]["role"])
            for t in history["data"]["node"]["transitions"]] == [
        ("SUBMITTED", "SUPPLIER"), ("AUDIT_FIRM_ASSIGNED", "REVIEWER"),
        ("AUDIT_SCHEDULED", "AUDITOR"), ("UNDER_REVIEW", "AUDITOR"),
        ("FOLLOW_UP_REQUIRED", "REVIEWER"), ("AUDIT_SCHEDULED", "AUDITOR"),
        ("UNDER_REVIEW", "AUDITOR"), ("APPROVED", "ADMIN"), ("CERTIFIED", "ADMIN")]


async def test_an_unconnected_customer_sees_the_public_status_but_not_the_certificate(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    await Journey(client, database, cast).to_certified()

    body = await gql(client, CUSTOMER_VIEW, cast.token("customer_b_user"),
                     id=cast.factory_gid("alpha"))

    assert body["data"]["factory"]["certificationStatus"] == "CERTIFIED"
    assert body["data"]["factory"]["currentCertificate"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": "CERTIFICATION"}
    assert body["data"]["factory"]["certifiedUntil"] is not None
    assert TODAY.isoformat() < body["data"]["factory"]["certifiedUntil"]
