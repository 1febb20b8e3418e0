"""Azkaban's ``azkaban.properties``, read for what sudoless's own settings take over.

The import does not change sudoless's configuration (a running server would not see it, and the file is the
administrator's): it reports each setting that maps as the ``config.toml`` line that carries it over, and
every other property with what to do about it. One setting is used at once: ``default.timezone.id`` is the
zone of an imported schedule that names none, as it was Azkaban's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sudoless.errors import InputError
from sudoless.flows.formats.properties import parse_properties_with_lines, read_properties_text

from .report import Report

__all__ = ["AzkabanProperties", "read_azkaban_properties"]

DAY_MS = 86_400_000


@dataclass
class AzkabanProperties:
    """What an ``azkaban.properties`` carries over: ``config`` is config.toml's tables (``sudoless``,
    ``mail``) with the values to set; ``timezone`` Azkaban's default zone (empty: none given)."""

    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    timezone: str = ""

    def set(self, table: str, key: str, value: Any) -> None:
        self.config.setdefault(table, {})[key] = value


def _zone(value: str) -> str:
    try:
        return ZoneInfo(value).key
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a time zone name (such as Europe/Paris)") from None


def _port(value: str) -> int:
    port = int(value)
    if not 0 < port < 65536:
        raise ValueError(f"{value!r} is not a port number")
    return port


def _days(value: str) -> int:
    return max(1, -(-int(value) // DAY_MS))


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{value!r} is not a positive number")
    return number


def _security(value: str) -> str:
    return "starttls" if value.strip().lower() == "true" else "plain"


#: Azkaban's property -> (config.toml table, key, conversion)
MAPPED: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "default.timezone.id": ("sudoless", "timezone", _zone),
    "azkaban.webserver.url": ("sudoless", "external_url", str),
    "flow.num.job.threads": ("sudoless", "parallel", _positive),
    "execution.logs.retention.ms": ("sudoless", "execution_log_retention_days", _days),
    "mail.sender": ("mail", "from", str),
    "mail.host": ("mail", "host", str),
    "mail.port": ("mail", "port", _port),
    "mail.user": ("mail", "user", str),
    "mail.tls": ("mail", "security", _security),
}

#: properties (or prefixes ending in '.') with no counterpart, and what to do instead
NOT_MAPPED: dict[str, str] = {
    "mail.password": "write the password to a file (chmod 600) and set password_file in config.toml's [mail]",
    "mail.useAuth": "nothing: sudoless logs in to the mail server when [mail] user is set",
    "jetty.": "start the server with `sudoless server --port N` (`--https` for TLS, with `sudoless cert` or --cert)",
    "azkaban.webserver.external_": "set external_url in config.toml to the address users reach the server at",
    "database.type": "nothing: this is the database being imported (--from)",
    "mysql.": "nothing: this is the database being imported (--from); sudoless's own is SUDOLESS_DB or SQLite",
    "h2.": "nothing: H2 databases are not imported; move Azkaban to MySQL first, or start afresh",
    "user.manager.": "give azkaban-users.xml with --users, or configure LDAP or PAM sign-in (docs/security.md)",
    "executor.": "start more executors with `sudoless executor --db URL`; the embedded one needs no settings",
    "azkaban.use.multiple.executors": "start more executors with `sudoless executor --db URL`",
    "azkaban.executorselector.": "nothing: executors claim queued executions themselves",
    "azkaban.jobtype.plugin.dir": "job type plug-ins do not carry over; see the report's job type lines",
    "azkaban.project.dir": "nothing: projects are stored in sudoless's database",
    "azkaban.execution.dir": "nothing: execution folders live under SUDOLESS_HOME",
    "project.temp.dir": "nothing: sudoless unpacks uploads in a private temporary folder",
    "web.resource.dir": "nothing: the web UI ships in the package",
    "velocity.": "nothing: the web UI ships in the package",
    "azkaban.name": "nothing: sudoless's pages have no installation name",
    "azkaban.label": "nothing: sudoless's pages have no installation label",
    "azkaban.color": "nothing: sudoless's pages have no installation colour",
    "lockdown.": "grant project creation with roles (`sudoless user`); admins always may",
    "azkaban.server.schedule.enable_quartz": "nothing: flow triggers are always on (docs/triggers.md)",
    "azkaban.ramp.": "nothing: sudoless has no ramps",
    "azkaban.activeexecutor.": "nothing: executors claim queued executions themselves",
}


def _advice(key: str) -> str:
    for name in sorted(NOT_MAPPED, key=len, reverse=True):
        if key == name or (name.endswith((".", "_")) and key.startswith(name)):
            return NOT_MAPPED[name]
    return "no counterpart in sudoless; nothing to do unless you relied on it (docs/azkaban.md lists what runs)"


def read_azkaban_properties(path: Path, report: Report) -> AzkabanProperties:
    """Read ``path`` (Java properties); each setting that maps is reported as its config.toml line, every
    other one as not imported with what to do. A value that does not convert names its line."""
    try:
        entries = parse_properties_with_lines(read_properties_text(Path(path)))
    except OSError as exc:
        raise InputError(f"--properties {path}: cannot read it ({exc.strerror})") from None
    except InputError as exc:
        raise InputError(f"--properties {path}: {exc}") from None
    found = AzkabanProperties()
    for key, (value, line) in sorted(entries.items(), key=lambda item: item[1][1]):
        where = f"{Path(path).name} line {line}: {key}"
        if key in MAPPED:
            table, name, convert = MAPPED[key]
            try:
                converted = convert(value.strip())
            except ValueError as exc:
                report.unmapped.append(f"{where}: {exc}; set {name} in config.toml's [{table}] yourself")
                continue
            found.set(table, name, converted)
            if key == "default.timezone.id":
                found.timezone = converted
            continue
        report.unmapped.append(f"{where}: not carried over; {_advice(key)}")
    report.settings = found.config
    if found.config:
        report.notes.append(
            "the settings that map are listed as config.toml lines (settings:); add them to "
            "$SUDOLESS_HOME/config.toml and restart the server"
        )
    return found
