"""PAM sign-in with an OS user the test creates (root only: CI runs these as root; elsewhere skipped with the
reason): the machine's password logs in, a wrong one does not, Unix groups are allowed and mapped to roles,
and leaving the group takes access away at the next refresh."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts.support import CHEAP
from sudoless.accounts import Accounts
from sudoless.accounts.backends import NotAllowed
from sudoless.config import Settings
from sudoless.errors import AuthError
from sudoless.store import Store
from support.osuser import User, created_user, run

pytestmark = pytest.mark.rootless
IP = "192.0.2.20"


@pytest.fixture
def os_user() -> Iterator[tuple[User, str, str]]:
    pytest.importorskip("pam", reason="python-pam (pip install 'sudoless[pam]')")
    group = f"slg{secrets.token_hex(3)}"
    with created_user("slp", tools=("chpasswd", "groupadd", "groupdel", "gpasswd")) as user:
        password = secrets.token_urlsafe(12)
        run("chpasswd", ["chpasswd"], timeout=30, input=f"{user.name}:{password}\n")
        run("groupadd", ["groupadd", group], timeout=30)
        try:
            run("gpasswd", ["gpasswd", "-a", user.name, group], timeout=30)
            yield user, password, group
        finally:
            subprocess.run(["groupdel", group], capture_output=True, check=False)


def test_machine_accounts_sign_in_through_pam(os_user: tuple[User, str, str], tmp_path: Path) -> None:
    user, password, group = os_user
    settings = Settings(
        home=tmp_path / "home", auth_backends="pam,local", pam_allowed_groups=group, group_roles=f"{group}=readall"
    )
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        accounts = Accounts(store, settings, hasher=CHEAP)
        signed = accounts.authenticate(user.name, password, IP)
        assert (signed.name, signed.source, signed.roles) == (user.name, "pam", ("user", "readall"))
        assert group in signed.groups
        with pytest.raises(AuthError, match="Incorrect Login"):
            accounts.authenticate(user.name, password + "x", IP)
        session = accounts.create_session(signed, IP)
        run("gpasswd", ["gpasswd", "-d", user.name, group], timeout=30)
        assert accounts.refresh_directory_accounts().disabled == 1
        assert accounts.session_user(session) is None
        with pytest.raises(NotAllowed):
            accounts.authenticate(user.name, password, IP)
    finally:
        store.close()
