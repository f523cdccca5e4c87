"""Connection moves below the API: who counts as a side (auth.policies.connection_side), the
owner rule the roles already keep out of reach over HTTP, and the unique index settling a race
that the duplicate check cannot see."""
import asyncio

import pytest
from sqlalchemy import func, select, text

from auth.policies import ConnectionSide, connection_side
from auth.viewer import Viewer
from db import CustomerConnection
from db.engine import Database
from db.enums import OrganizationKind, Role, ShareScope
from resolvers import connection as connections
from resolvers.errors import BusinessRuleError
from tests.helpers import Cast

SUPPLIER = Viewer(user_id=1, organization_id=10, organization_kind=OrganizationKind.SUPPLIER,
                  role=Role.SUPPLIER)
CUSTOMER = Viewer(user_id=2, organization_id=20, organization_kind=OrganizationKind.CUSTOMER,
                  role=Role.CUSTOMER)
PROGRAM = Viewer(user_id=3, organization_id=30, organization_kind=OrganizationKind.PROGRAM,
                 role=Role.ADMIN)


@pytest.mark.parametrize(("viewer", "customer_id", "supplier_id", "side"), [
    (SUPPLIER, 20, 10, ConnectionSide.FACTORY),
    (SUPPLIER, 20, 11, None),
    (CUSTOMER, 20, 10, ConnectionSide.CUSTOMER),
    (CUSTOMER, 21, 10, None),
    (PROGRAM, 20, 10, None),
    (Viewer(), 20, 10, None),
])
def test_connection_side_is_the_owning_supplier_or_the_customer_and_nobody_else(
        viewer: Viewer, customer_id: int, supplier_id: int, side: ConnectionSide | None) -> None:
    assert connection_side(viewer, customer_id=customer_id,
                           factory_supplier_id=supplier_id) is side


def viewer_of(cast: Cast, who: str, kind: OrganizationKind, role: Role) -> Viewer:
    person = cast.people[who]
    return Viewer(person.user_id, person.organization_id, kind, role)


async def pending(database: Database, cast: Cast) -> int:
    customer = viewer_of(cast, "customer_a_user", OrganizationKind.CUSTOMER, Role.CUSTOMER)
    async with database.unit_of_work() as session:
        row = await connections.request_connection(
            session, customer, factory_id=cast.factories["alpha"], scopes=[ShareScope.PROFILE])
        return row.id


@pytest.mark.parametrize("who", ["admin", "customer_a_user"])
async def test_viewer_who_sees_a_connection_but_is_not_its_owner_gets_not_owner(
        database: Database, cast: Cast, who: str) -> None:
    connection_id = await pending(database, cast)
    viewer = (viewer_of(cast, who, OrganizationKind.PROGRAM, Role.ADMIN) if who == "admin"
              else viewer_of(cast, who, OrganizationKind.CUSTOMER, Role.CUSTOMER))

    for move in (lambda s: connections.respond(s, viewer, connection_id=connection_id,
                                               accept=True),
                 lambda s: connections.update_scopes(s, viewer, connection_id=connection_id,
                                                     scopes=[ShareScope.AUDITS])):
        with pytest.raises(BusinessRuleError) as refused:
            async with database.unit_of_work() as session:
                await move(session)
        assert refused.value.code == "NOT_OWNER"
    if who == "admin":
        with pytest.raises(BusinessRuleError) as refused:
            async with database.unit_of_work() as session:
                await connections.end_connection(session, viewer, connection_id=connection_id)
        assert refused.value.code == "NOT_OWNER"

    async with database.read() as conn:
        assert (await conn.execute(select(CustomerConnection.status, CustomerConnection.version)
                                   )).all() == [("PENDING", 1)]


async def test_request_racing_an_uncommitted_one_ends_as_duplicate_connection(
        database: Database, cast: Cast) -> None:
    customer = viewer_of(cast, "customer_a_user", OrganizationKind.CUSTOMER, Role.CUSTOMER)
    async with database.unit_of_work() as first:
        await connections.request_connection(first, customer, factory_id=cast.factories["alpha"],
                                             scopes=[ShareScope.PROFILE])
        # The second request cannot see the first yet: it passes the check, then waits on the
        # unique index until the first commits.
        second = asyncio.create_task(_request(database, customer, cast.factories["alpha"]))
        await _until_waiting_on_a_lock(database)

    with pytest.raises(BusinessRuleError) as refused:
        await second
    assert refused.value.code == "DUPLICATE_CONNECTION"
    async with database.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(CustomerConnection))
                ).scalar_one() == 1


async def _request(database: Database, viewer: Viewer, factory_id: int) -> None:
    async with database.unit_of_work() as session:
        await connections.request_connection(session, viewer, factory_id=factory_id,
                                             scopes=[ShareScope.AUDITS])


async def _until_waiting_on_a_lock(database: Database) -> None:
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND wait_event_type = 'Lock'")
    async with asyncio.timeout(5):
        while True:
            async with database.read() as conn:
                if (await conn.execute(waiting)).scalar_one():
                    return
            await asyncio.sleep(0.02)
