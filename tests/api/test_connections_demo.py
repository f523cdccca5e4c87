"""`escp demo` gains a connection in every state, made by the same moves as the API, once."""
from collections import Counter

from sqlalchemy import func, select

from db import CustomerConnection, Notification
from db.engine import Database
from db.settings import Settings
from resolvers.connection import effective_status
from demo.data import load_demo


async def demo_connections(database: Database) -> Counter[tuple[str, int]]:
    """(effective status, number of granted scopes) of every demo connection."""
    async with database.read() as conn:
        rows = (await conn.execute(select(CustomerConnection.__table__))).all()
    return Counter((effective_status(row).value, len(row.granted_scopes)) for row in rows)


async def notices(database: Database) -> int:
    async with database.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(Notification))
                    ).scalar_one())


async def test_demo_has_a_connection_in_every_state_and_loading_twice_adds_none(
        database: Database, settings: Settings) -> None:
    await load_demo(database, settings)
    first, first_notices = await demo_connections(database), await notices(database)

    await load_demo(database, settings)

    assert first == Counter({("PENDING", 0): 1, ("ACCEPTED", 5): 3, ("ACCEPTED", 3): 1,
                             ("ACCEPTED", 2): 1, ("DECLINED", 0): 1, ("REVOKED", 0): 1,
                             ("CANCELLED", 0): 1, ("EXPIRED", 2): 1})
    assert await demo_connections(database) == first
    assert await notices(database) == first_notices > 0
