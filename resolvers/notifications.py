"""Notifications: outbox rows written with the change that caused them.

A mutation calls `enqueue` inside its unit of work, so a notice exists exactly when the change
committed. `tasks.outbox.OutboxSender` (one per worker, any number per database) mails due rows.
"""
import logging
from collections.abc import Sequence

from sqlalchemy import any_, func, insert, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from auth.policies import connection_is_live
from db.connection import CustomerConnection
from db.enums import ShareScope
from db.factory import Factory
from db.organization import User
from db.outbox import Notification

logger = logging.getLogger(__name__)



async def enqueue(session: AsyncSession, *, recipients: Sequence[tuple[int | None, str]],
                  topic: str, subject: str, body: str) -> None:
    """Write one outbox row per recipient in the caller's unit of work, which commits them.

    One bulk INSERT, not an ORM object per row: a factory's status change notifies every
    connected customer's users, which can be thousands, inside the change's transaction.
    A recipient listed twice (same email, any case) gets one notice. A subject or address
    spanning lines raises ValueError: it would be a broken mail header.
    """
    _require_one_line(subject, "subject")
    seen: set[str] = set()
    rows = []
    for user_id, email in recipients:
        email = email.strip()
        _require_one_line(email, "recipient")
        if email.lower() in seen:
            continue
        seen.add(email.lower())
        rows.append({"user_id": user_id, "recipient": email, "topic": topic,
                     "subject": subject, "body": body})
    if rows:
        await session.execute(insert(Notification), rows)


def _require_one_line(value: str, what: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"a notification {what} must be one line: {value!r}")


async def recipients_of_organization(session: AsyncSession,
                                     organization_id: int) -> list[tuple[int, str]]:
    """The organization's active users as (user id, email), in id order."""
    rows = await session.execute(
        select(User.id, User.email)
        .where(User.organization_id == organization_id, User.active.is_(True))
        .order_by(User.id)
    )
    return [(user_id, email) for user_id, email in rows]


async def recipients_of_factory(session: AsyncSession, factory_id: int) -> list[tuple[int, str]]:
    """The active users of the supplier organization that owns the factory."""
    rows = await session.execute(
        select(User.id, User.email)
        .join(Factory, Factory.supplier_id == User.organization_id)
        .where(Factory.id == factory_id, User.active.is_(True))
        .order_by(User.id)
    )
    return [(user_id, email) for user_id, email in rows]


async def recipients_of_connected_customers(session: AsyncSession, factory_id: int,
                                            scope: ShareScope) -> list[tuple[int, str]]:
    """The active users of customers whose live connection to the factory grants `scope`."""
    rows = await session.execute(
        select(User.id, User.email)
        .join(CustomerConnection, CustomerConnection.customer_id == User.organization_id)
        .where(CustomerConnection.factory_id == factory_id, connection_is_live(),
               literal(scope.value) == any_(CustomerConnection.granted_scopes),
               User.active.is_(True))
        .order_by(User.id)
    )
    return [(user_id, email) for user_id, email in rows]


async def enqueue_to_connected_customers(session: AsyncSession, factory_id: int,
                                        scope: ShareScope, *, topic: str, subject: str,
                                        body: str) -> None:
    """`enqueue` to `recipients_of_connected_customers`, in one INSERT … SELECT: a factory
    with 1,000 connected customers' users would otherwise send 1,000 rows to Python and back
    inside the change's transaction, before its subscribers hear of it. The same rules: one
    notice per address (any case, trimmed; the lowest user id), in user id order. An address
    spanning lines cannot be stored (accounts validate it) and would be a broken header: it is
    skipped rather than mailed."""
    _require_one_line(subject, "subject")
    email = func.btrim(User.email)
    recipients = (
        select(User.id.label("user_id"), email.label("recipient"))
        .join(CustomerConnection, CustomerConnection.customer_id == User.organization_id)
        .where(CustomerConnection.factory_id == factory_id, connection_is_live(),
               literal(scope.value) == any_(CustomerConnection.granted_scopes),
               User.active.is_(True), ~email.regexp_match("[\r\n]"))
        .ext(distinct_on(func.lower(email))).order_by(func.lower(email), User.id)
        .subquery())
    rows = select(recipients.c.user_id, recipients.c.recipient, literal(topic),
                  literal(subject), literal(body)).order_by(recipients.c.user_id)
    await session.execute(insert(Notification).from_select(
        ["user_id", "recipient", "topic", "subject", "body"], rows))
