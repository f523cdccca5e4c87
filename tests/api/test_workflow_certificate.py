"""Step 5: the paid seal fee issues the certificate; the program suspends, reinstates and revokes;
public verification and connected customers follow every change."""
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from db import Auditor, Certificate, Notification
from db.engine import Database
from db.enums import ShareScope
from resolvers.certification_rules import certificate_validity
from tests.api.workflow import (
    SET_CERTIFICATE_STATUS,
    TODAY,
    VERIFY,
    Journey,
    codes,
    connect,
    fee_of,
    gql,
    ok,
    pk,
    run,
)
from tests.helpers import Cast

VERIFY_AUDITOR = """
query($number: String!) { verifyAuditor(registrationNumber: $number) { name auditFirm active } }
"""


@pytest.fixture
async def journey(client: httpx.AsyncClient, database: Database, cast: Cast) -> Journey:
    return Journey(client, database, cast)


async def set_status(journey: Journey, status: str, reason: str = "Monitoring visit.",
                     who: str = "admin") -> dict:
    return await run(journey.client, SET_CERTIFICATE_STATUS, journey.token(who),
                     certificateId=journey.ids["certificate"], status=status, reason=reason)


async def verify(client: httpx.AsyncClient, number: str) -> dict:
    return (await gql(client, VERIFY, None, number=number))["data"]["verifyCertificate"]


async def given_valid_until(database: Database, journey: Journey, days: int) -> None:
    """Given the current certificate ends `days` from today (issued a year before that)."""
    valid_until = TODAY + timedelta(days=days)
    async with database.unit_of_work() as session:
        await session.execute(update(Certificate).where(
            Certificate.id == pk(journey.ids["certificate"])).values(
            issued_on=valid_until - timedelta(days=364), valid_until=valid_until))


async def test_paying_the_seal_fee_issues_a_certificate_valid_for_twelve_months(
        journey: Journey) -> None:
    await journey.to_approved()

    payload = ok(await journey.pay("seal_fee", who="reviewer", reference="SEAL-77"))

    assert payload["application"]["status"] == "CERTIFIED"
    assert (payload["fee"]["kind"], payload["fee"]["status"]) == ("SEAL", "PAID")
    certification = await journey.certification()
    certificate = certification["currentCertificate"]
    assert re.fullmatch(r"C\d{6}", certificate["number"])
    valid_until = certificate_validity(TODAY).isoformat()
    assert (certificate["status"], certificate["issuedOn"], certificate["validUntil"]) == (
        "ACTIVE", TODAY.isoformat(), valid_until)
    assert (certification["certificationStatus"], certification["certifiedUntil"]) == (
        "CERTIFIED", valid_until)
    assert await verify(journey.client, certificate["number"].lower()) == {
        "number": certificate["number"], "valid": True, "status": "ACTIVE",
        "factoryName": "alpha factory", "validUntil": valid_until}


async def test_certificate_numbers_come_from_one_sequence_and_never_repeat(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    alpha = await Journey(client, database, cast).to_certified()
    beta = await Journey(client, database, cast, factory="beta",
                         supplier="supplier_b_user", firm="firm_b").to_certified()

    assert alpha != beta and int(beta[1:]) == int(alpha[1:]) + 1


async def test_the_seal_fee_paid_twice_issues_one_certificate(journey: Journey) -> None:
    await journey.to_certified()

    assert codes(await journey.pay("seal_fee")) == ["ALREADY_PAID"]
    assert len((await journey.certification())["certificates"]) == 1


async def test_a_renewal_supersedes_the_certificate_it_renews(
        journey: Journey, database: Database) -> None:
    old = await journey.to_certified()
    await given_valid_until(database, journey, days=30)

    new = await journey.to_certified(kind="RENEWAL")

    certification = await journey.certification()
    assert certification["currentCertificate"]["number"] == new != old
    assert sorted((c["number"], c["status"]) for c in certification["certificates"]) == [
        (old, "SUPERSEDED"), (new, "ACTIVE")]
    assert certification["certifiedUntil"] == certificate_validity(TODAY).isoformat()
    assert (await verify(journey.client, old))["valid"] is False


async def test_suspend_reinstate_and_revoke_show_in_the_factory_and_in_verification(
        journey: Journey) -> None:
    number = await journey.to_certified()

    assert ok(await set_status(journey, "SUSPENDED"))["certificate"]["status"] == "SUSPENDED"
    assert (await journey.certification())["certificationStatus"] == "SUSPENDED"
    assert (await verify(journey.client, number))["status"] == "SUSPENDED"
    assert (await verify(journey.client, number))["valid"] is False

    ok(await set_status(journey, "ACTIVE", reason="Corrective actions verified."))
    assert (await journey.certification())["certificationStatus"] == "CERTIFIED"
    assert (await verify(journey.client, number))["valid"] is True

    ok(await set_status(journey, "REVOKED", who="reviewer", reason="Forced overtime."))
    certification = await journey.certification()
    assert (certification["certificationStatus"], certification["certifiedUntil"]) == (
        "REVOKED", None)
    assert (await verify(journey.client, number))["status"] == "REVOKED"


async def test_every_move_the_certificate_rules_refuse_is_an_invalid_transition(
        journey: Journey) -> None:
    await journey.to_certified()
    refused = {"ACTIVE": ["ACTIVE"], "SUSPENDED": ["SUSPENDED"], "REVOKED": ["ACTIVE",
                                                                               "SUSPENDED"]}

    for current, allowed_next in (("ACTIVE", "SUSPENDED"), ("SUSPENDED", "REVOKED"),
                                  ("REVOKED", None)):
        for target in refused[current]:
            payload = await set_status(journey, target)
            assert codes(payload) == ["INVALID_TRANSITION"], (current, target)
            assert payload["userErrors"][0]["message"] == (
                f"The certificate is {current}: it cannot become {target}.")
        if allowed_next:
            ok(await set_status(journey, allowed_next))
    assert (await journey.certification())["certificationStatus"] == "REVOKED"


async def test_an_expired_certificate_can_no_longer_be_suspended(
        journey: Journey, database: Database) -> None:
    number = await journey.to_certified()
    await given_valid_until(database, journey, days=-1)

    assert codes(await set_status(journey, "SUSPENDED")) == ["INVALID_TRANSITION"]
    assert (await verify(journey.client, number))["status"] == "EXPIRED"
    assert (await journey.certification())["certificationStatus"] == "EXPIRED"


async def test_a_blank_reason_is_refused(journey: Journey) -> None:
    await journey.to_certified()

    payload = await set_status(journey, "SUSPENDED", reason="   ")

    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("VALIDATION",
                                                                         ["reason"])]


async def test_supplier_firm_and_customer_get_forbidden_on_certificate_status(
        journey: Journey) -> None:
    await journey.to_certified()

    for who in ("supplier_a_user", "firm_a_user", "customer_a_user"):
        body = await gql(journey.client, SET_CERTIFICATE_STATUS, journey.token(who),
                         input={"certificateId": journey.ids["certificate"],
                                "status": "REVOKED", "reason": "x"})
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN",
                                                   "requiredScope": "ADMIN|REVIEWER"}, who
    assert (await journey.certification())["certificationStatus"] == "CERTIFIED"


async def test_a_deactivated_auditor_no_longer_verifies(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    query = {"number": "reg-firm_a_lead"}
    before = (await gql(client, VERIFY_AUDITOR, None, **query))["data"]["verifyAuditor"]
    assert before == {"name": "firm_a_lead", "auditFirm": "firm_a org", "active": True}

    async with database.unit_of_work() as session:  # given: the program deactivated the auditor
        await session.execute(update(Auditor).where(
            Auditor.id == cast.auditors["firm_a_lead"]).values(active=False))

    after = (await gql(client, VERIFY_AUDITOR, None, **query))["data"]["verifyAuditor"]
    assert after["active"] is False


async def test_customers_connected_with_certification_are_told_of_each_status_change(
        journey: Journey, database: Database, cast: Cast) -> None:
    await connect(database, cast, "customer_a", "alpha", [ShareScope.CERTIFICATION])
    await connect(database, cast, "customer_b", "alpha", [ShareScope.PROFILE])

    await journey.to_certified()
    ok(await set_status(journey, "SUSPENDED"))

    async with database.read() as conn:
        notices = (await conn.execute(select(Notification.recipient, Notification.subject)
                                      .where(Notification.topic == "certification.changed")
                                      .order_by(Notification.id))).all()
    assert [tuple(n) for n in notices] == [
        (cast.people["customer_a_user"].email, f"alpha factory: certification status {status}")
        for status in ("IN_PROGRESS", "CERTIFIED", "SUSPENDED")]


async def test_fees_add_up_exactly(journey: Journey) -> None:
    await journey.to_certified()

    fees = (await journey.application())["fees"]

    assert [(f["kind"], f["amount"], f["status"]) for f in fees] == [
        ("REGISTRATION", "1500.00", "PAID"), ("AUDIT", "2500.00", "DUE"),
        ("SEAL", "800.00", "PAID")]
    assert fee_of(fees, "SEAL")["payee"]["id"] == journey.cast.org_gid("program")
