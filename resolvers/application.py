"""Steps 1 and 2 of certification: apply, pay fees, assign an audit firm.

Every function here runs inside the caller's unit of work (schema.mutation.perform, or the demo
loader) and raises BusinessRuleError for a refused step; see resolvers.workflow for the locks.
"""
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, false, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth import policies
from auth.actors import may_record_payment, owns_factory
from auth.viewer import Viewer
from db import Application, Certificate, Factory, Fee, Organization
from db.enums import (
    ApplicationKind,
    ApplicationStatus,
    CertificateStatus,
    FeeKind,
    FeeStatus,
    OrganizationKind,
)
from db.settings import Settings
from resolvers.accounts import ensure_program
from resolvers.certificate import issue_certificate
from resolvers.certification_rules import Event, certificate_status, is_open, renewal_opens_on
from resolvers.context import Context
from resolvers.errors import BusinessRuleError, InvalidArgument, not_found
from resolvers.workflow import (
    certification_change,
    factory_of_application,
    lock_application,
    move,
    now,
    record_transition,
    target_of,
    today,
)

OPEN_APPLICATION_INDEX = "uq_applications_open_per_factory"
SETTLED = (FeeStatus.PAID.value, FeeStatus.WAIVED.value)
MAX_REFERENCE = 200


# --- Step 1: apply ------------------------------------------------------------------------------


async def submit_application(session: AsyncSession, actor: Viewer, settings: Settings,
                             factory_id: int, kind: ApplicationKind) -> Application:
    """A new application (SUBMITTED) and its REGISTRATION fee, due to the program."""
    visible = await session.scalar(select(Factory.id).where(
        Factory.id == factory_id, policies.visible_factories(actor)))
    if visible is None:
        raise not_found("factory", ["factoryId"])
    async with certification_change(session, factory_id) as factory:
        if not owns_factory(actor, factory.supplier_id):
            raise BusinessRuleError("NOT_OWNER", "Only the supplier owning the factory applies "
                                    "for its certification.", ["factoryId"])
        await _refuse_open_application(session, factory_id)
        await _check_kind(session, factory_id, kind)
        application = await insert_application(session, factory_id, kind, actor)
        record_transition(session, application.id, None, ApplicationStatus.SUBMITTED, actor)
        amount = (settings.registration_fee_new if kind is ApplicationKind.NEW
                  else settings.registration_fee_renewal)
        await _add_fee(session, application, FeeKind.REGISTRATION,
                       (await ensure_program(session)).id, amount)
    return application


async def _refuse_open_application(session: AsyncSession, factory_id: int) -> None:
    statuses = (await session.scalars(select(Application.status).where(
        Application.factory_id == factory_id))).all()
    if any(is_open(ApplicationStatus(status)) for status in statuses):
        raise _application_open()


def _application_open() -> BusinessRuleError:
    return BusinessRuleError("APPLICATION_OPEN", "The factory already has an open application.",
                             ["factoryId"])


async def _check_kind(session: AsyncSession, factory_id: int, kind: ApplicationKind) -> None:
    """NEW without a live certificate; RENEWAL of an active one from 90 days before expiry."""
    current = (await session.execute(select(Certificate.status, Certificate.valid_until).where(
        Certificate.factory_id == factory_id,
        Certificate.status != CertificateStatus.SUPERSEDED.value))).first()
    status = (certificate_status(CertificateStatus(current.status), current.valid_until, today())
              if current else None)
    if status is CertificateStatus.SUSPENDED:
        raise BusinessRuleError("CERTIFICATE_SUSPENDED", "The factory's certificate is suspended: "
                                "it must be reinstated or revoked first.", ["kind"])
    if kind is ApplicationKind.NEW and status is CertificateStatus.ACTIVE:
        raise BusinessRuleError("ALREADY_CERTIFIED", "The factory holds an active certificate: "
                                "apply for a RENEWAL instead.", ["kind"])
    if kind is ApplicationKind.RENEWAL:
        if status is not CertificateStatus.ACTIVE:
            raise BusinessRuleError("NO_CERTIFICATE_TO_RENEW", "Only an active certificate is "
                                    "renewed; apply as NEW.", ["kind"])
        assert current is not None  # an ACTIVE status is the current certificate's
        opens = renewal_opens_on(current.valid_until)
        if today() < opens:
            raise BusinessRuleError("RENEWAL_NOT_OPEN", "A renewal may be submitted from "
                                    f"{opens.isoformat()}, 90 days before expiry.", ["kind"])


async def insert_application(session: AsyncSession, factory_id: int, kind: ApplicationKind,
                             actor: Viewer) -> Application:
    """Insert a SUBMITTED application; the partial unique index is the last word on "one open
    application per factory", so a racing insert that slipped past the check is a userError."""
    application = Application(factory_id=factory_id, kind=kind.value,
                              status=ApplicationStatus.SUBMITTED.value,
                              submitted_by_id=actor.user_id)
    session.add(application)
    try:
        await session.flush()
    except IntegrityError as error:
        if OPEN_APPLICATION_INDEX not in str(error.orig):
            raise
        raise _application_open() from None
    return application


async def _add_fee(session: AsyncSession, application: Application, kind: FeeKind,
                   payee_id: int, amount: Decimal, round: int = 1) -> Fee:
    fee = Fee(application_id=application.id, kind=kind.value, round=round, amount=amount,
              currency="USD", payee_id=payee_id, status=FeeStatus.DUE.value)
    session.add(fee)
    await session.flush()
    return fee


# --- Step 2: pay and assign ---------------------------------------------------------------------


async def record_payment(session: AsyncSession, actor: Viewer, fee_id: int,
                         reference: str | None) -> tuple[Fee, Application]:
    """Mark a DUE fee PAID. The SEAL fee's payment issues the certificate."""
    found = (await session.execute(
        select(Fee.kind, Fee.payee_id, Fee.application_id, Application.factory_id)
        .join(Application, Application.id == Fee.application_id)
        .where(Fee.id == fee_id, policies.visible_fees(actor)))).first()
    if found is None:
        raise not_found("fee", ["feeId"])
    kind = FeeKind(found.kind)
    if not may_record_payment(actor, kind, found.payee_id):
        raise BusinessRuleError("NOT_PAYEE", "Only the payee records a payment: the audit firm "
                                "for its AUDIT fee, the program for the others.", ["feeId"])
    reference = _clean_reference(reference)
    async with certification_change(session, found.factory_id):
        application = await lock_application(session, found.application_id)
        fee = await _lock_fee(session, fee_id)
        if kind is FeeKind.SEAL:
            move(session, application, Event.PAY_SEAL_FEE, actor, note=reference)
        fee.status, fee.paid_at = FeeStatus.PAID.value, now()
        fee.payment_reference, fee.recorded_by_id = reference, actor.user_id
        if kind is FeeKind.SEAL:
            await issue_certificate(session, application, today())
    return fee, application


def _clean_reference(reference: str | None) -> str | None:
    reference = (reference or "").strip()
    if len(reference) > MAX_REFERENCE or "\n" in reference or "\r" in reference:
        raise BusinessRuleError("VALIDATION", f"A payment reference is one line of at most "
                                f"{MAX_REFERENCE} characters.", ["reference"])
    return reference or None


async def _lock_fee(session: AsyncSession, fee_id: int) -> Fee:
    fee = (await session.execute(select(Fee).where(Fee.id == fee_id).with_for_update()
                                 .execution_options(populate_existing=True))).scalar_one()
    if fee.status == FeeStatus.PAID.value:
        assert fee.paid_at is not None  # the table's paid_at_when_paid check
        raise BusinessRuleError("ALREADY_PAID", f"This fee was paid on "
                                f"{fee.paid_at.date().isoformat()}.", ["feeId"])
    if fee.status == FeeStatus.WAIVED.value:
        raise BusinessRuleError("FEE_WAIVED", "This fee was waived: nothing to pay.", ["feeId"])
    return fee


async def assign_audit_firm(session: AsyncSession, actor: Viewer, settings: Settings,
                            application_id: int, audit_firm_id: int | None) -> Application:
    """Assign the named (or a random active) firm once the registration fee is paid; the AUDIT
    fee becomes due to that firm at the default amount, which scheduling may set."""
    factory_id = await factory_of_application(session, application_id)
    async with certification_change(session, factory_id):
        application = await lock_application(session, application_id)
        target_of(application, Event.ASSIGN_FIRM)
        await _require_registration_settled(session, application_id)
        firm_id = await _chosen_firm(session, audit_firm_id)
        application.audit_firm_id, application.assigned_at = firm_id, now()
        move(session, application, Event.ASSIGN_FIRM, actor)
        await _add_fee(session, application, FeeKind.AUDIT, firm_id, settings.audit_fee_default)
    return application


async def _require_registration_settled(session: AsyncSession, application_id: int) -> None:
    status = await session.scalar(select(Fee.status).where(
        Fee.application_id == application_id, Fee.kind == FeeKind.REGISTRATION.value))
    if status not in SETTLED:
        raise BusinessRuleError("REGISTRATION_FEE_UNPAID", "The registration fee is not paid "
                                "yet: a firm is assigned after it is.", ["applicationId"])


async def _chosen_firm(session: AsyncSession, audit_firm_id: int | None) -> int:
    firms = select(Organization.id, Organization.active).where(
        Organization.kind == OrganizationKind.AUDIT_FIRM.value)
    if audit_firm_id is None:
        found = await session.scalar(firms.with_only_columns(Organization.id)
                                     .where(Organization.active.is_(True))
                                     .order_by(func.random()).limit(1))
        if found is None:
            raise BusinessRuleError("NO_ACTIVE_AUDIT_FIRM", "No accredited audit firm is active.")
        return int(found)
    firm = (await session.execute(firms.where(Organization.id == audit_firm_id))).first()
    if firm is None:
        raise not_found("audit firm", ["auditFirmId"])
    if not firm.active:
        raise BusinessRuleError("AUDIT_FIRM_INACTIVE", "That audit firm is not active.",
                                ["auditFirmId"])
    return audit_firm_id


# --- Reading: an audit firm's assignments -------------------------------------------------------


@dataclass
class AssignmentPage:
    rows: list[Any]
    has_next_page: bool
    total_count: int


def _assignments(viewer: Viewer, status: ApplicationStatus | None) -> Select[Any]:
    # Only a firm has assignments; the visibility policy keeps it to its own.
    mine = (Application.audit_firm_id == viewer.organization_id if viewer.is_audit_firm
            else false())
    conditions = [mine, policies.visible_applications(viewer)]
    if status is not None:
        conditions.append(Application.status == status.value)
    return select(*Application.__table__.c).where(and_(*conditions))


def _assignment_key(after: list[Any]) -> tuple[datetime, int]:
    try:
        return datetime.fromisoformat(str(after[0])), int(after[1])
    except (TypeError, ValueError):
        raise InvalidArgument("`after` is not a valid cursor.") from None


async def assignments(ctx: Context, first: int, after: list[Any] | None,
                      status: ApplicationStatus | None) -> AssignmentPage:
    """A keyset page of the firm's applications, most recently assigned first."""
    base = _assignments(ctx.viewer, status)
    page = base
    if after is not None:
        key = tuple_(Application.assigned_at, Application.id)
        page = page.where(key < tuple_(*_assignment_key(after)))
    page = page.order_by(Application.assigned_at.desc(), Application.id.desc()).limit(first + 1)
    count = select(func.count()).select_from(base.subquery())
    async with ctx.database.read() as conn:
        rows = list((await conn.execute(page)).all())
        total = int((await conn.execute(count)).scalar_one())
    return AssignmentPage(rows[:first], len(rows) > first, total)
