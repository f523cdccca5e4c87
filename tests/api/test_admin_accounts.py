"""What only the program's admins create: audit firms, users of any organization, auditors."""
import httpx
import pytest
from sqlalchemy import func, select

from db import Auditor, Organization
from db.engine import Database
from tests.helpers import PASSWORD, Cast, gql

CREATE_AUDIT_FIRM = """
mutation($name: String!) {
  createAuditFirm(input: {name: $name}) {
    organization { id name kind }
    userErrors { field code }
  }
}
"""
CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) {
    user { email name role organization { id } }
    userErrors { field code }
  }
}
"""
REGISTER_AUDITOR = """
mutation($firm: ID!, $number: String!) {
  registerAuditor(input: {auditFirmId: $firm, name: "Ines Ito", registrationNumber: $number}) {
    auditor { name registrationNumber active auditFirm { id } }
    userErrors { field code }
  }
}
"""
VERIFY = "query($n: String!) { verifyAuditor(registrationNumber: $n) { name auditFirm active } }"
LOGIN = """
mutation($email: String!) {
  login(input: {email: $email, password: "%s"}) { accessToken userErrors { code } }
}
""" % PASSWORD


def user_input(cast: Cast, organization: str, role: str,
               email: str = "desk@firm.test") -> dict[str, str]:
    return {"email": email, "password": PASSWORD, "name": "Desk", "role": role,
            "organizationId": cast.org_gid(organization)}


def codes(payload: dict) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_admin_creates_an_audit_firm_that_is_listed_publicly(
        client: httpx.AsyncClient, cast: Cast) -> None:
    # when
    body = await gql(client, CREATE_AUDIT_FIRM, cast.token("admin"), name="  Acme Audits ")
    # then
    payload = body["data"]["createAuditFirm"]
    assert payload["userErrors"] == []
    assert payload["organization"]["name"] == "Acme Audits"
    assert payload["organization"]["kind"] == "AUDIT_FIRM"
    firms = await gql(client, "{ auditFirms { name } }")
    assert {"name": "Acme Audits"} in firms["data"]["auditFirms"]


async def test_a_second_firm_of_the_same_name_is_a_duplicate(client: httpx.AsyncClient,
                                                             cast: Cast,
                                                             database: Database) -> None:
    body = await gql(client, CREATE_AUDIT_FIRM, cast.token("admin"), name="FIRM_A ORG")
    assert codes(body["data"]["createAuditFirm"]) == [("DUPLICATE", ["name"])]


@pytest.mark.parametrize(("who", "code", "required"), [
    (None, "UNAUTHENTICATED", "SIGNED_IN"), ("reviewer", "FORBIDDEN", "ADMIN"),
    ("supplier_a_user", "FORBIDDEN", "ADMIN"), ("firm_a_user", "FORBIDDEN", "ADMIN"),
])
async def test_only_an_admin_may_create_accounts_and_nothing_is_created_otherwise(
        client: httpx.AsyncClient, cast: Cast, database: Database, who: str | None, code: str,
        required: str) -> None:
    # given
    async with database.read() as conn:
        before = (await conn.execute(select(func.count()).select_from(Organization))).scalar()
    token = cast.token(who) if who else None
    # when
    answers = [
        await gql(client, CREATE_AUDIT_FIRM, token, name="Sneaky Audits"),
        await gql(client, CREATE_USER, token, input=user_input(cast, "program", "ADMIN")),
        await gql(client, REGISTER_AUDITOR, token, firm=cast.org_gid("firm_a"), number="X-1"),
    ]
    # then: a top-level error, not a payload
    for body in answers:
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"] == {"code": code, "requiredScope": required}
    async with database.read() as conn:
        after = (await conn.execute(select(func.count()).select_from(Organization))).scalar()
        auditors = (await conn.execute(select(func.count()).select_from(Auditor))).scalar()
    assert (after, auditors) == (before, 2)


async def test_admin_creates_a_user_of_an_audit_firm_who_can_sign_in(
        client: httpx.AsyncClient, cast: Cast) -> None:
    # when
    body = await gql(client, CREATE_USER, cast.token("admin"),
                     input=user_input(cast, "firm_a", "AUDITOR"))
    # then
    payload = body["data"]["createUser"]
    assert payload["userErrors"] == []
    assert payload["user"] == {"email": "desk@firm.test", "name": "Desk", "role": "AUDITOR",
                               "organization": {"id": cast.org_gid("firm_a")}}
    login = await gql(client, LOGIN, email="desk@firm.test")
    assert login["data"]["login"]["accessToken"]


@pytest.mark.parametrize(("organization", "role", "changes", "expected"), [
    ("supplier_a", "ADMIN", {}, ("VALIDATION", ["role"])),
    ("customer_a", "SUPPLIER", {}, ("VALIDATION", ["role"])),
    ("firm_a", "AUDITOR", {"email": "FIRM_A_USER@example.test"}, ("EMAIL_TAKEN", ["email"])),
    ("firm_a", "AUDITOR", {"password": "short"}, ("WEAK_PASSWORD", ["password"])),
    ("firm_a", "AUDITOR", {"organizationId": "T3JnYW5pemF0aW9uOjk5OQ"},
     ("NOT_FOUND", ["organizationId"])),
    ("firm_a", "AUDITOR", {"organizationId": "not-an-id"}, ("NOT_FOUND", ["organizationId"])),
])
async def test_create_user_refuses_what_does_not_fit(
        client: httpx.AsyncClient, cast: Cast, organization: str, role: str, changes: dict,
        expected: tuple[str, list[str]]) -> None:
    given = {**user_input(cast, organization, role), **changes}
    body = await gql(client, CREATE_USER, cast.token("admin"), input=given)
    assert codes(body["data"]["createUser"]) == [expected]
    assert body["data"]["createUser"]["user"] is None


async def test_admin_registers_an_auditor_whom_anyone_can_verify(
        client: httpx.AsyncClient, cast: Cast) -> None:
    # when
    body = await gql(client, REGISTER_AUDITOR, cast.token("admin"), firm=cast.org_gid("firm_a"),
                     number=" escp-a-9001 ")
    # then
    payload = body["data"]["registerAuditor"]
    assert payload["userErrors"] == []
    assert payload["auditor"] == {"name": "Ines Ito", "registrationNumber": "ESCP-A-9001",
                                  "active": True, "auditFirm": {"id": cast.org_gid("firm_a")}}
    verified = await gql(client, VERIFY, n="ESCP-A-9001")
    assert verified["data"]["verifyAuditor"] == {"name": "Ines Ito", "auditFirm": "firm_a org",
                                                 "active": True}


@pytest.mark.parametrize(("firm", "number", "expected"), [
    ("firm_a", "reg-firm_b_lead", ("DUPLICATE", ["registrationNumber"])),
    ("supplier_a", "ESCP-A-1", ("NOT_FOUND", ["auditFirmId"])),
    ("firm_a", "   ", ("VALIDATION", ["registrationNumber"])),
])
async def test_register_auditor_refuses_duplicates_and_organizations_that_are_not_firms(
        client: httpx.AsyncClient, cast: Cast, firm: str, number: str,
        expected: tuple[str, list[str]]) -> None:
    body = await gql(client, REGISTER_AUDITOR, cast.token("admin"), firm=cast.org_gid(firm),
                     number=number)
    assert codes(body["data"]["registerAuditor"]) == [expected]
