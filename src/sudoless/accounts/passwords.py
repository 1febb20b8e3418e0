"""Password hashing with Argon2id (argon2-cffi), the OWASP and RFC 9106 recommendation.

Hashes are self-describing PHC strings (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``), so the cost can
be raised later: :func:`needs_rehash` tells the caller, after a successful login, that the stored hash
was made with older parameters and should be replaced.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: argon2-cffi's defaults (RFC 9106 "low memory": 64 MiB, 3 passes, 4 lanes): ~0.2 s on one core.
DEFAULT_HASHER = PasswordHasher()


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """A salted Argon2id hash of ``password`` to store instead of it."""
    return hasher.hash(password)


def verify_password(password_hash: str, password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Whether ``password`` matches; the comparison inside argon2 is constant-time.

    A damaged or foreign hash string is a mismatch, not an error: a login must never fail open.
    """
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    """Whether the hash was made with other parameters than ``hasher``'s (rehash after a good login)."""
    try:
        return hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def random_password() -> str:
    """A fresh password of 20 URL-safe characters (120 bits from :mod:`secrets`)."""
    return secrets.token_urlsafe(15)


def secret_digest(secret: str) -> str:
    """The SHA-256 (hex) of a random secret (session id, API token) that is stored instead of it.

    Enough for 256-bit random values, which cannot be guessed; it is checked on every request, where a
    password hash's deliberate cost would be paid again and again.
    """
    return hashlib.sha256(secret.encode()).hexdigest()
