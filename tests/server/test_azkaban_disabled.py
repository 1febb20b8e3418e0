"""``disabled`` names that are not in the flow are ignored, as Azkaban ignores them, over real HTTP:
executeFlow and scheduleCronFlow succeed, disable what exists, and say in ``warn`` what they ignored."""

from __future__ import annotations

import json

from server.live import HELLO, Client, LiveServer, make_zip, unique


def test_execute_flow_ignores_unknown_disabled_names(live: LiveServer, admin: Client) -> None:
    name = unique("d")
    admin.create_project(name)
    admin.upload(name, make_zip(HELLO))
    body = admin.ajax(
        "/executor",
        "executeFlow",
        project=name,
        flow="end",
        disabled='["start", "gone", {"id": "nosub", "children": ["x"]}, "end:deeper"]',
    )
    assert body["execid"] > 0, body
    assert body["warn"] == (
        "disabled: ignored job 'gone' is not in flow end; 'nosub' is not an embedded flow of "
        "end; 'end' is not an embedded flow of end"
    )
    done = admin.wait(body["execid"])
    assert {n["id"]: n["status"] for n in done["nodes"]} == {"start": "SKIPPED", "end": "SUCCEEDED"}
    clean = admin.ajax("/executor", "executeFlow", project=name, flow="end", disabled='["start"]')
    assert "warn" not in clean
    admin.wait(clean["execid"])
    broken = admin.ajax("/executor", "executeFlow", project=name, flow="end", disabled="[not json")
    assert broken["error"].startswith("Error parsing flow options: disabled: not a JSON array")


def test_schedule_ignores_unknown_disabled_names(live: LiveServer, admin: Client) -> None:
    name = unique("d")
    admin.create_project(name)
    admin.upload(name, make_zip(HELLO))
    params = {
        "session.id": admin.sid,
        "ajax": "scheduleCronFlow",
        "projectName": name,
        "flow": "end",
        "cronExpression": "0 0 3 ? * *",
        "disabled": '["start", "old_job"]',
    }
    answer = json.loads(admin.http.post("/schedule", params=params).text)
    assert answer["status"] == "success", answer
    assert answer["warn"] == "disabled: ignored job 'old_job' is not in flow end"
    project_id = admin.ajax("/manager", "getProjectId", project=name)["projectId"]
    fetched = admin.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end")["schedule"]
    assert fetched["executionOptions"]["disabledJobs"] == ["start"]
