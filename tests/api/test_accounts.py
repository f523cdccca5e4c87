"""Sign-up and sign-in over HTTP: tokens that work, refusals with codes, and the login throttle."""
import httpx
import pytest
from sqlalchemy import func, select, update

from auth.login_throttle import FREE_FAILURES, delay_for
from db import LoginAttempt, Organization, User
from db.engine import Database
from db.settings import Settings
from resolvers.demo import PASSWORD as DEMO_PASSWORD
from resolvers.demo import load_demo
from tests.helpers import PASSWORD, Cast, gql

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    accessToken expiresAt
    user { email name role organization { name kind } }
    userErrors { field message code }
  }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    accessToken expiresAt
    user { email role }
    userErrors { field message code }
  }
}
"""
VIEWER = "{ viewer { user { email role } organization { name kind } } }"


def sign_up_input(kind: str, email: str = "new@maker.test", password: str = PASSWORD,
                  organization: str = "Maker Ltd") -> dict:
    return {"email": email, "password": password, "name": "Nia", "organizationName": organization,
            "organizationKind": kind}


async def counts(database: Database) -> tuple[int, int]:
    async with database.read() as conn:
        organizations = (await conn.execute(select(func.count()).select_from(Organization)))
        users = (await conn.execute(select(func.count()).select_from(User)))
        return organizations.scalar_one(), users.scalar_one()


async def attempts(database: Database, email: str) -> tuple[int | None, float]:
    """The recorded failures for the email, and the delay the next sign-in would wait."""
    async with database.read() as conn:
        failures = (await conn.execute(select(LoginAttempt.failures).where(
            LoginAttempt.email == email))).scalar_one_or_none()
        return failures, await delay_for(conn, email)


@pytest.mark.parametrize("kind", ["SUPPLIER", "CUSTOMER"])
async def test_supplier_or_customer_signs_up_and_its_token_works_on_viewer(
        client: httpx.AsyncClient, database: Database, kind: str) -> None:
    # when
    body = await gql(client, SIGN_UP, input=sign_up_input(kind, email=" New@Maker.TEST "))
    # then
    payload = body["data"]["signUp"]
    assert payload["userErrors"] == [] and payload["accessToken"] and payload["expiresAt"]
    assert payload["user"] == {"email": "new@maker.test", "name": "Nia", "role": kind,
                               "organization": {"name": "Maker Ltd", "kind": kind}}
    viewer = await gql(client, VIEWER, payload["accessToken"])
    assert viewer["data"]["viewer"] == {"user": {"email": "new@maker.test", "role": kind},
                                        "organization": {"name": "Maker Ltd", "kind": kind}}


@pytest.mark.parametrize("kind", ["AUDIT_FIRM", "PROGRAM"])
async def test_audit_firm_or_program_cannot_sign_up_and_nothing_is_created(
        client: httpx.AsyncClient, database: Database, kind: str) -> None:
    # when
    body = await gql(client, SIGN_UP, input=sign_up_input(kind))
    # then
    payload = body["data"]["signUp"]
    assert payload["accessToken"] is None and payload["user"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("VALIDATION", ["organizationKind"])]
    assert await counts(database) == (0, 0)


async def test_sign_up_with_a_taken_email_is_refused_and_leaves_no_organization_behind(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given
    before = await counts(database)
    # when
    body = await gql(client, SIGN_UP, input=sign_up_input(
        "CUSTOMER", email=cast.people["customer_a_user"].email.upper()))
    # then
    assert [e["code"] for e in body["data"]["signUp"]["userErrors"]] == ["EMAIL_TAKEN"]
    assert await counts(database) == before


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"password": "short"}, "WEAK_PASSWORD", ["password"]),
    ({"email": "not-an-email"}, "VALIDATION", ["email"]),
    ({"organization": "  "}, "VALIDATION", ["organizationName"]),
])
async def test_sign_up_with_bad_input_gets_a_coded_user_error(
        client: httpx.AsyncClient, database: Database, changes: dict, code: str,
        field: list[str]) -> None:
    body = await gql(client, SIGN_UP, input=sign_up_input("SUPPLIER", **changes))
    assert [(e["code"], e["field"]) for e in body["data"]["signUp"]["userErrors"]] == [
        (code, field)]
    assert await counts(database) == (0, 0)


async def test_login_returns_a_token_that_works_on_viewer(client: httpx.AsyncClient,
                                                          cast: Cast) -> None:
    # when
    body = await gql(client, LOGIN, email="Supplier_A_User@Example.test", password=PASSWORD)
    # then
    payload = body["data"]["login"]
    assert payload["userErrors"] == []
    assert payload["user"] == {"email": "supplier_a_user@example.test", "role": "SUPPLIER"}
    viewer = await gql(client, VIEWER, payload["accessToken"])
    assert viewer["data"]["viewer"]["organization"] == {"name": "supplier_a org",
                                                        "kind": "SUPPLIER"}


async def test_failed_login_never_tells_whether_the_email_exists(client: httpx.AsyncClient,
                                                                 cast: Cast) -> None:
    # when
    wrong_password = await gql(client, LOGIN, email=cast.people["admin"].email,
                               password="not the password")
    unknown_email = await gql(client, LOGIN, email="nobody@example.test", password=PASSWORD)
    # then
    assert wrong_password["data"]["login"] == unknown_email["data"]["login"]
    payload = unknown_email["data"]["login"]
    assert payload["accessToken"] is None and payload["user"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_CREDENTIALS"]


async def test_repeated_failures_are_recorded_and_slow_down_the_next_attempt(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given: the free failures, for a known and for an unknown email alike
    known, unknown = cast.people["customer_a_user"].email, "ghost@example.test"
    for _ in range(FREE_FAILURES):
        for email in (known, unknown):
            await gql(client, LOGIN, email=email, password="guess guess guess")
    # then: both are counted the same, and the next attempt for either would wait
    for email in (known, unknown):
        failures, delay = await attempts(database, email)
        assert failures == FREE_FAILURES and delay > 0
    assert await attempts(database, "someone.else@example.test") == (None, 0.0)


async def test_successful_login_clears_the_failures(client: httpx.AsyncClient, cast: Cast,
                                                    database: Database) -> None:
    # given
    email = cast.people["customer_a_user"].email
    await gql(client, LOGIN, email=email, password="guess guess guess")
    assert (await attempts(database, email))[0] == 1
    # when
    body = await gql(client, LOGIN, email=email, password=PASSWORD)
    # then
    assert body["data"]["login"]["accessToken"]
    assert await attempts(database, email) == (None, 0.0)


async def test_deactivated_user_cannot_log_in_with_the_right_password(
        client: httpx.AsyncClient, cast: Cast, database: Database) -> None:
    # given
    person = cast.people["supplier_b_user"]
    async with database.unit_of_work() as session:
        await session.execute(update(User).where(User.id == person.user_id).values(active=False))
    # when
    body = await gql(client, LOGIN, email=person.email, password=PASSWORD)
    # then
    payload = body["data"]["login"]
    assert payload["accessToken"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_CREDENTIALS"]


async def test_demo_logins_sign_in(client: httpx.AsyncClient, database: Database,
                                   settings: Settings) -> None:
    # given
    logins = await load_demo(database, settings)
    assert logins == await load_demo(database, settings)  # loading twice changes nothing
    # when / then
    for email, password, _ in logins:
        assert password == DEMO_PASSWORD
        body = await gql(client, LOGIN, email=email, password=password)
        assert body["data"]["login"]["userErrors"] == [], email
