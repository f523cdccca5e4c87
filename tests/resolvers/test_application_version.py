"""The application's version guards its moves below the row lock: a move made from a copy read
before another move committed is refused, and the data shows the one move that won."""
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm.exc import StaleDataError

from auth.viewer import Viewer
from db import Application, WorkflowTransition
from db.engine import Database
from db.enums import ApplicationStatus, OrganizationKind, Role
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
