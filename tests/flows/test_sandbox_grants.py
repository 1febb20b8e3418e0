"""Per-project sandbox grants with real flows: a project an admin granted a folder of SUDOLESS_HOME reads it
(or writes it, when the grant says so) while a project without the grant cannot, and a project restricted
to some TCP ports connects to those and no other."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.harness import Outcome, run_submitted, submit
from flows.test_sandbox import abi, home, probe_flow  # noqa: F401  (fixtures)
from sudoless.config import Settings
from sudoless.errors import InputError, PermissionDenied
from sudoless.flows.model import FailureAction
from sudoless.flows.projects import create_project, set_sandbox_grants
from sudoless.store import Store, project_settings
from sudoless.store.status import Status
from support.services import unavailable

_names = iter(range(1, 1_000_000))


def run_granted(
    settings: Settings,
    project: Path,
    read: tuple[str, ...] = (),
    write: tuple[str, ...] = (),
    ports: list[str] | None = None,
) -> Outcome:
    """Upload ``project``, let an admin grant it ``read``/``write``/``ports``, then run its flow ``all``."""
    store = Store(settings.database_url)
    try:
        name = f"granted-{next(_names)}-{id(store) % 10_000}"
        exec_id = submit(store, settings, project, "all", name=name, failure_action=FailureAction.FINISH_ALL_POSSIBLE)
        if read or write or ports is not None:
            set_sandbox_grants(store, store.projects.get(name), list(read), list(write), ports, "admin", is_admin=True)
        return run_submitted(store, settings, exec_id)
    finally:
        store.close()


@pytest.fixture
def shared(home: Settings) -> Path:  # noqa: F811
    """A folder the admin made in the home, with a file the jobs of some project need."""
    folder = home.home / "shared"
    folder.mkdir()
    (folder / "lookup.csv").write_text("a,b\n")
    return folder


def attempts(shared: Path) -> dict[str, list[str]]:
    return {"read_shared": ["read", str(shared / "lookup.csv")], "write_shared": ["write", str(shared / "new.csv")]}


def test_a_read_grant_lets_the_project_read_and_not_write(
    abi: int,  # noqa: F811
    home: Settings,  # noqa: F811
    shared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    granted = run_granted(home, probe_flow(tmp_path / "g", attempts(shared)), read=(str(shared),))
    assert granted.jobs["read_shared"] == Status.SUCCEEDED, granted.log("read_shared")
    assert granted.jobs["write_shared"] == Status.FAILED
    assert f"refused: write {shared / 'new.csv'}" in granted.log("write_shared")
    assert not (shared / "new.csv").exists()


def test_a_write_grant_lets_the_project_write(
    abi: int,  # noqa: F811
    home: Settings,  # noqa: F811
    shared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    granted = run_granted(home, probe_flow(tmp_path / "g", attempts(shared)), write=(str(shared),))
    assert granted.jobs == {
        "read_shared": Status.SUCCEEDED,
        "write_shared": Status.SUCCEEDED,
        "all": Status.SUCCEEDED,
    }, granted.log("write_shared")
    assert (shared / "new.csv").read_text() == "x"


def test_a_project_without_the_grant_cannot(
    abi: int,  # noqa: F811
    home: Settings,  # noqa: F811
    shared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    # Another project of the same server has the grant: it is that project's, not the server's.
    run_granted(home, probe_flow(tmp_path / "g", attempts(shared)), write=(str(shared),))
    (shared / "new.csv").unlink()
    plain = run_granted(home, probe_flow(tmp_path / "p", attempts(shared)))
    for name, argv in attempts(shared).items():
        assert plain.jobs[name] == Status.FAILED, plain.log(name)
        assert f"refused: {' '.join(argv)}" in plain.log(name)
    assert not (shared / "new.csv").exists()


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """Two listening TCP sockets on loopback: their ports."""
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    try:
        yield sockets[0].getsockname()[1], sockets[1].getsockname()[1]
    finally:
        for sock in sockets:
            sock.close()


def connect_flow(root: Path, ports: dict[str, int]) -> Path:
    commands = {
        name: f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 5)"
        f"; print('connected')\""
        for name, port in ports.items()
    }
    return probe_flow(root, {}, commands)


def test_a_port_restriction_allows_only_its_ports(
    abi: int,  # noqa: F811
    home: Settings,  # noqa: F811
    listeners: tuple[int, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    if abi < 4:
        unavailable(f"restricting ports needs Landlock ABI 4 (network rules); this kernel has ABI {abi}")
    allowed, other = listeners
    restricted = run_granted(
        home, connect_flow(tmp_path / "r", {"allowed": allowed, "other": other}), ports=[str(allowed)]
    )
    assert restricted.jobs["allowed"] == Status.SUCCEEDED, restricted.log("allowed")
    assert "connected" in restricted.log("allowed")
    assert restricted.jobs["other"] == Status.FAILED
    assert "Permission denied" in restricted.log("other"), restricted.log("other")
    # Without a restriction (the default) the same job connects to either.
    free = run_granted(home, connect_flow(tmp_path / "f", {"allowed": allowed, "other": other}))
    assert free.jobs["other"] == Status.SUCCEEDED, free.log("other")


def test_grants_are_checked_and_need_a_server_admin(home: Settings) -> None:  # noqa: F811
    store = Store(home.database_url)
    try:
        project_id = create_project(store, f"grants{next(_names)}", "sandbox grants", "owner")
        record = store.projects.get(project_id=project_id)
        with pytest.raises(PermissionDenied, match="Only a server admin"):
            set_sandbox_grants(store, record, ["/srv/data"], [], None, "owner", is_admin=False)
        with pytest.raises(InputError, match="read: 'data' is not an absolute path"):
            set_sandbox_grants(store, record, ["data"], [], None, "admin", is_admin=True)
        with pytest.raises(InputError, match="ports: '70000' is not a TCP port"):
            set_sandbox_grants(store, record, [], [], ["70000"], "admin", is_admin=True)
        assert store.project_settings.sandbox_grants(project_id) == project_settings.SandboxGrants()
        set_sandbox_grants(store, record, ["/srv/data"], ["/srv/out"], ["5432", "443"], "admin", is_admin=True)
        assert store.project_settings.sandbox_grants(project_id) == project_settings.SandboxGrants(
            ("/srv/data",), ("/srv/out",), (443, 5432)
        )
        set_sandbox_grants(store, record, [], [], None, "admin", is_admin=True)
        assert store.project_settings.sandbox_grants(project_id) == project_settings.SandboxGrants()
    finally:
        store.close()
