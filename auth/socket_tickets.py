"""Socket tickets: how a page of the portal signs its WebSocket in without holding a token.

The portal keeps the API token in an HttpOnly cookie, out of reach of page scripts. A page that
subscribes asks the server for a ticket instead: a signed, single-purpose credential that is
accepted only in a socket's `connection_init` (never over HTTP), must be used within
TICKET_SECONDS, and carries the moment its session ends, when the socket is closed like one
signed in with the token itself.
"""
import secrets
from datetime import UTC, datetime, timedelta

import jwt

from auth.tokens import ALGORITHMS, ISSUER, LEEWAY_SECONDS, InvalidToken
from db.settings import Settings

PREFIX = "wsticket_"
TICKET_SECONDS = 60
AUDIENCE = "escp-connect-socket"  # not the API's: a ticket is no access token


def is_ticket(token: str) -> bool:
    return token.startswith(PREFIX)


def issue_ticket(settings: Settings, user_id: int, session_ends: datetime) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    payload = {"sub": str(user_id), "iat": now, "exp": now + timedelta(seconds=TICKET_SECONDS),
               "ses": int(session_ends.timestamp()), "iss": ISSUER, "aud": AUDIENCE,
               "jti": secrets.token_urlsafe(12)}
    return PREFIX + jwt.encode(payload, settings.jwt_secret, algorithm=ALGORITHMS[0])


def verify_ticket(settings: Settings, ticket: str) -> tuple[int, datetime]:
    """The ticket's user and the moment its session ends; InvalidToken for anything else."""
    try:
        payload = jwt.decode(ticket.removeprefix(PREFIX), settings.jwt_secret,
                             algorithms=ALGORITHMS, issuer=ISSUER, audience=AUDIENCE,
                             options={"require": ["exp", "iat", "sub", "ses"]},
                             leeway=LEEWAY_SECONDS)
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("invalid socket ticket") from exc
    sub, ses = payload["sub"], payload["ses"]
    if not (isinstance(sub, str) and sub.isdigit()) or type(ses) is not int:
        raise InvalidToken("invalid socket ticket")
    ends = datetime.fromtimestamp(ses, UTC)
    if ends <= datetime.now(UTC):
        raise InvalidToken("session ended")
    return int(sub), ends
