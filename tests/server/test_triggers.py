"""Flow triggers through a real server over HTTP: uploads refused with the loader's reasons, a trigger that
waits for a file a test writes 2 s later and runs its flow once, one whose dependency never comes and ends
cancelled, pause/resume/kill, and a waiting instance that outlives its server. Each is checked through the
AJAX API (``/flowtrigger``, ``/flowtriggerinstance``), the JSON API and the web UI's page.

These servers shrink a trigger's minute to 2 s (the setting ``trigger_minute_seconds``) so that a
``maxWaitMins: 1`` runs out within the test; the semantics are the user's.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.formats.test_trigger import ACCEPTED, REJECTED
from server.live import Client, LiveServer, make_zip, server_settings, start_live, unique
from sudoless.store import Store
from support.eventually import eventually
from support.files import FIXTURES

TRIGGERS = FIXTURES / "triggers"


def project_zip(flow: str, name: str = "nightly") -> bytes:
    return make_zip({"p.project": "azkaban-flow-version: 2.0\n", f"{name}.flow": flow})


def waiting_on(path: Path, wait: int = 5) -> str:
    return (
        f"trigger:\n  maxWaitMins: {wait}\n  schedule:\n    type: cron\n    value: 0 0 4 * * ?\n"
        f"  triggerDependencies:\n    - name: landed\n      type: file\n      params:\n        path: {path}\n"
        "nodes:\n  - name: report\n    type: command\n    config:\n      command: echo report done\n"
    )


def trigger_server(home: Path, db_url: str, store: Store) -> LiveServer:
    settings = replace(server_settings(home, db_url), trigger_check_seconds=0.3, trigger_minute_seconds=2.0)
    return start_live(settings, store)


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = Store(db_url)
    live = trigger_server(tmp_path_factory.mktemp("trigger-home"), db_url, store)
    yield live
    live.stop()
    store.close()


@pytest.fixture
def user(server: LiveServer) -> Client:
    return server.as_admin()


def api(server: LiveServer) -> httpx.Client:
    http = server.http()
    token = http.post("/api/v1/login", json={"username": server.admin, "password": server.password}).json()["token"]
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def ui(server: LiveServer) -> httpx.Client:
    http = server.http()
    answer = http.post(
        "/ui/login",
        data={"username": server.admin, "password": server.password},
        headers={"Origin": server.url},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return http


def new_project(user: Client, content: bytes) -> tuple[str, int]:
    name = unique("trig")
    user.create_project(name)
    answer = json.loads(user.upload(name, content).text)
    assert "error" not in answer, answer
    return name, int(user.ajax("/manager", "getProjectId", project=name)["projectId"])


def poll(
    read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> dict[str, Any]:
    return eventually(read, done, timeout=timeout, interval=0.2)


def over(body: dict[str, Any]) -> bool:
    """The instance was cancelled, or its flow was submitted (as in Azkaban, the execution id comes a moment
    after the dependencies are all met)."""
    return body["triggerStatus"] == "CANCELLED" or body["flowExecutionId"] != -1


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_upload_refuses_with_the_reason(user: Client, case: str) -> None:
    name = unique("bad")
    user.create_project(name)
    content = make_zip(
        {"triggers.project": "azkaban-flow-version: 2.0\n", f"{case}.flow": (TRIGGERS / f"{case}.flow").read_text()}
    )
    answer = json.loads(user.upload(name, content).text)
    assert REJECTED[case] in answer["error"] and f"{case}.flow" in answer["error"], answer


@pytest.mark.parametrize("case", ACCEPTED)
def test_upload_accepts_and_lists_the_trigger(user: Client, case: str) -> None:
    project, project_id = new_project(
        user,
        make_zip(
            {"triggers.project": "azkaban-flow-version: 2.0\n", f"{case}.flow": (TRIGGERS / f"{case}.flow").read_text()}
        ),
    )
    trigger = user.ajax("/flowtrigger", "fetchTrigger", projectId=project_id, flowId=case)["flowTrigger"]
    assert trigger["projectName"] == project and trigger["paused"] is False


def test_a_file_dependency_that_arrives_runs_the_flow_once(server: LiveServer, user: Client, tmp_path: Path) -> None:
    marker = tmp_path / "landing" / "orders.csv"
    project, project_id = new_project(user, project_zip(waiting_on(tmp_path / "landing" / "*.csv")))
    trigger = user.ajax("/flowtrigger", "fetchTrigger", projectId=project_id, flowId="nightly")["flowTrigger"]
    assert (trigger["cronExpression"], trigger["maxWaitMin"], trigger["paused"]) == ("0 0 4 * * ?", 5, False)
    http = api(server)
    fired = http.post(f"/api/v1/triggers/{project}/nightly/fire")
    assert fired.status_code == 201, fired.text
    instance_id = fired.json()["id"]
    running = user.ajax("/flowtriggerinstance", "fetchRunningTriggers")["items"]
    [mine] = [item for item in running if item["id"] == instance_id]
    assert mine["dependencies"][0]["dependencyStatus"] == "RUNNING"
    assert "nothing matches" in mine["dependencies"][0]["reason"]
    page = ui(server).get("/ui/triggers")
    assert page.status_code == 200 and f'data-instance="{instance_id}" data-status="RUNNING"' in page.text
    writer = threading.Timer(2.0, lambda: (marker.parent.mkdir(), marker.write_text("id\n")))
    writer.start()
    status = poll(lambda: user.ajax("/flowtriggerinstance", "fetchTriggerStatus", triggerinstid=instance_id), over)
    writer.join()
    assert status["triggerStatus"] == "SUCCEEDED" and status["items"][0]["dependencyStatus"] == "SUCCEEDED"
    exec_id = status["flowExecutionId"]
    assert user.wait(exec_id)["status"] == "SUCCEEDED"
    assert user.ajax("/flowtriggerinstance", "fetchTriggerStatus", execid=exec_id)["triggerId"] == instance_id
    for _ in range(2):  # more checks pass, run here rather than waited for: the flow still ran once
        server.server.scheduler.triggers.tick()
    executions = user.ajax("/manager", "fetchFlowExecutions", project=project, flow="nightly", start=0, length=10)
    assert [e["execId"] for e in executions["executions"]] == [exec_id]
    listed = user.ajax(
        "/flowtriggerinstance", "fetchTriggerInstances", project=project, flow="nightly", start=0, length=10
    )["executions"]
    assert [(i["instanceId"], i["status"], i["flowExecutionId"]) for i in listed] == [
        (instance_id, "SUCCEEDED", exec_id)
    ]
    view = http.get(f"/api/v1/trigger-instances/{instance_id}").json()
    assert (view["status"], view["exec_id"], view["dependencies"][0]["status"]) == ("SUCCEEDED", exec_id, "SUCCEEDED")
    page = ui(server).get("/ui/triggers")
    assert f'data-instance="{instance_id}" data-status="SUCCEEDED"' in page.text
    assert f'href="/ui/executions/{exec_id}"' in page.text


def test_a_dependency_that_never_arrives_ends_cancelled(server: LiveServer, user: Client, tmp_path: Path) -> None:
    project, _ = new_project(user, project_zip(waiting_on(tmp_path / "never", wait=1)))
    http = api(server)
    started = time.monotonic()
    instance_id = http.post(f"/api/v1/triggers/{project}/nightly/fire").json()["id"]
    status = poll(lambda: user.ajax("/flowtriggerinstance", "fetchTriggerStatus", triggerinstid=instance_id), over)
    assert time.monotonic() - started >= 1.9  # one (shrunk) minute
    assert (status["triggerStatus"], status["cancellationCause"], status["flowExecutionId"]) == (
        "CANCELLED",
        "TIMEOUT",
        -1,
    )
    assert status["message"] == "timed out after 1 min waiting for landed"
    assert status["items"][0]["dependencyCancelCause"] == "TIMEOUT"
    view = http.get("/api/v1/trigger-instances", params={"project": project}).json()
    assert [(v["id"], v["status"], v["cancel_cause"]) for v in view] == [(instance_id, "CANCELLED", "TIMEOUT")]
    page = ui(server).get("/ui/triggers")
    assert f'data-instance="{instance_id}" data-status="CANCELLED"' in page.text
    assert "timed out after 1 min" in page.text
    executions = user.ajax("/manager", "fetchFlowExecutions", project=project, flow="nightly", start=0, length=10)
    assert executions["executions"] == []


def test_pause_resume_and_kill(server: LiveServer, user: Client, tmp_path: Path) -> None:
    project, project_id = new_project(user, project_zip(waiting_on(tmp_path / "never")))
    assert user.ajax("/flowtrigger", "pauseTrigger", projectId=project_id, flowId="nightly") == {"status": "success"}
    http = api(server)
    assert http.get(f"/api/v1/triggers/{project}/nightly").json()["paused"] is True
    resumed = http.post(f"/api/v1/triggers/{project}/nightly/resume").json()
    assert resumed["paused"] is False and resumed["next_fire"] > 0
    listed = user.ajax("/flowtrigger", "fetchTriggers")["items"]
    assert [t["paused"] for t in listed if t["projectName"] == project] == [False]

    first = http.post(f"/api/v1/triggers/{project}/nightly/fire").json()["id"]
    assert user.ajax("/flowtriggerinstance", "killRunningTrigger", id=first) == {}
    assert user.ajax("/flowtriggerinstance", "killRunningTrigger", id=first) == {
        "error": "the trigger doesn't exist, might already finished or cancelled"
    }
    killed = user.ajax("/flowtriggerinstance", "fetchTriggerStatus", triggerinstid=first)
    assert (killed["triggerStatus"], killed["cancellationCause"]) == ("CANCELLED", "MANUAL")

    second = http.post(f"/api/v1/triggers/{project}/nightly/fire").json()["id"]
    assert http.post(f"/api/v1/trigger-instances/{second}/kill").json()["cancel_cause"] == "MANUAL"
    assert http.post(f"/api/v1/trigger-instances/{second}/kill").status_code == 409

    third = http.post(f"/api/v1/triggers/{project}/nightly/fire").json()["id"]
    browser = ui(server)
    page = browser.get("/ui/triggers")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0] if 'name="csrf"' in page.text else ""
    form = {"csrf": csrf} if csrf else {}
    answer = browser.post(
        f"/ui/trigger-instances/{third}/kill", data=form, headers={"Origin": server.url}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    paused = browser.post(
        f"/ui/triggers/{project}/nightly/paused",
        data={**form, "paused": "true"},
        headers={"Origin": server.url},
        follow_redirects=False,
    )
    assert paused.status_code == 303, paused.text
    assert http.get(f"/api/v1/trigger-instances/{third}").json()["cancel_cause"] == "MANUAL"
    assert http.get(f"/api/v1/triggers/{project}/nightly").json()["paused"] is True


def test_deleting_the_project_removes_its_trigger_and_cancels_its_instances(
    server: LiveServer, user: Client, tmp_path: Path
) -> None:
    project, project_id = new_project(user, project_zip(waiting_on(tmp_path / "never")))
    http = api(server)
    instance_id = http.post(f"/api/v1/triggers/{project}/nightly/fire").json()["id"]
    assert user.get("/manager", project=project, delete="true").status_code in (200, 302, 303)
    assert all(t["projectName"] != project for t in user.ajax("/flowtrigger", "fetchTriggers")["items"])
    gone = user.ajax("/flowtriggerinstance", "fetchTriggerStatus", triggerinstid=instance_id)
    assert (gone["triggerStatus"], gone["cancellationCause"]) == ("CANCELLED", "MANUAL")
    assert gone["message"] == f"project deleted by {server.admin}"


def test_permissions(server: LiveServer, user: Client, tmp_path: Path) -> None:
    project, project_id = new_project(user, project_zip(waiting_on(tmp_path / "never")))
    stranger_user, password = server.add_user("stranger")
    stranger = server.login(stranger_user.name, password)
    assert stranger.ajax("/flowtrigger", "pauseTrigger", projectId=project_id, flowId="nightly") == {
        "error": "Permission denied. Need ADMIN access."
    }
    assert stranger.ajax("/flowtrigger", "fetchTrigger", projectId=project_id, flowId="nightly") == {
        "error": "Permission denied. Need READ access."
    }
    assert all(t["projectName"] != project for t in stranger.ajax("/flowtrigger", "fetchTriggers")["items"])
    instance_id = api(server).post(f"/api/v1/triggers/{project}/nightly/fire").json()["id"]
    assert stranger.ajax("/flowtriggerinstance", "killRunningTrigger", id=instance_id) == {
        "error": "no permission to kill the trigger"
    }
    assert all(i["id"] != instance_id for i in stranger.ajax("/flowtriggerinstance", "fetchRunningTriggers")["items"])


def test_a_waiting_instance_survives_a_server_restart(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'restart.db'}"
    marker = tmp_path / "ready"
    store = Store(db_url)
    first = trigger_server(tmp_path / "home", db_url, store)
    try:
        user = first.as_admin()
        project, _ = new_project(user, project_zip(waiting_on(marker)))
        instance_id = api(first).post(f"/api/v1/triggers/{project}/nightly/fire").json()["id"]
    finally:
        first.stop()
        store.close()
    marker.write_text("")
    store = Store(db_url)
    second = trigger_server(tmp_path / "home", db_url, store)
    try:
        user = second.as_admin()
        status = poll(lambda: user.ajax("/flowtriggerinstance", "fetchTriggerStatus", triggerinstid=instance_id), over)
        assert status["triggerStatus"] == "SUCCEEDED"
        assert user.wait(status["flowExecutionId"])["status"] == "SUCCEEDED"
    finally:
        second.stop()
        store.close()
