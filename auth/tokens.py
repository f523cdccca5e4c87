"""Access tokens: HS256 JWTs issued at sign-in and checked on every HTTP request and WebSocket.

`verify_token` is the only way a token is read; HTTP and WebSocket both call it. Every way a
token can be wrong ends in `InvalidToken` with a short reason that is safe to show a client.
"""
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from db.enums import Role
from db.settings import Settings

ISSUER = "escp-connect"
AUDIENCE = "escp-connect-api"
ALGORITHMS = ["HS256"]
# Tolerates clock skew between workers and hosts; small enough not to matter for expiry.
LEEWAY_SECONDS = 5
# RFC 7518 section 3.2: an HS256 key must be at least as long as the hash output.
MIN_SECRET_BYTES = 32

_USER_ID = re.compile(r"[1-9][0-9]{0,18}")
_ROLES = frozenset(role.value for role in Role)

# Most specific first: several of these subclass one another.
_REASONS: list[tuple[type[jwt.InvalidTokenError], str]] = [
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not yet valid"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.MissingRequiredClaimError, "missing claim"),
]


class InvalidToken(Exception):
    """The token cannot be trusted. `reason` is short and safe to return to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    user_id: int
    organization_id: int
    role: str
    issued_at: datetime
    expires_at: datetime


def issue_token(
    settings: Settings,
    *,
    user_id: int,
    organization_id: int,
    role: str,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """A signed token for the user and the moment it expires (whole seconds, UTC)."""
    if role not in _ROLES:
        raise ValueError(f"unknown role {role!r}")
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    issued_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    expires_at = issued_at + timedelta(seconds=settings.jwt_ttl_seconds)
    payload = {
        "sub": str(user_id),
        "org": organization_id,
        "role": role,
        "iat": issued_at,
        "exp": expires_at,
        "iss": ISSUER,
        "aud": AUDIENCE,
        # Unique per token, so one token can be told from another (logs, a future deny list).
        "jti": secrets.token_urlsafe(16),
    }
    token = jwt.encode(payload, _secret(settings), algorithm=ALGORITHMS[0])
    return token, expires_at


def verify_token(settings: Settings, token: str) -> Claims:
    """The token's claims, or `InvalidToken` for anything wrong with it."""
    try:
        payload = jwt.decode(
            token,
            _secret(settings),
            algorithms=ALGORITHMS,
            issuer=ISSUER,
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(_reason(exc)) from exc
    claims = _claims(payload)
    # A token that claims a longer life than we would ever issue was not issued by this
    # configuration (a leaked or misused secret, an old setting): its signature is not enough.
    if claims.expires_at - claims.issued_at > timedelta(seconds=settings.jwt_max_lifetime_seconds):
        raise InvalidToken("lifetime too long")
    return claims


def _secret(settings: Settings) -> str:
    secret = settings.jwt_secret
    if len(secret.encode()) < MIN_SECRET_BYTES:
        # A configuration error, not a bad token: fail loudly instead of signing weakly.
        raise ValueError(f"ESCP_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes for HS256")
    return secret


def _reason(exc: jwt.InvalidTokenError) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "malformed"


def _claims(payload: dict[str, Any]) -> Claims:
    """Our own claims, checked for type: PyJWT only checks the registered ones."""
    sub, org, role = payload.get("sub"), payload.get("org"), payload.get("role")
    if not isinstance(sub, str) or not _USER_ID.fullmatch(sub):
        raise InvalidToken("malformed")
    # bool is an int in Python; `"org": true` is not an organization.
    if type(org) is not int or org <= 0:
        raise InvalidToken("malformed")
    if role not in _ROLES:
        raise InvalidToken("malformed")
    return Claims(
        user_id=int(sub),
        organization_id=org,
        role=role,
        issued_at=_moment(payload["iat"]),
        expires_at=_moment(payload["exp"]),
    )


def _moment(value: object) -> datetime:
    # PyJWT accepts any int()-able value ("123", 1e30) for iat and exp; a datetime needs less.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken("malformed")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidToken("malformed") from None
