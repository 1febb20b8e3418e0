"""The one rule for user, group, role and proxy-user names, shared by local and directory accounts."""

from __future__ import annotations

import re

from sudoless.errors import InputError

__all__ = ["check_name", "valid_name"]

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,63}")
_NAME_RULE = "use 1-64 letters, digits, '_', '.', '@', '+' or '-', not starting with a punctuation mark"


def valid_name(name: str) -> bool:
    """Whether ``name`` can be a user, group, role or proxy-user name (see :func:`check_name`)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_name(name: str, what: str = "user name") -> str:
    """Return ``name`` if it can be a user, group, role or proxy-user name, else raise InputError.

    Commas are excluded because lists of these names are stored comma-separated (Azkaban's XML format).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(f"{what} {name!r} is not valid: {_NAME_RULE}")
    return name
