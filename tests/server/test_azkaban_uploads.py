"""Uploads Azkaban accepts are accepted here too, over real HTTP: JVM sizes given by a variable, a project
without flows (with upload's ``warn``), and no answer ever shows where the upload was unpacked."""

from __future__ import annotations

import json
import tempfile

from server.live import Client, LiveServer, make_zip, unique
from server.test_api import api


def test_a_jvm_size_given_by_a_variable_is_checked_when_the_job_runs(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    files = {"mem.properties": "heap=512M\n", "j.job": "type=noop\nXmx=${heap}\nXms=${heap}\n"}
    response = admin.upload(name, make_zip(files))
    assert response.status_code == 200, response.text
    assert "warn" not in json.loads(response.text)
    assert admin.wait(admin.execute(name, "j"))["status"] == "SUCCEEDED"
    literal = admin.upload(name, make_zip({"j.job": "type=noop\nXmx=lots\n"}))
    assert literal.status_code == 500 and "Xmx value 'lots'" in json.loads(literal.text)["error"]


def test_a_project_without_flows_is_stored_with_a_warning(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    response = admin.upload(name, make_zip({"README.txt": "shared files only\n", "lib/data.csv": "a,b\n"}))
    assert response.status_code == 200, response.text
    body = json.loads(response.text)
    assert body["version"] == "1"
    assert body["warn"].startswith("Validator Directory Flow reports warnings:<br><br>no flows found")
    assert admin.ajax("/manager", "fetchprojectflows", project=name)["flows"] == []
    two = admin.upload(name, make_zip({"p.project": "azkaban-flow-version: 2.0\n"}))
    assert two.status_code == 200 and json.loads(two.text)["version"] == "2"


def test_no_error_shows_a_temporary_path(live: LiveServer, admin: Client) -> None:
    name = unique("p")
    admin.create_project(name)
    bad = [
        make_zip({"a.job": "type=noop\ndependencies=gone\n"}),
        make_zip({"x/p.project": "azkaban-flow-version: 3.0\n"}),
        make_zip({"p.project": "azkaban-flow-version: 2.0\n", "f.flow": "nodes:\n  - name: a\n    tpye: x\n"}),
        make_zip({"../escape.job": "type=noop\n"}),
        b"PK\x03\x04 broken",
    ]
    temp = tempfile.gettempdir()
    for content in bad:
        response = admin.upload(name, content, filename="my project.zip")
        error = json.loads(response.text)["error"]
        assert response.status_code == 500 and error
        assert "sudoless-upload" not in error and f"{temp}/" not in error, error


def test_the_json_api_upload_lists_the_warnings(live: LiveServer) -> None:
    root = api(live, live.admin, live.password)
    name = unique("p")
    assert root.post("/projects", json={"name": name, "description": "no flows"}).status_code == 201
    empty = root.post(
        f"/projects/{name}/versions", files={"file": ("p.zip", make_zip({"README": "x\n"}), "application/zip")}
    )
    assert empty.status_code == 201, empty.text
    body = empty.json()
    assert (body["version"], body["flows"]) == (1, []) and "no flows found" in body["warnings"][0]
