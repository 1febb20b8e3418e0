"""``/manager`` and ``/index``: create, upload with versions, flows, graphs, jobs, permissions, project log,
download, delete (reference §2.1-§2.2)."""

from __future__ import annotations

import io
import json
import re
import zipfile

import httpx

from server.live import HELLO, Client, LiveServer, example_zip, make_zip, unique

# -- create --------------------------------------------------------------------------------------------------


def test_create_project(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    response = admin.post("/manager", {"action": "create", "name": name, "description": "first"})
    assert json.loads(response.text) == {
        "status": "success",
        "path": f"manager?project={name}",
        "action": "redirect",
    }
    assert "application/json" not in response.headers.get("content-type", "")  # Azkaban's plain writer
    again = admin.post("/manager", {"action": "create", "name": name, "description": "again"})
    assert json.loads(again.text) == {"status": "error", "message": "Project already exists."}
    perms = admin.ajax("/manager", "getPermissions", project=name)
    assert perms["permissions"] == [{"username": admin.user, "permission": ["ADMIN"]}]


def test_create_project_errors(live: LiveServer, admin: Client) -> None:
    cases = [
        ({"name": "", "description": "d"}, "Project name cannot be empty."),
        ({"name": unique("p")}, "Description cannot be empty."),
        (
            {"name": "1abc", "description": "d"},
            "Project names must start with a letter, followed by any number of letters, digits, '-' or '_'.",
        ),
        (
            {"name": "a b", "description": "d"},
            "Project names must start with a letter, followed by any number of letters, digits, '-' or '_'.",
        ),
    ]
    for data, message in cases:
        response = admin.post("/manager", {"action": "create", **data})
        assert json.loads(response.text) == {"status": "error", "message": message}


# -- upload --------------------------------------------------------------------------------------------------


def test_upload_versions_and_flows(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    first = admin.upload(name, make_zip(HELLO))
    assert first.status_code == 200
    project_id = admin.ajax("/manager", "getProjectId", project=name)["projectId"]
    assert json.loads(first.text) == {"projectId": str(project_id), "version": "1"}
    second = admin.upload(name, make_zip({**HELLO, "extra.job": "type=noop\n"}))
    assert json.loads(second.text) == {"projectId": str(project_id), "version": "2"}
    flows = admin.ajax("/manager", "fetchprojectflows", project=name)
    assert flows == {
        "project": name,
        "projectId": project_id,
        "flows": [{"flowId": "end"}, {"flowId": "extra"}],
    }


def test_invalid_upload_keeps_the_previous_version(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    admin.upload(name, make_zip(HELLO))
    bad = admin.upload(name, make_zip({"a.job": "type=command\ncommand=true\ndependencies=nothere\n"}))
    assert bad.status_code == 500
    body = json.loads(bad.text)
    assert body["version"] == "1" and body["projectId"] == str(
        admin.ajax("/manager", "getProjectId", project=name)["projectId"]
    )
    assert body["error"].startswith("Validator Directory Flow reports errors:<br><br>")
    assert "nothere" in body["error"]
    assert admin.ajax("/manager", "fetchprojectflows", project=name)["flows"] == [{"flowId": "end"}]
    execid = admin.execute(name, "end")
    assert admin.wait(execid)["status"] == "SUCCEEDED"


def test_upload_errors(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    zipped = make_zip(HELLO)
    no_project = admin.http.post(
        "/manager",
        data={"session.id": admin.sid, "ajax": "upload"},
        files={"file": ("p.zip", zipped, "application/zip")},
    )
    assert (no_project.status_code, json.loads(no_project.text)) == (400, {"error": "No project name found."})
    missing = admin.upload("nosuch" + name, zipped)
    assert missing.status_code == 410
    assert json.loads(missing.text) == {"error": f"Installation Failed. Project 'nosuch{name} doesn't exist."}
    extension = admin.upload(name, zipped, filename="xxx.ip")
    assert (extension.status_code, json.loads(extension.text)) == (
        400,
        {"error": "File extension 'ip' unrecognized."},
    )
    kind = admin.upload(name, zipped, content_type="text/plain")
    assert (kind.status_code, json.loads(kind.text)) == (
        400,
        {"error": "Content type 'text/plain' does not match extension 'zip'"},
    )
    garbage = admin.upload(name, b"not a zip at all")
    assert garbage.status_code == 500 and json.loads(garbage.text)["error"].startswith("Installation Failed.<br>")


def test_chunked_upload_with_a_leading_crlf(live: LiveServer, admin: Client) -> None:
    """The ``azkaban`` client streams its multipart body (no Content-Length) and starts it with CRLF."""
    name = unique("p")
    admin.create_project(name)
    boundary = "sudolessboundary"
    parts = [("ajax", "upload"), ("project", name), ("session.id", admin.sid)]
    body = b"\r\n"
    for key, value in parts:
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n').encode()
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.zip"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        + make_zip(HELLO)
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def stream():  # a generator makes httpx send Transfer-Encoding: chunked
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = httpx.post(
        live.url + "/manager",
        content=stream(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 200, response.text
    assert json.loads(response.text)["version"] == "1"


# -- reading a project ---------------------------------------------------------------------------------------


def test_flow_graph_jobs_and_details(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    files = {
        "a.job": "type=command\ncommand=true\n",
        "b.job": "type=command\ncommand=true\ndependencies=a\n",
        "c.job": "type=noop\ndependencies=a\n",
        "d.job": "type=noop\ndependencies=c,b\n",
    }
    admin.upload(name, make_zip(files))
    project_id = admin.ajax("/manager", "getProjectId", project=name)["projectId"]
    graph = admin.ajax("/manager", "fetchflowgraph", project=name, flow="d")
    assert graph == {
        "project": name,
        "projectId": project_id,
        "flow": "d",
        "nodes": [
            {"id": "a", "type": "command"},
            {"id": "b", "type": "command", "in": ["a"]},
            {"id": "c", "type": "noop", "in": ["a"]},
            {"id": "d", "type": "noop", "in": ["b", "c"]},
        ],
    }
    jobs = admin.ajax("/manager", "fetchflowjobs", project=name, flow="d")
    assert jobs["flowId"] == "d" and jobs["isLocked"] is False
    assert [(n["id"], n["level"]) for n in jobs["nodes"]] == [("a", 0), ("b", 1), ("c", 1), ("d", 2)]
    assert jobs["nodes"][0] == {"id": "a", "dependencies": [], "dependents": ["b", "c"], "level": 0}
    details = admin.ajax("/manager", "fetchflowdetails", project=name, flow="d")
    assert sorted(details["jobTypes"]) == ["command", "noop"]
    node = admin.ajax("/manager", "fetchflownodedata", project=name, flow="d", node="b")
    assert node["id"] == "b" and node["type"] == "command" and node["props"]["dependencies"] == "a"
    missing = admin.ajax("/manager", "fetchflowgraph", project=name, flow="zz")
    assert missing["error"] == f"Flow zz not found in project {name}"
    # Azkaban answers fetchflowjobs for an unknown flow with a NullPointerException: the client expects 500.
    assert admin.get("/manager", ajax="fetchflowjobs", project=name, flow="zz").status_code == 500


def test_embedded_flow_graph(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    assert admin.upload(name, example_zip("f2-embedded")).status_code == 200
    flows = admin.ajax("/manager", "fetchprojectflows", project=name)["flows"]
    assert flows == [{"flowId": "embedded_flow"}]  # embedded flows are not listed
    graph = admin.ajax("/manager", "fetchflowgraph", project=name, flow="embedded_flow")
    sub = next(n for n in graph["nodes"] if n["id"] == "embedded_flow1")
    assert sub["type"] == "flow" and sub["flowId"] == sub["flow"] == "embedded_flow:embedded_flow1"
    assert [n["id"] for n in sub["nodes"]] == ["embedded_flow2", "shell_bash", "shell_echo", "shell_end"]
    inner = sub["nodes"][0]
    assert inner["in"] == ["shell_bash"] and [n["id"] for n in inner["nodes"]] == ["shell_end", "shell_pwd"]


def test_unknown_project_and_command(live: LiveServer, admin: Client) -> None:
    assert admin.ajax("/manager", "fetchprojectflows", project="nosuchproject") == {
        "project": "nosuchproject",
        "error": "Project nosuchproject doesn't exist.",
    }
    name = unique("p")
    admin.create_project(name)
    body = admin.ajax("/manager", "frobnicate", project=name)
    assert body["error"] == "Cannot execute command frobnicate" and body["project"] == name
    page = admin.get("/manager", ajax="fetchprojectflows")  # no project: Azkaban's HTML page
    assert "No project set." in page.text


def test_permissions_add_change_remove(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    user, _ = live.add_user("dave")
    flags = {
        "permissions[admin]": "False",
        "permissions[read]": "True",
        "permissions[write]": "False",
        "permissions[execute]": "True",
        "permissions[schedule]": "False",
    }
    assert admin.ajax("/manager", "addPermission", project=name, name=user.name, group="false", **flags)["projectId"]
    again = admin.ajax("/manager", "addPermission", project=name, name=user.name, group="false", **flags)
    assert again["error"] == "User permission already exists."
    invalid = admin.ajax("/manager", "addPermission", project=name, name="ghost" + user.name, group="false", **flags)
    assert invalid["error"] == "User is invalid."
    assert "error" not in admin.ajax("/manager", "addPermission", project=name, name="team", group="True", **flags)
    perms = admin.ajax("/manager", "getPermissions", project=name)["permissions"]
    assert {"username": user.name, "permission": ["READ", "EXECUTE"]} in perms
    groups = admin.ajax("/manager", "getGroupPermissions", project=name)["permissions"]
    assert groups == [{"username": "team", "permission": ["READ", "EXECUTE"]}]
    admin.ajax(
        "/manager",
        "changePermission",
        project=name,
        name=user.name,
        group="false",
        **{**flags, "permissions[admin]": "true"},
    )
    assert {"username": user.name, "permission": ["ADMIN"]} in admin.ajax("/manager", "getPermissions", project=name)[
        "permissions"
    ]
    remove = {k: "False" for k in flags}
    admin.ajax("/manager", "changePermission", project=name, name="team", group="True", **remove)
    assert admin.ajax("/manager", "getGroupPermissions", project=name)["permissions"] == []
    gone = admin.ajax("/manager", "changePermission", project=name, name="team", group="True", **remove)
    assert gone["error"] == "Permissions for team cannot be found."
    log = admin.ajax("/manager", "fetchProjectLogs", project=name)
    assert log["columns"] == ["user", "time", "type", "message"]
    types = [row[2] for row in log["logData"]]
    assert types[-1] == "CREATED" and "USER_PERMISSION" in types and "GROUP_PERMISSION" in types
    assert all(row[0] == admin.user and isinstance(row[1], int) for row in log["logData"])


def test_project_lists(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name, description="listed <here>")
    everyone = admin.ajax("/index", "fetchallprojects")["projects"]
    entry = next(p for p in everyone if p["projectName"] == name)
    assert set(entry) == {
        "projectId",
        "projectName",
        "createdBy",
        "createdTime",
        "userPermissions",
        "groupPermissions",
    }
    assert entry["userPermissions"] == [{"first": admin.user, "second": {"types": ["ADMIN"]}}]
    mine = admin.ajax("/index", "fetchuserprojects")["projects"]
    assert name in [p["projectName"] for p in mine]
    assert admin.ajax("/index", "fetchuserprojects", user="nobody-at-all") == {"projects": []}
    page = admin.get("/index", all="").text
    # What azkaban-cli's fetch_projects scrapes: div.project-info, the first link, the date paragraph.
    block = re.search(r'<div class="project-info">\s*<h4><a href="[^"]*">' + name + r"</a></h4>.*?</div>", page, re.S)
    assert block is not None
    last_modified = re.search(r'<p class="project-last-modified">(.*?)</p>', block.group(0), re.S).group(1)
    text = re.sub(r"<[^>]+>", "", last_modified)
    assert text.splitlines()[-1][:-1] == admin.user
    assert "listed &lt;here&gt;" in block.group(0)


def test_download_and_delete(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    content = make_zip(HELLO)
    admin.upload(name, content, filename="hello.zip")
    admin.upload(name, make_zip({"only.job": "type=noop\n"}))
    first = admin.get("/manager", project=name, download="", version="1")
    assert first.status_code == 200 and first.content == content
    assert first.headers["content-type"] == "application/zip"
    assert first.headers["content-disposition"] == 'attachment; filename="hello.zip"'
    assert first.headers["version"] == "1" and first.headers["projectId"]
    latest = admin.get("/manager", project=name, download="")
    assert latest.headers["version"] == "2"
    assert zipfile.ZipFile(io.BytesIO(latest.content)).namelist() == ["only.job"]
    scheduled = admin.ajax(
        "/schedule",
        "scheduleCronFlow",
        via="POST",
        projectName=name,
        flow="only",
        cronExpression="0 0 3 ? * *",
    )
    assert scheduled["status"] == "success"
    # Delete: a GET, answered by a redirect whose success message the next page shows.
    admin.http.cookies.set("azkaban.browser.session.id", admin.sid)  # the redirects carry no parameters
    deleted = admin.http.get("/manager", params={"project": name, "delete": "true"}, follow_redirects=True)
    assert [r.status_code for r in deleted.history] == [302, 302]
    assert f"Project '{name}' was successfully deleted and associated schedules are removed." in deleted.text
    assert admin.ajax("/manager", "fetchprojectflows", project=name)["error"] == f"Project {name} doesn't exist."
    assert all(s["projectname"] != name for s in admin.ajax("/schedule", "fetchSchedules").get("items", []))
    # The name can be used again, for a new project.
    admin.create_project(name)
    assert admin.ajax("/manager", "fetchprojectflows", project=name)["flows"] == []


def test_delete_missing_project_redirects_with_failure(live: LiveServer, admin: Client) -> None:
    admin.http.cookies.set("azkaban.browser.session.id", admin.sid)
    response = admin.http.get("/manager", params={"project": "nosuch-x", "delete": "1"}, follow_redirects=True)
    assert "Project nosuch-x doesn't exist." in response.text
    assert "azkaban.failure.message" not in admin.http.cookies  # shown once, then cleared
