"""Unannounced audits stay unannounced: the factory sees no window or date of an UNANNOUNCED
audit and no planned date of a SEMI_ANNOUNCED one until it is conducted; customers never see
plans; the performing firm and the program always do."""
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from db import Audit
from db.engine import Database
from db.enums import Announcement, ConnectionStatus, ShareScope
from schema.ids import encode_id
from tests.api import world as w
from tests.helpers import Cast, errors_at, gql

PLAN = """
query($id: ID!) {
  node(id: $id) { ... on Audit { announcement conductedOn windowStart windowEnd plannedDate } }
  factory(id: "%s") { latestAudit { windowStart windowEnd plannedDate } }
}
"""
PLAN_FIELDS = ("windowStart", "windowEnd", "plannedDate")


async def given_planned_audit(database: Database, cast: Cast,
                              announcement: Announcement) -> tuple[int, str]:
    """An audit of alpha by firm_a, scheduled ahead; customer_a connected with AUDITS."""
    org = cast.organizations
    async with database.unit_of_work() as session:
        app = await w.application(session, cast.factories["alpha"], org["firm_a"])
        audit = await w.audit(session, app, org["firm_a"], None, announcement, conducted=False)
        await w.connection(session, org["customer_a"], cast.factories["alpha"],
                           ConnectionStatus.ACCEPTED, [ShareScope.AUDITS])
    return audit.id, encode_id("Audit", audit.id)


async def conduct(database: Database, audit_id: int) -> None:
    async with database.unit_of_work() as session:
        audit = await session.get(Audit, audit_id)
        assert audit is not None and audit.planned_date is not None
        await session.execute(update(Audit).where(Audit.id == audit_id).values(
            conducted_on=audit.planned_date + timedelta(days=1), status="REPORT_SUBMITTED"))


async def plan_seen_by(client: httpx.AsyncClient, cast: Cast, who: str,
                       gid: str) -> dict[str, str]:
    """Each plan field: "shown" (a date) or the requiredScope of its denial; the same on the
    node(id:) path and through factory.latestAudit."""
    body = await gql(client, PLAN % cast.factory_gid("alpha"), cast.token(who), id=gid)
    errors = errors_at(body)
    seen = {}
    for field in PLAN_FIELDS:
        outcomes = []
        for path, value in ((("node", field), body["data"]["node"][field]),
                            (("factory", "latestAudit", field),
                             body["data"]["factory"]["latestAudit"][field])):
            if path in errors:
                assert value is None and errors[path]["extensions"]["code"] == "FORBIDDEN"
                outcomes.append(errors[path]["extensions"]["requiredScope"])
            else:
                assert value is not None, (path, body)
                outcomes.append("shown")
        assert outcomes[0] == outcomes[1], (field, outcomes)
        seen[field] = outcomes[0]
    return seen


HIDDEN = "AUDITOR"  # what a denial of a plan field names: the program and the performing firm
NOTHING = dict.fromkeys(PLAN_FIELDS, HIDDEN)
ALL = dict.fromkeys(PLAN_FIELDS, "shown")


@pytest.mark.parametrize(("announcement", "before"), [
    (Announcement.UNANNOUNCED, NOTHING),
    (Announcement.SEMI_ANNOUNCED, {"windowStart": "shown", "windowEnd": "shown",
                                   "plannedDate": HIDDEN}),
    (Announcement.ANNOUNCED, ALL),
])
async def test_supplier_sees_the_plan_its_announcement_allows_until_conducted_then_all(
        client: httpx.AsyncClient, cast: Cast, database: Database, announcement: Announcement,
        before: dict[str, str]) -> None:
    # given
    audit_id, gid = await given_planned_audit(database, cast, announcement)
    # when / then: before the audit
    assert await plan_seen_by(client, cast, "supplier_a_user", gid) == before
    # when / then: once conducted
    await conduct(database, audit_id)
    assert await plan_seen_by(client, cast, "supplier_a_user", gid) == ALL


@pytest.mark.parametrize("announcement", list(Announcement))
async def test_customer_with_audits_never_sees_the_plan_not_even_after_the_audit(
        client: httpx.AsyncClient, cast: Cast, database: Database,
        announcement: Announcement) -> None:
    # given
    audit_id, gid = await given_planned_audit(database, cast, announcement)
    # then: before and after
    assert await plan_seen_by(client, cast, "customer_a_user", gid) == NOTHING
    await conduct(database, audit_id)
    assert await plan_seen_by(client, cast, "customer_a_user", gid) == NOTHING


@pytest.mark.parametrize("who", ["firm_a_user", "reviewer", "admin"])
@pytest.mark.parametrize("announcement", list(Announcement))
async def test_performing_firm_and_program_always_see_the_plan(
        client: httpx.AsyncClient, cast: Cast, database: Database, announcement: Announcement,
        who: str) -> None:
    _, gid = await given_planned_audit(database, cast, announcement)
    assert await plan_seen_by(client, cast, who, gid) == ALL


async def test_supplier_of_an_unannounced_audit_still_sees_that_it_is_scheduled(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    """The plan is hidden, not the audit: status and announcement stay visible to the owner."""
    _, gid = await given_planned_audit(database, cast, Announcement.UNANNOUNCED)
    body = await gql(client, 'query($id: ID!) { node(id: $id) { ... on Audit { status '
                     'announcement } } }', cast.token("supplier_a_user"), id=gid)
    assert body == {"data": {"node": {"status": "SCHEDULED", "announcement": "UNANNOUNCED"}}}
