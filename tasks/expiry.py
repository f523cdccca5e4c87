"""What changes by date alone, announced: a certificate passing validUntil, a connection passing
expiresAt.

Reads never need this (status is derived from the date), but subscribers must hear of it with
nobody acting. Every worker sweeps; each row is claimed with FOR UPDATE SKIP LOCKED and marked in
the same transaction as its event, so exactly one worker announces it, once, and a sweep that
fails changes nothing and is simply tried again.
"""
import asyncio
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth import portal_sessions
from db import Certificate, CustomerConnection, Factory
from db.engine import Database
from db.enums import CertificateStatus, CertificationStatus, ConnectionStatus
from resolvers.connection import Change, publish_change
from resolvers.workflow import announce_certification, derived_certification, now, today

log = logging.getLogger(__name__)

BATCH = 100


async def announce_expired_certificates(session: AsyncSession) -> int:
    """Current ACTIVE certificates past validUntil, not yet announced: CERTIFIED -> the status
    the factory now reads (EXPIRED, or IN_PROGRESS with an open renewal)."""
    claimed = (await session.execute(
        select(Certificate)
        .where(Certificate.status == CertificateStatus.ACTIVE.value,
               Certificate.valid_until < func.current_date(),
               Certificate.expiry_announced_on.is_(None))
        .order_by(Certificate.id).limit(BATCH).with_for_update(skip_locked=True))).scalars().all()
    for certificate in claimed:
        certificate.expiry_announced_on = today()
        factory = await session.get_one(Factory, certificate.factory_id)
        after = await derived_certification(session, factory.id)
        await announce_certification(session, factory, CertificationStatus.CERTIFIED.value, after)
    return len(claimed)


async def announce_expired_connections(session: AsyncSession) -> int:
    """ACCEPTED connections past expiresAt, not yet announced: both sides hear EXPIRED."""
    claimed = (await session.execute(
        select(CustomerConnection)
        .where(CustomerConnection.status == ConnectionStatus.ACCEPTED.value,
               CustomerConnection.expires_at <= func.now(),
               CustomerConnection.expiry_announced_at.is_(None))
        .order_by(CustomerConnection.id).limit(BATCH)
        .with_for_update(skip_locked=True))).scalars().all()
    moment = now()
    for connection in claimed:
        connection.expiry_announced_at = moment
        await publish_change(session, connection, Change.EXPIRED)
    return len(claimed)


async def sweep(database: Database) -> int:
    """One pass: every batch in its own transaction, until nothing is left to announce."""
    total = 0
    for announce in (announce_expired_certificates, announce_expired_connections):
        while True:
            async with database.unit_of_work() as session:
                count = await announce(session)
            total += count
            if count < BATCH:
                break
    return total


async def sweep_forever(database: Database, interval: float) -> None:
    while True:
        try:
            await sweep(database)
            await portal_sessions.prune(database)  # signed out or past their lifetime
        except Exception:  # the database may be down: the next pass tries again
            log.exception("expiry sweep failed")
        await asyncio.sleep(interval)
