"""The mail each connection move sends to the other side, as outbox rows in the move's
transaction (resolvers.notifications.enqueue)."""
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from db import CustomerConnection
from db.enums import ConnectionStatus
from resolvers.notifications import enqueue, recipients_of_factory, recipients_of_organization

SIGNATURE = "\n\n-- \nESCP Connect, the platform of the Ethical Supply Chain Program\n"


def _one_line(name: str) -> str:
    """Names go into subjects, which must stay one header line."""
    return " ".join(name.split())


def _scopes(scopes: list[str]) -> str:
    return ", ".join(scopes) if scopes else "nothing"


def _until(row: CustomerConnection) -> str:
    if row.expires_at is None:
        return "until either side ends the connection"
    return f"until {row.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


async def _to_factory(session: AsyncSession, row: CustomerConnection, topic: str, subject: str,
                      body: str) -> None:
    await enqueue(session, recipients=await recipients_of_factory(session, row.factory_id),
                  topic=topic, subject=subject, body=body + SIGNATURE)


async def _to_customer(session: AsyncSession, row: CustomerConnection, topic: str, subject: str,
                       body: str) -> None:
    await enqueue(session, recipients=await recipients_of_organization(session, row.customer_id),
                  topic=topic, subject=subject, body=body + SIGNATURE)


async def requested(session: AsyncSession, row: CustomerConnection, *, factory_name: str,
                    customer_name: str) -> None:
    factory, customer = _one_line(factory_name), _one_line(customer_name)
    body = (f"{customer} asks to connect to {factory} and to see: "
            f"{_scopes(row.requested_scopes)}.")
    if row.message:
        body += f"\n\nTheir message:\n{row.message}"
    body += ("\n\nIt is important to respond to your customers' connection requests: accept "
             "(choosing what to share) or decline it in ESCP Connect.")
    await _to_factory(session, row, "connection.requested",
                      f"Connection request from {customer} for {factory}", body)


async def responded(session: AsyncSession, row: CustomerConnection, *,
                    factory_name: str) -> None:
    factory = _one_line(factory_name)
    if row.status == ConnectionStatus.ACCEPTED.value:
        await _to_customer(session, row, "connection.accepted",
                           f"{factory} accepted your connection request",
                           f"{factory} accepted your connection request and shares with you: "
                           f"{_scopes(row.granted_scopes)}, {_until(row)}.")
    else:
        await _to_customer(session, row, "connection.declined",
                           f"{factory} declined your connection request",
                           f"{factory} declined your connection request. You may send a new "
                           "one later.")


async def scopes_changed(session: AsyncSession, row: CustomerConnection, *,
                         factory_name: str) -> None:
    factory = _one_line(factory_name)
    await _to_customer(session, row, "connection.scopes_changed",
                       f"{factory} changed what it shares with you",
                       f"{factory} now shares with you: {_scopes(row.granted_scopes)}, "
                       f"{_until(row)}.")


async def revoked(session: AsyncSession, row: CustomerConnection, *, factory_name: str) -> None:
    factory = _one_line(factory_name)
    await _to_customer(session, row, "connection.revoked",
                       f"{factory} ended its connection with you",
                       f"{factory} ended its connection with your organization and no longer "
                       "shares its data with you. You may send a new request.")


async def cancelled(session: AsyncSession, row: CustomerConnection, *, factory_name: str,
                    customer_name: str, was_pending: bool) -> None:
    factory, customer = _one_line(factory_name), _one_line(customer_name)
    if was_pending:
        subject = f"{customer} withdrew its connection request for {factory}"
        body = f"{customer} withdrew its request to connect to {factory}."
    else:
        subject = f"{customer} ended its connection to {factory}"
        body = f"{customer} ended its connection to {factory}; it no longer sees its data."
    await _to_factory(session, row, "connection.cancelled", subject, body)
