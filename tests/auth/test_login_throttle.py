"""Sign-in limits: attempts counted as they start, per account and per address, in fixed windows."""
import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from auth import login_throttle
from auth.login_throttle import Limits, address_key, begin_attempt, give_back, prune
from db.engine import Database
from db.organization import LoginAttempt

EMAIL = "buyer@example.com"
HOME = "203.0.113.7"
LIMITS = Limits(window=timedelta(minutes=15), per_account=3, per_address=5)


async def _attempt(database: Database, email: str = EMAIL, address: str | None = HOME,
                   limits: Limits = LIMITS) -> int | None:
    async with database.read() as conn:
        return await begin_attempt(conn, limits, email, address)


async def _counts(database: Database) -> dict[tuple[str, str], int]:
    async with database.read() as conn:
        rows = await conn.execute(select(LoginAttempt.scope, LoginAttempt.key,
                                         LoginAttempt.attempts))
        return {(scope, key): attempts for scope, key, attempts in rows}


async def _age_windows(database: Database, minutes: int) -> None:
    async with database.unit_of_work() as session:
        await session.execute(text("UPDATE login_attempts SET window_started_at = "
                                   f"window_started_at - interval '{minutes} minutes'"))


async def test_attempts_within_the_account_limit_go_on_and_the_next_is_refused(
        database: Database) -> None:
    # when
    answers = [await _attempt(database) for _ in range(4)]
    # then: three may have their password checked; the fourth waits out the window
    assert answers[:3] == [None, None, None]
    assert answers[3] is not None and 899 <= answers[3] <= 900
    assert await _counts(database) == {("ACCOUNT", EMAIL): 4, ("ADDRESS", HOME): 4}


async def test_email_is_counted_stripped_and_lower_case(database: Database) -> None:
    for email in ("  Buyer@Example.COM ", "BUYER@example.com", EMAIL):
        assert await _attempt(database, email) is None
    assert await _attempt(database, EMAIL) is not None


async def test_an_address_is_limited_across_accounts(database: Database) -> None:
    # when: one address tries six accounts once each
    answers = [await _attempt(database, f"user{i}@example.com") for i in range(6)]
    # then: the sixth is over the address's limit of five
    assert answers[:5] == [None] * 5 and answers[5] is not None
    # and another address may still try those accounts
    assert await _attempt(database, "user0@example.com", "198.51.100.1") is None


async def test_one_account_over_its_limit_does_not_refuse_another(database: Database) -> None:
    for _ in range(4):
        await _attempt(database, EMAIL, None)
    assert await _attempt(database, "other@example.com", None) is None


async def test_parallel_attempts_get_distinct_counts_so_at_most_the_limit_go_on(
        database: Database) -> None:
    # when: twenty attempts at once, each on a connection of its own
    answers = await asyncio.gather(*(_attempt(database) for _ in range(20)))
    # then
    assert answers.count(None) == LIMITS.per_account
    assert (await _counts(database))[("ACCOUNT", EMAIL)] == 20


async def test_refused_attempts_do_not_extend_the_window(database: Database) -> None:
    # given an account over its limit, its window started 10 minutes ago
    for _ in range(4):
        await _attempt(database)
    await _age_windows(database, 10)
    # when it keeps trying
    retry_after = await _attempt(database)
    # then the wait is what is left of the first window, not a new one
    assert retry_after is not None and 299 <= retry_after <= 300


async def test_after_the_window_counting_starts_again(database: Database) -> None:
    # given an account over its limit
    for _ in range(4):
        await _attempt(database)
    # when its window has passed
    await _age_windows(database, 16)
    # then the next attempt goes on, and is the first of a new window
    assert await _attempt(database) is None
    assert await _counts(database) == {("ACCOUNT", EMAIL): 1, ("ADDRESS", HOME): 1}


async def test_give_back_uncounts_one_attempt_and_never_goes_below_zero(
        database: Database) -> None:
    # given
    for _ in range(2):
        await _attempt(database)
    # when
    for _ in range(3):
        async with database.unit_of_work() as session:
            await give_back(session, " Buyer@example.com", HOME)
    # then
    assert await _counts(database) == {("ACCOUNT", EMAIL): 0, ("ADDRESS", HOME): 0}


async def test_prune_deletes_the_rows_of_ended_windows_only(database: Database) -> None:
    # given an old window and a running one
    await _attempt(database, "old@example.com", None)
    await _age_windows(database, 16)
    await _attempt(database, EMAIL, None)
    # when
    async with database.read() as conn:
        deleted = await prune(conn, LIMITS)
    # then
    assert deleted == 1
    assert await _counts(database) == {("ACCOUNT", EMAIL): 1}


async def test_attempts_prune_now_and_then(database: Database,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # given an ended window, and a worker that has not pruned for a minute
    await _attempt(database, "old@example.com", None)
    await _age_windows(database, 16)
    monkeypatch.setattr(login_throttle, "_next_prune", 0.0)
    # when
    await _attempt(database, EMAIL, None)
    # then
    assert await _counts(database) == {("ACCOUNT", EMAIL): 1}


@pytest.mark.parametrize(("host", "key"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("testclient", "testclient"),
    (None, None),
    ("", None),
])
def test_addresses_are_counted_by_host_and_ipv6_by_its_64(host: str | None,
                                                          key: str | None) -> None:
    assert address_key(host) == key
