"""Public verification of certificates and auditors."""
from datetime import date
from typing import Any

from sqlalchemy import func, select

from db import Auditor, Certificate, Factory, Organization
from db.enums import CertificateStatus
from resolvers.certification_rules import certificate_status
from resolvers.context import Context


async def certificate(ctx: Context, number: str) -> dict[str, Any] | None:
    statement = (select(Certificate.number, Certificate.status, Certificate.valid_until,
                        Factory.name, Factory.country)
                 .join(Factory, Factory.id == Certificate.factory_id)
                 .where(Certificate.number == number.strip().upper()))
    async with ctx.database.read() as conn:
        row = (await conn.execute(statement)).first()
    if row is None:
        return None
    status = certificate_status(CertificateStatus(row.status), row.valid_until, date.today())
    return {"number": row.number, "valid": status is CertificateStatus.ACTIVE, "status": status,
            "factory_name": row.name, "country": row.country, "valid_until": row.valid_until}


async def auditor(ctx: Context, registration_number: str) -> dict[str, Any] | None:
    statement = (select(Auditor.registration_number, Auditor.name, Auditor.active,
                        Organization.name.label("firm"), Organization.active.label("firm_active"))
                 .join(Organization, Organization.id == Auditor.audit_firm_id)
                 .where(func.upper(Auditor.registration_number)
                        == registration_number.strip().upper()))
    async with ctx.database.read() as conn:
        row = (await conn.execute(statement)).first()
    if row is None:
        return None
    return {"registration_number": row.registration_number, "name": row.name,
            "audit_firm": row.firm, "active": bool(row.active and row.firm_active)}


async def audit_firms(ctx: Context) -> list[Any]:
    statement = (select(*Organization.__table__.c)
                 .where(Organization.kind == "AUDIT_FIRM", Organization.active.is_(True))
                 .order_by(Organization.name))
    async with ctx.database.read() as conn:
        return list((await conn.execute(statement)).all())
