"""Limiting sign-in attempts per account and per client address, across every worker and host.

An attempt is counted when it starts, before its password is looked at: one upsert on
`login_attempts` adds it to its account's row (the normalized email, registered or not) and to
its client address's row. The upsert locks each row, so parallel attempts on any number of
workers get distinct counts, and only those within the limits go on to have their password
checked; the excess is refused (TOO_MANY_ATTEMPTS, with the seconds until the window ends)
unchecked. The count lives in PostgreSQL, and times come from its clock, so workers on hosts
with skewed clocks agree.

A window starts with the first attempt on a key that has none running and lasts a fixed time
(ESCP_LOGIN_WINDOW_SECONDS): refused attempts do not extend it, so once it passes the owner can
sign in again. A successful sign-in gives its attempt back (`give_back`, in the sign-in's
transaction), so what uses up the limits is failed and in-flight attempts, and an office behind
one address is not refused for signing in often. Rows of ended windows are pruned now and then.
"""
import ipaddress
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, case, delete, extract, update
from sqlalchemy import func as sql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.organization import LoginAttempt
from db.settings import Settings

ACCOUNT, ADDRESS = "ACCOUNT", "ADDRESS"
# How often (seconds) each worker deletes the rows of ended windows.
PRUNE_EVERY = 60.0
_next_prune = 0.0


@dataclass(frozen=True)
class Limits:
    window: timedelta
    per_account: int
    per_address: int

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        return cls(timedelta(seconds=settings.login_window_seconds),
                   settings.login_attempts_per_account, settings.login_attempts_per_address)

    def limit(self, scope: str) -> int:
        return self.per_account if scope == ACCOUNT else self.per_address


def normalize_email(email: str) -> str:
    return email.strip().lower()


def address_key(host: str | None) -> str | None:
    """The client address as counted: an IPv6 host by its /64, which one subscriber usually
    holds whole (counting each address would give it 2^64 limits)."""
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _keys(email: str, address: str | None) -> list[tuple[str, str]]:
    # Always the account first, then the address: every statement locks the two rows in this
    # order, so two of them can never wait on each other.
    keys = [(ACCOUNT, normalize_email(email))]
    counted = address_key(address)
    return keys + [(ADDRESS, counted)] if counted else keys


async def begin_attempt(conn: AsyncConnection, limits: Limits, email: str,
                        address: str | None) -> int | None:
    """Count the attempt (on an autocommit connection, so other workers see it at once).

    None if it is within both limits (check the password); otherwise the whole seconds until
    the exceeded window ends, for `retryAfter`.
    """
    running = LoginAttempt.window_started_at > sql.now() - limits.window
    rows = insert(LoginAttempt).values(
        [{"scope": scope, "key": key, "attempts": 1} for scope, key in _keys(email, address)])
    # In ON CONFLICT DO UPDATE the table's columns are the stored row's values.
    upsert = rows.on_conflict_do_update(
        index_elements=[LoginAttempt.scope, LoginAttempt.key],
        set_={"attempts": case((running, LoginAttempt.attempts + 1), else_=1),
              "window_started_at": case((running, LoginAttempt.window_started_at),
                                        else_=sql.now())},
    ).returning(LoginAttempt.scope, LoginAttempt.attempts,
                extract("epoch", LoginAttempt.window_started_at + limits.window - sql.now()))
    counted = (await conn.execute(upsert)).all()
    await _prune_now_and_then(conn, limits)
    waits = [float(left) for scope, attempts, left in counted if attempts > limits.limit(scope)]
    return max(1, math.ceil(max(waits))) if waits else None


async def give_back(session: AsyncSession, email: str, address: str | None) -> None:
    """A successful sign-in's attempt no longer counts against its account or address."""
    for scope, key in _keys(email, address):
        await session.execute(update(LoginAttempt).where(
            LoginAttempt.scope == scope, LoginAttempt.key == key, LoginAttempt.attempts > 0,
        ).values(attempts=LoginAttempt.attempts - 1))


async def prune(conn: AsyncConnection | AsyncSession, limits: Limits) -> int:
    """Delete the rows whose window has ended; how many."""
    ended = delete(LoginAttempt).where(
        LoginAttempt.window_started_at <= sql.now() - limits.window)
    # a DELETE's result is a CursorResult, which Session.execute's type does not say
    return cast(CursorResult[Any], await conn.execute(ended)).rowcount


async def _prune_now_and_then(conn: AsyncConnection, limits: Limits) -> None:
    # Once a minute per worker, not per attempt: under a flood, every attempt deleting the
    # same rows would queue them behind each other's locks.
    global _next_prune
    if time.monotonic() >= _next_prune:
        _next_prune = time.monotonic() + PRUNE_EVERY
        await prune(conn, limits)
