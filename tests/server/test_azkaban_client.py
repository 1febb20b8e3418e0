"""A real Azkaban API client from PyPI, ``azkaban`` 0.9.14 (reference §8.1), against the server.

Its Python API drives login, project creation, upload, runs, status, logs, schedules and SLA, and its
command line (with an alias in ``~/.azkabanrc`` of a temporary HOME, where it also caches the session id)
drives ``upload -c``, ``run``, ``schedule`` and ``log``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from server.live import HELLO, LiveServer, make_zip, unique
from support.eventually import eventually

azkaban_remote = pytest.importorskip("azkaban.remote", reason="the 'azkaban' client (pip install azkaban==0.9.14)")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME: the client keeps ~/.azkabanrc (aliases, cached session ids) there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def credentials_url(live: LiveServer) -> str:
    return live.url.replace("http://", f"http://{live.admin}:{live.password}@")


def test_python_api(live: LiveServer, home: Path, tmp_path: Path) -> None:
    session = azkaban_remote.Session(credentials_url(live))
    name = unique("az")
    session.create_project(name, "made by the azkaban client")
    archive = tmp_path / "hello.zip"
    archive.write_bytes(make_zip(HELLO))
    uploaded = session.upload_project(name, str(archive))
    assert uploaded["version"] == "1" and uploaded["projectId"].isdigit()
    assert session.get_workflows(name)["flows"] == [{"flowId": "end"}]
    assert [n["id"] for n in session.get_workflow_info(name, "end")["nodes"]] == ["start", "end"]
    # Running a subset of jobs: the client computes `disabled` from fetchflowjobs.
    exec_id = session.run_workflow(name, "end", jobs=["start"], properties={"greeting": "client"})["execid"]
    execution = azkaban_remote.Execution(session, exec_id)
    eventually(
        lambda: execution.status["status"],
        lambda status: status in ("SUCCEEDED", "FAILED", "KILLED"),
        timeout=30,
        interval=0.2,
    )
    status = session.get_execution_status(exec_id)
    assert status["status"] == "SUCCEEDED"
    assert {n["id"]: n["status"] for n in status["nodes"]} == {"start": "SUCCEEDED", "end": "SKIPPED"}
    assert "hello client" in session.get_job_logs(exec_id, "start")["data"]
    assert "Flow end finished: SUCCEEDED" in session.get_execution_logs(exec_id)["data"]
    lines = list(execution.job_logs("start", delay=0))
    assert any(line.endswith("hello client") for line in lines)
    executions = session.get_workflow_executions(name, "end")
    assert executions["total"] == 1 and executions["executions"][0]["execId"] == exec_id
    assert session.get_running_workflows(name, "end") == {}
    assert name in [p["projectName"] for p in session.get_projects()["projects"]]
    # Schedules and SLA.
    assert session.schedule_cron_workflow(name, "end", "0 0 4 ? * *", timezone="Europe/Paris")["status"] == "success"
    schedule = session.get_schedule(name, "end")
    assert schedule["cronExpression"] == "0 0 4 ? * *" and schedule["timezone"] == "Europe/Paris"
    session.set_sla(schedule["scheduleId"], ["ops@example.org"], [",SUCCESS,2:00,true,false"])
    sla = session.get_sla(schedule["scheduleId"])
    assert sla["settings"] == [{"id": "", "duration": "120m", "rule": "SUCCESS", "actions": ["EMAIL"]}]
    assert session.unschedule_workflow(name, "end")["status"] == "success"
    with pytest.raises(azkaban_remote.AzkabanError):
        session.get_schedule(name, "end")
    session.delete_project(name)  # checks the success message on the page it is redirected to
    assert name not in [p["projectName"] for p in session.get_projects()["projects"]]


def test_the_client_logs_in_again_when_its_session_expired(live: LiveServer, home: Path, tmp_path: Path) -> None:
    session = azkaban_remote.Session(credentials_url(live))
    session.get_projects()
    first = session.id
    live.accounts.end_session(first)  # as if the server had expired it
    assert "projects" in session.get_projects()
    assert session.id != first


def azkaban_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("azkaban")
    if not script.exists():
        pytest.skip(f"the azkaban command is not installed next to {sys.executable}")
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=120)


def test_command_line_with_an_alias(live: LiveServer, home: Path, tmp_path: Path) -> None:
    (home / ".azkabanrc").write_text(f"[alias.sudoless]\nurl = {credentials_url(live)}\n")
    name = unique("cli")
    archive = tmp_path / "hello.zip"
    archive.write_bytes(make_zip(HELLO))
    # upload -c creates the project when the server answers 410 "... doesn't exist."
    upload = azkaban_cli(home, "upload", "-c", "-p", name, "-a", "sudoless", str(archive))
    assert upload.returncode == 0, upload.stderr
    assert re.search(r"version[^0-9]*1", upload.stdout + upload.stderr)
    assert "session_id" in (home / ".azkabanrc").read_text()  # the client cached its session
    run = azkaban_cli(home, "run", "-p", name, "-a", "sudoless", "end")
    assert run.returncode == 0, run.stderr
    exec_id = int(re.search(r"execution[^0-9]*(\d+)", run.stdout + run.stderr, re.I).group(1))
    log = azkaban_cli(home, "log", "-a", "sudoless", str(exec_id), "start")
    assert log.returncode == 0, log.stderr
    assert "hello world" in log.stdout
    cron = azkaban_cli(home, "schedule", "-p", name, "-a", "sudoless", "-x", "0 0 5 ? * *", "end")
    assert cron.returncode == 0, cron.stderr
