"""Accounts: users, roles and groups, project permissions, password hashing, sessions and login throttling.

Everything is stored in the database through :class:`sudoless.store.Store`; build one
:class:`Accounts` per process and pass it to whatever needs to authenticate or authorize.
"""

from __future__ import annotations

from sudoless.accounts.names import check_name
from sudoless.accounts.passwords import hash_password, needs_rehash, random_password, verify_password
from sudoless.accounts.permissions import BUILTIN_ROLES, Permission
from sudoless.accounts.throttle import ADDRESS_FAILURES, PAIR_FAILURES
from sudoless.accounts.users import LOGIN_FAILED, SESSION_TTL_MS, Accounts, User

__all__ = [
    "ADDRESS_FAILURES",
    "BUILTIN_ROLES",
    "LOGIN_FAILED",
    "PAIR_FAILURES",
    "SESSION_TTL_MS",
    "Accounts",
    "Permission",
    "User",
    "check_name",
    "hash_password",
    "needs_rehash",
    "random_password",
    "verify_password",
]
