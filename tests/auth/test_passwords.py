"""Passwords: argon2id hashes verify, anything else is a plain "no", and the policy is length."""
import pytest
from argon2 import PasswordHasher

from auth import passwords
from auth.passwords import hash_password, needs_rehash, password_problem, verify_password

PASSWORD = "correct horse battery staple"


def test_hashed_password_verifies() -> None:
    password_hash = hash_password(PASSWORD)
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert verify_password(password_hash, PASSWORD)
    assert not needs_rehash(password_hash)


def test_same_password_hashes_differently_each_time() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_wrong_password_does_not_verify() -> None:
    assert not verify_password(hash_password(PASSWORD), PASSWORD + "!")


@pytest.mark.parametrize("malformed", [
    "", "plain-text-password", "$argon2id$garbage", "$2b$12$abcdefghijklmnopqrstuv",
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$",
])
def test_malformed_hash_does_not_verify_and_needs_rehash(malformed: str) -> None:
    assert verify_password(malformed, PASSWORD) is False
    assert needs_rehash(malformed)


def test_hash_with_weaker_parameters_needs_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    assert verify_password(weak, PASSWORD)
    assert needs_rehash(weak)


def test_dummy_hash_is_a_real_hash_computed_once_that_matches_nothing_typed() -> None:
    assert passwords.DUMMY_HASH.startswith("$argon2id$")
    assert passwords.DUMMY_HASH is passwords.DUMMY_HASH
    assert not needs_rehash(passwords.DUMMY_HASH)
    assert not verify_password(passwords.DUMMY_HASH, PASSWORD)


def test_unknown_module_attribute_still_raises() -> None:
    with pytest.raises(AttributeError):
        passwords.NOT_THERE  # noqa: B018  # the access is the test


@pytest.mark.parametrize("plain", ["", "short", "123456789"])
def test_password_shorter_than_ten_characters_is_refused(plain: str) -> None:
    assert password_problem(plain) == "The password must be at least 10 characters long."


def test_password_longer_than_1024_characters_is_refused() -> None:
    assert password_problem("x" * 1025) == "The password must be at most 1024 characters long."


@pytest.mark.parametrize("plain", ["1234567890", "x" * 1024, PASSWORD, "pässwörter-ü"])
def test_password_of_acceptable_length_has_no_problem(plain: str) -> None:
    assert password_problem(plain) is None
