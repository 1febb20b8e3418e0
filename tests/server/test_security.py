"""Security over real HTTP: permissions on every kind of endpoint, expired sessions, login throttling,
hostile uploads (zip-slip, zip bombs, links, oversized bodies) and CSRF for cookie sessions."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.live import HELLO, HOUR_MS, Client, LiveServer, make_zip, server_settings, start_live, unique
from sudoless.server.sessions import csrf_token, load_secret
from sudoless.store import Store

COOKIE = "azkaban.browser.session.id"


@pytest.fixture
def world(live: LiveServer, admin: Client) -> dict:
    """An admin's project with a running execution and a schedule, and a user ``bob`` with no grants."""
    name = unique("sec")
    admin.create_project(name)
    admin.upload(name, make_zip({**HELLO, "nap.job": "type=command\ncommand=sleep 20\n"}))
    exec_id = admin.execute(name, "nap")
    schedule_id = admin.ajax(
        "/schedule", "scheduleCronFlow", projectName=name, flow="end", cronExpression="0 0 3 ? * *"
    )["scheduleId"]
    bob, password = live.add_user("bob")
    yield {
        "project": name,
        "exec": exec_id,
        "schedule": schedule_id,
        "bob": live.login(bob.name, password),
        "project_id": admin.ajax("/manager", "getProjectId", project=name)["projectId"],
    }
    admin.ajax("/executor", "cancelFlow", execid=exec_id)


def test_every_endpoint_checks_its_permission(live: LiveServer, admin: Client, world: dict) -> None:
    bob: Client = world["bob"]
    name, exec_id, schedule_id, project_id = (
        world["project"],
        world["exec"],
        world["schedule"],
        world["project_id"],
    )
    user = bob.user
    assert bob.ajax("/manager", "fetchprojectflows", project=name) == {
        "project": name,
        "projectId": project_id,
        "error": "Permission denied. Need READ access.",
    }
    assert (
        bob.ajax("/manager", "fetchflowgraph", project=name, flow="end")["error"]
        == "Permission denied. Need READ access."
    )
    assert (
        bob.ajax("/manager", "addPermission", project=name, name=user, group="false")["error"]
        == "Permission denied. Need ADMIN access."
    )
    assert (
        bob.ajax("/manager", "changeDescription", project=name, description="x")["error"]
        == "Permission denied. Need WRITE access."
    )
    upload = bob.upload(name, make_zip(HELLO))
    assert (upload.status_code, json.loads(upload.text)) == (
        400,
        {"error": f"Installation Failed. User '{user}' does not have write access."},
    )
    delete = bob.get("/manager", project=name, delete="true")
    assert delete.status_code == 302 and delete.headers["location"] == f"/manager?project={name}"
    assert "azkaban.failure.message=" in delete.headers["set-cookie"]
    download = bob.get("/manager", project=name, download="")
    assert download.status_code == 302 and download.headers["location"] == "/"
    assert bob.ajax("/executor", "executeFlow", project=name, flow="end") == {
        "project": name,
        "error": f"Project '{name}' doesn't exist.",
    }
    denied = f"User '{user}' doesn't have %s permissions on {name}"
    assert bob.ajax("/executor", "fetchexecflow", execid=exec_id) == {"error": denied % "READ"}
    assert bob.ajax("/executor", "fetchExecJobLogs", execid=exec_id, jobId="nap", offset=0, length=9) == {
        "error": denied % "READ"
    }
    assert bob.ajax("/executor", "cancelFlow", execid=exec_id) == {"error": denied % "EXECUTE"}
    assert bob.ajax("/executor", "getRunning", project=name, flow="nap") == {"error": denied % "EXECUTE"}
    assert bob.ajax("/executor", "reloadExecutors") == {
        "error": "Only Admins are allowed to refresh the executors",
        "status": "error",
    }
    assert bob.ajax("/schedule", "scheduleCronFlow", projectName=name, flow="end", cronExpression="0 0 1 ? * *") == {
        "status": "error",
        "message": "Permission denied. Cannot execute end",
    }
    removal = json.loads(bob.post("/schedule", {"action": "removeSched", "scheduleId": schedule_id}).text)
    assert removal == {
        "status": "error",
        "message": f"Permission denied. Cannot remove schedule with id {schedule_id}",
    }
    assert bob.ajax("/schedule", "setSla", scheduleId=schedule_id, slaEmails="") == {
        "error": f"User {user} does not have permission to set SLA for this flow."
    }
    assert bob.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end") == {"error": denied % "READ"}
    assert all(item["projectname"] != name for item in bob.ajax("/schedule", "fetchSchedules").get("items", []))
    assert name not in [p["projectName"] for p in bob.ajax("/index", "fetchuserprojects")["projects"]]
    # Nothing changed on the admin's side.
    assert admin.ajax("/manager", "fetchprojectflows", project=name)["flows"] == [
        {"flowId": "end"},
        {"flowId": "nap"},
    ]
    assert admin.ajax("/executor", "fetchexecflow", execid=exec_id)["status"] in ("PREPARING", "RUNNING")


def test_grants_open_exactly_what_they_grant(live: LiveServer, admin: Client, world: dict) -> None:
    bob: Client = world["bob"]
    name = world["project"]
    flags = {
        "permissions[admin]": "false",
        "permissions[read]": "true",
        "permissions[write]": "false",
        "permissions[execute]": "false",
        "permissions[schedule]": "false",
    }
    admin.ajax("/manager", "addPermission", project=name, name=bob.user, group="false", **flags)
    assert bob.ajax("/manager", "fetchprojectflows", project=name)["flows"] == [
        {"flowId": "end"},
        {"flowId": "nap"},
    ]
    assert bob.ajax("/executor", "fetchexecflow", execid=world["exec"])["project"] == name
    assert bob.ajax("/executor", "executeFlow", project=name, flow="end")["error"] == f"Project '{name}' doesn't exist."
    # EXECUTE through a group the user belongs to.
    group = unique("team")
    carol, password = live.add_user("carol", groups=(group,))
    admin.ajax(
        "/manager",
        "addPermission",
        project=name,
        name=group,
        group="true",
        **{**flags, "permissions[execute]": "true"},
    )
    carol_client = live.login(carol.name, password)
    run = carol_client.ajax("/executor", "executeFlow", project=name, flow="end")
    assert run["execid"] > 0
    carol_client.wait(run["execid"])
    # A global role: readall reads every project, and nothing more.
    reader, password = live.add_user("reader", roles=("readall",))
    reader_client = live.login(reader.name, password)
    assert reader_client.ajax("/manager", "fetchprojectflows", project=name)["projectId"] == world["project_id"]
    assert "error" in reader_client.ajax("/executor", "executeFlow", project=name, flow="end")


def test_expired_session_is_refused(live: LiveServer) -> None:
    live.clock.offset = -11 * HOUR_MS
    try:
        client = live.as_admin()
    finally:
        live.clock.offset = 0
    assert client.get("/index", ajax="fetchallprojects").text == '{\n  "error" : "session"\n}'
    assert "<!-- /.login -->" in client.post("/manager", {"action": "create", "name": "x", "description": "y"}).text


def test_brute_force_login_is_throttled(live: LiveServer) -> None:
    user, password = live.add_user("eve")
    http = live.http()
    for _ in range(5):
        wrong = json.loads(http.post("/", data={"action": "login", "username": user.name, "password": "guess"}).text)
        assert wrong == {"error": "Incorrect Login. Username/Password not found."}
    right = json.loads(http.post("/", data={"action": "login", "username": user.name, "password": password}).text)
    assert right["error"] == f"Too many failed logins for user '{user.name}' from 127.0.0.1; try again in 1 s."
    assert "Incorrect Login." not in right["error"]  # the azkaban client retries only on that text
    one_shot = http.post("/manager", data={"username": user.name, "password": password, "action": "create"})
    assert one_shot.text.startswith("Login error: Too many failed logins")
    live.clock.offset = 1000  # after the one-second wait the fifth failure started
    try:
        assert "session.id" in json.loads(
            http.post("/", data={"action": "login", "username": user.name, "password": password}).text
        )
    finally:
        live.clock.offset = 0


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own whose address limit is three failed logins."""
    store = Store(f"sqlite:///{tmp_path / 'strict.db'}")
    server = start_live(server_settings(tmp_path / "home", store.url), store, max_address_failures=3)
    yield server
    server.stop()
    store.close()


def test_failed_logins_from_one_address_are_throttled(strict: LiveServer) -> None:
    http = strict.http()
    for name in ("a1", "a2", "a3"):
        http.post("/", data={"action": "login", "username": name, "password": "x"})
    answer = json.loads(
        http.post("/", data={"action": "login", "username": strict.admin, "password": strict.password}).text
    )
    assert answer["error"].startswith("Too many failed logins from 127.0.0.1")


# -- hostile uploads -----------------------------------------------------------------------------------------


def _nowhere(markers: list[str], home: Path) -> list[Path]:
    """Marker files found where an escaping unpack would have written them (none is the right answer)."""
    found = []
    temp = Path(tempfile.gettempdir())
    for root, dirs, files in os.walk(temp):
        depth = len(Path(root).relative_to(temp).parts)
        if depth >= 3:
            dirs.clear()
        found += [Path(root) / f for f in files if f in markers]
    for root, _, files in os.walk(home):
        found += [Path(root) / f for f in files if f in markers]
    found += [Path("/") / m for m in markers if (Path("/") / m).exists()]
    return found


@pytest.mark.parametrize("kind", ["zip-slip", "absolute", "symlink", "zip-bomb"])
def test_hostile_archives_are_rejected(live: LiveServer, admin: Client, kind: str) -> None:
    name = unique("evil")
    admin.create_project(name)
    admin.upload(name, make_zip(HELLO))
    marker = f"sudoless-escape-{uuid.uuid4().hex}"
    if kind == "zip-slip":
        content = make_zip(
            {
                **HELLO,
                f"../{marker}": "x",
                f"../../{marker}": "x",
                f"../../../{marker}": "x",
                f"sub/../../{marker}": "x",
            }
        )
        expected = "points outside the project"
    elif kind == "absolute":
        content = make_zip({**HELLO, f"/tmp/{marker}": "x"})
        expected = "points outside the project"
    elif kind == "symlink":
        content = make_zip(HELLO, links={marker: "/etc/passwd"})
        expected = "is a symbolic link"
    else:
        content = make_zip({**HELLO, marker: b"\0" * (16 << 20)})  # 16 MB of zeros, 16 KB compressed
        assert len(content) < live.settings.max_upload_bytes
        expected = f"unpacks to more than {live.settings.project_max_bytes} bytes"
    response = admin.upload(name, content)
    assert response.status_code == 500
    body = json.loads(response.text)
    assert body["error"].startswith("Installation Failed.<br>") and expected in body["error"]
    assert body["version"] == "1"
    assert _nowhere([marker], live.settings.home) == []
    assert admin.ajax("/manager", "fetchprojectflows", project=name)["flows"] == [{"flowId": "end"}]


def test_oversized_uploads_are_cut_off(live: LiveServer, admin: Client) -> None:
    name = unique("big")
    admin.create_project(name)
    too_big = os.urandom(live.settings.max_upload_bytes + 1024)
    declared = admin.upload(name, too_big)
    assert declared.status_code == 413
    assert json.loads(declared.text) == {
        "error": f"The upload is larger than the limit of {live.settings.max_upload_bytes} bytes."
    }
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="session.id"\r\n\r\n{admin.sid}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="ajax"\r\n\r\nupload\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="project"\r\n\r\n{name}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()

    def chunks():  # no Content-Length: the limit must hold while the body streams in
        yield head
        for start in range(0, len(too_big), 64 << 10):
            yield too_big[start : start + (64 << 10)]
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        streamed = httpx.post(
            live.url + "/manager",
            content=chunks(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    except httpx.TransportError:
        pass  # the server may close the connection before the client has sent everything
    else:
        assert streamed.status_code == 413
    assert admin.ajax("/manager", "fetchprojectflows", project=name)["flows"] == []


# -- CSRF ----------------------------------------------------------------------------------------------------


def test_cookie_sessions_need_same_origin_or_token(live: LiveServer, admin: Client) -> None:
    http = live.http(cookies={COOKIE: admin.sid})
    evil = {"Origin": "http://evil.example"}

    def create(headers: dict[str, str], **extra: str) -> httpx.Response:
        return http.post(
            "/manager",
            data={"action": "create", "name": unique("c"), "description": "d", **extra},
            headers=headers,
        )

    refused = create(evil)
    assert (refused.status_code, json.loads(refused.text)) == (403, {"error": "CSRF validation failed."})
    assert create({"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert create({"Referer": "http://evil.example/page"}).status_code == 403
    # Same origin, a valid token, or no browser headers at all (scripts, the Azkaban clients): accepted.
    assert json.loads(create({"Origin": live.url}).text)["status"] == "success"
    assert json.loads(create({"Sec-Fetch-Site": "same-origin"}).text)["status"] == "success"
    token = csrf_token(load_secret(live.settings.home), admin.sid)
    assert json.loads(create({**evil, "X-CSRF-TOKEN": token}).text)["status"] == "success"
    assert create({**evil, "X-CSRF-TOKEN": "0" * 64}).status_code == 403
    assert json.loads(create({}).text)["status"] == "success"
    # A session sent as a parameter cannot be forged by another site: no check.
    param = live.http().post(
        "/manager",
        headers=evil,
        data={"session.id": admin.sid, "action": "create", "name": unique("c"), "description": "d"},
    )
    assert json.loads(param.text)["status"] == "success"
    # State-changing GETs are covered too; reads are not.
    name = unique("keep")
    admin.create_project(name)
    delete = http.get("/manager", params={"project": name, "delete": "true"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert delete.status_code == 403
    assert "projectId" in admin.ajax("/manager", "getProjectId", project=name)
    read = http.get("/manager", params={"ajax": "getProjectId", "project": name}, headers=evil)
    assert json.loads(read.text)["project"] == name
