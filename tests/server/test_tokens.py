"""API tokens over real HTTP: made with a session, shown once, stored as a digest, accepted as a bearer token
on /api/v1 and as ``session.id`` on the AJAX API, limited to their scopes and to their user's rights there,
and refused once revoked or expired."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
import sqlalchemy as sa

from server.live import DAY_MS, LiveServer
from server.test_api import api, client, error, new_project
from sudoless.store import tables as t


@pytest.fixture
def root(live: LiveServer) -> httpx.Client:
    return api(live, live.admin, live.password)


def bearer(live: LiveServer, token: str) -> httpx.Client:
    return client(live, headers={"Authorization": f"Bearer {token}"})


def make_token(http: httpx.Client, name: str, scopes: dict[str, list[str]], days: float = 1) -> str:
    answer = http.post("/tokens", json={"name": name, "scopes": scopes, "days": days})
    assert answer.status_code == 201, answer.text
    token = answer.json()["token"]
    assert token.startswith("sdl_") and len(token) == 4 + 43
    return str(token)


def ajax(live: LiveServer, path: str, token: str, method: str = "GET", **params: str) -> dict[str, object]:
    http = live.http()
    if method == "GET":
        answer = http.get(path, params={"session.id": token, **params})
    else:
        answer = http.post(path, data={"session.id": token, **params})
    assert answer.status_code == 200, answer.text
    return json.loads(answer.text)  # type: ignore[no-any-return]


def test_scopes_hold_on_both_apis(live: LiveServer, root: httpx.Client) -> None:
    owner, password = live.add_user("tokowner")
    http = api(live, owner.name, password)
    mine = new_project(http)  # the owner is ADMIN of it
    theirs = new_project(root)
    reader = make_token(http, "reader", {mine: ["READ"]})
    listed = http.get("/tokens").json()
    assert [(t["name"], t["scopes"], "token" in t) for t in listed] == [("reader", {mine: ["READ"]}, False)]

    tok = bearer(live, reader)
    assert tok.get(f"/projects/{mine}").status_code == 200
    assert tok.get(f"/projects/{theirs}").status_code == 403
    assert "EXECUTE" in error(tok.post("/executions", json={"project": mine, "flow": "end"}), 403)
    # The owner may upload (WRITE) and administer the project; the token may not.
    assert (
        tok.post(f"/projects/{mine}/versions", files={"file": ("p.zip", b"PK", "application/zip")}).status_code == 403
    )
    assert tok.delete(f"/projects/{mine}").status_code == 403
    assert "cannot manage tokens" in error(tok.post("/tokens", json={"name": "x", "scopes": {"*": ["READ"]}}), 403)
    me = tok.get("/me").json()
    assert (me["name"], me["admin"]) == (owner.name, False)

    flows = ajax(live, "/manager", reader, ajax="fetchprojectflows", project=mine)
    assert [f["flowId"] for f in flows["flows"]] == ["end"]  # type: ignore[index]
    refused = ajax(live, "/executor", reader, "POST", ajax="executeFlow", project=mine, flow="end")
    assert "execid" not in refused and "error" in refused, refused
    assert "error" in ajax(live, "/manager", reader, ajax="fetchprojectflows", project=theirs)

    runner = make_token(http, "runner", {mine: ["READ", "EXECUTE"]})
    assert bearer(live, runner).post("/executions", json={"project": mine, "flow": "end"}).status_code == 201
    started = ajax(
        live, "/executor", runner, "POST", ajax="executeFlow", project=mine, flow="end", concurrentOption="concurrent"
    )
    assert int(started["execid"]) > 0, started  # type: ignore[call-overload]
    refused = ajax(
        live,
        "/schedule",
        runner,
        "POST",
        ajax="scheduleCronFlow",
        projectName=mine,
        flow="end",
        cronExpression="0 0 1 * * ?",
    )
    assert refused.get("status") != "success", refused
    scheduler = make_token(http, "scheduler", {mine: ["SCHEDULE"]})
    scheduled = ajax(
        live,
        "/schedule",
        scheduler,
        "POST",
        ajax="scheduleCronFlow",
        projectName=mine,
        flow="end",
        cronExpression="0 0 1 * * ?",
    )
    assert scheduled.get("status") == "success", scheduled


def test_a_token_never_exceeds_its_user(live: LiveServer, root: httpx.Client) -> None:
    project = new_project(root)
    reader, password = live.add_user("tokreader")
    assert root.put(f"/users/{reader.name}/grants/{project}", json={"permissions": ["READ"]}).status_code == 200
    http = api(live, reader.name, password)
    assert "EXECUTE" in error(http.post("/tokens", json={"name": "run", "scopes": {project: ["EXECUTE"]}}), 403)
    assert error(http.post("/tokens", json={"name": "w", "scopes": {project: ["WRITE"]}}), 400)
    token = make_token(http, "read", {project: ["READ"]})
    assert bearer(live, token).get(f"/projects/{project}").status_code == 200
    # A grant taken from the user is taken from the token at once.
    assert root.delete(f"/users/{reader.name}/grants/{project}").status_code == 204
    assert bearer(live, token).get(f"/projects/{project}").status_code == 403
    # An administrator's token for every project reads them, but is no administrator.
    everything = make_token(root, f"all-{reader.name}", {"*": ["READ"]})
    assert bearer(live, everything).get(f"/projects/{project}").status_code == 200
    assert "not an administrator" in error(bearer(live, everything).get("/users"), 403)
    assert bearer(live, everything).get("/me").json()["admin"] is False


def test_revoked_and_expired_tokens_are_refused_and_only_digests_are_stored(live: LiveServer) -> None:
    user, password = live.add_user("toklife")
    http = api(live, user.name, password)
    project = new_project(http)
    short = make_token(http, "short", {project: ["READ"]}, days=1)
    doomed = make_token(http, "doomed", {project: ["READ"]}, days=30)
    assert bearer(live, doomed).get("/me").status_code == 200
    with live.store.read() as conn:
        rows = conn.execute(sa.select(t.api_tokens).where(t.api_tokens.c.username == user.name)).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert short not in stored and doomed not in stored and short[4:] not in stored
    assert {row.token_key for row in rows} == {hashlib.sha256(x.encode()).hexdigest() for x in (short, doomed)}

    assert http.delete("/tokens/doomed").status_code == 204
    assert "unknown or expired" in error(bearer(live, doomed).get("/me"), 401)
    assert ajax(live, "/manager", doomed, ajax="fetchprojectflows", project=project) == {"error": "session"}
    assert http.delete("/tokens/doomed").status_code == 404

    live.clock.offset = 2 * DAY_MS
    try:
        assert "unknown or expired" in error(bearer(live, short).get("/me"), 401)
    finally:
        live.clock.offset = 0
    assert bearer(live, short).get("/me").status_code == 200
