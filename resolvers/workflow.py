"""What every move of the certification workflow shares.

- Locks, always in this order: the factory's row (FOR NO KEY UPDATE), then the application's
  (FOR UPDATE), then the fee, audit or certificate. Every change that can alter a factory's
  certification status therefore runs one at a time per factory: of two concurrent moves of one
  application the second waits, then finds the new status and is refused; and the status read
  before and after a change is exact.
- The state machine (certification_rules.next_status) decides each move; a refused move is a
  userError INVALID_TRANSITION. Each move bumps the application's `version` and records a
  WorkflowTransition (from, to, actor, note).
- A change of the factory's derived certification status is announced in the same transaction:
  an event for subscribers and an outbox notice to customers connected with CERTIFICATION.
"""
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from auth.viewer import Viewer
from db import Application, Factory, WorkflowTransition
from db.enums import ApplicationStatus, ShareScope
from db.queries import certification_of_factories
from infra.events import occurred_now, publish
from resolvers.certification_rules import Event, InvalidTransition, next_status
from resolvers.errors import BusinessRuleError, not_found
from resolvers.notifications import enqueue_to_connected_customers

CERTIFICATION_TOPIC = "certification"
_AMOUNT = re.compile(r"\d{1,10}(\.\d{1,2})?")


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return date.today()


def local_date(moment: datetime) -> date:
    """The calendar day of a stored timestamp, in the same zone as `today()`."""
    return moment.astimezone().date()


def parse_amount(text: str, field: list[str]) -> Decimal:
    """A money amount from a decimal string: digits with at most two decimals, above zero.

    Strict on purpose: no exponent, sign or grouping, so "1e3" or "-0" never become money.
    """
    text = text.strip()
    if not _AMOUNT.fullmatch(text) or Decimal(text) <= 0:
        raise BusinessRuleError("VALIDATION", "An amount is a decimal string above zero with at "
                                "most two decimals, e.g. \"2750.00\".", field)
    return Decimal(text).quantize(Decimal("0.01"))


# --- Locks and moves ----------------------------------------------------------------------------


async def factory_of_application(session: AsyncSession, application_id: int,
                                 policy: ColumnElement[bool] | None = None) -> int:
    """The application's factory (a fixed fact, read before taking any lock)."""
    found = await session.scalar(select(Application.factory_id).where(
        Application.id == application_id, policy if policy is not None else true()))
    if found is None:
        raise not_found("application", ["applicationId"])
    return int(found)


async def lock_application(session: AsyncSession, application_id: int) -> Application:
    """The application, locked until the unit of work ends (take the factory's lock first)."""
    statement = (select(Application).where(Application.id == application_id)
                 .with_for_update().execution_options(populate_existing=True))
    application = (await session.execute(statement)).scalar_one_or_none()
    if application is None:
        raise not_found("application", ["applicationId"])
    return application


def target_of(application: Application, event: Event) -> ApplicationStatus:
    """Where `event` takes the application, or the INVALID_TRANSITION userError."""
    try:
        return next_status(ApplicationStatus(application.status), event)
    except InvalidTransition as refused:
        raise BusinessRuleError(refused.code, f"The application is {refused.current.value}: "
                                f"it cannot {event.value.lower().replace('_', ' ')}.") from None


def record_transition(session: AsyncSession, application_id: int,
                      from_status: ApplicationStatus | None, to_status: ApplicationStatus,
                      actor: Viewer, note: str | None = None) -> None:
    session.add(WorkflowTransition(
        application_id=application_id, from_status=from_status.value if from_status else None,
        to_status=to_status.value, actor_id=actor.user_id, note=note))


def move(session: AsyncSession, application: Application, event: Event, actor: Viewer,
         note: str | None = None) -> ApplicationStatus:
    """Apply `event` to a locked application: new status, version + 1, recorded transition."""
    current = ApplicationStatus(application.status)
    target = target_of(application, event)
    application.status = target.value
    application.version += 1
    record_transition(session, application.id, current, target, actor, note)
    return target


# --- Certification status changes ---------------------------------------------------------------


async def derived_certification(session: AsyncSession, factory_id: int) -> Any:
    """(status, certified_until, certificate_id) from db.queries, inside the transaction."""
    return (await session.execute(certification_of_factories(factory_id))).one()


@asynccontextmanager
async def certification_change(session: AsyncSession,
                               factory_id: int) -> AsyncIterator[Factory]:
    """Lock the factory, run the change, and announce its certification if it moved: a new
    status, or a new current certificate (a renewal stays CERTIFIED but is news all the same).

    Yields the locked factory. The status is derived by the same SQL as every read, before the
    change and after it (flushed), so the announcement says exactly what readers will see.
    """
    statement = (select(Factory).where(Factory.id == factory_id)
                 .with_for_update(key_share=True).execution_options(populate_existing=True))
    factory = (await session.execute(statement)).scalar_one_or_none()
    if factory is None:
        raise not_found("factory", ["factoryId"])
    before = await derived_certification(session, factory_id)
    yield factory
    await session.flush()
    after = await derived_certification(session, factory_id)
    if (after.status, after.certificate_id) != (before.status, before.certificate_id):
        await announce_certification(session, factory, before.status, after)


async def announce_certification(session: AsyncSession, factory: Factory, previous: str,
                                 after: Any) -> None:
    """The event for subscribers and the notices for connected customers, in this transaction
    (so both exist exactly when the change committed)."""
    await publish(session, CERTIFICATION_TOPIC, {
        "factory_id": factory.id, "previous": previous, "status": after.status,
        "certificate_id": after.certificate_id, "at": occurred_now()})
    await enqueue_to_connected_customers(
        session, factory.id, ShareScope.CERTIFICATION, topic="certification.changed",
        subject=f"{factory.name}: certification status {after.status}",
        body=_notice_body(factory, previous, after))


def _notice_body(factory: Factory, previous: str, after: Any) -> str:
    if previous == after.status:
        lines = [f"{factory.name} ({factory.country}) holds a new certificate."]
    else:
        lines = [f"The certification status of {factory.name} ({factory.country}) changed from "
                 f"{previous} to {after.status}."]
    if after.certified_until is not None:
        lines.append(f"Certified until {after.certified_until.isoformat()}.")
    return "\n".join(lines) + "\n"
