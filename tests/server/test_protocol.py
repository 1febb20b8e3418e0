"""HTTP conventions every endpoint shares (reference §1): login, sessions, the answers clients detect when
a session is missing or expired, Jackson's pretty printing, parameters and errors."""

from __future__ import annotations

import json

import httpx
import pytest

from server.live import HOUR_MS, Client, LiveServer
from sudoless.server.responses import escape_html, pretty_json

LOGIN_SCRIPT_LINE = '  <script type="text/javascript" src="/js/azkaban/view/login.js"></script>'


# -- rendering -----------------------------------------------------------------------------------------------


def test_pretty_json_matches_jacksons_default_pretty_printer() -> None:
    value = {
        "a": 1,
        "s": "x",
        "empty": {},
        "none": [],
        "list": ["p", "q"],
        "objs": [{"k": True}, {"n": None}],
        "nested": {"inner": {"z": -1}},
    }
    assert pretty_json(value) == (
        "{\n"
        '  "a" : 1,\n'
        '  "s" : "x",\n'
        '  "empty" : { },\n'
        '  "none" : [ ],\n'
        '  "list" : [ "p", "q" ],\n'
        '  "objs" : [ {\n'
        '    "k" : true\n'
        "  }, {\n"
        '    "n" : null\n'
        "  } ],\n"
        '  "nested" : {\n'
        '    "inner" : {\n'
        '      "z" : -1\n'
        "    }\n"
        "  }\n"
        "}"
    )
    assert pretty_json({"error": "session"}) == '{\n  "error" : "session"\n}'
    assert pretty_json({}) == "{ }"


def test_escape_html_is_commons_lang_escape_html() -> None:
    assert escape_html("a < b & \"c\" > 'd' é ☃") == "a &lt; b &amp; &quot;c&quot; &gt; 'd' &eacute; &#9731;"


# -- login ---------------------------------------------------------------------------------------------------


def test_login_returns_session_id_and_cookie(live: LiveServer) -> None:
    http = live.http()
    response = http.post("/", data={"action": "login", "username": live.admin, "password": live.password})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.text)
    assert set(body) == {"status", "session.id"}
    assert body["status"] == "success"
    assert response.text.startswith('{\n  "status" : "success",\n  "session.id" : "')
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"azkaban.browser.session.id={body['session.id']};")
    assert "Path=/" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    # The cookie alone authenticates (the azkaban-client package relies on it).
    assert json.loads(http.get("/index", params={"ajax": "fetchallprojects"}).text).keys() == {"projects"}


@pytest.mark.parametrize("path", ["/", "/index", "/manager", "/executor", "/schedule"])
def test_login_is_accepted_on_every_servlet(live: LiveServer, path: str) -> None:
    response = live.http().post(path, data={"action": "login", "username": live.admin, "password": live.password})
    assert json.loads(response.text)["status"] == "success"


def test_login_errors(live: LiveServer) -> None:
    http = live.http()
    user, _ = live.add_user("carol")
    cases = [
        ({"action": "login", "username": user.name}, "Incorrect Login."),
        ({"action": "login", "username": user.name, "password": ""}, "Incorrect Login. Password is empty."),
        (
            {"action": "login", "username": user.name, "password": "wrong"},
            "Incorrect Login. Username/Password not found.",
        ),
        (
            {"action": "login", "username": "nobody-" + user.name, "password": "x"},
            "Incorrect Login. Username/Password not found.",
        ),
    ]
    for data, error in cases:
        response = http.post("/", data=data)
        assert response.status_code == 200
        assert json.loads(response.text) == {"error": error}
        assert "set-cookie" not in response.headers


def test_password_in_query_string_is_refused(live: LiveServer) -> None:
    response = live.http().post(
        "/", params={"password": live.password}, data={"action": "login", "username": live.admin}
    )
    assert response.text == "Login error. Must pass username and password in request body"


def test_one_shot_credentials_on_a_post(live: LiveServer) -> None:
    http = live.http()
    body = json.loads(http.post("/index", data={"username": live.admin, "password": live.password}).text or "{}")
    assert body == {}  # POST /index does nothing, but it was authenticated (no login page)
    answer = http.post("/manager", data={"username": live.admin, "password": "wrong", "action": "create"})
    assert answer.text == "Login error: Incorrect Login. Username/Password not found."


# -- missing and expired sessions (reference §1.3) -----------------------------------------------------------


def _expired_session(live: LiveServer) -> str:
    """A session created eleven hours ago: past Azkaban's ten-hour time to live."""
    live.clock.offset = -11 * HOUR_MS
    try:
        return live.as_admin().sid
    finally:
        live.clock.offset = 0


@pytest.mark.parametrize("kind", ["none", "unknown", "expired"])
def test_answers_without_a_valid_session(live: LiveServer, kind: str) -> None:
    sid = {"none": "", "unknown": "f" * 43, "expired": _expired_session(live)}[kind]
    http = live.http()
    base = {"session.id": sid} if sid else {}
    ajax_get = http.get("/manager", params={**base, "ajax": "fetchprojectflows", "project": "x"})
    assert ajax_get.status_code == 200
    assert ajax_get.text == '{\n  "error" : "session"\n}'
    page = http.get("/index", params=base)
    assert "<!-- /.login -->" in page.text and LOGIN_SCRIPT_LINE in page.text.splitlines()
    form_post = http.post("/manager", data={**base, "action": "create", "name": "x", "description": "y"})
    assert "<!-- /.login -->" in form_post.text
    xhr = http.post(
        "/executor",
        data={**base, "ajax": "fetchexecflow", "execid": "1"},
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert json.loads(xhr.text) == {
        "status": "error",
        "message": "Invalid Session. Need to re-login",
        "action": "login",
    }
    assert " : " not in xhr.text  # compact, unlike the other answers
    multipart = http.post(
        "/manager",
        data={**base, "ajax": "upload", "project": "x"},
        files={"file": ("p.zip", b"PK", "application/zip")},
    )
    assert multipart.text == "Login error. Need username and password"


def test_session_check_the_azkaban_client_uses(live: LiveServer, admin: Client) -> None:
    valid = live.http().post("/manager", data={"session.id": admin.sid})
    assert valid.status_code == 200 and valid.text == ""
    invalid = live.http().post("/manager", data={"session.id": "nope"})
    assert "<!-- /.login -->" in invalid.text


def test_a_stale_cookie_wins_over_a_valid_parameter(live: LiveServer, admin: Client) -> None:
    http = live.http(cookies={"azkaban.browser.session.id": "stale"})
    response = http.get("/index", params={"ajax": "fetchallprojects", "session.id": admin.sid})
    assert response.text == '{\n  "error" : "session"\n}'


def test_sessions_expire_after_inactivity_not_after_creation(live: LiveServer) -> None:
    live.clock.offset = -9 * HOUR_MS
    try:
        client = live.as_admin()
        live.clock.offset = -1 * HOUR_MS  # eight hours later: used again, which extends it
        assert "projects" in client.ajax("/index", "fetchallprojects")
    finally:
        live.clock.offset = 0
    assert "projects" in client.ajax("/index", "fetchallprojects")  # one hour after the last use


def test_logout_ends_the_session(live: LiveServer, admin: Client) -> None:
    response = admin.get("/index", logout="")
    assert response.status_code == 302 and response.headers["location"] == "/"
    assert admin.get("/index", ajax="fetchallprojects").text == '{\n  "error" : "session"\n}'


# -- routing, parameters, errors -----------------------------------------------------------------------------


def test_root_redirects_to_index(live: LiveServer, admin: Client) -> None:
    response = admin.get("/")
    assert response.status_code == 302 and response.headers["location"] == "/index"


def test_query_and_body_parameters_are_merged(live: LiveServer, admin: Client) -> None:
    response = admin.http.post("/index", params={"ajax": "fetchallprojects"}, data={"session.id": admin.sid})
    assert response.text == ""  # /index ajax is GET-only; a POST answers an empty 200
    merged = admin.http.post(
        "/manager",
        params={"action": "create", "name": "9bad"},
        data={"session.id": admin.sid, "description": "d"},
    )
    assert json.loads(merged.text)["message"].startswith("Project names must start with a letter")


def test_missing_or_malformed_integer_parameter_is_a_500(live: LiveServer, admin: Client) -> None:
    missing = admin.get("/executor", ajax="fetchexecflow")
    assert missing.status_code == 500 and "Missing required parameter &#x27;execid&#x27;." in missing.text
    malformed = admin.get("/executor", ajax="fetchexecflow", execid="abc")
    assert malformed.status_code == 500


def test_status_needs_no_login_and_tells_only_up(live: LiveServer) -> None:
    anonymous = live.http().get("/status")
    assert anonymous.status_code == 200 and anonymous.text == '{\n  "status" : "up"\n}'


def test_status_tells_an_admin_what_azkaban_tells(live: LiveServer, admin: Client) -> None:
    body = json.loads(admin.get("/status").text)
    assert set(body) == {
        "version",
        "pid",
        "installationPath",
        "usedMemory",
        "xmx",
        "isDatabaseUp",
        "executorStatusMap",
        "jobSandbox",
    }
    assert body["isDatabaseUp"] is True
    assert isinstance(body["pid"], int) and body["usedMemory"] > 0
    mine = live.server.executor.id
    assert body["executorStatusMap"][str(mine)]["active"] is True


def test_unknown_ajax_names(live: LiveServer, admin: Client) -> None:
    assert admin.ajax("/schedule", "noSuchThing") == {}
    assert admin.ajax("/index", "noSuchThing") == {"error": "Cannot execute command noSuchThing"}


def test_the_login_page_script_is_served(live: LiveServer) -> None:
    response = httpx.get(live.url + "/js/azkaban/view/login.js")
    assert response.status_code == 200 and "X-Requested-With" in response.text
