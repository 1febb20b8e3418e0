"""``/schedule``: scheduleCronFlow, fetchSchedule(s), removeSched, setSla and slaInfo (reference §2.4)."""

from __future__ import annotations

import json
import re

from server.live import HELLO, Client, LiveServer, make_zip, unique
from support.eventually import eventually


def project(admin: Client) -> tuple[str, int]:
    name = unique("s")
    admin.create_project(name)
    assert admin.upload(name, make_zip(HELLO)).status_code == 200
    return name, admin.ajax("/manager", "getProjectId", project=name)["projectId"]


def schedule(admin: Client, name: str, cron: str, **options: str) -> dict:
    # The azkaban client puts every parameter of scheduleCronFlow in the query string of a POST.
    params = {
        "session.id": admin.sid,
        "ajax": "scheduleCronFlow",
        "projectName": name,
        "flow": "end",
        "cronExpression": cron,
        **options,
    }
    return json.loads(admin.http.post("/schedule", params=params).text)


def test_schedule_fetch_replace_remove(live: LiveServer, admin: Client) -> None:
    name, project_id = project(admin)
    first = schedule(admin, name, "0 0 3 ? * *", disabled="[]", concurrentOption="skip", failureAction="finishCurrent")
    schedule_id = first["scheduleId"]
    assert first == {"status": "success", "message": f"{name}.end scheduled.", "scheduleId": schedule_id}
    assert isinstance(schedule_id, int)
    fetched = admin.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end")["schedule"]
    assert fetched["scheduleId"] == str(schedule_id)  # a string here, as in Azkaban
    assert (fetched["cronExpression"], fetched["period"], fetched["submitUser"]) == (
        "0 0 3 ? * *",
        "null",
        admin.user,
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d 03:00:00", fetched["nextExecTime"])
    assert fetched["executionOptions"]["concurrentOption"] == "skip"
    assert fetched["executionOptions"]["failureAction"] == "FINISH_CURRENTLY_RUNNING"
    # Scheduling the same flow again replaces the schedule and keeps its id.
    again = schedule(admin, name, "0 30 4 ? * MON-FRI", timezone="America/Los_Angeles")
    assert again["scheduleId"] == schedule_id
    fetched = admin.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end")["schedule"]
    assert (fetched["cronExpression"], fetched["timezone"]) == ("0 30 4 ? * MON-FRI", "America/Los_Angeles")
    items = admin.ajax("/schedule", "fetchSchedules")["items"]
    mine = [item for item in items if item["projectname"] == name]
    assert mine == [
        {
            "scheduleId": schedule_id,
            "flowname": "end",
            "projectname": name,
            "time": mine[0]["time"],
            "cron": "0 30 4 ? * MON-FRI",
            "period": 0,
            "history": False,
        }
    ]
    # removeSched is an action= POST; a GET shows the schedules page instead.
    page = admin.get("/schedule", action="removeSched", scheduleId=schedule_id)
    assert page.headers["content-type"].startswith("text/html")
    removed = admin.post("/schedule", {"action": "removeSched", "scheduleId": schedule_id})
    assert json.loads(removed.text) == {"status": "success", "message": "flow end removed from Schedules."}
    assert "azkaban.success.message" in removed.headers["set-cookie"]
    assert admin.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end") == {}
    gone = admin.post("/schedule", {"action": "removeSched", "scheduleId": schedule_id})
    assert json.loads(gone.text) == {
        "message": f"Schedule with ID {schedule_id} does not exist",
        "status": "error",
    }


def test_schedule_errors(live: LiveServer, admin: Client) -> None:
    name, project_id = project(admin)
    assert schedule(admin, name, "not a cron") == {
        "error": "This expression <not a cron> can not be parsed to quartz cron."
    }
    assert schedule(admin, name, "0 0 3 * * MON") == {  # both day fields set: Quartz refuses it
        "error": "This expression <0 0 3 * * MON> can not be parsed to quartz cron."
    }
    no_cron = admin.ajax("/schedule", "scheduleCronFlow", projectName=name, flow="end")
    assert no_cron == {"error": "Cron expression must exist."}
    assert admin.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end") == {}  # nothing created
    assert schedule(admin, "nosuch" + name, "0 0 3 ? * *") == {
        "message": f"Project nosuch{name} does not exist",
        "status": "error",
    }
    wrong_flow = admin.ajax(
        "/schedule", "scheduleCronFlow", projectName=name, flow="nope", cronExpression="0 0 3 ? * *"
    )
    assert wrong_flow == {"status": "error", "message": f"Flow nope cannot be found in project {name}"}
    period = admin.ajax(
        "/schedule",
        "scheduleFlow",
        projectName=name,
        projectId=project_id,
        flow="end",
        scheduleTime="10,00,am,UTC",
        scheduleDate="01/01/2030",
        is_recurring="on",
        period="7m",
    )
    assert period["status"] == "error" and "no cron equivalent" in period["message"]


def test_sla(live: LiveServer, admin: Client) -> None:
    name, _ = project(admin)
    schedule_id = schedule(admin, name, "0 0 3 ? * *")["scheduleId"]
    assert admin.ajax("/schedule", "slaInfo", scheduleId=schedule_id) == {"allJobNames": ["end", "start"]}
    answer = admin.ajax(
        "/schedule",
        "setSla",
        via="POST",
        scheduleId=schedule_id,
        slaEmails="a@x.org; b@x.org",
        **{"settings[0]": ",SUCCESS,1:30,true,false", "settings[1]": "start,FINISH,0:10,true,true"},
    )
    assert answer == {}
    info = admin.ajax("/schedule", "slaInfo", scheduleId=schedule_id)
    assert info == {
        "slaEmails": ["a@x.org", "b@x.org"],
        "slaAlerters": {"email": {"recipients": ["a@x.org", "b@x.org"]}},
        "allJobNames": ["end", "start"],
        "settings": [
            {"id": "", "duration": "90m", "rule": "SUCCESS", "actions": ["EMAIL"]},
            {"id": "start", "duration": "10m", "rule": "FINISH", "actions": ["EMAIL", "KILL"]},
        ],
    }
    no_action = admin.ajax(
        "/schedule",
        "setSla",
        via="POST",
        scheduleId=schedule_id,
        slaEmails="",
        **{"settings[0]": ",SUCCESS,1:30,false,false"},
    )
    assert "Unable to create SLA as there is no action set" in no_action["error"]
    assert admin.ajax("/schedule", "setSla", via="POST", scheduleId=987654, slaEmails="") == {
        "error": "Error loading schedule. Schedule 987654 doesn't exist"
    }


def test_a_schedule_fires(live: LiveServer, admin: Client) -> None:
    name, project_id = project(admin)
    schedule_id = schedule(admin, name, "* * * ? * *")["scheduleId"]  # every second
    try:
        page = eventually(
            lambda: admin.ajax("/manager", "fetchFlowExecutions", project=name, flow="end", start=0, length=10),
            lambda page: page["total"],
            interval=0.2,
            what="an execution fired by the schedule",
        )
    finally:
        admin.post("/schedule", {"action": "removeSched", "scheduleId": schedule_id})
    exec_id = page["executions"][0]["execId"]
    assert page["executions"][0]["submitUser"] == admin.user
    assert admin.wait(exec_id)["status"] == "SUCCEEDED"


def test_scheduled_flow_graph_and_flow_info(live: LiveServer, admin: Client) -> None:
    name, project_id = project(admin)
    answer = schedule(admin, name, "0 0 6 ? * *", disabled='["start"]')
    assert answer["status"] == "success"
    graph = admin.ajax("/executor", "fetchscheduledflowgraph", project=name, flow="end")
    assert (graph["execid"], graph["projectId"], graph["project"]) == (-1, project_id, name)
    assert graph["flow"] == "end"
    assert {n["id"]: n["status"] for n in graph["nodes"]} == {"start": "DISABLED", "end": "READY"}
    fetched = admin.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end")["schedule"]
    assert fetched["executionOptions"]["disabledJobs"] == ["start"]
    info = admin.ajax("/executor", "flowInfo", project=name, flow="end")
    assert info["successEmails"] == [] and info["failureEmails"] == []
    assert isinstance(info["scheduled"], int) and info["scheduled"] > 0
