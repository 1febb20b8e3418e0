"""Sign-in with the machine's own accounts through PAM (python-pam, the ``pam`` extra).

For a team whose shared machine is the directory: the PAM stack of ``pam_service`` (``login`` by default;
Kerberos, SSSD or LDAP where the machine's PAM has them) checks the password and the account (expired or
locked accounts are refused), and the person's Unix groups are their groups here, checked against
``pam_allowed_groups`` and mapped to roles by ``group_roles``.

pam_unix reads /etc/shadow: a server running as an ordinary user can check only its own account's password
that way (through the unix_chkpwd helper); checking other people's needs root, or a PAM stack that does not
need the shadow file (Kerberos, SSSD).
"""

from __future__ import annotations

import grp
import os
import pwd

from sudoless.accounts.backends import Identity, check_allowed
from sudoless.config import Settings
from sudoless.extras import require

__all__ = ["PamBackend", "unix_groups"]


def unix_groups(name: str) -> tuple[str, ...]:
    """The names of a Unix user's groups, the primary one included; () for an unknown user."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return ()
    names = []
    for gid in os.getgrouplist(name, entry.pw_gid):
        try:
            names.append(grp.getgrgid(gid).gr_name)
        except KeyError:  # a gid without a name: nothing to map or allow
            continue
    return tuple(dict.fromkeys(names))


class PamBackend:
    """The Backend of :mod:`sudoless.accounts.backends` over PAM."""

    source = "pam"

    def __init__(self, settings: Settings) -> None:
        require("pam", "auth_backends = pam")
        self.settings = settings

    def authenticate(self, name: str, password: str) -> Identity | None:
        import pam

        if not password or self._missing(name):
            return None
        checker = pam.pam()
        if not checker.authenticate(name, password, service=self.settings.pam_service, resetcreds=False):
            return None
        return self._identity(name)

    def lookup(self, name: str) -> Identity | None:
        return None if self._missing(name) else self._identity(name)

    @staticmethod
    def _missing(name: str) -> bool:
        try:
            pwd.getpwnam(name)
        except KeyError:
            return True
        return False

    def _identity(self, name: str) -> Identity:
        groups = unix_groups(name)
        check_allowed(name, groups, self.settings.pam_allowed_groups, "pam_allowed_groups")
        return Identity(name=name, groups=groups)
