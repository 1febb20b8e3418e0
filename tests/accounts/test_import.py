"""Importing Azkaban's azkaban-users.xml: users, groups and roles; hostile or broken files refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sudoless.accounts import Accounts, Permission
from sudoless.errors import AuthError, InputError, NotFoundError
from sudoless.store import Store

Unique = Callable[[str], str]

#: azkaban.md §6.1, with names made unique per test ({s}) because the database is shared.
EXAMPLE = """<azkaban-users>
  <user username="azkaban{s}" password="azkaban" roles="admin" groups="azkaban{s}"/>
  <user username="metrics{s}" password="metrics" roles="metrics"/>
  <user username="alice{s}" password="s3cret" roles="readall" groups="team1{s},team2{s}"
        proxy="etl_user,svc" email="alice@example.com"/>
  <group name="team1{s}" roles="admin"/>
  <role name="admin" permissions="ADMIN"/>
  <role name="metrics" permissions="METRICS"/>
  <role name="readall" permissions="READ"/>
</azkaban-users>
"""


def write(tmp_path: Path, text: str, name: str = "azkaban-users.xml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def suffix(unique: Unique) -> str:
    return unique("")


def test_import_the_documented_example(accounts: Accounts, store: Store, tmp_path: Path, suffix: str):
    names = accounts.import_azkaban_users(write(tmp_path, EXAMPLE.format(s=suffix)))
    assert names == [f"azkaban{suffix}", f"metrics{suffix}", f"alice{suffix}"]

    alice = accounts.authenticate(f"alice{suffix}", "s3cret", "127.0.0.1")
    assert alice.roles == ("readall",)
    assert alice.groups == (f"team1{suffix}", f"team2{suffix}")
    assert alice.proxy_users == ("etl_user", "svc")
    assert alice.email == "alice@example.com"
    assert alice.is_admin  # through <group name="team1" roles="admin"/>
    assert accounts.groups()[f"team1{suffix}"] == ("admin",)

    assert accounts.authenticate(f"azkaban{suffix}", "azkaban", "127.0.0.1").is_admin
    metrics = accounts.authenticate(f"metrics{suffix}", "metrics", "127.0.0.1")
    assert metrics.permissions == Permission.METRICS and not metrics.is_admin

    stored = store.accounts.user(f"alice{suffix}")
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$") and "s3cret" not in stored.password_hash


def test_import_again_updates_users(accounts: Accounts, tmp_path: Path, suffix: str):
    accounts.import_azkaban_users(write(tmp_path, EXAMPLE.format(s=suffix)))
    changed = EXAMPLE.format(s=suffix).replace('password="s3cret" roles="readall"', 'password="n3w" roles="metrics"')
    accounts.import_azkaban_users(write(tmp_path, changed, "second.xml"))
    alice = accounts.authenticate(f"alice{suffix}", "n3w", "127.0.0.2")
    assert alice.roles == ("metrics",)
    with pytest.raises(AuthError):
        accounts.authenticate(f"alice{suffix}", "s3cret", "127.0.0.2")


def test_custom_roles_are_kept(accounts: Accounts, tmp_path: Path, suffix: str):
    text = (
        f'<azkaban-users>\n<role name="ops{suffix}" permissions="read,execute,schedule"/>\n'
        f'<user username="oscar{suffix}" password="pw" roles="ops{suffix}"/>\n</azkaban-users>\n'
    )
    accounts.import_azkaban_users(write(tmp_path, text))
    oscar = accounts.get_user(f"oscar{suffix}")
    assert accounts.global_permissions(oscar) == Permission.READ | Permission.EXECUTE | Permission.SCHEDULE


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<azkaban-users><user username="x{s}" password="&lol2;" roles="admin"/></azkaban-users>
"""

EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE u SYSTEM "file:///etc/passwd">
<azkaban-users><user username="x{s}" password="p" roles="admin"/></azkaban-users>
"""


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(BILLION_LAUGHS, 2, "DOCTYPE declaration is not allowed", id="entity expansion"),
        pytest.param(EXTERNAL, 2, "DOCTYPE declaration is not allowed", id="external DTD"),
        pytest.param(
            '<azkaban-users>\n<user username="x{s}" password="p"\n</azkaban-users>',
            3,
            "not well-formed XML",
            id="broken tag",
        ),
        pytest.param(
            '<azkaban-users>\n\n<user username="x{s}" password="p" roles="wizard"/></azkaban-users>',
            3,
            "user 'x{s}' has role 'wizard', which is not defined",
            id="undefined role",
        ),
        pytest.param(
            '<azkaban-users>\n<role name="r" permissions="READ,FLY"/>\n'
            '<user username="x{s}" password="p"/></azkaban-users>',
            2,
            "role 'r': unknown permission 'FLY'",
            id="unknown permission",
        ),
        pytest.param(
            '<azkaban-users>\n<user password="p"/></azkaban-users>',
            2,
            "<user> needs a non-empty username",
            id="no username",
        ),
        pytest.param(
            '<azkaban-users>\n<user username="x{s}"/></azkaban-users>',
            2,
            "needs a non-empty password",
            id="no password",
        ),
        pytest.param(
            '<azkaban-users>\n<user username="x{s}" password="p"/>\n'
            '<user username="x{s}" password="q"/></azkaban-users>',
            3,
            "user 'x{s}' is defined twice",
            id="duplicate user",
        ),
        pytest.param(
            '<azkaban-users>\n<user username="x {s}" password="p"/></azkaban-users>',
            2,
            "user name 'x {s}' is not valid",
            id="bad name",
        ),
        pytest.param(
            '<users>\n<user username="x{s}" password="p"/></users>', 1, "root element is <users>", id="wrong root"
        ),
        pytest.param(
            '<azkaban-users>\n<user username="x{s}" password="p" rolez="admin"/></azkaban-users>',
            2,
            "unknown attribute 'rolez'",
            id="misspelt attribute",
        ),
        pytest.param(
            '<azkaban-users>\n<user username="x{s}" password="p"><user/></user></azkaban-users>',
            2,
            "unexpected element <user>",
            id="nested element",
        ),
    ],
)
def test_bad_files_are_refused_with_file_and_line(
    accounts: Accounts, tmp_path: Path, suffix: str, text: str, line: int, message: str
):
    path = write(tmp_path, text.format(s=suffix))
    with pytest.raises(InputError) as caught:
        accounts.import_azkaban_users(path)
    assert str(caught.value).startswith(f"{path} line {line}: ")
    assert message.format(s=suffix) in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(NotFoundError):
        accounts.get_user(f"x{suffix}")


def test_nothing_is_imported_when_a_later_user_is_wrong(accounts: Accounts, tmp_path: Path, suffix: str):
    text = (
        f'<azkaban-users>\n<user username="first{suffix}" password="p"/>\n'
        f'<user username="second{suffix}" password="p" email="two@@x"/>\n</azkaban-users>'
    )
    with pytest.raises(InputError, match="line 3: email"):
        accounts.import_azkaban_users(write(tmp_path, text))
    with pytest.raises(NotFoundError):
        accounts.get_user(f"first{suffix}")


def test_missing_file(accounts: Accounts, tmp_path: Path):
    with pytest.raises(InputError, match="cannot read"):
        accounts.import_azkaban_users(tmp_path / "nope.xml")
