"""Customer connections: their effective state, and the moves that change them.

A customer requests; the factory's owner accepts (choosing the scopes and an optional end) or
declines; the owner may change the scopes of an accepted connection; either side ends it (the
factory revokes, the customer cancels). Each move runs in the caller's unit of work: it locks the
row (`SELECT … FOR UPDATE`, so racing moves of one connection queue up and the later one sees the
earlier one's result), checks the rules, changes the row and bumps its `version`, and writes the
outbox notices and the `connection` event in the same transaction. A broken rule raises
BusinessRuleError: the unit of work rolls back and nothing is written.

Nothing here caches grants: the next request reads the row again (auth.access), so a change takes
effect on the next request.
"""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth import policies
from auth.policies import ConnectionSide
from auth.viewer import Viewer
from db import CustomerConnection, Factory, Organization
from db.enums import ConnectionStatus, ShareScope
from resolvers import connection_notices as notices
from resolvers.errors import BusinessRuleError, not_found
from infra.events import occurred_now, publish

MESSAGE_MAX_LENGTH = 2000
LIVE_STATUSES = (ConnectionStatus.PENDING.value, ConnectionStatus.ACCEPTED.value)
# The partial unique index that keeps one live connection per customer and factory.
LIVE_INDEX = "uq_customer_connections_live"
EVENT_TOPIC = "connection"


class Change(str, Enum):
    """What happened to a connection: the `change` of its event."""

    REQUESTED = "REQUESTED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    SCOPES_CHANGED = "SCOPES_CHANGED"
    REVOKED = "REVOKED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"  # announced by tasks.expiry once expiresAt has passed


class Keep(Enum):
    """`update_scopes(expires_at=Keep.EXPIRY)`: leave the end of sharing as it is."""

    EXPIRY = "EXPIRY"


def effective_status(row: Any, now: datetime | None = None) -> ConnectionStatus:
    """An ACCEPTED connection past its expiresAt reads EXPIRED: expiry needs no job."""
    status = ConnectionStatus(row.status)
    current = now or datetime.now(UTC)
    if status is ConnectionStatus.ACCEPTED and row.expires_at and row.expires_at <= current:
        return ConnectionStatus.EXPIRED
    return status


# ---------------------------------------------------------------- the moves

async def request_connection(session: AsyncSession, viewer: Viewer, *, factory_id: int | None,
                             scopes: Iterable[ShareScope],
                             message: str | None = None) -> CustomerConnection:
    """A customer asks a listed factory to share `scopes`; the factory's users are told."""
    wanted = _scopes(scopes)
    text = _message(message)
    factory = await _visible_factory(session, viewer, factory_id)
    if not factory.listed:
        raise BusinessRuleError("UNLISTED_FACTORY",
                                "This factory is not listed: it does not take requests.",
                                ["factoryId"])
    customer_id = _organization_of(viewer)
    await _expire_lapsed(session, customer_id, factory.id)
    live = await session.scalar(select(CustomerConnection.id).where(
        CustomerConnection.customer_id == customer_id, CustomerConnection.factory_id == factory.id,
        CustomerConnection.status.in_(LIVE_STATUSES)))
    if live is not None:
        raise _duplicate()
    row = CustomerConnection(factory_id=factory.id, customer_id=customer_id,
                             requested_by_id=viewer.user_id, status=ConnectionStatus.PENDING.value,
                             requested_scopes=wanted, granted_scopes=[], message=text)
    session.add(row)
    await _insert(session, row)
    customer_name = await session.scalar(
        select(Organization.name).where(Organization.id == customer_id))
    await notices.requested(session, row, factory_name=factory.name,
                            customer_name=customer_name or "A customer")
    await publish_change(session, row, Change.REQUESTED)
    return row


async def respond(session: AsyncSession, viewer: Viewer, *, connection_id: int | None,
                  accept: bool, scopes: Iterable[ShareScope] | None = None,
                  expires_at: datetime | None = None) -> CustomerConnection:
    """The factory's owner accepts a PENDING request (with the requested scopes unless it names
    others, and an optional end) or declines it; the customer's users are told."""
    if not accept and (scopes is not None or expires_at is not None):
        raise BusinessRuleError("VALIDATION", "Scopes and expiresAt apply only when accepting.",
                                ["scopes" if scopes is not None else "expiresAt"])
    granted = _scopes(scopes) if scopes is not None else None
    found = await _lock(session, viewer, connection_id)
    _require_side(found, viewer, ConnectionSide.FACTORY, "respond to")
    if effective_status(found.row, found.now) is not ConnectionStatus.PENDING:
        raise _invalid_state(found, "Only a PENDING request can be accepted or declined.")
    row = found.row
    row.responded_at = found.now
    if accept:
        row.expires_at = _future(expires_at, found.now)
        row.status = ConnectionStatus.ACCEPTED.value
        row.granted_scopes = granted if granted is not None else list(row.requested_scopes)
    else:
        row.status = ConnectionStatus.DECLINED.value
        row.granted_scopes = []
    await _save(session, row)
    await notices.responded(session, row, factory_name=found.factory_name)
    await publish_change(session, row, Change.ACCEPTED if accept else Change.DECLINED)
    return row


async def update_scopes(session: AsyncSession, viewer: Viewer, *, connection_id: int | None,
                        scopes: Iterable[ShareScope],
                        expires_at: datetime | None | Keep = Keep.EXPIRY) -> CustomerConnection:
    """The factory's owner changes what an ACCEPTED, unexpired connection shares (and, if given,
    its end: None shares without end); the customer's users are told."""
    granted = _scopes(scopes)
    found = await _lock(session, viewer, connection_id)
    _require_side(found, viewer, ConnectionSide.FACTORY, "change")
    if effective_status(found.row, found.now) is not ConnectionStatus.ACCEPTED:
        raise _invalid_state(found, "Only an ACCEPTED connection that has not expired can "
                                    "change its scopes.")
    row = found.row
    row.granted_scopes = granted
    if expires_at is not Keep.EXPIRY:
        row.expires_at = _future(expires_at, found.now)
    await _save(session, row)
    await notices.scopes_changed(session, row, factory_name=found.factory_name)
    await publish_change(session, row, Change.SCOPES_CHANGED)
    return row


async def end_connection(session: AsyncSession, viewer: Viewer, *,
                         connection_id: int | None) -> CustomerConnection:
    """The factory revokes an ACCEPTED connection; the customer cancels its PENDING request or
    ACCEPTED connection. The other side is told. An ended one stays ended."""
    found = await _lock(session, viewer, connection_id)
    side = _require_side(found, viewer, None, "end")
    status = effective_status(found.row, found.now)
    if side is ConnectionSide.FACTORY and status is not ConnectionStatus.ACCEPTED:
        raise _invalid_state(found, "The factory can end an ACCEPTED connection; a PENDING "
                                    "request is declined instead.")
    if side is ConnectionSide.CUSTOMER and status.value not in LIVE_STATUSES:
        raise _invalid_state(found, "Only a PENDING or ACCEPTED connection can be ended.")
    row = found.row
    was_pending = status is ConnectionStatus.PENDING
    change = Change.REVOKED if side is ConnectionSide.FACTORY else Change.CANCELLED
    row.status = change.value
    row.granted_scopes = []
    row.ended_at = found.now
    await _save(session, row)
    if side is ConnectionSide.FACTORY:
        await notices.revoked(session, row, factory_name=found.factory_name)
    else:
        await notices.cancelled(session, row, factory_name=found.factory_name,
                                customer_name=found.customer_name, was_pending=was_pending)
    await publish_change(session, row, change)
    return row


# ---------------------------------------------------------------- rules and helpers

@dataclass
class _Locked:
    row: CustomerConnection
    supplier_id: int
    factory_name: str
    customer_name: str
    now: datetime  # the transaction's clock, for every date rule of the move


async def _lock(session: AsyncSession, viewer: Viewer, connection_id: int | None) -> _Locked:
    """The connection, locked until commit, if the viewer may see it; NOT_FOUND otherwise."""
    if connection_id is None:
        raise not_found("connection", ["connectionId"])
    statement = (
        select(CustomerConnection, Factory.supplier_id, Factory.name, Organization.name,
               func.now())
        .join(Factory, Factory.id == CustomerConnection.factory_id)
        .join(Organization, Organization.id == CustomerConnection.customer_id)
        .where(CustomerConnection.id == connection_id, policies.visible_connections(viewer))
        .with_for_update(of=CustomerConnection)
        # The row as it is after the lock was granted, not as an earlier read left it.
        .execution_options(populate_existing=True)
    )
    found = (await session.execute(statement)).one_or_none()
    if found is None:
        raise not_found("connection", ["connectionId"])
    row, supplier_id, factory_name, customer_name, now = found
    return _Locked(row, supplier_id, factory_name, customer_name, now)


def _require_side(found: _Locked, viewer: Viewer, wanted: ConnectionSide | None,
                  verb: str) -> ConnectionSide:
    side = policies.connection_side(viewer, customer_id=found.row.customer_id,
                                    factory_supplier_id=found.supplier_id)
    if side is None or (wanted is not None and side is not wanted):
        who = "the factory's owner" if wanted is ConnectionSide.FACTORY else "its two sides"
        raise BusinessRuleError("NOT_OWNER", f"Only {who} can {verb} this connection.",
                                ["connectionId"])
    return side


async def _visible_factory(session: AsyncSession, viewer: Viewer,
                           factory_id: int | None) -> Factory:
    found = None
    if factory_id is not None:
        found = await session.scalar(select(Factory).where(
            Factory.id == factory_id, policies.visible_factories(viewer)))
    if found is None:
        raise not_found("factory", ["factoryId"])
    return found


async def _expire_lapsed(session: AsyncSession, customer_id: int, factory_id: int) -> None:
    """Write down the expiry of an ACCEPTED connection past its end, which already reads
    EXPIRED, so that it no longer holds the one live place a new request needs."""
    await session.execute(
        update(CustomerConnection)
        .where(CustomerConnection.customer_id == customer_id,
               CustomerConnection.factory_id == factory_id,
               CustomerConnection.status == ConnectionStatus.ACCEPTED.value,
               CustomerConnection.expires_at <= func.now())
        .values(status=ConnectionStatus.EXPIRED.value, granted_scopes=[],
                ended_at=CustomerConnection.expires_at, version=CustomerConnection.version + 1)
        .execution_options(synchronize_session=False)
    )


async def _insert(session: AsyncSession, row: CustomerConnection) -> None:
    """Flush the new row; a racing request that got the live place first is a duplicate too."""
    try:
        await session.flush()
    except IntegrityError as error:
        if LIVE_INDEX in str(error.orig):
            raise _duplicate() from None
        raise
    await session.refresh(row)  # requested_at and version come from the database


async def _save(session: AsyncSession, row: CustomerConnection) -> None:
    row.version += 1
    await session.flush()


async def publish_change(session: AsyncSession, row: CustomerConnection, change: Change) -> None:
    """The connection's event, sent when this transaction commits."""
    await publish(session, EVENT_TOPIC, {"connection_id": row.id, "factory_id": row.factory_id,
                                         "customer_id": row.customer_id, "change": change.value,
                                         "at": occurred_now()})


def _scopes(scopes: Iterable[ShareScope]) -> list[str]:
    """Distinct, in the order ShareScope declares them; at least one."""
    given = {ShareScope(s) for s in scopes}
    if not given:
        raise BusinessRuleError("VALIDATION", "Name at least one scope.", ["scopes"])
    return [s.value for s in ShareScope if s in given]


def _message(message: str | None) -> str | None:
    text = (message or "").strip()
    if len(text) > MESSAGE_MAX_LENGTH:
        raise BusinessRuleError("VALIDATION",
                                f"The message is longer than {MESSAGE_MAX_LENGTH} characters.",
                                ["message"])
    return text or None


def _future(expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise BusinessRuleError("VALIDATION", "expiresAt needs a UTC offset.", ["expiresAt"])
    if expires_at <= now:
        raise BusinessRuleError("VALIDATION", "expiresAt must be in the future.", ["expiresAt"])
    return expires_at.astimezone(UTC)  # as the database will read it back


def _organization_of(viewer: Viewer) -> int:
    if viewer.organization_id is None:  # the operation's role rule lets no such viewer in
        raise BusinessRuleError("NOT_OWNER", "You belong to no organization.")
    return viewer.organization_id


def _duplicate() -> BusinessRuleError:
    return BusinessRuleError("DUPLICATE_CONNECTION",
                             "Your organization already has a pending or accepted connection "
                             "to this factory.", ["factoryId"])


def _invalid_state(found: _Locked, message: str) -> BusinessRuleError:
    status = effective_status(found.row, found.now).value
    return BusinessRuleError("INVALID_STATE", f"The connection is {status}. {message}",
                             ["connectionId"])
