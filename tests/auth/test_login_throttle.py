"""Sign-in throttle: free attempts, then doubling delays up to a cap, forgotten after 15 minutes."""
from sqlalchemy import select, text

from auth.login_throttle import clear_failures, delay_after, delay_for, record_failure
from db.engine import Database
from db.organization import LoginAttempt

EMAIL = "buyer@example.com"


async def _fail(database: Database, email: str, times: int) -> None:
    for _ in range(times):
        async with database.unit_of_work() as session:
            await record_failure(session, email)


async def _delay(database: Database, email: str = EMAIL) -> float:
    async with database.read() as conn:
        return await delay_for(conn, email)


async def _failures(database: Database) -> int | None:
    async with database.read() as conn:
        query = select(LoginAttempt.failures).where(LoginAttempt.email == EMAIL)
        return (await conn.execute(query)).scalar_one_or_none()


async def test_email_without_failures_has_no_delay(database: Database) -> None:
    assert await _delay(database) == 0.0


async def test_first_two_failures_cost_nothing_then_delays_double(database: Database) -> None:
    delays = []
    for _ in range(7):
        await _fail(database, EMAIL, 1)
        delays.append(await _delay(database))
    assert delays == [0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 8.0]


async def test_delay_is_capped_at_eight_seconds(database: Database) -> None:
    await _fail(database, EMAIL, 12)
    assert await _failures(database) == 12
    assert await _delay(database) == 8.0
    assert delay_after(10**6) == 8.0


async def test_email_is_counted_stripped_and_lower_case(database: Database) -> None:
    await _fail(database, "  Buyer@Example.COM ", 2)
    await _fail(database, EMAIL, 1)
    assert await _failures(database) == 3
    assert await _delay(database, "BUYER@example.com") == 0.5


async def test_failures_of_one_email_do_not_delay_another(database: Database) -> None:
    await _fail(database, EMAIL, 5)
    assert await _delay(database, "other@example.com") == 0.0


async def test_clear_after_successful_sign_in_removes_the_delay(database: Database) -> None:
    # given
    await _fail(database, EMAIL, 5)
    assert await _delay(database) == 2.0
    # when
    async with database.unit_of_work() as session:
        await clear_failures(session, " BUYER@example.com")
    # then
    assert await _failures(database) is None
    assert await _delay(database) == 0.0


async def test_failures_older_than_fifteen_minutes_are_forgotten(database: Database) -> None:
    # given failures whose last one was 16 minutes ago
    await _fail(database, EMAIL, 6)
    async with database.unit_of_work() as session:
        await session.execute(text(
            "UPDATE login_attempts SET last_failure_at = now() - interval '16 minutes'"))
    # then they cost nothing
    assert await _delay(database) == 0.0
    # and when the next failure comes, counting restarts from one
    await _fail(database, EMAIL, 1)
    assert await _failures(database) == 1
    assert await _delay(database) == 0.0


async def test_delay_can_be_read_inside_the_sign_in_unit_of_work(database: Database) -> None:
    await _fail(database, EMAIL, 3)
    async with database.unit_of_work() as session:
        assert await delay_for(session, EMAIL) == 0.5
        await record_failure(session, EMAIL)
    assert await _delay(database) == 1.0
