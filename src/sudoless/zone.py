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

_LOCALTIME = Path("/etc/localtime")


def server_zone(name: str = "") -> ZoneInfo:
    """The zone called ``name`` (an IANA name such as ``America/Los_Angeles``), or the machine's when empty."""
    if name.strip():
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"setting 'timezone': unknown time zone {name!r}; use an IANA name such as "
                              "'Europe/Paris' or 'UTC'") from None
    return machine_zone()


def machine_zone() -> ZoneInfo:
    """The machine's zone by its IANA name when ``/etc/localtime`` links into a zoneinfo folder (so that it
    prints as ``Europe/Paris``, as Azkaban's ``azkaban.flow.start.timezone`` does), else read from the file."""
    try:
        target = os.path.realpath(_LOCALTIME)
        if "/zoneinfo/" in target:
            return ZoneInfo(target.split("/zoneinfo/", 1)[1])
        with _LOCALTIME.open("rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    except (OSError, ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
