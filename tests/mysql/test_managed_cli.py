"""``--db managed``: any command that takes --db runs on the user's own instance, made and started on demand."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
