"""The JSON API under /api/v1 over real HTTP: tokens, projects and versions, flows and locks, executions
with their options, control and logs, schedules with SLA, users; the permissions of every route, the error
shapes and the OpenAPI document."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from server.live import HELLO, LiveServer, make_zip, unique
from sudoless.server.sessions import COOKIE, csrf_token, load_secret
from support.eventually import eventually

SLEEPY = {"nap.job": "type=command\ncommand=sleep 30\n", "after.job": "type=noop\ndependencies=nap\n"}
FAILING = {"ok.job": "type=command\ncommand=echo fine\n", "bad.job": "type=command\ncommand=false\ndependencies=ok\n"}


def client(live: LiveServer, **kwargs: Any) -> httpx.Client:
    """An httpx client for the JSON API, closed with the live server's clients."""
    http = httpx.Client(base_url=live.url + "/api/v1", timeout=30, **kwargs)
    live.clients.append(http)
    return http


def api(live: LiveServer, user: str, password: str) -> httpx.Client:
    http = client(live)
    answer = http.post("/login", json={"username": user, "password": password})
    assert answer.status_code == 200, answer.text
    http.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return http


@pytest.fixture
def root(live: LiveServer) -> httpx.Client:
    return api(live, live.admin, live.password)


def new_project(http: httpx.Client, files: dict[str, str] | None = None) -> str:
    name = unique("api")
    assert http.post("/projects", json={"name": name, "description": "api test"}).status_code == 201
    upload = http.post(
        f"/projects/{name}/versions", files={"file": ("p.zip", make_zip(files or HELLO), "application/zip")}
    )
    assert upload.status_code == 201, upload.text
    return name


def wait(http: httpx.Client, exec_id: int, until: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    over = ("SUCCEEDED", "FAILED", "KILLED", "EXECUTION_STOPPED")
    return eventually(
        lambda: http.get(f"/executions/{exec_id}").json(),
        until or (lambda body: body["status"] in over),
        timeout=30,
        interval=0.1,
        what=f"execution {exec_id} over",
    )


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    return str(body["error"])


def test_tokens(live: LiveServer, root: httpx.Client) -> None:
    bare = client(live)
    assert "no token" in error(bare.get("/me"), 401)
    assert bare.get("/me").headers["www-authenticate"] == "Bearer"
    assert "unknown or expired" in error(bare.get("/me", headers={"Authorization": "Bearer nope"}), 401)
    assert "Incorrect Login" in error(bare.post("/login", json={"username": live.admin, "password": "x"}), 401)
    assert error(bare.post("/login", json={"username": live.admin}), 400) == "password: Field required"
    me = root.get("/me").json()
    assert (me["name"], me["admin"], me["permissions"]) == (live.admin, True, ["ADMIN"])
    # An AJAX session id is a token too, and the token ends with a logout.
    sid = live.as_admin().sid
    assert bare.get("/me", headers={"Authorization": f"Bearer {sid}"}).json()["name"] == live.admin
    other = api(live, live.admin, live.password)
    assert other.post("/logout").status_code == 204
    error(other.get("/me"), 401)


def test_projects_versions_and_flows(live: LiveServer, root: httpx.Client) -> None:
    name = new_project(root)
    assert error(root.post("/projects", json={"name": name, "description": "again"}), 409) == "Project already exists."
    assert "name" in error(root.post("/projects", json={"name": "9bad", "description": "x"}), 400)
    info = root.get(f"/projects/{name}").json()
    assert (info["name"], info["version"], info["created_by"]) == (name, 1, live.admin)
    assert name in [p["name"] for p in root.get("/projects").json()]
    bad = root.post(f"/projects/{name}/versions", files={"file": ("p.zip", b"not a zip", "application/zip")})
    assert "zip" in error(bad, 400).lower()
    two = root.post(
        f"/projects/{name}/versions", files={"file": ("p.zip", make_zip({**HELLO, **SLEEPY}), "application/zip")}
    )
    assert two.json() == {
        "project": name,
        "project_id": info["id"],
        "version": 2,
        "flows": ["after", "end"],
        "warnings": [],
    }
    versions = root.get(f"/projects/{name}/versions").json()
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["flow_version"] == "1.0"
    archive = root.get(f"/projects/{name}/versions/1/archive")
    assert archive.headers["content-type"] == "application/zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(archive.content)).namelist()) == sorted(HELLO)
    error(root.get(f"/projects/{name}/versions/9/archive"), 404)
    assert root.get(f"/projects/{name}/flows").json() == [
        {"id": "after", "locked": False, "lock_message": None},
        {"id": "end", "locked": False, "lock_message": None},
    ]
    graph = root.get(f"/projects/{name}/flows/end").json()
    assert [(n["id"], n["type"], n["depends_on"]) for n in graph["nodes"]] == [
        ("end", "noop", ["start"]),
        ("start", "command", []),
    ]
    assert error(root.get(f"/projects/{name}/flows/nope"), 404) == f"Flow nope not found in project {name}"
    lock = root.put(f"/projects/{name}/flows/end/lock", json={"locked": True, "message": "audit"})
    assert lock.json() == {"id": "end", "locked": True, "lock_message": "audit"}
    assert error(root.post("/executions", json={"project": name, "flow": "end"}), 409) == (
        f"Flow end for project {name} is locked."
    )
    root.put(f"/projects/{name}/flows/end/lock", json={"locked": False})
    assert root.get(f"/projects/{name}/proxy-users").json() == [live.admin]
    assert root.put(f"/projects/{name}/proxy-users/etl").json() == sorted([live.admin, "etl"])
    assert root.delete(f"/projects/{name}/proxy-users/etl").status_code == 204
    error(root.delete(f"/projects/{name}/proxy-users/etl"), 404)
    assert root.get(f"/projects/{name}/permissions").json() == [
        {"name": live.admin, "group": False, "permissions": ["ADMIN"]}
    ]
    assert root.delete(f"/projects/{name}").status_code == 204
    assert error(root.get(f"/projects/{name}"), 404) == f"Project {name} doesn't exist."


def test_executions(live: LiveServer, root: httpx.Client) -> None:
    name = new_project(root, {**HELLO, **FAILING})
    submitted = root.post(
        "/executions",
        json={
            "project": name,
            "flow": "end",
            "runtime_properties": {"ROOT": {"greeting": "api"}},
            "failure_action": "FINISH_ALL_POSSIBLE",
            "notify_failure_first": True,
        },
    )
    assert submitted.status_code == 201, submitted.text
    exec_id = submitted.json()["exec_id"]
    done = wait(root, exec_id)
    assert (done["status"], done["source"], done["options"]["failure_action"]) == (
        "SUCCEEDED",
        "adhoc",
        "FINISH_ALL_POSSIBLE",
    )
    assert {j["id"]: (j["status"], j["depends_on"]) for j in done["jobs"]} == {
        "start": ("SUCCEEDED", []),
        "end": ("SUCCEEDED", ["start"]),
    }
    log = root.get(f"/executions/{exec_id}/jobs/start/logs").json()
    assert "hello api" in log["data"] and log["complete"] and log["size"] == log["length"]
    text = root.get(f"/executions/{exec_id}/jobs/start/logs", params={"format": "text", "offset": 3, "length": 5})
    assert (text.headers["x-log-offset"], text.headers["x-log-length"]) == ("3", "5") and len(text.content) == 5
    assert "finished: SUCCEEDED" in root.get(f"/executions/{exec_id}/logs").json()["data"]
    error(root.get(f"/executions/{exec_id}/jobs/start/logs", params={"offset": -1}), 400)
    error(root.get(f"/executions/{exec_id}/jobs/nope/logs"), 404)
    error(root.get(f"/executions/{exec_id}/jobs/start/logs", params={"attempt": 3}), 404)
    # Disabled jobs, a failure, restart, and the filters of the list.
    skipped = root.post("/executions", json={"project": name, "flow": "end", "disabled": ["start"]}).json()
    assert {j["id"]: j["status"] for j in wait(root, skipped["exec_id"])["jobs"]}["start"] == "SKIPPED"
    failed = wait(root, root.post("/executions", json={"project": name, "flow": "bad"}).json()["exec_id"])
    assert failed["status"] == "FAILED"
    assert error(root.post(f"/executions/{failed['id']}/cancel"), 409).endswith("isn't running.")
    restarted = root.post(f"/executions/{failed['id']}/restart").json()
    again = wait(root, restarted["exec_id"])
    assert (again["restarted_from"], again["source"]) == (failed["id"], "restart")
    assert {j["id"]: j["status"] for j in again["jobs"]}["ok"] == "SKIPPED"
    error(root.post(f"/executions/{exec_id}/restart"), 409)  # it succeeded: nothing to restart
    page = root.get("/executions", params={"project": name, "status": ["FAILED"], "limit": 1}).json()
    assert page["total"] == 2 and [e["id"] for e in page["items"]] == [again["id"]]
    page = root.get(
        "/executions",
        params={
            "project": name,
            "flow": "end",
            "user": live.admin,
            "submitted_after": done["submit_time"],
            "offset": 1,
        },
    ).json()
    assert page["total"] == 2 and [e["id"] for e in page["items"]] == [exec_id]
    assert "limit" in error(root.get("/executions", params={"limit": 0}), 400)
    assert "status" in error(root.get("/executions", params={"status": "DONE"}), 400)
    error(root.post("/executions", json={"project": name, "flow": "nope"}), 404)
    assert "pipeline_level" in error(
        root.post("/executions", json={"project": name, "flow": "end", "concurrent_option": "pipeline"}), 400
    )
    assert "extra" in error(root.post("/executions", json={"project": name, "flow": "end", "colour": 1}), 400).lower()


def test_control_of_a_running_execution(live: LiveServer, root: httpx.Client) -> None:
    name = new_project(root, SLEEPY)
    exec_id = root.post("/executions", json={"project": name, "flow": "after"}).json()["exec_id"]
    wait(root, exec_id, until=lambda b: any(j["status"] == "RUNNING" for j in b["jobs"]))
    assert "already running" in error(root.post("/executions", json={"project": name, "flow": "after"}), 409)
    paused = root.post(f"/executions/{exec_id}/pause")
    assert paused.status_code == 202 and paused.json()["action"] == "pause"
    wait(root, exec_id, until=lambda b: b["status"] == "PAUSED")
    root.post(f"/executions/{exec_id}/resume")
    wait(root, exec_id, until=lambda b: b["status"] == "RUNNING")
    assert error(root.post(f"/executions/{exec_id}/retry-failed"), 409)
    assert root.post(f"/executions/{exec_id}/cancel").status_code == 202
    assert wait(root, exec_id)["status"] == "KILLED"
    error(root.post(f"/executions/{exec_id}/explode"), 400)
    error(root.get("/executions/987654321"), 404)


def test_schedules(live: LiveServer, root: httpx.Client) -> None:
    name = new_project(root)
    created = root.post(
        "/schedules",
        json={
            "project": name,
            "flow": "end",
            "cron": "0 30 4 ? * MON-FRI",
            "timezone": "America/Los_Angeles",
            "options": {"failure_action": "CANCEL_ALL", "disabled": ["start"]},
        },
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert (schedule["cron"], schedule["timezone"], schedule["enabled"]) == (
        "0 30 4 ? * MON-FRI",
        "America/Los_Angeles",
        True,
    )
    assert len(schedule["upcoming"]) == 5 and schedule["upcoming"][0]["at"] == schedule["next_fire"]
    assert all("T04:30:00-0" in fire["local"] for fire in schedule["upcoming"])
    assert schedule["options"]["disabled"] == ["start"] and schedule["options"]["failure_action"] == "CANCEL_ALL"
    sid = schedule["id"]
    assert (schedule["end_time"], schedule["back_execute_once"]) == (-1, True)
    daily = root.post("/schedules", json={"project": name, "flow": "end", "cron": "0 0 5 * * ?"}).json()
    assert daily["timezone"] == "UTC"  # the server's zone
    ending = root.post(
        "/schedules",
        json={
            "project": name,
            "flow": "end",
            "cron": "0 0 5 * * ?",
            "end_time": daily["upcoming"][0]["at"] + 2 * 86_400_000,
            "back_execute_once": False,
        },
    ).json()
    assert ending["back_execute_once"] is False and len(ending["upcoming"]) == 3  # none after the end
    again = root.post("/schedules", json={"project": name, "flow": "end", "cron": "0 0 5 * * ?"}).json()
    assert again["id"] == sid  # one schedule per flow, replaced in place
    error(root.post("/schedules", json={"project": name, "flow": "end", "cron": "nope"}), 400)
    error(
        root.post(
            "/schedules", json={"project": name, "flow": "end", "cron": "0 0 5 * * ?", "timezone": "Mars/Olympus"}
        ),
        400,
    )
    paused = root.post(f"/schedules/{sid}/disable").json()
    assert (paused["enabled"], paused["upcoming"]) == (False, [])
    assert root.post(f"/schedules/{sid}/enable").json()["enabled"] is True
    rules = [
        {"kind": "SUCCESS", "duration_ms": 5_400_000, "actions": ["EMAIL"]},
        {"job": "start", "kind": "FINISH", "duration_ms": 600_000, "actions": ["EMAIL", "KILL"]},
    ]
    # a webhook to a host the admin has not listed (none is, by default) is refused, and nothing is stored
    assert "list of webhook hosts" in error(
        root.put(f"/schedules/{sid}/sla", json={"rules": rules, "webhook": "http://127.0.0.1:9/hook"}), 400
    )
    sla = root.put(f"/schedules/{sid}/sla", json={"rules": rules, "emails": ["ops@example.org"]}).json()["sla"]
    assert sla["emails"] == ["ops@example.org"] and [r["job"] for r in sla["rules"]] == ["", "start"]
    assert "ghost" in error(
        root.put(
            f"/schedules/{sid}/sla",
            json={"rules": [{"job": "ghost", "kind": "FINISH", "duration_ms": 1, "actions": ["KILL"]}]},
        ),
        400,
    )
    assert root.delete(f"/schedules/{sid}/sla").json()["sla"] is None
    assert sid in [s["id"] for s in root.get("/schedules", params={"project": name}).json()]
    preview = root.get(
        "/cron/upcoming", params={"expression": "0 0 12 L * ?", "timezone": "Asia/Tokyo", "count": 3}
    ).json()
    assert [f["local"][8:10] for f in preview["upcoming"]][0] in ("28", "29", "30", "31")
    assert len(preview["upcoming"]) == 3
    assert root.delete(f"/schedules/{sid}").status_code == 204
    error(root.get(f"/schedules/{sid}"), 404)


def test_users(live: LiveServer, root: httpx.Client) -> None:
    name = new_project(root)
    user = unique("dora")
    created = root.post("/users", json={"name": user, "password": "first-pw", "email": "dora@example.org"})
    assert created.status_code == 201 and created.json()["roles"] == ["user"]
    error(root.post("/users", json={"name": user, "password": "x"}), 409)
    assert "role" in error(root.post("/users", json={"name": unique("e"), "password": "x", "roles": ["boss"]}), 400)
    assert user in [u["name"] for u in root.get("/users").json()]
    dora = api(live, user, "first-pw")
    assert "not an administrator" in error(dora.get("/users"), 403)
    assert "READ" in error(dora.get(f"/projects/{name}"), 403)
    assert name not in [p["name"] for p in dora.get("/projects").json()]
    assert root.put(f"/users/{user}/grants/{name}", json={"permissions": ["READ", "EXECUTE"]}).json() == {
        "project": name,
        "permissions": ["READ", "EXECUTE"],
    }
    assert dora.get(f"/projects/{name}").status_code == 200
    assert root.get(f"/users/{user}/grants").json() == [{"project": name, "permissions": ["READ", "EXECUTE"]}]
    assert "WRITE" in error(
        dora.post(f"/projects/{name}/versions", files={"file": ("p.zip", make_zip(HELLO), "application/zip")}), 403
    )
    assert root.put(f"/users/{user}/password", json={"password": "second-pw"}).status_code == 204
    error(dora.get("/me"), 401)  # the password change ended her sessions
    dora = api(live, user, "second-pw")
    assert root.delete(f"/users/{user}/grants/{name}").status_code == 204
    error(dora.get(f"/projects/{name}"), 403)
    assert root.delete(f"/users/{user}").status_code == 204
    error(root.get(f"/users/{user}"), 404)
    error(root.delete(f"/users/{user}"), 404)


def test_every_route_checks_its_permission(live: LiveServer, root: httpx.Client) -> None:
    name = new_project(root, {**HELLO, **SLEEPY})
    exec_id = root.post("/executions", json={"project": name, "flow": "end"}).json()["exec_id"]
    wait(root, exec_id)
    sid = root.post("/schedules", json={"project": name, "flow": "end", "cron": "0 0 3 ? * *"}).json()["id"]
    stranger, password = live.add_user("stranger")
    bob = api(live, stranger.name, password)
    calls = [
        ("GET", f"/projects/{name}", None),
        ("DELETE", f"/projects/{name}", None),
        ("GET", f"/projects/{name}/versions", None),
        ("GET", f"/projects/{name}/versions/1/archive", None),
        ("GET", f"/projects/{name}/flows", None),
        ("GET", f"/projects/{name}/flows/end", None),
        ("PUT", f"/projects/{name}/flows/end/lock", {"locked": True}),
        ("GET", f"/projects/{name}/permissions", None),
        ("GET", f"/projects/{name}/proxy-users", None),
        ("PUT", f"/projects/{name}/proxy-users/x", None),
        ("DELETE", f"/projects/{name}/proxy-users/x", None),
        ("POST", "/executions", {"project": name, "flow": "end"}),
        ("GET", f"/executions/{exec_id}", None),
        ("GET", f"/executions/{exec_id}/logs", None),
        ("GET", f"/executions/{exec_id}/jobs/start/logs", None),
        ("POST", f"/executions/{exec_id}/cancel", None),
        ("POST", f"/executions/{exec_id}/restart", None),
        ("GET", "/executions", {"project": name}),
        ("GET", "/schedules", {"project": name}),
        ("POST", "/schedules", {"project": name, "flow": "end", "cron": "0 0 4 ? * *"}),
        ("GET", f"/schedules/{sid}", None),
        ("DELETE", f"/schedules/{sid}", None),
        ("POST", f"/schedules/{sid}/disable", None),
        ("POST", f"/schedules/{sid}/enable", None),
        ("PUT", f"/schedules/{sid}/sla", {"rules": []}),
        ("DELETE", f"/schedules/{sid}/sla", None),
        ("GET", "/users", None),
        ("POST", "/users", {"name": unique("u"), "password": "p"}),
        ("PUT", f"/users/{stranger.name}/grants/{name}", {"permissions": ["READ"]}),
    ]
    for method, path, payload in calls:
        if method == "GET":
            answer = bob.request(method, path, params=payload)
        else:
            answer = bob.request(method, path, json=payload)
        assert answer.status_code == 403, (method, path, answer.text)
        assert list(answer.json()) == ["error"]
    assert root.get(f"/projects/{name}").status_code == 200  # nothing changed for the admin
    assert bob.get("/executions").json()["total"] == 0


def test_cookie_sessions_need_csrf(live: LiveServer) -> None:
    sid = live.as_admin().sid
    browser = client(live, cookies={COOKIE: sid})
    assert browser.get("/me").status_code == 200
    body = {"name": unique("c"), "description": "from a browser"}
    assert error(browser.post("/projects", json=body, headers={"Origin": "https://evil.example"}), 403) == (
        "CSRF validation failed."
    )
    token = csrf_token(load_secret(live.settings.home), sid)
    assert (
        browser.post(
            "/projects", json=body, headers={"Origin": "https://evil.example", "X-CSRF-TOKEN": token}
        ).status_code
        == 201
    )


def test_refusals_answer_before_invalid_parameters(live: LiveServer, root: httpx.Client) -> None:
    """FastAPI validates a request's parameters after solving its dependencies, so the session and the checks
    made on it refused a request before its parameters were looked at. The session is now read in the
    request's thread with the route (server/api/routing.py); a refusal still comes first."""
    bare = client(live)
    nope = {"Authorization": "Bearer nope"}
    assert "unknown or expired" in error(bare.get("/executions", params={"limit": 0}, headers=nope), 401)
    assert "unknown or expired" in error(bare.post("/projects", json={"nam": "x"}, headers=nope), 401)
    stranger, password = live.add_user("plain")
    assert "not an administrator" in error(api(live, stranger.name, password).post("/users", json={}), 403)
    browser = client(live, cookies={COOKIE: live.as_admin().sid})
    evil = {"Origin": "https://evil.example"}
    assert error(browser.post("/projects", json={"nam": "x"}, headers=evil), 403) == "CSRF validation failed."
    # with a valid session, the same requests are refused for their parameters
    assert error(root.get("/executions", params={"limit": 0}), 400).startswith("limit:")
    assert error(root.post("/users", json={}), 400).startswith("name:")
    assert error(root.get("/executions/0"), 400).startswith("exec_id:")


def test_openapi_document_and_docs(live: LiveServer) -> None:
    bare = client(live)
    spec = bare.get("/openapi.json").json()
    assert spec["servers"] == [{"url": "/api/v1"}]
    assert {
        "/login",
        "/projects",
        "/projects/{project}/versions",
        "/executions",
        "/executions/{exec_id}/logs",
        "/schedules",
        "/users/{name}/grants/{project}",
    } <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert "RUNNING" in schemas["Status"]["enum"] and "CANCEL_ALL" in schemas["FailureAction"]["enum"]
    assert set(spec["components"]["securitySchemes"]) == {"token", "cookie"}
    execute = spec["paths"]["/executions"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404", "409"} <= set(execute)
    assert execute["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    # Invalid requests are answered 400, as documented; FastAPI's 422 is not part of this API.
    assert not any("422" in op["responses"] for path in spec["paths"].values() for op in path.values())
    assert "multipart/form-data" in spec["paths"]["/projects/{project}/versions"]["post"]["requestBody"]["content"]
    page = bare.get("/docs")
    assert page.status_code == 200 and "/executions/{exec_id}/logs" in page.text
    assert "http://" not in page.text and "https://" not in page.text and "<script" not in page.text
    # The server's own root serves no CDN-based docs.
    assert live.http().get("/docs").status_code in (404, 302, 303, 307)


def test_nul_characters_are_refused(live: LiveServer, root: httpx.Client) -> None:
    """No text sudoless stores can hold a NUL (PostgreSQL refuses them): refused at the door, on every back end."""
    assert "NUL" in error(root.get("/projects/a%00b"), 400)
    assert "NUL" in error(root.get("/executions", params={"flow": "a\x00b"}), 400)
    assert "NUL" in error(root.post("/projects", json={"name": "a", "description": "x\x00y"}), 400)
    sid = live.as_admin().sid
    ajax = live.http().get("/manager", params={"session.id": sid, "ajax": "getProjectId", "project": "a\x00b"})
    assert ajax.status_code == 400 and "NUL" in ajax.json()["error"]
