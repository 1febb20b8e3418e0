"""The server's time zone: Azkaban's ``default.timezone.id``.

Azkaban evaluates schedules and stamps the ``azkaban.flow.start.*`` properties in one zone, the server's,
which its administrator sets and which defaults to the machine's. The ``timezone`` setting plays that part
here; empty means the machine's zone (``/etc/localtime``), and UTC where the machine names none.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sudoless.errors import ConfigError

#: names of UTC itself, shown as plain ``UTC``
_UTC_ALIASES = frozenset(
    {
        "Etc/UTC",
        "Etc/UCT",
        "Etc/Universal",
        "Etc/Zulu",
        "UCT",
        "Universal",
        "Zulu",
        "Etc/GMT",
        "Etc/GMT0",
        "Etc/GMT+0",
        "Etc/GMT-0",
        "Etc/Greenwich",
        "GMT",
        "GMT0",
    }
)
_LOCALTIME = Path("/etc/localtime")
_TIMEZONE = Path("/etc/timezone")


def server_zone(name: str = "") -> ZoneInfo:
    """The zone called ``name`` (an IANA name such as ``America/Los_Angeles``), or the machine's when empty."""
    if name.strip():
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"setting 'timezone': unknown time zone {name!r}; use an IANA name such as 'Europe/Paris' or 'UTC'"
            ) from None
    return machine_zone()


def machine_zone() -> ZoneInfo:
    """The machine's zone by its IANA name (schedules store the name): where ``/etc/localtime`` links into a
    zoneinfo folder, else Debian's ``/etc/timezone``, else UTC."""
    try:
        target = os.path.realpath(_LOCALTIME)
        name = target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else _TIMEZONE.read_text().strip()
        return ZoneInfo("UTC" if name in _UTC_ALIASES else name)
    except (OSError, ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
