"""Givens for document, CAP and assessment tests: uploads over HTTP, and an audited factory
(application, audit, findings, draft CAP) written straight into the database."""
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from db import (
    Application,
    Audit,
    CorrectiveActionPlan,
    CustomerConnection,
    Document,
    Finding,
    corrective_action_evidence,
)
from db import CorrectiveAction as ActionRow
from db.engine import Database
from schema.ids import decode_as, encode_id
from tests.helpers import Cast

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
XLSX = b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(64))
CSV = "factory,year,energy_kwh\nAlpha,2025,1200.5\nÇorlu,2025,980\n".encode()
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def upload(client: httpx.AsyncClient, token: str | None, content: bytes,
                 filename: str = "report.pdf", content_type: str = "application/pdf"
                 ) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post("/documents", files={"file": (filename, content, content_type)},
                             headers=headers)


async def uploaded(client: httpx.AsyncClient, token: str, content: bytes = PDF,
                   filename: str = "report.pdf", content_type: str = "application/pdf") -> str:
    """The global id of a freshly uploaded document."""
    response = await upload(client, token, content, filename, content_type)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def pk(global_id: str, type_name: str) -> int:
    found = decode_as(global_id, type_name)
    assert found is not None
    return found


async def document_count(database: Database) -> int:
    async with database.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(Document))).scalar_one())


@dataclass
class AuditedFactory:
    """An audit whose report is submitted, with findings and a DRAFT plan."""

    application_id: int
    audit_id: int
    plan_id: int
    finding_ids: list[int] = field(default_factory=list)

    @property
    def audit_gid(self) -> str:
        return encode_id("Audit", self.audit_id)

    @property
    def finding_gids(self) -> list[str]:
        return [encode_id("Finding", f) for f in self.finding_ids]


async def audited_factory(database: Database, cast: Cast, factory: str = "alpha",
                          firm: str = "firm_a", findings: int = 2,
                          report_document_id: int | None = None) -> AuditedFactory:
    conducted = date.today() - timedelta(days=3)
    async with database.unit_of_work() as session:
        application = Application(factory_id=cast.factories[factory], kind="NEW",
                                  status="UNDER_REVIEW", audit_firm_id=cast.organizations[firm])
        session.add(application)
        await session.flush()
        audit = Audit(application_id=application.id, factory_id=cast.factories[factory],
                      audit_firm_id=cast.organizations[firm], lead_auditor_id=cast.auditors[
                          f"{firm}_lead"], type="INITIAL_CERTIFICATION", announcement="ANNOUNCED",
                      status="REPORT_SUBMITTED", window_start=conducted - timedelta(days=10),
                      window_end=conducted + timedelta(days=10), planned_date=conducted,
                      conducted_on=conducted, report_document_id=report_document_id,
                      report_submitted_at=func.now())
        session.add(audit)
        await session.flush()
        rows = [Finding(audit_id=audit.id, clause=f"4.{i + 1}", category="Health and safety",
                        severity="MAJOR", description=f"Finding {i + 1}")
                for i in range(findings)]
        session.add_all(rows)
        plan = CorrectiveActionPlan(audit_id=audit.id, factory_id=cast.factories[factory],
                                    status="DRAFT", due_on=date.today() + timedelta(days=5))
        session.add(plan)
        await session.flush()
        return AuditedFactory(application.id, audit.id, plan.id, [r.id for r in rows])


async def connect(database: Database, cast: Cast, customer: str, factory: str,
                  scopes: list[str]) -> None:
    """An ACCEPTED connection granting `scopes`."""
    async with database.unit_of_work() as session:
        session.add(CustomerConnection(
            factory_id=cast.factories[factory], customer_id=cast.organizations[customer],
            status="ACCEPTED", requested_scopes=scopes, granted_scopes=scopes,
            responded_at=func.now()))


async def plan_state(database: Database, plan_id: int) -> dict[str, Any]:
    """Everything a CAP submission may change, for asserting that a refusal changed nothing."""
    async with database.read() as conn:
        plan = (await conn.execute(select(CorrectiveActionPlan.status,
                                          CorrectiveActionPlan.submitted_at)
                                   .where(CorrectiveActionPlan.id == plan_id))).one()
        actions = (await conn.execute(select(*ActionRow.__table__.c)
                                      .where(ActionRow.plan_id == plan_id)
                                      .order_by(ActionRow.id))).all()
        evidence = (await conn.execute(select(*corrective_action_evidence.c)
                                       .order_by(*corrective_action_evidence.c))).all()
    return {"status": plan.status, "submitted_at": plan.submitted_at,
            "actions": [tuple(a) for a in actions], "evidence": [tuple(e) for e in evidence]}
