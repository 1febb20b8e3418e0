"""Outbound HTTP on a user's behalf (SLA webhooks): only to the hosts an admin lists.

Anyone who may run a flow may give it a webhook URL, and the server POSTs to it: without a limit that is
a request forgery from inside the network (the server's loopback services, cloud metadata addresses,
intranet hosts). So an admin lists the hosts webhooks may reach, in the setting ``webhook_hosts``
(``SUDOLESS_WEBHOOK_HOSTS``), comma-separated:

* ``hooks.example.com`` or ``10.1.2.3`` or ``[::1]``: that host, any port; ``host:8080``: that port only;
* ``*.example.com``: example.com and any name under it, but only where it resolves to a public address.

The list is empty by default: no webhook is allowed, loopback included, until an admin lists a host.
A URL is checked twice: when it is saved (an execution, a schedule or its SLA), so the user gets one clear
error then and nothing is stored; and when it is sent, because the list or DNS may have changed since.
At send time the name is resolved, each address checked (a name matched only by a wildcard must not
resolve to a private, loopback, link-local or reserved address), and the connection goes to the address
that was checked, so a second DNS answer cannot swap it. Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sudoless.errors import ConfigError, InputError

__all__ = ["OutboundRefused", "WebhookHosts"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefused(InputError):
    """A webhook URL that is malformed or goes to a host the admin has not listed."""


@dataclass(frozen=True)
class HostEntry:
    """One allowed host: ``host`` (lowercase; the domain of a ``*.domain`` entry when ``wildcard``) and
    ``port`` (None: any)."""

    host: str
    port: int | None
    wildcard: bool

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        return host == self.host or (self.wildcard and host.endswith("." + self.host))


def _normal_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


@dataclass(frozen=True)
class WebhookHosts:
    """The admin's allowlist of webhook hosts (see the module docstring); empty allows nothing."""

    entries: tuple[HostEntry, ...] = ()

    @classmethod
    def parse(cls, text: str) -> WebhookHosts:
        """``host``, ``host:port``, ``[v6]:port``, ``*.domain`` entries, comma-separated."""
        entries = []
        for raw in (part.strip() for part in text.split(",")):
            if not raw:
                continue
            try:
                parsed = urlsplit(f"//{raw}")
                port = parsed.port
                host = parsed.hostname or ""
            except ValueError as exc:
                raise ConfigError(f"webhook_hosts entry {raw!r}: {exc}; write host, host:port or *.domain") from None
            wildcard = host.startswith("*.")
            host = _normal_host(host[2:] if wildcard else host)
            if not host or "*" in host or "/" in raw or "@" in raw:
                raise ConfigError(
                    f"webhook_hosts entry {raw!r}: write host, host:port, [v6 address]:port or "
                    "*.domain, comma-separated"
                )
            entries.append(HostEntry(host, port, wildcard))
        return cls(tuple(entries))

    def _target(self, url: str, what: str) -> tuple[str, str, int, HostEntry]:
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise OutboundRefused(f"{what} {url!r}: {exc}; expected an http:// or https:// URL") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise OutboundRefused(f"{what} {url!r}: expected an http:// or https:// URL with a host")
        host = _normal_host(parts.hostname)
        port = port or _DEFAULT_PORTS[scheme]
        exact = [entry for entry in self.entries if not entry.wildcard and entry.matches(host, port)]
        matched = exact or [entry for entry in self.entries if entry.matches(host, port)]
        if not matched:
            raise OutboundRefused(
                f"{what} {url!r}: {host} port {port} is not on the admin's list of webhook "
                "hosts (setting webhook_hosts, SUDOLESS_WEBHOOK_HOSTS); ask an admin to add it"
            )
        return scheme, host, port, matched[0]

    def check(self, url: str, what: str = "webhook") -> None:
        """Raise :class:`OutboundRefused` unless ``url`` is http(s) to a listed host (no DNS lookup)."""
        self._target(url, what)

    def post(self, url: str, payload: dict[str, Any], timeout: float, what: str = "webhook") -> int:
        """POST ``payload`` as JSON to ``url`` if it is allowed now (list and DNS checked again, see the
        module docstring); returns the HTTP status. OutboundRefused when refused, OSError or
        http.client.HTTPException when the host does not answer properly."""
        return self.request(
            "POST", url, json.dumps(payload).encode(), {"Content-Type": "application/json"}, timeout, what
        )

    def request(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float, what: str = "webhook"
    ) -> int:
        """Send one ``method`` request to ``url`` if it is allowed now, as :meth:`post` (job callbacks send
        GETs and their own bodies and headers); returns the HTTP status."""
        import http.client  # here: submitting a flow checks the list (check) and never needs it

        scheme, host, port, entry = self._target(url, what)
        address = self._resolve(url, host, port, entry, what)
        parts = urlsplit(url.strip())
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        # The connection is made to the checked address; the URL's name still goes into Host and TLS SNI.
        connection = connection_class(host, port, timeout=timeout)
        # http.client opens its socket through this attribute, which typeshed does not declare
        connection._create_connection = (  # type: ignore[attr-defined]
            lambda _address, *args: socket.create_connection((address, port), *args)
        )
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    @staticmethod
    def _resolve(url: str, host: str, port: int, entry: HostEntry, what: str) -> str:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OutboundRefused(f"{what} {url!r}: {host} does not resolve ({exc.strerror})") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not entry.wildcard:
            return addresses[0]  # listed by name or address: the admin chose this host, wherever it is
        public = [a for a in addresses if ipaddress.ip_address(a.split("%", 1)[0]).is_global]
        if len(public) != len(addresses) or not public:
            raise OutboundRefused(
                f"{what} {url!r}: {host} resolves to a private, loopback or reserved address "
                f"({', '.join(addresses)}), which only a host listed by its own name may"
            )
        return public[0]
