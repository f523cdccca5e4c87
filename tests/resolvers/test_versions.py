"""The versions of applications and connections guard their moves below the row locks: each
move bumps the version by one, a move made from a copy read before another move committed is
refused, and the data shows the one move that won."""
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm.exc import StaleDataError

from auth.viewer import Viewer
from db import Application, CustomerConnection, WorkflowTransition
from db.engine import Database
from db.enums import ApplicationStatus, ConnectionStatus, OrganizationKind, Role, ShareScope
from resolvers import connection as connections
from resolvers.certification_rules import Event
from resolvers.workflow import lock_application, move
from tests.helpers import Cast

ADMIN = Viewer(user_id=None, organization_kind=OrganizationKind.PROGRAM, role=Role.ADMIN)


async def submitted(database: Database, cast: Cast) -> int:
    async with database.unit_of_work() as session:
        return int(await session.scalar(insert(Application).values(
            factory_id=cast.factories["alpha"], kind="NEW",
            status=ApplicationStatus.SUBMITTED.value).returning(Application.id)))


async def test_each_move_bumps_the_version_by_one(database: Database, cast: Cast) -> None:
    application_id = await submitted(database, cast)
    for event in (Event.ASSIGN_FIRM, Event.SCHEDULE_AUDIT):
        async with database.unit_of_work() as session:
            move(session, await lock_application(session, application_id), event, ADMIN)
    async with database.read() as conn:
        assert await conn.scalar(select(Application.version).where(
            Application.id == application_id)) == 3


async def test_a_move_from_a_stale_copy_is_refused(database: Database, cast: Cast) -> None:
    application_id = await submitted(database, cast)
    with pytest.raises(StaleDataError):
        async with database.unit_of_work() as stale:
            copy = await stale.get(Application, application_id)  # read without the lock
            assert copy is not None
            async with database.unit_of_work() as session:  # another move commits meanwhile
                move(session, await lock_application(session, application_id),
                     Event.ASSIGN_FIRM, ADMIN)
            move(stale, copy, Event.WITHDRAW, ADMIN)  # valid from what the copy says
            await stale.flush()
    async with database.read() as conn:
        status, version = (await conn.execute(select(Application.status, Application.version)
                                              .where(Application.id == application_id))).one()
        moves = await conn.scalar(select(func.count()).select_from(WorkflowTransition).where(
            WorkflowTransition.application_id == application_id))
    assert (status, version, moves) == (ApplicationStatus.AUDIT_FIRM_ASSIGNED.value, 2, 1)


def person(cast: Cast, who: str, kind: OrganizationKind, role: Role) -> Viewer:
    found = cast.people[who]
    return Viewer(found.user_id, found.organization_id, kind, role)


async def requested(database: Database, cast: Cast) -> tuple[int, Viewer]:
    """A PENDING request of customer_a to alpha; its id and alpha's owner."""
    customer = person(cast, "customer_a_user", OrganizationKind.CUSTOMER, Role.CUSTOMER)
    async with database.unit_of_work() as session:
        row = await connections.request_connection(
            session, customer, factory_id=cast.factories["alpha"], scopes=[ShareScope.PROFILE])
    return row.id, person(cast, "supplier_a_user", OrganizationKind.SUPPLIER, Role.SUPPLIER)


async def connection_version(database: Database, connection_id: int) -> tuple[str, int]:
    async with database.read() as conn:
        return tuple((await conn.execute(  # type: ignore[return-value]
            select(CustomerConnection.status, CustomerConnection.version)
            .where(CustomerConnection.id == connection_id))).one())


async def test_each_connection_move_bumps_its_version_by_one(
        database: Database, cast: Cast) -> None:
    connection_id, owner = await requested(database, cast)
    async with database.unit_of_work() as session:
        await connections.respond(session, owner, connection_id=connection_id, accept=True)
    async with database.unit_of_work() as session:
        await connections.update_scopes(session, owner, connection_id=connection_id,
                                        scopes=[ShareScope.PROFILE, ShareScope.AUDITS])
    assert await connection_version(database, connection_id) == (
        ConnectionStatus.ACCEPTED.value, 3)


async def test_a_connection_move_from_a_stale_copy_is_refused(
        database: Database, cast: Cast) -> None:
    connection_id, owner = await requested(database, cast)
    with pytest.raises(StaleDataError):
        async with database.unit_of_work() as stale:
            copy = await stale.get(CustomerConnection, connection_id)  # read without the lock
            assert copy is not None
            async with database.unit_of_work() as session:  # the owner declines meanwhile
                await connections.respond(session, owner, connection_id=connection_id,
                                          accept=False)
            copy.status = ConnectionStatus.ACCEPTED.value  # valid from what the copy says
            await connections._save(stale, copy)
    assert await connection_version(database, connection_id) == (
        ConnectionStatus.DECLINED.value, 2)
