"""Password hashing: Argon2id with the production cost, salts, rehash detection, random passwords."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher

from sudoless.accounts import hash_password, needs_rehash, random_password, verify_password


def test_hash_is_argon2id_and_verifies():
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse")


@pytest.mark.parametrize("attempt", ["correct hors", "Correct horse", "", "correct horse "])
def test_wrong_password_is_false(attempt: str):
    assert verify_password(hash_password("correct horse"), attempt) is False


def test_same_password_gets_a_new_salt_each_time():
    assert hash_password("pw") != hash_password("pw")


@pytest.mark.parametrize("stored", ["", "plain-text", "$argon2id$v=19$m=8,t=1,p=1$broken", "$2b$12$abc"])
def test_damaged_or_foreign_hash_never_verifies(stored: str):
    assert verify_password(stored, "anything") is False


def test_needs_rehash_when_cost_changes():
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    old = hash_password("pw", cheap)
    assert verify_password(old, "pw")  # still valid with the default hasher...
    assert needs_rehash(old)  # ...but made with other parameters
    assert not needs_rehash(hash_password("pw"))
    assert needs_rehash("not a hash")


def test_random_password_is_20_url_safe_chars_and_fresh():
    passwords = {random_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{20}", p) for p in passwords)
