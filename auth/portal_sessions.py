"""Portal sessions, kept server-side: signing out ends one at once, everywhere.

The cookie holds a random 32-byte id; the table keeps only its sha256 (like API keys, a slow
hash would add nothing to 256 random bits). A session works while it is not ended, not past its
absolute lifetime (ESCP_PORTAL_SESSION_SECONDS) and not idle for longer than
ESCP_PORTAL_IDLE_SECONDS; every request finds it with one indexed statement that also records
the request. Who the session's user is, and whether they are still active, is read like a
token's user (auth.backend.session_for_portal).

Socket tickets (auth.socket_tickets) name their session and are recorded here when used: a
ticket opens one socket, and only while its session works.
"""
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db import PortalSession, SocketTicketUse
from db.engine import Database
from db.settings import Settings


@dataclass(frozen=True)
class Live:
    """A working session: its row, its user and the moment it ends at the latest."""

    id: int
    user_id: int
    expires_at: datetime


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _working(settings: Settings) -> Any:
    idle = timedelta(seconds=settings.portal_idle_seconds)
    return and_(PortalSession.ended_at.is_(None), PortalSession.expires_at > func.now(),
                PortalSession.last_seen_at > func.now() - idle)


async def start(database: Database, settings: Settings, user_id: int,
                previous: str | None) -> tuple[str, datetime]:
    """A new session for the user (a new id, whatever the browser held before: no fixation),
    ending the one the browser had; its cookie's value and the moment it ends."""
    secret = secrets.token_urlsafe(32)
    async with database.read() as conn:
        if previous:
            await _end(conn, previous)
        expires_at = (await conn.execute(
            insert(PortalSession).values(
                secret_hash=digest(secret), user_id=user_id,
                expires_at=func.now() + timedelta(seconds=settings.portal_session_seconds))
            .returning(PortalSession.expires_at))).scalar_one()
    return secret, expires_at


async def touch(conn: AsyncConnection, settings: Settings, secret: str) -> Live | None:
    """The working session with this id, its last request now; None when there is none."""
    row = (await conn.execute(
        update(PortalSession).where(PortalSession.secret_hash == digest(secret),
                                    _working(settings))
        .values(last_seen_at=func.now())
        .returning(PortalSession.id, PortalSession.user_id, PortalSession.expires_at))).first()
    return Live(row.id, row.user_id, row.expires_at) if row is not None else None


async def end(database: Database, secret: str) -> None:
    async with database.read() as conn:
        await _end(conn, secret)


async def _end(conn: AsyncConnection, secret: str) -> None:
    await conn.execute(update(PortalSession)
                       .where(PortalSession.secret_hash == digest(secret),
                              PortalSession.ended_at.is_(None))
                       .values(ended_at=func.now()))


async def use_ticket(database: Database, settings: Settings, ticket_id: str, session_id: int,
                     user_id: int) -> Live | None:
    """Record the ticket's use; its session when that works and the ticket was never used.
    (The insert decides: of two sockets presenting one ticket at once, one gets it.)"""
    async with database.read() as conn:
        row = (await conn.execute(
            select(PortalSession.id, PortalSession.user_id, PortalSession.expires_at)
            .where(PortalSession.id == session_id, PortalSession.user_id == user_id,
                   _working(settings)))).first()
        if row is None:
            return None
        first = (await conn.execute(
            pg_insert(SocketTicketUse).values(ticket_id=ticket_id, session_id=session_id)
            .on_conflict_do_nothing().returning(SocketTicketUse.ticket_id))).first()
    return Live(row.id, row.user_id, row.expires_at) if first is not None else None


_WORKING_AMONG = select(PortalSession.id).where(
    PortalSession.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
    PortalSession.ended_at.is_(None), PortalSession.expires_at > func.now())


async def working(conn: AsyncConnection, ids: Iterable[int]) -> set[int]:
    """Of these sessions, those not signed out or past their lifetime: a socket opened with a
    ticket hears nothing more once its session ends. (An open live page is not idle.)"""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    return set((await conn.execute(_WORKING_AMONG, {"ids": wanted})).scalars())


async def prune(database: Database) -> int:
    """Delete sessions signed out or past their lifetime (their used tickets go with them), and
    used tickets too old to be presented again. An idle session stays until its lifetime ends:
    a live page's socket may still hold it."""
    async with database.read() as conn:
        gone = await conn.execute(delete(PortalSession).where(or_(
            PortalSession.ended_at.is_not(None), PortalSession.expires_at <= func.now())))
        await conn.execute(delete(SocketTicketUse).where(
            SocketTicketUse.used_at < func.now() - timedelta(hours=1)))
    return gone.rowcount  # type: ignore[attr-defined,no-any-return]
