"""Step 3: the assigned firm schedules the audit inside its window and reports it."""
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import update

from db import Auditor, Document
from db.engine import Database
from resolvers.certification_rules import audit_window_limit, cap_due_on, report_due_on
from schema.ids import encode_id
from tests.api.workflow import MINOR, SCHEDULE, TODAY, Journey, codes, fee_of, gql, ok, pk, run
from tests.helpers import Cast, add_auditor

AUDIT_AS_SUPPLIER = """
query Audit($id: ID!) {
  node(id: $id) { ... on Audit { status announcement windowStart windowEnd plannedDate } }
}
"""


@pytest.fixture
async def journey(client: httpx.AsyncClient, database: Database, cast: Cast) -> Journey:
    journey = Journey(client, database, cast)
    await journey.to_assigned()
    return journey


async def given_document(database: Database, cast: Cast, organization: str) -> str:
    async with database.unit_of_work() as session:
        document = Document(organization_id=cast.organizations[organization],
                            filename="report.pdf", content_type="application/pdf",
                            size_bytes=1024, sha256="a" * 64)
        session.add(document)
        await session.flush()
        return encode_id("Document", document.id)


# --- scheduling ---------------------------------------------------------------------------------


async def test_firm_schedules_an_announced_audit_and_the_application_moves(
        journey: Journey) -> None:
    payload = ok(await journey.schedule())

    audit = payload["audit"]
    assert (audit["status"], audit["type"], audit["announcement"]) == (
        "SCHEDULED", "INITIAL_CERTIFICATION", "ANNOUNCED")
    assert audit["leadAuditor"] == {"name": "firm_a_lead"}
    assert (await journey.application())["status"] == "AUDIT_SCHEDULED"


async def test_the_window_may_end_exactly_two_months_after_assignment_and_not_a_day_later(
        journey: Journey) -> None:
    limit = audit_window_limit(TODAY)

    late = await journey.schedule(windowEnd=(limit + timedelta(days=1)).isoformat())
    assert codes(late) == ["WINDOW_TOO_LATE"] and late["userErrors"][0]["field"] == ["windowEnd"]
    assert limit.isoformat() in late["userErrors"][0]["message"]
    assert (await journey.application())["status"] == "AUDIT_FIRM_ASSIGNED"

    ok(await journey.schedule(windowEnd=limit.isoformat()))


async def test_assigned_on_december_31_the_window_ends_by_the_last_day_of_february(
        journey: Journey) -> None:
    await journey.assigned_on(date(2025, 12, 31))
    dates = {"windowStart": "2026-01-05", "plannedDate": "2026-01-06"}

    late = await journey.schedule(windowEnd="2026-03-01", **dates)
    assert codes(late) == ["WINDOW_TOO_LATE"] and "2026-02-28" in late["userErrors"][0]["message"]
    payload = ok(await journey.schedule(windowEnd="2026-02-28", **dates))
    assert payload["audit"]["windowEnd"] == "2026-02-28"


# Dates as days from the day the test runs (timedelta), never from the day it was collected.
@pytest.mark.parametrize("changes, code, field", [
    ({"windowStart": timedelta(days=5), "windowEnd": timedelta(days=4)}, "VALIDATION",
     "windowEnd"),
    ({"windowStart": timedelta(days=-1)}, "VALIDATION", "windowStart"),
    ({"plannedDate": timedelta(days=31)}, "PLANNED_OUTSIDE_WINDOW", "plannedDate"),
    ({"type": "FOLLOW_UP"}, "INVALID_AUDIT_TYPE", "type"),
    ({"auditFeeAmount": "0"}, "VALIDATION", "auditFeeAmount"),
])
async def test_a_plan_breaking_a_rule_is_refused_and_nothing_changes(
        journey: Journey, changes: dict, code: str, field: str) -> None:
    today = date.today()
    payload = await journey.schedule(**{
        name: (today + value).isoformat() if isinstance(value, timedelta) else value
        for name, value in changes.items()})

    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, [field])]
    application = await journey.application()
    assert application["status"] == "AUDIT_FIRM_ASSIGNED" and application["audits"] == []


async def test_an_audit_fee_amount_that_is_not_plain_money_is_refused(
        journey: Journey) -> None:
    for amount in ("abc", "-5", "1e3", "12.345", "1,000", "", "NaN", "99999999999"):
        assert codes(await journey.schedule(auditFeeAmount=amount)) == ["VALIDATION"], amount
    assert fee_of((await journey.application())["fees"], "AUDIT")["amount"] == "2500.00"


async def test_the_firm_sets_the_audit_fee_amount_exactly_when_scheduling(
        journey: Journey) -> None:
    ok(await journey.schedule(auditFeeAmount="2750.5"))

    fee = fee_of((await journey.application())["fees"], "AUDIT")
    assert (fee["amount"], fee["status"]) == ("2750.50", "DUE")


async def test_a_paid_audit_fee_cannot_be_changed_by_scheduling(journey: Journey) -> None:
    ok(await journey.pay("audit_fee", who="firm_a_user"))

    assert codes(await journey.schedule(auditFeeAmount="3000.00")) == ["AUDIT_FEE_PAID"]
    ok(await journey.schedule(auditFeeAmount="2500.00"))  # the amount it already has


async def test_the_lead_auditor_must_be_an_active_auditor_of_the_firm(
        journey: Journey, database: Database, cast: Cast) -> None:
    other = encode_id("Auditor", cast.auditors["firm_b_lead"])
    assert codes(await journey.schedule(leadAuditorId=other)) == ["NOT_FOUND"]

    await add_auditor(database, cast, "firm_a_retired", "firm_a")
    async with database.unit_of_work() as session:
        await session.execute(update(Auditor).where(
            Auditor.id == cast.auditors["firm_a_retired"]).values(active=False))
    retired = encode_id("Auditor", cast.auditors["firm_a_retired"])
    assert codes(await journey.schedule(leadAuditorId=retired)) == ["AUDITOR_INACTIVE"]


async def test_another_firm_cannot_find_the_application(journey: Journey) -> None:
    payload = await run(journey.client, SCHEDULE, journey.token("firm_b_user"),
                        **journey.plan(leadAuditorId=encode_id(
                            "Auditor", journey.cast.auditors["firm_b_lead"])))

    assert codes(payload) == ["NOT_FOUND"]


async def test_program_supplier_and_customer_get_forbidden_on_scheduling(
        journey: Journey) -> None:
    for who in ("admin", "supplier_a_user", "customer_a_user"):
        body = await gql(journey.client, SCHEDULE, journey.token(who), input=journey.plan())
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN",
                                                   "requiredScope": "AUDITOR"}, who


async def test_an_unannounced_audit_stays_unannounced_to_the_supplier(
        journey: Journey) -> None:
    ok(await journey.schedule(announcement="UNANNOUNCED"))

    body = await gql(journey.client, AUDIT_AS_SUPPLIER, journey.token("supplier_a_user"),
                     id=journey.ids["audit"])

    assert body["data"]["node"] == {"status": "SCHEDULED", "announcement": "UNANNOUNCED",
                                    "windowStart": None, "windowEnd": None, "plannedDate": None}
    assert {e["path"][-1] for e in body["errors"]} == {"windowStart", "windowEnd", "plannedDate"}


# --- reporting ----------------------------------------------------------------------------------


async def test_firm_reports_findings_and_the_factory_owes_a_cap_in_5_working_days(
        journey: Journey) -> None:
    ok(await journey.schedule())

    payload = ok(await journey.report([MINOR, MINOR | {"clause": "4.3", "severity": "MAJOR"}]))

    audit = payload["audit"]
    assert (audit["status"], audit["conductedOn"]) == ("REPORT_SUBMITTED", TODAY.isoformat())
    assert audit["reportDueOn"] == report_due_on(TODAY).isoformat()
    assert audit["isReportOverdue"] is False
    assert [(f["clause"], f["severity"]) for f in audit["findings"]] == [("4.2", "MINOR"),
                                                                         ("4.3", "MAJOR")]
    assert audit["findingsSummary"] == {"total": 2, "zeroTolerance": 0}
    plan = audit["correctiveActionPlan"]
    assert (plan["status"], plan["dueOn"]) == ("DRAFT", cap_due_on(TODAY).isoformat())
    assert (await journey.application())["status"] == "UNDER_REVIEW"


async def test_a_report_without_findings_opens_no_cap(journey: Journey) -> None:
    ok(await journey.schedule())

    audit = ok(await journey.report([]))["audit"]

    assert audit["findings"] == [] and audit["correctiveActionPlan"] is None


async def test_a_conducted_date_in_the_future_or_before_the_window_is_refused(
        journey: Journey) -> None:
    ok(await journey.schedule(windowStart=(TODAY + timedelta(days=1)).isoformat(),
                              plannedDate=(TODAY + timedelta(days=1)).isoformat()))

    assert codes(await journey.report(conducted_on=TODAY + timedelta(days=1))) == [
        "CONDUCTED_IN_FUTURE"]
    assert codes(await journey.report(conducted_on=TODAY)) == ["CONDUCTED_BEFORE_WINDOW"]
    assert (await journey.application())["status"] == "AUDIT_SCHEDULED"


async def test_a_finding_with_a_blank_clause_is_refused_at_its_path(journey: Journey) -> None:
    ok(await journey.schedule())

    payload = await journey.report([MINOR, MINOR | {"clause": "  "}])

    assert payload["userErrors"][0]["field"] == ["findings", "1", "clause"]
    assert (await journey.application())["status"] == "AUDIT_SCHEDULED"


async def test_the_report_document_must_be_one_the_firm_uploaded(
        journey: Journey, database: Database, cast: Cast) -> None:
    ok(await journey.schedule())
    foreign = await given_document(database, cast, "supplier_a")
    assert codes(await journey.report(reportDocumentId=foreign)) == ["NOT_FOUND"]

    own = await given_document(database, cast, "firm_a")
    ok(await journey.report(reportDocumentId=own))
    body = await gql(journey.client, "query($id: ID!) { node(id: $id) { ... on Audit "
                     "{ report { id filename } } } }", journey.token("admin"),
                     id=journey.ids["audit"])
    assert body["data"]["node"]["report"] == {"id": own, "filename": "report.pdf"}


async def test_reporting_twice_or_by_another_firm_is_refused(journey: Journey) -> None:
    ok(await journey.schedule())
    journey.firm = "firm_b"
    assert codes(await journey.report()) == ["NOT_FOUND"]
    journey.firm = "firm_a"
    ok(await journey.report())

    assert codes(await journey.report([MINOR])) == ["INVALID_TRANSITION"]
    audits = (await journey.application())["audits"]
    assert [a["status"] for a in audits] == ["REPORT_SUBMITTED"]
    assert pk(audits[0]["id"]) == pk(journey.ids["audit"])


FEE_MONEY = """
query Fees($id: ID!) { node(id: $id) { ... on Application {
  fees { kind amount amountDecimal currency } } } }
"""


async def test_a_fee_amount_is_also_a_decimal_beside_its_currency(journey: Journey) -> None:
    """Fee.amount stays the contract's String; amountDecimal is the same value as a Decimal."""
    ok(await journey.schedule(auditFeeAmount="2750.5"))
    body = await gql(journey.client, FEE_MONEY, journey.token("admin"),
                     id=journey.ids["application"])
    fee = fee_of(body["data"]["node"]["fees"], "AUDIT")
    assert fee == {"kind": "AUDIT", "amount": "2750.50", "amountDecimal": "2750.50",
                   "currency": "USD"}
