"""Socket tickets: how a page of the portal signs its WebSocket in without holding a token.

The portal's session id is in an HttpOnly cookie, out of reach of page scripts. A page that
subscribes asks the server for a ticket instead: a signed, single-purpose credential that is
accepted only in a socket's `connection_init` (never over HTTP), must be used within
TICKET_SECONDS, opens one socket only, and names its portal session (auth.portal_sessions): it
works only while that session does, and the socket hears nothing more once it ends.
"""
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from auth.tokens import ALGORITHMS, ISSUER, LEEWAY_SECONDS, InvalidToken
from db.settings import Settings

PREFIX = "wsticket_"
TICKET_SECONDS = 60
AUDIENCE = "escp-connect-socket"  # not the API's: a ticket is no access token


def is_ticket(token: str) -> bool:
    return token.startswith(PREFIX)


@dataclass(frozen=True)
class Ticket:
    id: str  # recorded when used: a ticket opens one socket
    user_id: int
    session_id: int  # the portal session it was issued for


def issue_ticket(settings: Settings, user_id: int, session_id: int) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    payload = {"sub": str(user_id), "iat": now, "exp": now + timedelta(seconds=TICKET_SECONDS),
               "sid": session_id, "iss": ISSUER, "aud": AUDIENCE,
               "jti": secrets.token_urlsafe(16)}
    return PREFIX + jwt.encode(payload, settings.jwt_secret, algorithm=ALGORITHMS[0])


def verify_ticket(settings: Settings, ticket: str) -> Ticket:
    """The ticket, signed by us and not expired; InvalidToken for anything else. Whether it was
    used before and its session still works is for auth.portal_sessions.use_ticket."""
    try:
        payload = jwt.decode(ticket.removeprefix(PREFIX), settings.jwt_secret,
                             algorithms=ALGORITHMS, issuer=ISSUER, audience=AUDIENCE,
                             options={"require": ["exp", "iat", "sub", "sid", "jti"]},
                             leeway=LEEWAY_SECONDS)
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("invalid socket ticket") from exc
    sub, sid, jti = payload["sub"], payload["sid"], payload["jti"]
    if (not (isinstance(sub, str) and sub.isdigit()) or type(sid) is not int
            or not isinstance(jti, str)):
        raise InvalidToken("invalid socket ticket")
    return Ticket(jti, int(sub), sid)
