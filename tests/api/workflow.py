"""The certification workflow as each role drives it over HTTP, for tests/api/test_workflow_*.py.

`Journey` performs the steps through the API (the supplier applies, the program records the
registration fee and assigns a firm, the firm schedules and reports, the program reviews and
records the seal fee) and remembers the ids, so a test can bring an application to the stage it
is about and then check one step.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from db import Application, CustomerConnection
from db.engine import Database
from db.enums import ConnectionStatus, ShareScope
from schema.ids import decode_id, encode_id
from tests.helpers import Cast, gql

ERRORS = "userErrors { code field message }"

AUDIT_FINDINGS = "query($id: ID!) { node(id: $id) { ... on Audit { findings { id } } } }"

SUBMIT_CAP = """
mutation SubmitCap($input: SubmitCorrectiveActionPlanInput!) {
  submitCorrectiveActionPlan(input: $input) { correctiveActionPlan { id status } %s }
}
""" % ERRORS

SUBMIT = """
mutation Submit($input: SubmitApplicationInput!) {
  submitApplication(input: $input) {
    application { id kind status fees { id kind round amount currency status payee { name } } }
    %s
  }
}
""" % ERRORS

PAY = """
mutation Pay($input: RecordPaymentInput!) {
  recordPayment(input: $input) {
    fee { id kind amount status paidAt paymentReference }
    application { id status }
    %s
  }
}
""" % ERRORS

ASSIGN = """
mutation Assign($input: AssignAuditFirmInput!) {
  assignAuditFirm(input: $input) {
    application {
      id status assignedAt auditFirm { id name }
      fees { id kind round amount status payee { id } }
    }
    %s
  }
}
""" % ERRORS

SCHEDULE = """
mutation Schedule($input: ScheduleAuditInput!) {
  scheduleAudit(input: $input) {
    audit { id status type announcement windowStart windowEnd plannedDate leadAuditor { name } }
    %s
  }
}
""" % ERRORS

REPORT = """
mutation Report($input: SubmitAuditReportInput!) {
  submitAuditReport(input: $input) {
    audit {
      id status conductedOn reportDueOn isReportOverdue
      findings { id clause category severity description }
      findingsSummary { total zeroTolerance }
      correctiveActionPlan { id status dueOn isOverdue }
    }
    %s
  }
}
""" % ERRORS

REVIEW = """
mutation Review($input: ReviewAuditInput!) {
  reviewAudit(input: $input) {
    audit { id status reviewedAt correctiveActionPlan { status } }
    %s
  }
}
""" % ERRORS

SET_CERTIFICATE_STATUS = """
mutation SetStatus($input: SetCertificateStatusInput!) {
  setCertificateStatus(input: $input) {
    certificate { id number status validUntil }
    %s
  }
}
""" % ERRORS

APPLICATION = """
query Application($id: ID!) {
  node(id: $id) {
    ... on Application {
      id kind status assignedAt
      fees { id kind round amount status payee { id } }
      audits { id type status }
    }
  }
}
"""

FACTORY_CERTIFICATION = """
query Certification($id: ID!) {
  factory(id: $id) {
    certificationStatus certifiedUntil
    currentCertificate { id number status issuedOn validUntil }
    certificates { number status }
  }
}
"""

VERIFY = """
query Verify($number: String!) {
  verifyCertificate(number: $number) { number valid status factoryName validUntil }
}
"""

TODAY = date.today()


def pk(global_id: str) -> int:
    decoded = decode_id(global_id)
    assert decoded is not None, global_id
    return decoded[1]


async def run(client: httpx.AsyncClient, query: str, token: str | None,
              **input: Any) -> dict[str, Any]:
    """One mutation with `input`; returns its payload (top-level errors fail the test)."""
    body = await gql(client, query, token, input=input)
    assert "errors" not in body, body["errors"]
    (payload,) = body["data"].values()
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


def ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def fee_of(fees: list[dict[str, Any]], kind: str, round: int = 1) -> dict[str, Any]:
    (found,) = [f for f in fees if f["kind"] == kind and f.get("round", 1) == round]
    return found


MINOR = {"clause": "4.2", "category": "Health and safety", "severity": "MINOR",
         "description": "Fire exit partly blocked by pallets."}
ZERO_TOLERANCE = {"clause": "1.1", "category": "Child labour", "severity": "ZERO_TOLERANCE",
                  "description": "A worker under the minimum age."}


@dataclass
class Journey:
    """One application of one factory, driven step by step by the role that does each step."""

    client: httpx.AsyncClient
    database: Database
    cast: Cast
    factory: str = "alpha"
    supplier: str = "supplier_a_user"
    firm: str = "firm_a"
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def firm_user(self) -> str:
        return f"{self.firm}_user"

    def token(self, who: str) -> str:
        return self.cast.token(who)

    async def submit(self, kind: str = "NEW") -> dict[str, Any]:
        payload = ok(await run(self.client, SUBMIT, self.token(self.supplier),
                               factoryId=self.cast.factory_gid(self.factory), kind=kind))
        application = payload["application"]
        self.ids["application"] = application["id"]
        self.ids["registration_fee"] = fee_of(application["fees"], "REGISTRATION")["id"]
        return payload

    async def pay(self, fee: str, who: str = "admin", reference: str | None = "TX-1"
                  ) -> dict[str, Any]:
        return await run(self.client, PAY, self.token(who), feeId=self.ids[fee],
                         reference=reference)

    async def assign(self) -> dict[str, Any]:
        payload = ok(await run(self.client, ASSIGN, self.token("reviewer"),
                               applicationId=self.ids["application"],
                               auditFirmId=self.cast.org_gid(self.firm)))
        fees = payload["application"]["fees"]
        self.ids["audit_fee"] = fee_of(fees, "AUDIT")["id"]
        return payload

    def plan(self, **changes: Any) -> dict[str, Any]:
        plan = {"applicationId": self.ids["application"], "type": "INITIAL_CERTIFICATION",
                "announcement": "ANNOUNCED", "windowStart": TODAY.isoformat(),
                "windowEnd": (TODAY + timedelta(days=30)).isoformat(),
                "plannedDate": TODAY.isoformat(),
                "leadAuditorId": encode_id("Auditor", self.cast.auditors[f"{self.firm}_lead"])}
        plan.update(changes)
        return plan

    async def schedule(self, **changes: Any) -> dict[str, Any]:
        payload = await run(self.client, SCHEDULE, self.token(self.firm_user),
                            **self.plan(**changes))
        if payload["audit"]:
            self.ids["audit"] = payload["audit"]["id"]
        return payload

    async def report(self, findings: list[dict[str, Any]] | None = None,
                     conducted_on: date = TODAY, **changes: Any) -> dict[str, Any]:
        return await run(self.client, REPORT, self.token(self.firm_user),
                         auditId=self.ids["audit"], conductedOn=conducted_on.isoformat(),
                         findings=findings or [], **changes)

    async def review(self, decision: str, who: str = "reviewer",
                     notes: str | None = None) -> dict[str, Any]:
        return await run(self.client, REVIEW, self.token(who), auditId=self.ids["audit"],
                         decision=decision, notes=notes)

    async def application(self, who: str = "admin") -> dict[str, Any]:
        body = await gql(self.client, APPLICATION, self.token(who), id=self.ids["application"])
        return body["data"]["node"]

    async def certification(self, who: str = "admin") -> dict[str, Any]:
        body = await gql(self.client, FACTORY_CERTIFICATION, self.token(who),
                         id=self.cast.factory_gid(self.factory))
        return body["data"]["factory"]

    async def seal_fee(self) -> str:
        application = await self.application()
        self.ids["seal_fee"] = fee_of(application["fees"], "SEAL")["id"]
        return self.ids["seal_fee"]

    # --- whole stages -------------------------------------------------------------------------

    async def to_assigned(self) -> None:
        await self.submit()
        ok(await self.pay("registration_fee"))
        await self.assign()

    async def to_scheduled(self, **changes: Any) -> None:
        await self.to_assigned()
        ok(await self.schedule(**changes))

    async def to_under_review(self, findings: list[dict[str, Any]] | None = None) -> None:
        await self.to_scheduled()
        ok(await self.report(findings))

    async def to_approved(self) -> None:
        await self.to_under_review()
        ok(await self.review("APPROVE"))
        await self.seal_fee()

    async def to_certified(self, kind: str = "NEW") -> str:
        """Returns the certificate's number."""
        if kind == "NEW":
            await self.to_approved()
        else:
            await self.submit("RENEWAL")
            ok(await self.pay("registration_fee"))
            await self.assign()
            ok(await self.schedule(type="ANNUAL"))
            ok(await self.report())
            ok(await self.review("APPROVE"))
            await self.seal_fee()
        ok(await self.pay("seal_fee", reference="SEAL-1"))
        current = (await self.certification())["currentCertificate"]
        self.ids["certificate"] = current["id"]
        return str(current["number"])

    # --- givens written into the database -----------------------------------------------------

    async def cap_submitted(self) -> None:
        """The owning supplier submits its CAP over HTTP: one action per finding."""
        audit = await gql(self.client, AUDIT_FINDINGS, self.token(self.supplier),
                          id=self.ids["audit"])
        actions = [{"findingId": finding["id"], "action": "Fixed and trained the staff.",
                    "dueDate": (TODAY + timedelta(days=14)).isoformat(),
                    "agreesWithFinding": True}
                   for finding in audit["data"]["node"]["findings"]]
        ok(await run(self.client, SUBMIT_CAP, self.token(self.supplier),
                     auditId=self.ids["audit"], actions=actions))

    async def assigned_on(self, day: date) -> None:
        """Given the firm was assigned on `day` (for exact window dates)."""
        async with self.database.unit_of_work() as session:
            await session.execute(update(Application)
                                  .where(Application.id == pk(self.ids["application"]))
                                  .values(assigned_at=datetime.combine(day, time(12))
                                          .astimezone()))


async def connect(database: Database, cast: Cast, customer: str, factory: str,
                  scopes: list[ShareScope]) -> None:
    """Given an ACCEPTED connection of `customer` to `factory` granting `scopes`."""
    async with database.unit_of_work() as session:
        values = [s.value for s in scopes]
        session.add(CustomerConnection(
            factory_id=cast.factories[factory], customer_id=cast.organizations[customer],
            status=ConnectionStatus.ACCEPTED.value, requested_scopes=values,
            granted_scopes=values))
