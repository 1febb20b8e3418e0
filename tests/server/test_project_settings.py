"""The AJAX endpoints for per-project settings and the rarer scheduling options, over real HTTP: proxy users,
job override properties (Azkaban's ``.jor``), flow locks, the deprecated period schedules (``scheduleFlow``)
and per-execution SLA settings on ``executeFlow``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from server.live import HELLO, Client, LiveServer, make_zip, unique
from sudoless.errors import InputError
from sudoless.flows.periods import first_time, parse_period, period_cron
from support.eventually import eventually

FLOW2 = {
    "flow20.project": "azkaban-flow-version: 2.0\n",
    "basic.flow": "nodes:\n  - name: hi\n    type: command\n    config:\n      command: echo from basic\n",
}
PERMS = {f"permissions[{p}]": "false" for p in ("admin", "read", "write", "execute", "schedule")}


def project(admin: Client, files: dict[str, str] | None = None) -> tuple[str, int]:
    name = unique("ps")
    admin.create_project(name)
    assert admin.upload(name, make_zip(files or HELLO)).status_code == 200
    return name, admin.ajax("/manager", "getProjectId", project=name)["projectId"]


def grant(admin: Client, name: str, user: str, *perms: str) -> None:
    flags = {**PERMS, **{f"permissions[{p}]": "true" for p in perms}}
    assert "error" not in admin.ajax("/manager", "addPermission", project=name, name=user, group="false", **flags)


def log_of(admin: Client, exec_id: int, job: str) -> str:
    return admin.ajax("/executor", "fetchExecJobLogs", execid=exec_id, jobId=job, offset=0, length=100_000)["data"]


def test_proxy_users(live: LiveServer, admin: Client) -> None:
    name, project_id = project(admin)
    assert admin.ajax("/manager", "getProxyUsers", project=name)["proxyUsers"] == [admin.user]
    assert admin.ajax("/manager", "addProxyUser", project=name, name="etl") == {
        "project": name,
        "projectId": project_id,
    }
    assert admin.ajax("/manager", "addProxyUser", project=name, name="etl") == {
        "project": name,
        "projectId": project_id,
    }
    assert admin.ajax("/manager", "getProxyUsers", project=name)["proxyUsers"] == sorted([admin.user, "etl"])
    assert "not valid" in admin.ajax("/manager", "addProxyUser", project=name, name="no,commas")["error"]
    # A project ADMIN who is not a global admin may add only the proxy users azkaban-users.xml gave them.
    user = live.accounts.add_user(unique("carol"), "pw-carol", roles=("user",), proxy_users=("svc",))
    carol = live.login(user.name, "pw-carol")
    grant(admin, name, user.name, "admin")
    assert carol.ajax("/manager", "addProxyUser", project=name, name="other")["error"] == (
        f"User {user.name} has no permission to add other as proxy user."
    )
    assert "error" not in carol.ajax("/manager", "addProxyUser", project=name, name="svc")
    assert carol.ajax("/manager", "removeProxyUser", project=name, name="etl") == {
        "project": name,
        "projectId": project_id,
    }
    assert admin.ajax("/manager", "getProxyUsers", project=name)["proxyUsers"] == sorted([admin.user, "svc"])
    events = admin.ajax("/manager", "fetchProjectLogs", project=name)["logData"]
    assert [e[3] for e in events if e[2] == "PROXY_USER"][:2] == [
        "Proxy user etl has been removed from the project.",
        "Proxy user svc is added to project.",
    ]
    # READ is enough to list them, not to change them.
    reader, password = live.add_user("reader")
    grant(admin, name, reader.name, "read")
    bob = live.login(reader.name, password)
    assert "proxyUsers" in bob.ajax("/manager", "getProxyUsers", project=name)
    assert bob.ajax("/manager", "addProxyUser", project=name, name="x")["error"] == (
        "Permission denied. Need ADMIN access."
    )


def test_job_override_properties_replace_the_job_file(live: LiveServer, admin: Client) -> None:
    name, _ = project(admin)
    before = admin.ajax("/manager", "fetchJobInfo", project=name, flowName="end", jobName="start")
    assert before["overrideParams"] == before["generalParams"]
    override = {"jobOverride[type]": "command", "jobOverride[command]": "echo overridden ${greeting}"}
    answer = admin.ajax(
        "/manager", "setJobOverrideProperty", via="POST", project=name, flowName="end", jobName="start", **override
    )
    assert "error" not in answer
    info = admin.ajax("/manager", "fetchJobInfo", project=name, flowName="end", jobName="start")
    assert info["overrideParams"] == {"type": "command", "command": "echo overridden ${greeting}"}
    assert info["generalParams"]["command"] == "echo hello ${greeting}"
    exec_id = admin.execute(name, "end")
    assert admin.wait(exec_id)["status"] == "SUCCEEDED"
    # The override replaces the job file's properties; the shared .properties still apply beneath it.
    assert "overridden world" in log_of(admin, exec_id, "start")
    assert (
        admin.ajax("/manager", "setJobOverrideProperty", project=name, flowName="end", jobName="nope", **override)[
            "error"
        ]
        == "Job nope not found in flow end"
    )
    assert (
        admin.ajax("/manager", "setJobOverrideProperty", project=name, flowName="nope", jobName="start", **override)[
            "error"
        ]
        == f"Flow nope not found in project {name}"
    )
    # Overrides belong to a version: the next upload starts from its own job files.
    assert admin.upload(name, make_zip(HELLO)).status_code == 200
    exec_id = admin.execute(name, "end")
    admin.wait(exec_id)
    assert "hello world" in log_of(admin, exec_id, "start")
    # Flow 2.0: the override belongs to the node of that flow.
    flow2, _ = project(admin, FLOW2)
    assert "error" not in admin.ajax(
        "/manager",
        "setJobOverrideProperty",
        project=flow2,
        flowName="basic",
        jobName="hi",
        **{"jobOverride[type]": "command", "jobOverride[command]": "echo from the override"},
    )
    exec_id = admin.execute(flow2, "basic")
    admin.wait(exec_id)
    assert "from the override" in log_of(admin, exec_id, "hi")
    # WRITE is needed.
    user, password = live.add_user("w")
    grant(admin, name, user.name, "read")
    assert (
        live.login(user.name, password).ajax(
            "/manager", "setJobOverrideProperty", project=name, flowName="end", jobName="start", **override
        )["error"]
        == "Permission denied. Need WRITE access."
    )


def test_flow_lock(live: LiveServer, admin: Client) -> None:
    name, project_id = project(admin)
    schedule_id = admin.ajax(
        "/schedule", "scheduleCronFlow", projectName=name, flow="end", cronExpression="0 0 3 ? * *"
    )["scheduleId"]
    assert admin.ajax("/manager", "isFlowLocked", project=name, flowName="end") == {
        "project": name,
        "projectId": project_id,
        "flowId": "end",
        "isLocked": False,
    }
    locked = admin.ajax(
        "/manager",
        "setFlowLock",
        via="POST",
        project=name,
        flowName="end",
        isLocked="true",
        flowLockErrorMessage="frozen for the audit",
    )
    assert locked == {
        "project": name,
        "projectId": project_id,
        "isLocked": True,
        "flowId": "end",
        "flowLockErrorMessage": "frozen for the audit",
    }
    assert admin.ajax("/manager", "isFlowLocked", project=name, flowName="end")["isLocked"] is True
    assert admin.ajax("/manager", "fetchflowjobs", project=name, flow="end")["isLocked"] is True
    assert admin.ajax("/executor", "executeFlow", project=name, flow="end") == {
        "project": name,
        "flow": "end",
        "message": f"Flow end for project {name} is locked.",
        "execid": -1,
    }
    assert admin.ajax("/schedule", "scheduleCronFlow", projectName=name, flow="end", cronExpression="0 0 4 ? * *") == {
        "status": "error",
        "message": f"Flow end in project {name} is locked.",
    }
    # The existing schedule skips its slots while the flow is locked: make its slot due now and watch.
    now = live.store.clock()
    live.store.schedules.update(schedule_id, {"next_fire": now - 1000})
    eventually(
        lambda: live.server.scheduler.get(schedule_id).next_fire,
        lambda next_fire: next_fire >= now,
        timeout=10,
        interval=0.1,
        what="the due slot taken",
    )
    assert live.server.scheduler.get(schedule_id).last_fire == now - 1000  # the slot was taken, and skipped
    assert admin.ajax("/manager", "fetchFlowExecutions", project=name, flow="end", start=0, length=10)["total"] == 0
    # The lock outlives an upload; unlocking lets the flow run again.
    assert admin.upload(name, make_zip(HELLO)).status_code == 200
    assert admin.ajax("/manager", "isFlowLocked", project=name, flowName="end")["isLocked"] is True
    unlocked = admin.ajax("/manager", "setFlowLock", project=name, flowName="end", isLocked="false")
    assert (unlocked["isLocked"], unlocked["flowLockErrorMessage"]) == (False, None)
    assert admin.wait(admin.execute(name, "end"))["status"] == "SUCCEEDED"
    assert admin.ajax("/manager", "setFlowLock", project=name, flowName="nope", isLocked="true")["error"] == (
        f"Flow nope not found in project {name}"
    )
    assert admin.ajax("/manager", "isFlowLocked", project=name, flowName="nope")["error"] == (
        f"Flow nope not found in project {name}"
    )
    user, password = live.add_user("l")
    grant(admin, name, user.name, "read", "write", "execute")
    assert (
        live.login(user.name, password).ajax("/manager", "setFlowLock", project=name, flowName="end", isLocked="true")[
            "error"
        ]
        == "Permission denied. Need ADMIN access."
    )


def period_schedule(admin: Client, name: str, project_id: int, time: str, date: str, period: str | None) -> dict:
    params = {
        "ajax": "scheduleFlow",
        "projectName": name,
        "projectId": project_id,
        "flow": "end",
        "scheduleTime": time,
        "scheduleDate": date,
    }
    if period is not None:
        params.update(is_recurring="on", period=period)
    return admin.ajax("/schedule", "scheduleFlow", via="POST", **{k: v for k, v in params.items() if k != "ajax"})


@pytest.mark.parametrize(
    ("time", "date", "period", "cron", "zone", "first"),
    [
        ("10,00,am,UTC", "12/31/2030", "1d", "0 0 10 * * ?", "UTC", "2030-12-31 10:00:00"),
        ("1,15,pm,America/New_York", "12/31/2030", "1w", "0 15 13 ? * TUE", "America/New_York", "2030-12-31 13:15:00"),
        ("12,30,am,UTC", "01/15/2031", "2h", "0 30 0/2 * * ?", "UTC", "2031-01-15 00:30:00"),
        ("10,00,am,UTC", "12/31/2030", None, "0 0 10 31 12 ? 2030", "UTC", "2030-12-31 10:00:00"),
    ],
)
def test_period_schedules_become_cron(
    live: LiveServer, admin: Client, time: str, date: str, period: str | None, cron: str, zone: str, first: str
) -> None:
    name, project_id = project(admin)
    answer = period_schedule(admin, name, project_id, time, date, period)
    assert answer == {"status": "success", "message": f"{name}.end scheduled.", "scheduleId": answer["scheduleId"]}
    fetched = admin.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end")["schedule"]
    assert (fetched["cronExpression"], fetched["timezone"]) == (cron, zone)
    # The first fire is the first time asked for, not a slot before it.
    assert fetched["nextExecTime"] == first


def test_period_schedule_errors(live: LiveServer, admin: Client) -> None:
    name, project_id = project(admin)
    assert period_schedule(admin, name, project_id, "10,00,am,UTC", "13/45/2030", "1d") == {
        "error": "Invalid date and/or time '13/45/2030 10,00,am,UTC"
    }
    assert period_schedule(admin, name, project_id, "10,00", "12/31/2030", "1d") == {
        "error": "Invalid date and/or time '12/31/2030 10,00"
    }
    unit = period_schedule(admin, name, project_id, "10,00,am,UTC", "12/31/2030", "3x")
    assert unit["status"] == "error" and unit["message"].startswith("Invalid schedule period unit 'x'")
    for period in ("7m", "5h", "2d", "3w"):
        refused = period_schedule(admin, name, project_id, "10,00,am,UTC", "12/31/2030", period)
        assert refused["status"] == "error" and f"period {period} has no cron equivalent" in refused["message"]
    past = period_schedule(admin, name, project_id, "10,00,am,UTC", "01/01/2001", None)
    assert past["status"] == "error"
    assert admin.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end") == {}
    missing = period_schedule(admin, name, 987654321, "10,00,am,UTC", "12/31/2030", "1d")
    assert missing == {"message": f"Project {name} does not exist", "status": "error"}


@pytest.mark.parametrize(
    ("first", "period", "cron"),
    [
        (datetime(2030, 1, 31, 8, 5, tzinfo=UTC), (15, "s"), "0/15 * * * * ?"),
        (datetime(2030, 1, 31, 8, 5, tzinfo=UTC), (20, "m"), "0 5/20 * * * ?"),
        (datetime(2030, 1, 31, 8, 5, tzinfo=UTC), (120, "m"), "0 5 0/2 * * ?"),
        (datetime(2030, 1, 31, 8, 5, tzinfo=UTC), (24, "h"), "0 5 8 * * ?"),
        (datetime(2030, 1, 31, 8, 5, tzinfo=UTC), (7, "d"), "0 5 8 ? * THU"),
        (datetime(2030, 5, 10, 8, 5, tzinfo=UTC), (3, "M"), "0 5 8 10 2/3 ?"),
        (datetime(2030, 5, 10, 8, 5, tzinfo=UTC), (1, "y"), "0 5 8 10 5 ?"),
        (datetime(2030, 5, 10, 8, 5, tzinfo=UTC), (2, "y"), "0 5 8 10 5 ? 2030/2"),
    ],
)
def test_period_cron_equivalents(first: datetime, period: tuple[int, str], cron: str) -> None:
    assert period_cron(first, period) == cron


def test_period_parsing() -> None:
    assert parse_period("null") is None and parse_period("0n") is None and parse_period("") is None
    assert parse_period("30m") == (30, "m")
    for bad in ("m", "0d", "1.5h", "-1d"):
        with pytest.raises(InputError):
            parse_period(bad)
    with pytest.raises(InputError, match="no cron equivalent"):
        period_cron(datetime(2030, 1, 31, tzinfo=UTC), (1, "M"))  # the 31st: Azkaban clips to the month's end
    now = datetime(2030, 6, 1, 12, tzinfo=UTC)
    assert first_time("", "2,05,pm,Nope/Zone", "UTC", now) == datetime(2030, 6, 1, 14, 5, tzinfo=UTC)


def test_sla_settings_on_execute_flow(live: LiveServer, admin: Client) -> None:
    name, _ = project(admin, {"nap.job": "type=command\ncommand=sleep 20\n"})
    exec_id = admin.execute(name, "nap", **{"slaSettings[0]": ",SUCCESS,0:00,true,true", "slaEmails": "ops@x.org"})
    final = admin.wait(exec_id, timeout=15)
    assert final["status"] == "KILLED"  # the KILL action of the missed rule cancelled it
    flow_log = admin.ajax("/executor", "fetchExecFlowLogs", execid=exec_id, offset=0, length=100_000)["data"]
    assert "SLA missed" in flow_log and "must succeed within 0:00" in flow_log
    bad = admin.ajax("/executor", "executeFlow", project=name, flow="nap", **{"slaSettings[0]": "nap,SOON,1:00"})
    assert bad["error"].startswith("Error parsing flow options: Error parsing SLA setting 'nap,SOON,1:00'")
    unknown = admin.ajax(
        "/executor", "executeFlow", project=name, flow="nap", **{"slaSettings[0]": "ghost,FINISH,1:00,true,false"}
    )
    assert unknown["error"].startswith("Error parsing flow options: SLA rule for job 'ghost'")
    assert json.loads(admin.get("/executor", ajax="getRunning", project=name, flow="nap").text) == {}
