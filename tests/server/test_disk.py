"""The quota per project version over real HTTP: a zip bomb is refused at upload, AJAX and /api/v1 alike,
with one message naming the quota, and nothing is stored (the live server's quota is 4 MiB)."""

from __future__ import annotations

import json

import httpx

from server.live import HELLO, Client, LiveServer, make_zip, unique

QUOTA_MESSAGE = "the quota per project version; make the project smaller, or have an admin raise project_max_mb"


def bomb(live: LiveServer) -> bytes:
    """A valid project plus zeros worth twice the quota, a few KB on the wire."""
    content = make_zip({**HELLO, "zeros.bin": b"\0" * (2 * live.settings.project_max_bytes)})
    assert len(content) < 64_000 < live.settings.max_upload_bytes
    return content


def _nothing_stored(live: LiveServer, admin: Client, name: str) -> None:
    assert admin.ajax("/manager", "fetchprojectflows", project=name)["flows"] == [{"flowId": "end"}]
    project_id = live.store.projects.id_of(name)
    assert live.store.projects.current_version(project_id) == 1
    assert not list((live.settings.data_dir / "projects").glob(f"{project_id}.2.*"))


def test_ajax_upload_refuses_a_zip_bomb(live: LiveServer, admin: Client) -> None:
    name = unique("bomb")
    admin.create_project(name)
    assert admin.upload(name, make_zip(HELLO)).status_code == 200
    response = admin.upload(name, bomb(live))
    assert response.status_code == 500
    body = json.loads(response.text)
    assert body["error"] == (
        f"Installation Failed.<br>project.zip: unpacks to more than "
        f"{live.settings.project_max_bytes} bytes, {QUOTA_MESSAGE} / project_max_files "
        "(SUDOLESS_PROJECT_MAX_MB, SUDOLESS_PROJECT_MAX_FILES)"
    )
    _nothing_stored(live, admin, name)


def test_api_upload_refuses_a_zip_bomb(live: LiveServer, admin: Client) -> None:
    name = unique("bomb")
    admin.create_project(name)
    assert admin.upload(name, make_zip(HELLO)).status_code == 200
    with httpx.Client(base_url=live.url + "/api/v1", timeout=30) as api:
        login = api.post("/login", json={"username": live.admin, "password": live.password})
        api.headers["Authorization"] = f"Bearer {login.json()['token']}"
        response = api.post(f"/projects/{name}/versions", files={"file": ("p.zip", bomb(live), "application/zip")})
    assert response.status_code == 400, response.text
    assert QUOTA_MESSAGE in response.json()["error"]
    _nothing_stored(live, admin, name)
