"""Runtime properties that change what a job runs need WRITE, over real HTTP (AJAX and /api/v1).

A user with READ+EXECUTE(+SCHEDULE) tries to make a job run a command of theirs (node-level ``command``,
``type``, a flow-level ``command`` or ``env.*`` that reaches every job, through executeFlow, /api/v1,
schedules and a restart); each is refused and nothing runs (the marker file the command would create stays
absent, no execution or schedule is added). A WRITE user may; an ordinary parameter works with EXECUTE.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.live import Client, LiveServer, make_zip, unique

PROJECT = {"day.job": "type=command\ncommand=echo day ${date}\n"}
RULE = "Changing what a job runs needs WRITE permission on project"


def grant(admin: Client, project: str, user: str, *perms: str) -> None:
    flags = {
        f"permissions[{p}]": "true" if p in perms else "false"
        for p in ("admin", "read", "write", "execute", "schedule")
    }
    answer = admin.ajax("/manager", "addPermission", project=project, name=user, group="false", **flags)
    assert "error" not in answer, answer


def api(live: LiveServer, user: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=live.url + "/api/v1", timeout=30)
    live.clients.append(http)
    token = http.post("/login", json={"username": user, "password": password}).json()["token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return http


@pytest.fixture
def team(live: LiveServer, admin: Client, tmp_path: Path) -> dict[str, Any]:
    """A project of the admin's, a READ+EXECUTE+SCHEDULE user and a READ+WRITE+EXECUTE user."""
    name = unique("ovr")
    admin.create_project(name)
    assert json.loads(admin.upload(name, make_zip(PROJECT)).text).get("version"), "upload failed"
    runner, runner_pw = live.add_user("runner")
    writer, writer_pw = live.add_user("writer")
    grant(admin, name, runner.name, "read", "execute", "schedule")
    grant(admin, name, writer.name, "read", "write", "execute")
    return {
        "project": name,
        "id": admin.ajax("/manager", "getProjectId", project=name)["projectId"],
        "runner": live.login(runner.name, runner_pw),
        "runner_api": api(live, runner.name, runner_pw),
        "writer": live.login(writer.name, writer_pw),
        "writer_api": api(live, writer.name, writer_pw),
        "marker": tmp_path / "pwned",
    }


def executions(live: LiveServer, project_id: int) -> int:
    return live.store.executions.find([project_id])[1]


def test_execute_alone_cannot_redefine_a_job(live: LiveServer, admin: Client, team: dict[str, Any]) -> None:
    name, runner, marker = team["project"], team["runner"], team["marker"]
    before = executions(live, team["id"])
    attempts = [
        {"runtimeProperty[day][command]": f"touch {marker}"},
        {"runtimeProperty[day][command.1]": f"touch {marker}"},
        {"runtimeProperty[day][type]": "javaprocess"},
        {"runtimeProperty[day][env.PATH]": str(marker.parent)},
        {"runtimeProperty[day][working.dir]": "/"},
        {"flowOverride[command]": f"touch {marker}"},  # a flow-level property reaches every job
    ]
    for params in attempts:
        body = runner.ajax("/executor", "executeFlow", project=name, flow="day", **params)
        assert "execid" not in body and body["error"].startswith(RULE), (params, body)
        assert f"project {name}" in body["error"] and "\n" not in body["error"]
    refused = team["runner_api"].post(
        "/executions",
        json={"project": name, "flow": "day", "runtime_properties": {"ROOT": {"command": f"touch {marker}"}}},
    )
    assert refused.status_code == 403 and refused.json()["error"].startswith(RULE), refused.text
    schedule = runner.ajax(
        "/schedule",
        "scheduleCronFlow",
        projectName=name,
        flow="day",
        cronExpression="0 0 3 ? * *",
        **{"flowOverride[command]": f"touch {marker}"},
    )
    assert schedule["error"].startswith(RULE) and "scheduleId" not in schedule, schedule
    api_schedule = team["runner_api"].post(
        "/schedules",
        json={
            "project": name,
            "flow": "day",
            "cron": "0 0 3 ? * *",
            "options": {"runtime_properties": {"day": {"command": f"touch {marker}"}}},
        },
    )
    assert api_schedule.status_code == 403, api_schedule.text
    assert executions(live, team["id"]) == before
    assert live.server.scheduler.for_flow(name, "day") is None
    assert not marker.exists()


def test_ordinary_parameters_stay_open_to_execute(live: LiveServer, team: dict[str, Any]) -> None:
    runner = team["runner"]
    exec_id = runner.execute(team["project"], "day", **{"runtimeProperty[day][date]": "2026-12-06"})
    assert runner.wait(exec_id)["status"] == "SUCCEEDED"
    log = runner.ajax("/executor", "fetchExecJobLogs", execid=exec_id, jobId="day", offset=0, length=100_000)
    assert "day 2026-12-06" in log["data"]
    api_run = team["runner_api"].post(
        "/executions",
        json={"project": team["project"], "flow": "day", "runtime_properties": {"ROOT": {"date": "tomorrow"}}},
    )
    assert api_run.status_code == 201, api_run.text
    runner.wait(api_run.json()["exec_id"])


def test_write_may_redefine_and_restart_needs_it_too(live: LiveServer, team: dict[str, Any]) -> None:
    writer, marker = team["writer"], team["marker"]
    exec_id = writer.execute(team["project"], "day", **{"runtimeProperty[day][command]": f"touch {marker}"})
    assert writer.wait(exec_id)["status"] == "SUCCEEDED" and marker.exists()
    # A restart carries the first run's properties: the EXECUTE user may not rerun a redefined job.
    failed = writer.execute(team["project"], "day", **{"flowOverride[command]": "false"})
    assert writer.wait(failed)["status"] == "FAILED"
    refused = team["runner_api"].post(f"/executions/{failed}/restart")
    assert refused.status_code == 403 and refused.json()["error"].startswith(RULE), refused.text
    again = team["writer_api"].post(f"/executions/{failed}/restart")
    assert again.status_code == 201, again.text
    writer.wait(again.json()["exec_id"])
