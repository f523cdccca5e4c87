"""Slowing down repeated failed sign-ins for one email, across every worker and host.

Failures are counted per email in `login_attempts` (normalized: stripped, lower-case). The first
`FREE_FAILURES` cost nothing; after that each sign-in waits 0.5 s, 1 s, 2 s, ... up to 8 s.
Failures older than `WINDOW` are forgotten. Times come from the database clock, so workers on
hosts with skewed clocks agree.

The sign-in mutation uses it like this, in one unit of work:

    delay = await delay_for(session, email)
    await asyncio.sleep(delay)            # before verifying, so guessing stays slow
    user = ...                            # unknown email: verify against DUMMY_HASH anyway
    if ok:
        await clear_failures(session, email)
    else:
        await record_failure(session, email)   # unknown emails too, or the delay tells them apart

This is a slow-down, not a lock-out: an owner is never locked out of the account by someone
else, and parallel attempts each wait the same delay rather than queueing behind one another.
"""
from datetime import timedelta

from sqlalchemy import case, delete, select
from sqlalchemy import func as sql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.organization import LoginAttempt

FREE_FAILURES = 3
BASE_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 8.0
WINDOW = timedelta(minutes=15)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def delay_after(failures: int) -> float:
    """Seconds to wait before the next attempt, given the recent failures."""
    if failures < FREE_FAILURES:
        return 0.0
    # The exponent is bounded so a huge count cannot overflow the float.
    doublings = min(failures - FREE_FAILURES, 16)
    return min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2.0**doublings)


async def delay_for(session_or_conn: AsyncSession | AsyncConnection, email: str) -> float:
    """Seconds the caller must `await asyncio.sleep(...)` before checking this email's password."""
    recent = select(LoginAttempt.failures).where(
        LoginAttempt.email == normalize_email(email),
        LoginAttempt.last_failure_at > sql.now() - WINDOW,
    )
    failures = (await session_or_conn.execute(recent)).scalar_one_or_none()
    return delay_after(failures or 0)


async def record_failure(session: AsyncSession, email: str) -> None:
    """Count one more failure; one upsert, so concurrent failures on two workers both count."""
    # In ON CONFLICT DO UPDATE the table's columns are the stored row's values.
    still_recent = LoginAttempt.last_failure_at > sql.now() - WINDOW
    upsert = insert(LoginAttempt).values(
        email=normalize_email(email), failures=1, last_failure_at=sql.now()
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=[LoginAttempt.email],
        set_={
            "failures": case((still_recent, LoginAttempt.failures + 1), else_=1),
            "last_failure_at": sql.now(),
        },
    )
    await session.execute(upsert)


async def clear_failures(session: AsyncSession, email: str) -> None:
    """Forget the failures after a successful sign-in."""
    await session.execute(
        delete(LoginAttempt).where(LoginAttempt.email == normalize_email(email))
    )
