"""API keys: `escp_<id>_<secret>`, sent as `Authorization: Bearer …` (or `ApiKey …`).

The secret is 32 random bytes (256 bits), so a plain sha256 of it is enough to store: hashing
slowly (argon2, as for passwords) protects low-entropy secrets against guessing, and nobody
can guess 256 random bits. A fast hash keeps the check of every request cheap. The id in the
key finds its row; the hash comparison is in constant time.
"""
import hashlib
import hmac
import re
import secrets

from auth.tokens import InvalidToken
from db.enums import Role

PREFIX = "escp_"
_SHAPE = re.compile(r"escp_([1-9][0-9]{0,18})_([A-Za-z0-9_-]{43})")
# Program roles rank by power; every other kind of organization has one role only.
_RANK = {Role.ADMIN: 2, Role.REVIEWER: 1}


def is_api_key(credential: str) -> bool:
    return credential.startswith(PREFIX)


def new_secret() -> tuple[str, str]:
    """A fresh secret and its hash (stored)."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def full_key(key_id: int, secret: str) -> str:
    return f"{PREFIX}{key_id}_{secret}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_key(credential: str) -> tuple[int, str]:
    """The key's id and secret; InvalidToken if it is not shaped like one of our keys."""
    found = _SHAPE.fullmatch(credential)
    if found is None:
        raise InvalidToken("malformed API key")
    return int(found.group(1)), found.group(2)


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def within(role: Role, creator_role: Role) -> bool:
    """A key's role is never above its creator's (program: ADMIN > REVIEWER; other kinds have
    one role, so the key gets that role)."""
    if role in _RANK or creator_role in _RANK:
        return role in _RANK and creator_role in _RANK and _RANK[role] <= _RANK[creator_role]
    return role == creator_role
