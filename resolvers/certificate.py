"""Step 5 of certification: the certificate, and the program's sanctions on it."""
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import Application, Certificate
from db.certificate import certificate_number_seq
from db.enums import CertificateStatus
from resolvers.certification_rules import (
    certificate_number,
    certificate_status,
    certificate_status_change_allowed,
    certificate_validity,
)
from resolvers.errors import BusinessRuleError, not_found
from resolvers.workflow import certification_change, today

MAX_REASON = 2000


async def issue_certificate(session: AsyncSession, application: Application,
                            issued_on: date) -> Certificate:
    """A new ACTIVE certificate for the application's factory, valid 12 months.

    The factory's previous current certificate (the one being renewed, or a revoked or expired
    one) becomes SUPERSEDED first: a factory has one current certificate (unique index).
    """
    await session.execute(
        update(Certificate)
        .where(Certificate.factory_id == application.factory_id,
               Certificate.status != CertificateStatus.SUPERSEDED.value)
        .values(status=CertificateStatus.SUPERSEDED.value)
        .execution_options(synchronize_session=False))
    # A sequence, not max(number) + 1: concurrent issues never collide and numbers never repeat.
    seq = int(await session.scalar(select(certificate_number_seq.next_value())))
    certificate = Certificate(number=certificate_number(seq), factory_id=application.factory_id,
                              application_id=application.id,
                              status=CertificateStatus.ACTIVE.value, issued_on=issued_on,
                              valid_until=certificate_validity(issued_on))
    session.add(certificate)
    await session.flush()
    return certificate


async def set_certificate_status(session: AsyncSession, certificate_id: int,
                                 target: CertificateStatus, reason: str) -> Certificate:
    """Suspend, reinstate (ACTIVE) or revoke, judged on the status readers see (an expired
    certificate can no longer be suspended or revoked)."""
    reason = _clean_reason(reason)
    factory_id = await session.scalar(select(Certificate.factory_id).where(
        Certificate.id == certificate_id))
    if factory_id is None:
        raise not_found("certificate", ["certificateId"])
    async with certification_change(session, factory_id):
        certificate = (await session.execute(
            select(Certificate).where(Certificate.id == certificate_id).with_for_update()
            .execution_options(populate_existing=True))).scalar_one()
        current = certificate_status(CertificateStatus(certificate.status),
                                     certificate.valid_until, today())
        if not certificate_status_change_allowed(current, target):
            raise BusinessRuleError("INVALID_TRANSITION", f"The certificate is {current.value}: "
                                    f"it cannot become {target.value}.", ["status"])
        certificate.status, certificate.status_reason = target.value, reason
        if target is CertificateStatus.ACTIVE and certificate.valid_until < today():
            # Reinstated past its validity: this move announces the expiry (tasks.expiry
            # must not announce it again).
            certificate.expiry_announced_on = today()
    return certificate


def _clean_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise BusinessRuleError("VALIDATION", f"Give a reason of at most {MAX_REASON} "
                                "characters.", ["reason"])
    return reason
