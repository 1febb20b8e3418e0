"""Azkaban's permission bitmask and the built-in roles that bundle permissions.

The bit values are Azkaban's (``Permission.Type`` in ``azkaban-common``), so a ``permissions`` column copied
from an Azkaban database, or a number sent by an Azkaban client, means the same thing here. The AJAX API
and ``azkaban-users.xml`` use the names; :meth:`Permission.parse` and :meth:`Permission.names` convert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntFlag
from types import MappingProxyType

from sudoless.errors import InputError


class Permission(IntFlag):
    """One or more of Azkaban's permissions; ``Permission(0)`` is "no permission"."""

    READ = 0x1
    WRITE = 0x2
    EXECUTE = 0x4
    SCHEDULE = 0x8
    METRICS = 0x10
    UPLOADPROJECTS = 0x8000
    ADMIN = 0x8000000
    CREATEPROJECTS = 0x40000000

    @classmethod
    def parse(cls, names: Iterable[str]) -> Permission:
        """Combine permission names (any case; a single string may be a comma list).

        Raises :class:`InputError` naming the first unknown name, because a typo silently granting less
        (Azkaban logs and ignores it) is worse than refusing.
        """
        if isinstance(names, str):
            names = names.split(",")
        result = cls(0)
        for raw in names:
            name = raw.strip().upper()
            if not name:
                continue
            try:
                result |= cls[name]
            except KeyError:
                known = ", ".join(member.name for member in cls if member.name)
                raise InputError(f"unknown permission '{raw.strip()}'; use one of {known}") from None
        return result

    def names(self) -> list[str]:
        """The names of the bits set, lowest bit first (Azkaban's order in its JSON)."""
        return [member.name for member in type(self) if member.name and member in self]


#: Roles every installation has without defining them. A role of the same name stored in the database
#: (``sudoless user import`` of an ``<role>`` element) replaces the built-in definition.
#:
#: ``user`` holds CREATEPROJECTS and UPLOADPROJECTS and nothing else. Those two bits only matter when
#: project creation or upload is locked down (Azkaban's ``lockdown.*.projects``); they never match a
#: READ/WRITE/EXECUTE/SCHEDULE check, so an ordinary user can create projects (and becomes ADMIN of those)
#: but sees other people's projects only through grants on them, which is Azkaban's model for a user with
#: no global role.
BUILTIN_ROLES: Mapping[str, Permission] = MappingProxyType(
    {
        "admin": Permission.ADMIN,
        "user": Permission.CREATEPROJECTS | Permission.UPLOADPROJECTS,
        "readall": Permission.READ,
        "metrics": Permission.METRICS,
    }
)


def role_permissions(roles: Iterable[str], definitions: Mapping[str, Permission]) -> Permission:
    """The union of the permissions of ``roles``; a role with no definition contributes nothing."""
    result = Permission(0)
    for role in roles:
        result |= definitions.get(role, Permission(0))
    return result


def allows(granted: Permission, wanted: Permission) -> bool:
    """Azkaban's check: ``granted`` holds every bit of ``wanted``, or holds ADMIN (which implies all)."""
    return Permission.ADMIN in granted or (wanted & granted) == wanted
