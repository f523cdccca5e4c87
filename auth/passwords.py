"""Password hashing (argon2id) and the password policy.

`verify_password` never raises for a wrong password or a hash it cannot read: sign-in treats
both as "no". `DUMMY_HASH` lets sign-in verify against something for an unknown email, so an
unknown and a known email cost the same time and response timing does not reveal who is a user.

A hash costs ~50-200 ms of CPU. Request handlers use the `*_in_pool` functions, which run it on
a few dedicated threads (ESCP_PASSWORD_HASH_THREADS; argon2 releases the GIL): the event loop
keeps serving other requests, and a flood of sign-ins queues for those threads instead of
taking the default executor, which the database driver and others share.
"""
import asyncio
import functools
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from db.settings import Settings, SettingError

MIN_LENGTH = 10
# An upper bound keeps one request from spending the hasher on megabytes of input.
MAX_LENGTH = 1024

# RFC 9106's second recommended option (argon2id, t=3, 64 MiB, p=4): about 50 ms per hash,
# named here so a change of argon2-cffi's defaults does not silently change our hashes.
PRODUCTION_PROFILE = profiles.RFC_9106_LOW_MEMORY
# The test suite alone sets ESCP_PASSWORD_HASH=fast (argon2's own test profile): the same code
# path at a fraction of the cost, so tests that create many users stay quick. It protects no
# password, so the commands that serve or store hashes refuse to run with it
# (refuse_test_profile), and a hash made with it is replaced at the next sign-in.
TEST_PROFILE_SWITCH = "ESCP_PASSWORD_HASH=fast"
# Read here, not through db.settings.Settings: it picks the hasher at import (the variable is
# documented in db.settings.OTHER_VARIABLES).
TEST_PROFILE_ON = os.environ.get("ESCP_PASSWORD_HASH") == "fast"
_hasher = PasswordHasher.from_parameters(profiles.CHEAPEST if TEST_PROFILE_ON
                                         else PRODUCTION_PROFILE)

DUMMY_HASH: str  # computed on first access, see __getattr__
T = TypeVar("T")


class CheapProfileRefused(SettingError):
    """A command that serves or stores password hashes was started with the test profile: a
    setting that cannot be used there, stopped like any other (one line, exit status 2)."""


def refuse_test_profile(command: str) -> None:
    if TEST_PROFILE_ON:
        raise CheapProfileRefused(
            f"{TEST_PROFILE_SWITCH} is the test suite's cheap password hashing and protects no "
            f"password; `{command}` refuses to run with it. Unset ESCP_PASSWORD_HASH.")


def hash_password(plain: str) -> str:
    return _hasher.hash(plain)


def verify_password(password_hash: str, plain: str) -> bool:
    """True only if `plain` matches; False for a mismatch or a hash that is not argon2."""
    try:
        return _hasher.verify(password_hash, plain)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True if the hash was made with other parameters (or is unreadable): hash again on sign-in."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def password_problem(plain: str) -> str | None:
    """What is wrong with a new password, in words for its owner; None if it is acceptable."""
    if len(plain) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters long."
    if len(plain) > MAX_LENGTH:
        return f"The password must be at most {MAX_LENGTH} characters long."
    return None


@functools.cache
def _dummy_hash() -> str:
    # Hashing costs ~50 ms, so it is paid on the first sign-in rather than at import.
    return hash_password(secrets.token_urlsafe(32))


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=Settings().password_hash_threads,
                              thread_name_prefix="escp-password-hash")


async def _in_pool(work: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool(), work, *args)


async def hash_in_pool(plain: str) -> str:
    return await _in_pool(hash_password, plain)


async def verify_in_pool(password_hash: str, plain: str) -> bool:
    return await _in_pool(verify_password, password_hash, plain)


async def dummy_hash_in_pool() -> str:
    """DUMMY_HASH, computed (once) on a pool thread like any other hash."""
    return await _in_pool(_dummy_hash)


def __getattr__(name: str) -> str:
    if name == "DUMMY_HASH":
        return _dummy_hash()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
