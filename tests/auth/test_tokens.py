"""Access tokens: a token we issued round-trips; every kind of wrong token raises InvalidToken."""
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from auth.tokens import (
    ALGORITHMS,
    AUDIENCE,
    ISSUER,
    Claims,
    InvalidToken,
    issue_token,
    verify_token,
)
from db.settings import SettingError, Settings

# 64 bytes: long enough for HS512 too, so PyJWT does not warn while signing the wrong-alg case.
SECRET = "s" * 64
OTHER_SECRET = "o" * 64


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(jwt_secret_env=SECRET, jwt_ttl_seconds=3600, data_dir=tmp_path)


def _b64(data: object) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _payload(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": "7", "org": 3, "role": "SUPPLIER", "iat": now, "exp": now + timedelta(hours=1),
        "iss": ISSUER, "aud": AUDIENCE, "jti": "j1",
    }
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def _signed(payload: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=algorithm)


def _reason(settings: Settings, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        verify_token(settings, token)
    return caught.value.reason


def test_issued_token_verifies_to_its_claims(settings: Settings) -> None:
    # when
    token, expires_at = issue_token(settings, user_id=7, organization_id=3, role="SUPPLIER")
    claims = verify_token(settings, token)
    # then
    assert claims == Claims(user_id=7, organization_id=3, role="SUPPLIER",
                            issued_at=expires_at - timedelta(hours=1), expires_at=expires_at)


def test_token_expires_after_the_configured_lifetime_in_whole_seconds(tmp_path: Path) -> None:
    short = Settings(jwt_secret_env=SECRET, jwt_ttl_seconds=600, data_dir=tmp_path)
    now = datetime(2026, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    _, expires_at = issue_token(short, user_id=7, organization_id=3, role="SUPPLIER", now=now)
    assert expires_at == datetime(2026, 1, 1, 12, 10, 0, tzinfo=UTC)


def test_issued_token_names_audience_issuer_and_a_unique_id(settings: Settings) -> None:
    first, _ = issue_token(settings, user_id=7, organization_id=3, role="SUPPLIER")
    second, _ = issue_token(settings, user_id=7, organization_id=3, role="SUPPLIER")
    claims = jwt.decode(first, SECRET, algorithms=ALGORITHMS, audience=AUDIENCE, issuer=ISSUER)
    assert claims["sub"] == "7" and claims["org"] == 3 and claims["role"] == "SUPPLIER"
    assert jwt.get_unverified_header(first)["alg"] == "HS256"
    assert claims["jti"] != jwt.decode(second, options={"verify_signature": False})["jti"]


def test_token_issued_longer_ago_than_its_lifetime_is_expired(settings: Settings) -> None:
    token, _ = issue_token(settings, user_id=7, organization_id=3, role="SUPPLIER",
                           now=datetime.now(UTC) - timedelta(hours=2))
    assert _reason(settings, token) == "expired"


def test_token_from_the_future_is_not_yet_valid(settings: Settings) -> None:
    token, _ = issue_token(settings, user_id=7, organization_id=3, role="SUPPLIER",
                           now=datetime.now(UTC) + timedelta(minutes=5))
    assert _reason(settings, token) == "not yet valid"


def test_token_signed_with_another_secret_has_bad_signature(settings: Settings) -> None:
    assert _reason(settings, _signed(_payload(), secret=OTHER_SECRET)) == "bad signature"


def test_token_with_tampered_payload_has_bad_signature(settings: Settings) -> None:
    # given a genuine token
    header, _, signature = _signed(_payload(org=3)).split(".")
    # when its payload says another organization but keeps the signature
    forged = ".".join([header, _b64(_payload(org=4, iat=1, exp=4_000_000_000)), signature])
    # then
    assert _reason(settings, forged) == "bad signature"


def test_token_for_another_audience_is_rejected(settings: Settings) -> None:
    assert _reason(settings, _signed(_payload(aud="other-api"))) == "wrong audience"


def test_token_from_another_issuer_is_rejected(settings: Settings) -> None:
    assert _reason(settings, _signed(_payload(iss="someone-else"))) == "wrong issuer"


def test_unsigned_alg_none_token_is_rejected(settings: Settings) -> None:
    header = _b64({"alg": "none", "typ": "JWT"})
    body = _b64(_payload(iat=int(datetime.now(UTC).timestamp()), exp=4_000_000_000))
    assert _reason(settings, f"{header}.{body}.") == "algorithm not allowed"


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_token_with_other_algorithm_and_right_secret_is_rejected(
    settings: Settings, algorithm: str
) -> None:
    token = _signed(_payload(), algorithm=algorithm)
    assert _reason(settings, token) == "algorithm not allowed"


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "iss", "aud"])
def test_token_without_required_claim_is_rejected(settings: Settings, claim: str) -> None:
    payload = _payload()
    del payload[claim]
    assert _reason(settings, _signed(payload)) == "missing claim"


# "\u0667" is an Arabic-Indic seven: int() accepts it, a user id must not.
@pytest.mark.parametrize("changes", [
    {"sub": "abc"}, {"sub": "7.0"}, {"sub": "-7"}, {"sub": " 7"}, {"sub": "0"},
    {"sub": "\u0667"}, {"sub": "1" * 30}, {"sub": 7},
    {"org": "3"}, {"org": True}, {"org": 3.0}, {"org": None}, {"role": "SUPERUSER"},
    {"role": None}, {"exp": "4000000000"}, {"exp": 10**30}, {"iat": "1"},
], ids=repr)
def test_token_with_malformed_claim_is_rejected(
    settings: Settings, changes: dict[str, Any]
) -> None:
    assert _reason(settings, _signed(_payload(**changes))) == "malformed"


@pytest.mark.parametrize("garbage", [
    "", "garbage", "a.b.c", "..", "...", "Bearer x",
    "ü.ü.ü", _b64({"alg": "HS256"}) + ".W10." + "x", "[1]." + _b64({}) + ".",
    _b64(["not", "an", "object"]) + "." + _b64({}) + ".sig",
])
def test_garbage_is_malformed(settings: Settings, garbage: str) -> None:
    assert _reason(settings, garbage) == "malformed"


def test_hs256_header_with_empty_signature_has_bad_signature(settings: Settings) -> None:
    assert _reason(settings, _b64({"alg": "HS256", "typ": "JWT"}) + "..") == "bad signature"


def test_short_secret_is_refused_rather_than_used(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match="ESCP_JWT_SECRET must be at least 32 bytes"):
        Settings(jwt_secret_env="short", data_dir=tmp_path)


@pytest.mark.parametrize(("role", "now"), [
    ("SUPERUSER", None), ("SUPPLIER", datetime(2026, 1, 1, 12, 0)),
])
def test_issuing_refuses_unknown_role_and_naive_time(
    settings: Settings, role: str, now: datetime | None
) -> None:
    with pytest.raises(ValueError):
        issue_token(settings, user_id=7, organization_id=3, role=role, now=now)


def test_invalid_token_carries_its_reason() -> None:
    assert InvalidToken("expired").reason == str(InvalidToken("expired")) == "expired"
