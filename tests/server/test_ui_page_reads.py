"""What the UI pages read in their own cheaper ways still says what the full reads say: a project version's
flows kept in memory (a new version uploaded by another process, with its own store as a second server or
``sudoless flow run`` would have, shows at once), and the schedules counted and looked up without being
decoded (nor a project's, beside its flows)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.live import HELLO, LiveServer, make_zip, unique
from sudoless.flows.scheduler import Scheduler
from sudoless.flows.upload import upload_project
from sudoless.server.sessions import COOKIE
from sudoless.store import Store
from sudoless.store.schedules import ShownSchedule

PROJECT = "azkaban-flow-version: 2.0\n"


def flow(name: str) -> str:
    return f"nodes:\n  - name: {name}-job\n    type: noop\n"


def test_a_new_version_from_another_process_replaces_the_cached_flows(live: LiveServer, tmp_path: Path) -> None:
    admin = live.as_admin()
    name = unique("cached")
    admin.create_project(name)
    first = make_zip({"p.project": PROJECT, "old.flow": flow("old")})
    assert admin.upload(name, first).status_code == 200
    admin.http.cookies.set(COOKIE, admin.sid)

    def page(path: str) -> tuple[int, str]:
        response = admin.http.get(path)
        return response.status_code, response.text

    for _ in range(2):  # the second from the cache
        status, text = page(f"/ui/projects/{name}/flows/old")
        assert status == 200 and "old-job" in text
    assert ">old</a>" in page(f"/ui/projects/{name}")[1]

    archive = tmp_path / "second.zip"
    archive.write_bytes(make_zip({"p.project": PROJECT, "new.flow": flow("new")}))
    other = Store(live.store.url)  # another process's store: nothing of this server's memory
    try:
        upload_project(other, live.settings, archive, "someone", name=name)
    finally:
        other.close()

    assert page(f"/ui/projects/{name}/flows/old")[0] == 404  # gone from the current version
    status, text = page(f"/ui/projects/{name}/flows/new")
    assert status == 200 and "new-job" in text
    listing = page(f"/ui/projects/{name}")[1]
    assert ">new</a>" in listing and ">old</a>" not in listing
    assert page(f"/ui/projects/{name}/flows/new/grid")[0] == 200


def test_schedules_counted_and_found_as_listed(live: LiveServer) -> None:
    admin = live.as_admin()
    admin.http.cookies.set(COOKIE, admin.sid)
    name = unique("counted")
    admin.create_project(name)
    assert admin.upload(name, make_zip(HELLO)).status_code == 200
    query = {"ajax": "scheduleCronFlow", "projectName": name, "flow": "end", "cronExpression": "0 0 6 ? * *"}
    answer = admin.http.post("/schedule", params={"session.id": admin.sid, **query})
    assert json.loads(answer.text)["status"] == "success"
    project_id = admin.ajax("/manager", "getProjectId", project=name)["projectId"]
    schedules, scheduler = live.store.schedules, Scheduler(live.store, live.settings)

    def shown_count() -> int:
        found = re.search(r'Schedules</span><span class="value">(\d+)<', admin.http.get("/ui/status").text)
        assert found is not None
        return int(found.group(1))

    assert schedules.scheduled(project_id, "end") and not schedules.scheduled(project_id, "start")
    listed = {s.flow_id: (s.flow_id, s.cron, s.timezone, s.enabled) for s in schedules.all(project_id)}
    assert schedules.of_flows(project_id) == listed and "end" in listed  # the project page's narrow read
    assert "Change schedule" in admin.http.get(f"/ui/projects/{name}/flows/end").text
    assert schedules.count() == len(scheduler.list()) == shown_count() >= 1
    listed_id = next(s.id for s in schedules.all(project_id))
    scheduler.set_sla(listed_id, [{"job": "", "kind": "SUCCESS", "duration_ms": 60_000, "actions": ["EMAIL"]}], "a@b.c")

    def as_shown() -> list[tuple[object, ...]]:  # what the schedules page shows of the full rows
        fields = ShownSchedule._fields
        return [tuple(getattr(row, field) for field in fields) for row in schedules.all()]

    assert [tuple(row) for row in schedules.shown()] == as_shown()
    assert next(s for s in schedules.shown() if s.id == listed_id).sla is not None
    admin.get("/manager", project=name, delete="true")  # a deleted project's schedules are no longer listed
    assert live.store.projects.get(name=name) is None
    assert not schedules.scheduled(project_id, "end")
    assert [tuple(row) for row in schedules.shown()] == as_shown() and listed_id not in {
        s.id for s in schedules.shown()
    }
    assert schedules.of_flows(project_id) == {}
    assert schedules.count() == len(scheduler.list()) == shown_count()


def test_a_flows_runs_and_its_schedule_read_together_say_what_each_read_says(live: LiveServer) -> None:
    """The flow page reads its latest runs and whether the flow has a schedule in one statement: the same as
    the two reads apart, before and after it runs, is scheduled, and its project is deleted."""
    admin = live.as_admin()
    admin.http.cookies.set(COOKIE, admin.sid)
    name = unique("together")
    admin.create_project(name)
    assert admin.upload(name, make_zip(HELLO)).status_code == 200
    project_id = admin.ajax("/manager", "getProjectId", project=name)["projectId"]
    executions, schedules = live.store.executions, live.store.schedules

    def together(flow: str) -> tuple[list[object], bool]:
        runs, scheduled = executions.recent_and_scheduled(project_id, flow)
        assert (runs, scheduled) == (executions.recent(project_id, flow), schedules.scheduled(project_id, flow))
        return list(runs), scheduled

    def button() -> str:
        found = re.search(r"#new-schedule\">([^<]+)<", admin.http.get(f"/ui/projects/{name}/flows/end").text)
        assert found is not None
        return found.group(1)

    assert together("end") == ([], False) and button() == "Schedule"
    admin.wait(admin.execute(name, "end"))
    runs, scheduled = together("end")
    assert len(runs) == 1 and not scheduled and button() == "Schedule"
    query = {"ajax": "scheduleCronFlow", "projectName": name, "flow": "end", "cronExpression": "0 0 6 ? * *"}
    answer = admin.http.post("/schedule", params={"session.id": admin.sid, **query})
    assert json.loads(answer.text)["status"] == "success"
    assert together("end") == (runs, True) and button() == "Change schedule"
    assert together("start") == ([], False)
    admin.get("/manager", project=name, delete="true")  # a deleted project's schedules no longer count
    assert together("end") == (runs, False)
