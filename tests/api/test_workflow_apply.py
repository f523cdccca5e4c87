"""Step 1: the owning supplier applies; the REGISTRATION fee becomes due to the program."""
from datetime import timedelta

import httpx
import pytest

from auth.viewer import Viewer
from db import Certificate
from db.engine import Database
from db.enums import ApplicationKind, CertificateStatus
from resolvers.application import insert_application
from resolvers.errors import BusinessRuleError
from tests.api.workflow import SUBMIT, TODAY, codes, gql, ok, run
from tests.helpers import Cast

APPLICATIONS = """
query Applications($id: ID!) {
  factory(id: $id) {
    certificationStatus
    applications {
      id kind status
      transitions { fromStatus toStatus occurredAt note actor { name role } }
    }
  }
}
"""


async def given_certificate(database: Database, cast: Cast, factory: str, valid_until_in: int,
                            status: CertificateStatus = CertificateStatus.ACTIVE) -> None:
    """A current certificate of `factory` ending `valid_until_in` days from today."""
    valid_until = TODAY + timedelta(days=valid_until_in)
    async with database.unit_of_work() as session:
        session.add(Certificate(number="C900001", factory_id=cast.factories[factory],
                                status=status.value, issued_on=valid_until - timedelta(days=364),
                                valid_until=valid_until))


async def applications(client: httpx.AsyncClient, cast: Cast, factory: str = "alpha") -> dict:
    body = await gql(client, APPLICATIONS, cast.token("admin"), id=cast.factory_gid(factory))
    return body["data"]["factory"]


async def submit(client: httpx.AsyncClient, cast: Cast, kind: str = "NEW",
                 who: str = "supplier_a_user", factory: str = "alpha") -> dict:
    return await run(client, SUBMIT, cast.token(who), factoryId=cast.factory_gid(factory),
                     kind=kind)


async def test_supplier_applies_for_its_factory_and_owes_the_program_1500(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    payload = ok(await submit(client, cast))

    application = payload["application"]
    assert (application["kind"], application["status"]) == ("NEW", "SUBMITTED")
    assert application["fees"] == [{
        "id": application["fees"][0]["id"], "kind": "REGISTRATION", "round": 1,
        "amount": "1500.00", "currency": "USD", "status": "DUE",
        "payee": {"name": "program org"}}]
    factory = await applications(client, cast)
    assert factory["certificationStatus"] == "IN_PROGRESS"
    (transition,) = factory["applications"][0]["transitions"]
    assert transition["fromStatus"] is None and transition["toStatus"] == "SUBMITTED"
    assert transition["actor"] == {"name": "supplier_a_user", "role": "SUPPLIER"}


async def test_renewal_from_exactly_90_days_before_expiry_owes_1000(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    await given_certificate(database, cast, "alpha", valid_until_in=90)

    payload = ok(await submit(client, cast, kind="RENEWAL"))

    assert payload["application"]["kind"] == "RENEWAL"
    assert payload["application"]["fees"][0]["amount"] == "1000.00"
    # A renewal in progress does not hide the certificate the factory still holds.
    assert (await applications(client, cast))["certificationStatus"] == "CERTIFIED"


async def test_renewal_91_days_before_expiry_is_refused_and_nothing_is_created(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    await given_certificate(database, cast, "alpha", valid_until_in=91)

    payload = await submit(client, cast, kind="RENEWAL")

    assert codes(payload) == ["RENEWAL_NOT_OPEN"] and payload["application"] is None
    opens = (TODAY + timedelta(days=1)).isoformat()
    assert opens in payload["userErrors"][0]["message"]
    assert (await applications(client, cast))["applications"] == []


@pytest.mark.parametrize("valid_until_in", [None, -1])
async def test_renewal_without_an_active_certificate_is_refused_but_new_is_accepted(
        client: httpx.AsyncClient, database: Database, cast: Cast,
        valid_until_in: int | None) -> None:
    if valid_until_in is not None:  # expired yesterday
        await given_certificate(database, cast, "alpha", valid_until_in=valid_until_in)

    assert codes(await submit(client, cast, kind="RENEWAL")) == ["NO_CERTIFICATE_TO_RENEW"]
    ok(await submit(client, cast, kind="NEW"))


async def test_new_application_for_a_certified_factory_is_refused(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    await given_certificate(database, cast, "alpha", valid_until_in=200)

    assert codes(await submit(client, cast, kind="NEW")) == ["ALREADY_CERTIFIED"]


async def test_no_application_while_the_certificate_is_suspended(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    await given_certificate(database, cast, "alpha", valid_until_in=30,
                            status=CertificateStatus.SUSPENDED)

    for kind in ("NEW", "RENEWAL"):
        assert codes(await submit(client, cast, kind=kind)) == ["CERTIFICATE_SUSPENDED"]


async def test_second_open_application_for_a_factory_is_refused(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    ok(await submit(client, cast))

    payload = await submit(client, cast)

    assert codes(payload) == ["APPLICATION_OPEN"]
    assert len((await applications(client, cast))["applications"]) == 1


async def test_another_supplier_gets_not_owner_for_a_listed_factory_and_not_found_else(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    assert codes(await submit(client, cast, who="supplier_b_user")) == ["NOT_OWNER"]
    assert codes(await submit(client, cast, who="supplier_b_user",
                              factory="hidden")) == ["NOT_FOUND"]
    garbage = await run(client, SUBMIT, cast.token("supplier_a_user"), factoryId="nope",
                        kind="NEW")
    assert garbage["userErrors"] == [{"code": "NOT_FOUND", "field": ["factoryId"],
                                      "message": "No Factory with that id."}]
    assert (await applications(client, cast))["applications"] == []


async def test_customer_firm_and_program_get_forbidden_and_anonymous_unauthenticated(
        client: httpx.AsyncClient, database: Database, cast: Cast) -> None:
    for who, code in (("customer_a_user", "FORBIDDEN"), ("firm_a_user", "FORBIDDEN"),
                      ("admin", "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        body = await gql(client, SUBMIT, cast.token(who) if who else None,
                         input={"factoryId": cast.factory_gid("alpha"), "kind": "NEW"})
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code, who
    assert (await applications(client, cast))["applications"] == []


async def test_the_partial_unique_index_backs_the_one_open_application_check(
        database: Database, cast: Cast) -> None:
    """Two submissions that both passed the check: the index refuses the second as a userError."""
    supplier = cast.people["supplier_a_user"]
    viewer = Viewer(user_id=supplier.user_id, organization_id=supplier.organization_id)
    async with database.unit_of_work() as session:
        await insert_application(session, cast.factories["alpha"], ApplicationKind.NEW, viewer)

    with pytest.raises(BusinessRuleError) as refused:
        async with database.unit_of_work() as session:
            await insert_application(session, cast.factories["alpha"], ApplicationKind.NEW,
                                     viewer)
    assert refused.value.code == "APPLICATION_OPEN"
