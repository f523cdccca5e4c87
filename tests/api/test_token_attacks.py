"""Tokens over HTTP: anything but a good token of an active user is refused with 401, never
treated as anonymous."""
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import delete, update

from auth.tokens import AUDIENCE, ISSUER
from db import User
from db.engine import Database
from db.settings import Settings
from tests.helpers import Cast

VIEWER = "{ viewer { user { email } } }"
OTHER_SECRET = "another-secret-" + "y" * 40


async def post(client: httpx.AsyncClient, authorization: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": VIEWER},
                             headers={"Authorization": authorization})


def claims(cast: Cast, who: str = "customer_a_user", **changes: Any) -> dict[str, Any]:
    person, now = cast.people[who], datetime.now(UTC)
    payload: dict[str, Any] = {"sub": str(person.user_id), "org": person.organization_id,
                               "role": "CUSTOMER", "iat": now, "exp": now + timedelta(hours=1),
                               "iss": ISSUER, "aud": AUDIENCE}
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def signed(settings: Settings, payload: dict[str, Any], secret: str | None = None) -> str:
    return jwt.encode(payload, secret or settings.jwt_secret, algorithm="HS256")


def unsigned(payload: dict[str, Any]) -> str:
    """`alg: none`: a header and claims, and an empty signature."""
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_good_token_signs_the_viewer_in(client: httpx.AsyncClient, cast: Cast,
                                                settings: Settings) -> None:
    response = await post(client, f"Bearer {signed(settings, claims(cast))}")
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["user"]["email"] == "customer_a_user@example.test"


@pytest.mark.parametrize("attack", [
    "expired", "wrong_signature", "wrong_audience", "wrong_issuer", "alg_none", "missing_sub",
    "missing_exp", "tampered_claims", "garbage", "basic_scheme", "empty_bearer", "long_lived",
    "long_lived_backdated",
])
async def test_a_bad_token_is_refused_with_401_unauthenticated(
        client: httpx.AsyncClient, cast: Cast, settings: Settings, attack: str) -> None:
    # given
    past = datetime.now(UTC) - timedelta(hours=2)
    good = signed(settings, claims(cast))
    header, _, signature = good.split(".")
    tokens = {
        "expired": signed(settings, claims(cast, iat=past, exp=past + timedelta(minutes=30))),
        "wrong_signature": signed(settings, claims(cast), OTHER_SECRET),
        "wrong_audience": signed(settings, claims(cast, aud="someone-else")),
        "wrong_issuer": signed(settings, claims(cast, iss="someone-else")),
        "alg_none": unsigned(claims(cast)),
        "missing_sub": signed(settings, claims(cast, sub=None)),
        "missing_exp": signed(settings, claims(cast, exp=None)),
        # Another user's claims under the good token's signature: the admin, say.
        "tampered_claims": ".".join([header, unsigned(claims(cast, "admin", role="ADMIN"))
                                     .split(".")[1], signature]),
        "garbage": "not.a.token",
        # Correctly signed, but living longer than ESCP_JWT_MAX_LIFETIME_SECONDS allows.
        "long_lived": signed(settings, claims(cast, exp=datetime.now(UTC) + timedelta(
            seconds=settings.jwt_max_lifetime_seconds + 1))),
        "long_lived_backdated": signed(settings, claims(cast, iat=past - timedelta(
            seconds=settings.jwt_max_lifetime_seconds))),
    }
    authorization = {"basic_scheme": "Basic dXNlcjpwYXNz",
                     "empty_bearer": "Bearer "}.get(attack) or f"Bearer {tokens[attack]}"
    # when
    response = await post(client, authorization)
    # then
    assert_refused(response)


async def test_a_token_living_exactly_the_longest_allowed_lifetime_is_accepted(
        client: httpx.AsyncClient, cast: Cast, settings: Settings) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    token = signed(settings, claims(cast, iat=now, exp=now + timedelta(
        seconds=settings.jwt_max_lifetime_seconds)))
    assert (await post(client, f"Bearer {token}")).status_code == 200


async def test_a_deactivated_users_token_stops_working(client: httpx.AsyncClient, cast: Cast,
                                                       database: Database) -> None:
    # given: a token that worked
    token = cast.token("supplier_a_user")
    assert (await post(client, f"Bearer {token}")).status_code == 200
    # when
    async with database.unit_of_work() as session:
        await session.execute(update(User).where(
            User.id == cast.people["supplier_a_user"].user_id).values(active=False))
    # then
    assert_refused(await post(client, f"Bearer {token}"))


async def test_a_deleted_users_token_stops_working(client: httpx.AsyncClient, cast: Cast,
                                                   database: Database) -> None:
    # given
    token = cast.token("customer_b_user")
    # when
    async with database.unit_of_work() as session:
        await session.execute(delete(User).where(
            User.id == cast.people["customer_b_user"].user_id))
    # then
    assert_refused(await post(client, f"Bearer {token}"))


async def test_a_bad_token_is_refused_on_get_and_on_mutations_too(
        client: httpx.AsyncClient, cast: Cast, settings: Settings) -> None:
    token = signed(settings, claims(cast), OTHER_SECRET)
    headers = {"Authorization": f"Bearer {token}"}
    assert_refused(await client.get("/graphql", params={"query": VIEWER}, headers=headers))
    mutation = 'mutation { createAuditFirm(input: {name: "X"}) { userErrors { code } } }'
    assert_refused(await client.post("/graphql", json={"query": mutation}, headers=headers))


async def test_no_token_is_anonymous_not_an_error(client: httpx.AsyncClient,
                                                  database: Database) -> None:
    response = await client.post("/graphql", json={"query": VIEWER})
    assert response.status_code == 200 and response.json() == {"data": {"viewer": None}}


@pytest.mark.parametrize("scheme", ["Token", "JWT", "Basic", "ApiKey", "Bearer:", "Bearerx"])
async def test_a_good_token_under_another_scheme_is_refused(
        client: httpx.AsyncClient, cast: Cast, settings: Settings, scheme: str) -> None:
    """Only `Bearer` carries a token (`ApiKey` only an API key): the scheme is checked, not
    skipped over, whatever the token after it."""
    assert_refused(await post(client, f"{scheme} {signed(settings, claims(cast))}"))
