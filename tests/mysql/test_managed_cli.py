"""``--db managed``: any command that takes --db runs on the user's own instance, made and started on demand."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sudoless.config import Settings
from sudoless.mysql import (
    control,
    destroy_instance,
    init_instance,
    instance_status,
    managed_url,
    start_instance,
    stop_instance,
)
from sudoless.mysql.instance import load_instance
from support.services import unavailable

REPO = Path(__file__).resolve().parents[2]
SUDOLESS = Path(sys.executable).with_name("sudoless")


def test_flow_run_on_the_managed_instance(tmp_path):
    if not (shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists()):
        unavailable("no mariadbd on this machine (Debian package mariadb-server-core)")
    env = {**os.environ, "SUDOLESS_HOME": str(tmp_path / "home")}
    env.pop("SUDOLESS_DB", None)

    def sudoless(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SUDOLESS), *args], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)

    try:
        run = sudoless("flow", "run", "examples/etl-demo", "--db", "managed", "--json")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["status"] == "SUCCEEDED"
        status = json.loads(sudoless("mysql", "status", "--json").stdout)
        assert status["state"] == "running" and status["port"] != 3306
        shown = sudoless("flow", "show", str(json.loads(run.stdout)["execid"]), "--db", "managed", "--json")
        assert json.loads(shown.stdout)["status"] == "SUCCEEDED", "the execution is stored in the managed instance"
    finally:
        sudoless("mysql", "stop")
        sudoless("mysql", "destroy", "--yes")


def _listening(port: int) -> socket.socket:
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", port))
    busy.listen()
    return busy


def test_a_picked_port_taken_before_the_first_start_moves_the_instance(tmp_path: Path) -> None:
    """Two instances made at the same moment probe the same free port; the server binds it only at start.
    The loser of that race moves to another free port; the server's own bind failure is recognised too."""
    if not (shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists()):
        unavailable("no mariadbd on this machine (Debian package mariadb-server-core)")
    settings = Settings(home=tmp_path / "home")
    instance = init_instance(settings, "race")
    assert not instance.port_settled
    try:
        with _listening(instance.port):
            # the server itself meets the taken port (as when it is taken after the probe)
            process = control.spawn(instance)
            with pytest.raises(control.PortInUse, match=f"port {instance.port} on 127.0.0.1 is in use"):
                control.wait_ready(instance, process, instance.root_password(), 60.0, 0)
            assert process.wait(timeout=30) is not None
            url = managed_url(settings, "race")
        moved = load_instance(settings, "race")
        assert moved.port != instance.port and moved.port_settled
        assert f":{moved.port}/" in url
        assert f"port = {moved.port}" in moved.paths.my_cnf.read_text()
        assert instance_status(settings, "race").state == "running"
        stop_instance(settings, "race")
        # it has served now: a taken port is an error naming a free one, and nothing moves
        with _listening(moved.port), pytest.raises(control.PortInUse, match="is in use by another program"):
            start_instance(settings, "race")
        assert load_instance(settings, "race").port == moved.port
    finally:
        destroy_instance(settings, "race")
