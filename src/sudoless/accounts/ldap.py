"""LDAP and Active Directory sign-in through ldap3 (the ``ldap`` extra): who someone is and their groups.

Two ways to check a password, as Azkaban's LDAP user manager and most directories offer:

- **search then bind**: a service account (``ldap_bind_account``, password in a 0600 file) or an anonymous
  search finds the entry whose ``ldap_user_id_property`` is the login name under ``ldap_user_base``; a second
  connection binds as that entry with the password;
- **direct bind**: ``ldap_user_dn_template`` (``uid={user},ou=people,dc=example,dc=org``) gives the DN.

Transport: ``ldaps://`` (``ldap_use_ssl``) or StartTLS (``ldap_start_tls``), the certificate checked against
``ldap_ca_file`` (or the system's CAs) and the host name, always; a certificate that does not check stops
the login with a message saying so. A plain connection sends passwords in clear text and should only be used
on a trusted loopback. Every connection has ``ldap_timeout``.

Groups: searched under ``ldap_group_search_base`` by ``ldap_group_member_property`` (``member`` holds DNs,
``memberUid`` login names), or read from the user entry's ``memberOf`` (``ldap_embedded_groups``). Groups
inside groups are followed with Active Directory's LDAP_MATCHING_RULE_IN_CHAIN (1.2.840.113556.1.4.1941,
one query) where the server is Active Directory, else by searching level after level, at most
``ldap_nested_depth`` levels and never the same group twice. A group's name is its ``cn``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import ssl
from pathlib import Path
from typing import Any

from sudoless.accounts.backends import DirectoryUnavailable, Identity, check_allowed
from sudoless.config import Settings, read_secret_file
from sudoless.errors import ConfigError
from sudoless.extras import require

__all__ = ["IN_CHAIN", "LdapBackend"]

log = logging.getLogger(__name__)

#: Active Directory's matching rule that follows group nesting on the server.
IN_CHAIN = "1.2.840.113556.1.4.1941"
#: The root DSE capability that marks an Active Directory server (LDAP_CAP_ACTIVE_DIRECTORY_OID).
AD_CAPABILITY = "1.2.840.113556.1.4.800"


class LdapBackend:
    """Checks passwords against a directory and reads the person's groups (see the module docstring)."""

    source = "ldap"

    def __init__(self, settings: Settings) -> None:
        require("ldap", "auth_backends = ldap")
        self.settings = settings
        if not settings.ldap_host:
            raise ConfigError("auth_backends has ldap but ldap_host (user.manager.ldap.host) is not set")
        if not settings.ldap_user_dn_template and not settings.ldap_user_base:
            raise ConfigError(
                "ldap: set ldap_user_base (user.manager.ldap.userBase) for search-then-bind, or "
                "ldap_user_dn_template for a direct bind"
            )
        if settings.ldap_use_ssl and settings.ldap_start_tls:
            raise ConfigError("ldap: ldap_use_ssl and ldap_start_tls exclude each other; choose one")
        if settings.ldap_nested_groups not in ("auto", "in_chain", "search", "off"):
            raise ConfigError(f"ldap_nested_groups {settings.ldap_nested_groups!r}: use auto, in_chain, search or off")
        if settings.ldap_ca_file and not Path(settings.ldap_ca_file).expanduser().is_file():
            raise ConfigError(
                f"ldap_ca_file {settings.ldap_ca_file}: no such file; give the PEM file of the CA "
                "that signed the directory's certificate"
            )
        self.port = settings.ldap_port or (636 if settings.ldap_use_ssl else 389)
        self.where = f"{'ldaps' if settings.ldap_use_ssl else 'ldap'}://{settings.ldap_host}:{self.port}"

    # -- the Backend protocol ---------------------------------------------------------------------------

    def authenticate(self, name: str, password: str) -> Identity | None:
        if not password:  # an empty password is an anonymous bind, which succeeds: never a login
            return None
        from ldap3.utils.dn import escape_rdn

        if self.settings.ldap_user_dn_template:
            dn = self.settings.ldap_user_dn_template.replace("{user}", escape_rdn(name))
            conn = self._connect(dn, password)
            if conn is None:
                return None
            with _closing(conn):
                entry = self._read(conn, dn)
                if entry is None:
                    return None
                return self._identity(conn, dn, entry, name)
        with _closing(self._service()) as service:
            found = self._find(service, name)
            if found is None:
                return None
            dn, entry = found
            user_conn = self._connect(dn, password)
            if user_conn is None:
                return None
            _close(user_conn)
            return self._identity(service, dn, entry, name)

    def lookup(self, name: str) -> Identity | None:
        if self.settings.ldap_user_dn_template and not self.settings.ldap_user_base:
            raise DirectoryUnavailable(
                f"LDAP {self.where}: cannot re-read '{name}' without ldap_user_base and a "
                "service account (direct bind only checks passwords)"
            )
        with _closing(self._service()) as service:
            found = self._find(service, name)
            if found is None:
                return None
            dn, entry = found
            return self._identity(service, dn, entry, name)

    # -- connections ------------------------------------------------------------------------------------

    def _server(self) -> Any:
        from ldap3 import NONE, Server, Tls

        tls = None
        if self.settings.ldap_use_ssl or self.settings.ldap_start_tls:
            ca = str(Path(self.settings.ldap_ca_file).expanduser()) if self.settings.ldap_ca_file else None
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca, sni=self.settings.ldap_host)
        return Server(
            self.settings.ldap_host,
            port=self.port,
            use_ssl=self.settings.ldap_use_ssl,
            tls=tls,
            get_info=NONE,
            connect_timeout=self.settings.ldap_timeout,
        )

    def _open(self, user: str | None, password: str | None) -> Any:
        """An open connection, TLS started if asked; DirectoryUnavailable when that fails. Not yet bound."""
        from ldap3 import Connection
        from ldap3.core.exceptions import LDAPException

        conn = Connection(
            self._server(),
            user=user,
            password=password,
            auto_bind=False,
            receive_timeout=max(1, math.ceil(self.settings.ldap_timeout)),
            raise_exceptions=False,
        )
        try:
            conn.open()
            if self.settings.ldap_start_tls and not conn.start_tls():
                raise DirectoryUnavailable(
                    f"LDAP {self.where}: StartTLS failed ({conn.result.get('description')}"
                    f": {conn.result.get('message')})"
                )
        except LDAPException as exc:
            _close(conn)
            raise DirectoryUnavailable(self._explain(exc)) from None
        except DirectoryUnavailable:
            _close(conn)
            raise
        return conn

    def _connect(self, dn: str, password: str) -> Any:
        """A connection bound as ``dn``; None when the directory says the credentials are wrong."""
        from ldap3.core.exceptions import LDAPException

        conn = self._open(dn, password)
        try:
            if conn.bind():
                return conn
        except LDAPException as exc:
            _close(conn)
            raise DirectoryUnavailable(self._explain(exc)) from None
        result = conn.result or {}
        _close(conn)
        if result.get("description") in (
            "invalidCredentials",
            "invalidDNSyntax",
            "noSuchObject",
            "inappropriateAuthentication",
            "unwillingToPerform",
        ):
            return None
        raise DirectoryUnavailable(
            f"LDAP {self.where}: bind refused: {result.get('description')} {result.get('message') or ''}".rstrip()
        )

    def _service(self) -> Any:
        """The connection that searches: the service account, or anonymous without one."""
        account = self.settings.ldap_bind_account
        if not account:
            conn = self._open(None, None)
            conn.bind()
            return conn
        conn = self._connect(account, self._bind_password())
        if conn is None:
            raise DirectoryUnavailable(
                f"LDAP {self.where}: the service account {account} was refused; check "
                "ldap_bind_account and the password in ldap_bind_password_file"
            )
        return conn

    def _bind_password(self) -> str:
        path_text = self.settings.ldap_bind_password_file
        if not path_text:
            raise ConfigError(
                "ldap_bind_account is set but ldap_bind_password_file (user.manager.ldap.bindPassword,"
                " a file here) is not: put the password in a 0600 file and name it"
            )
        return read_secret_file(path_text, "ldap_bind_password_file", "service account's password")

    def _explain(self, exc: Exception) -> str:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text or "hostname" in text:
            return (
                f"LDAP {self.where}: the directory's TLS certificate is not trusted ({_first_line(text)}); "
                "set ldap_ca_file to the CA that signed it"
            )
        return f"LDAP {self.where} cannot be reached: {_first_line(text)}"

    # -- entries and groups -----------------------------------------------------------------------------

    def _user_attributes(self) -> list[str]:
        attrs = [self.settings.ldap_user_id_property, self.settings.ldap_email_property]
        if self.settings.ldap_embedded_groups:
            attrs.append("memberOf")
        return attrs

    def _find(self, conn: Any, name: str) -> tuple[str, dict[str, list[Any]]] | None:
        from ldap3 import SUBTREE
        from ldap3.utils.conv import escape_filter_chars

        query = f"({self.settings.ldap_user_id_property}={escape_filter_chars(name)})"
        if self.settings.ldap_user_filter:
            extra = self.settings.ldap_user_filter
            query = f"(&{query}{extra if extra.startswith('(') else f'({extra})'})"
        entries = self._search(conn, self.settings.ldap_user_base, query, SUBTREE, self._user_attributes())
        if len(entries) != 1:
            if len(entries) > 1:
                log.warning("LDAP %s: %d entries match %s; refusing the login", self.where, len(entries), query)
            return None
        return entries[0]

    def _read(self, conn: Any, dn: str) -> dict[str, list[Any]] | None:
        from ldap3 import BASE

        query = self.settings.ldap_user_filter or "(objectClass=*)"
        entries = self._search(
            conn, dn, query if query.startswith("(") else f"({query})", BASE, self._user_attributes()
        )
        return entries[0][1] if entries else None

    def _search(
        self, conn: Any, base: str, query: str, scope: Any, attributes: list[str]
    ) -> list[tuple[str, dict[str, list[Any]]]]:
        from ldap3.core.exceptions import LDAPException

        try:
            ok = conn.search(base, query, search_scope=scope, attributes=attributes)
        except LDAPException as exc:
            raise DirectoryUnavailable(self._explain(exc)) from None
        if not ok and conn.result.get("description") not in ("success", "noSuchObject"):
            raise DirectoryUnavailable(
                f"LDAP {self.where}: search under {base} failed: "
                f"{conn.result.get('description')} {conn.result.get('message') or ''}".rstrip()
            )
        return [
            (e["dn"], dict(e.get("attributes", {}))) for e in conn.response or [] if e.get("type") == "searchResEntry"
        ]

    def _identity(self, conn: Any, dn: str, entry: dict[str, list[Any]], name: str) -> Identity:
        canonical = _first(entry.get(self.settings.ldap_user_id_property)) or name
        groups = self._groups(conn, dn, canonical, entry)
        check_allowed(
            canonical,
            groups,
            self.settings.ldap_allowed_groups,
            "ldap_allowed_groups / user.manager.ldap.allowedGroups",
        )
        return Identity(name=canonical, email=_first(entry.get(self.settings.ldap_email_property)), groups=groups)

    def _groups(self, conn: Any, dn: str, uid: str, entry: dict[str, list[Any]]) -> tuple[str, ...]:
        settings = self.settings
        nesting = settings.ldap_nested_groups
        if settings.ldap_embedded_groups:
            found = {g: _rdn_value(g) for g in _values(entry.get("memberOf"))}
            if nesting != "off":
                found.update(self._embedded_parents(conn, set(found)))
            return tuple(sorted(set(found.values()), key=str.lower))
        if not settings.ldap_group_search_base:
            return ()
        member = settings.ldap_group_member_property
        if member.lower() == "memberuid":  # posixGroup lists names, and cannot nest
            return tuple(sorted(self._group_search([f"({member}={_escape(uid)})"], conn).values(), key=str.lower))
        if nesting == "in_chain" or (nesting == "auto" and self._is_active_directory(conn)):
            query = f"({member}:{IN_CHAIN}:={_escape(dn)})"
            return tuple(sorted(self._group_search([query], conn).values(), key=str.lower))
        found = self._group_search([f"({member}={_escape(dn)})"], conn)
        frontier = set(found)
        depth = 1
        while frontier and nesting != "off" and depth < settings.ldap_nested_depth:
            parents = self._group_search([f"({member}={_escape(g)})" for g in sorted(frontier)], conn)
            frontier = set(parents) - set(found)
            found.update(parents)
            depth += 1
        return tuple(sorted(set(found.values()), key=str.lower))

    def _group_search(self, clauses: list[str], conn: Any) -> dict[str, str]:
        """Group DN -> name for the groups matching any of ``clauses`` (searched in batches)."""
        from ldap3 import SUBTREE

        result: dict[str, str] = {}
        name_attr = self.settings.ldap_group_name_property
        for start in range(0, len(clauses), 50):
            batch = clauses[start : start + 50]
            query = batch[0] if len(batch) == 1 else f"(|{''.join(batch)})"
            for group_dn, attrs in self._search(
                conn, self.settings.ldap_group_search_base, query, SUBTREE, [name_attr]
            ):
                result[group_dn] = _first(attrs.get(name_attr)) or _rdn_value(group_dn)
        return result

    def _embedded_parents(self, conn: Any, groups: set[str]) -> dict[str, str]:
        from ldap3 import BASE

        seen: dict[str, str] = {}
        frontier = set(groups)
        for _ in range(self.settings.ldap_nested_depth):
            nxt: set[str] = set()
            for group in frontier:
                for _dn, attrs in self._search(conn, group, "(objectClass=*)", BASE, ["memberOf"]):
                    for parent in _values(attrs.get("memberOf")):
                        if parent not in seen and parent not in groups:
                            seen[parent] = _rdn_value(parent)
                            nxt.add(parent)
            if not nxt:
                break
            frontier = nxt
        return seen

    def _is_active_directory(self, conn: Any) -> bool:
        from ldap3 import BASE

        entries = self._search(conn, "", "(objectClass=*)", BASE, ["supportedCapabilities"])
        return bool(entries) and AD_CAPABILITY in _values(entries[0][1].get("supportedCapabilities"))


class _closing:
    """``with`` for an ldap3 connection: unbound (closed) on the way out."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __enter__(self) -> Any:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        _close(self.conn)


def _close(conn: Any) -> None:
    """Unbind and close; a connection that broke (TLS refused, server gone) may fail to say goodbye."""
    from ldap3.core.exceptions import LDAPException

    with contextlib.suppress(LDAPException, OSError):
        conn.unbind()


def _escape(value: str) -> str:
    from ldap3.utils.conv import escape_filter_chars

    return str(escape_filter_chars(value))


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _first(value: Any) -> str:
    values = _values(value)
    return values[0] if values else ""


def _rdn_value(dn: str) -> str:
    from ldap3.utils.dn import parse_dn

    try:
        return str(parse_dn(dn)[0][1])
    except Exception:  # not a DN after all: use it as it is
        return dn


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "no detail"
