"""Step 2: the program records the registration fee and assigns an audit firm; the AUDIT fee is
due to that firm and recorded by it."""
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import update

from db import Organization
from db.engine import Database
from tests.api.workflow import ASSIGN, PAY, Journey, codes, fee_of, gql, ok, run
from tests.helpers import Cast


@pytest.fixture
async def journey(client: httpx.AsyncClient, database: Database, cast: Cast) -> Journey:
    journey = Journey(client, database, cast)
    await journey.submit()
    return journey


async def deactivate(database: Database, cast: Cast, firm: str) -> None:
    async with database.unit_of_work() as session:
        await session.execute(update(Organization).where(
            Organization.id == cast.organizations[firm]).values(active=False))


async def assign(journey: Journey, firm: str | None, who: str = "reviewer") -> dict:
    input = {"applicationId": journey.ids["application"]}
    if firm is not None:
        input["auditFirmId"] = journey.cast.org_gid(firm)
    return await run(journey.client, ASSIGN, journey.token(who), **input)


async def test_program_records_the_registration_fee_with_its_reference(
        journey: Journey) -> None:
    payload = ok(await journey.pay("registration_fee", who="reviewer", reference="  WIRE-0042 "))

    fee = payload["fee"]
    assert (fee["kind"], fee["amount"], fee["status"]) == ("REGISTRATION", "1500.00", "PAID")
    assert fee["paymentReference"] == "WIRE-0042" and fee["paidAt"] is not None
    # Paying a fee is not a move: the application waits for its firm.
    assert payload["application"]["status"] == "SUBMITTED"


async def test_paying_a_fee_twice_is_refused_and_keeps_the_first_payment(
        journey: Journey) -> None:
    first = ok(await journey.pay("registration_fee", reference="A"))["fee"]

    payload = await journey.pay("registration_fee", reference="B")

    assert codes(payload) == ["ALREADY_PAID"] and payload["fee"] is None
    fee = fee_of((await journey.application())["fees"], "REGISTRATION")
    assert fee["status"] == "PAID"
    assert first["paymentReference"] == "A"


async def test_a_multi_line_or_overlong_reference_is_refused(journey: Journey) -> None:
    for reference in ("one\ntwo", "x" * 201):
        payload = await journey.pay("registration_fee", reference=reference)
        assert payload["userErrors"][0]["field"] == ["reference"]
    assert fee_of((await journey.application())["fees"], "REGISTRATION")["status"] == "DUE"


async def test_supplier_and_customer_get_forbidden_and_anonymous_unauthenticated_on_payment(
        journey: Journey) -> None:
    for who, code in (("supplier_a_user", "FORBIDDEN"), ("customer_a_user", "FORBIDDEN"),
                      (None, "UNAUTHENTICATED")):
        body = await gql(journey.client, PAY, journey.token(who) if who else None,
                         input={"feeId": journey.ids["registration_fee"]})
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == code, who
    assert fee_of((await journey.application())["fees"], "REGISTRATION")["status"] == "DUE"


async def test_an_audit_firm_cannot_see_let_alone_pay_the_registration_fee(
        journey: Journey) -> None:
    assert codes(await journey.pay("registration_fee", who="firm_a_user")) == ["NOT_FOUND"]


async def test_assigning_before_the_registration_fee_is_paid_is_refused(
        journey: Journey) -> None:
    payload = await assign(journey, "firm_a")

    assert codes(payload) == ["REGISTRATION_FEE_UNPAID"]
    application = await journey.application()
    assert application["status"] == "SUBMITTED" and application["assignedAt"] is None
    assert [f["kind"] for f in application["fees"]] == ["REGISTRATION"]


async def test_program_assigns_the_named_firm_and_the_audit_fee_is_due_to_it(
        journey: Journey) -> None:
    ok(await journey.pay("registration_fee"))

    payload = ok(await assign(journey, "firm_b", who="admin"))

    application = payload["application"]
    assert application["status"] == "AUDIT_FIRM_ASSIGNED"
    assert application["auditFirm"]["name"] == "firm_b org"
    assert application["assignedAt"] is not None
    audit_fee = fee_of(application["fees"], "AUDIT")
    assert (audit_fee["amount"], audit_fee["status"], audit_fee["round"]) == ("2500.00", "DUE", 1)
    assert audit_fee["payee"]["id"] == journey.cast.org_gid("firm_b")
    total = sum(Decimal(f["amount"]) for f in application["fees"])
    assert total == Decimal("4000.00")


async def test_without_a_named_firm_a_random_active_one_is_chosen(
        journey: Journey, database: Database, cast: Cast) -> None:
    await deactivate(database, cast, "firm_b")
    ok(await journey.pay("registration_fee"))

    payload = ok(await assign(journey, None))

    assert payload["application"]["auditFirm"]["name"] == "firm_a org"


async def test_an_inactive_firm_or_no_active_firm_at_all_is_refused(
        journey: Journey, database: Database, cast: Cast) -> None:
    ok(await journey.pay("registration_fee"))
    await deactivate(database, cast, "firm_a")
    assert codes(await assign(journey, "firm_a")) == ["AUDIT_FIRM_INACTIVE"]

    await deactivate(database, cast, "firm_b")
    assert codes(await assign(journey, None)) == ["NO_ACTIVE_AUDIT_FIRM"]
    assert codes(await assign(journey, "supplier_a")) == ["NOT_FOUND"]
    assert (await journey.application())["status"] == "SUBMITTED"


async def test_assigning_twice_is_an_invalid_transition(journey: Journey) -> None:
    ok(await journey.pay("registration_fee"))
    ok(await assign(journey, "firm_a"))

    payload = await assign(journey, "firm_b")

    assert codes(payload) == ["INVALID_TRANSITION"]
    application = await journey.application()
    assert len([f for f in application["fees"] if f["kind"] == "AUDIT"]) == 1


async def test_supplier_firm_and_customer_get_forbidden_on_assignment(
        journey: Journey) -> None:
    for who in ("supplier_a_user", "firm_a_user", "customer_a_user"):
        body = await gql(journey.client, ASSIGN, journey.token(who),
                         input={"applicationId": journey.ids["application"]})
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN",
                                                   "requiredScope": "ADMIN|REVIEWER"}, who


async def test_the_assigned_firm_records_its_audit_fee_and_nobody_else_does(
        journey: Journey) -> None:
    ok(await journey.pay("registration_fee"))
    await journey.assign()  # firm_a

    assert codes(await journey.pay("audit_fee", who="admin")) == ["NOT_PAYEE"]
    assert codes(await journey.pay("audit_fee", who="firm_b_user")) == ["NOT_FOUND"]
    payload = ok(await journey.pay("audit_fee", who="firm_a_user", reference="INV-7"))

    assert (payload["fee"]["kind"], payload["fee"]["status"]) == ("AUDIT", "PAID")
    assert payload["application"]["status"] == "AUDIT_FIRM_ASSIGNED"
