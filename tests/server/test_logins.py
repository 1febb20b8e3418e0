"""Logins over real HTTP: cross-site login posts, throttling by (user, address), the security headers of
the Azkaban pages and what ``/status`` tells whom."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from server.live import Client, LiveServer
from sudoless.server.headers import SECURITY_HEADERS

COOKIE = "azkaban.browser.session.id"


def _from(live: LiveServer, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z is this machine on Linux)."""
    return live.http(transport=httpx.HTTPTransport(local_address=address))


def _login(http: httpx.Client, user: str, password: str, **headers: str) -> httpx.Response:
    return http.post("/", data={"action": "login", "username": user, "password": password}, headers=headers)


@pytest.fixture
def clock_reset(live: LiveServer) -> Iterator[LiveServer]:
    yield live
    live.clock.offset = 0


# -- login CSRF ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page.html"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    ],
)
def test_a_login_posted_from_another_site_is_refused(live: LiveServer, headers: dict[str, str]) -> None:
    user, password = live.add_user("victim")
    http = live.http()
    response = _login(http, user.name, password, **headers)
    assert response.status_code == 403
    body = json.loads(response.text)
    assert "session.id" not in body and "other sites" in body["error"]
    assert "Incorrect Login" not in body["error"]  # clients must not retry it
    assert "set-cookie" not in response.headers and COOKIE not in http.cookies


@pytest.mark.parametrize("same_site", [False, True])
def test_a_login_without_origin_or_from_this_site_works(live: LiveServer, same_site: bool) -> None:
    """curl and the Python clients send no Origin; the server's own login page sends its own origin."""
    user, password = live.add_user("curl")
    http = live.http()
    headers = {"Origin": live.url, "Referer": live.url + "/index", "Sec-Fetch-Site": "same-origin"} if same_site else {}
    response = _login(http, user.name, password, **headers)
    assert response.status_code == 200 and "session.id" in json.loads(response.text)
    assert "SameSite=lax" in response.headers["set-cookie"] and "HttpOnly" in response.headers["set-cookie"]
    assert http.get("/index", params={"ajax": "fetchuserprojects"}).json() == {"projects": []}


# -- throttling ------------------------------------------------------------------------------------------------


def test_failures_from_one_address_do_not_lock_the_admin_out_from_another(
    live: LiveServer, clock_reset: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    admin, password = live.add_user("boss", roles=("admin",))
    attacker, owner = _from(live, "127.0.0.2"), _from(live, "127.0.0.1")
    with caplog.at_level(logging.WARNING, logger="sudoless.accounts.throttle"):
        for _ in range(5):
            assert json.loads(_login(attacker, admin.name, "guess").text) == {
                "error": "Incorrect Login. Username/Password not found."
            }
        for seconds in (1, 2, 4, 8):  # each failure after the fifth doubles the wait
            refused = json.loads(_login(attacker, admin.name, password).text)
            assert refused == {
                "error": f"Too many failed logins for user '{admin.name}' from 127.0.0.2; try again in {seconds} s."
            }
            live.clock.offset += seconds * 1000
            _login(attacker, admin.name, "guess")
    assert f"login locked for user '{admin.name}' from 127.0.0.2 for 16 s after 9 failed logins" in [
        record.getMessage() for record in caplog.records
    ]
    assert "session.id" in json.loads(_login(owner, admin.name, password).text)
    assert "Too many failed logins" in json.loads(_login(attacker, admin.name, password).text)["error"]
    live.clock.offset += 16_000
    assert "session.id" in json.loads(_login(attacker, admin.name, password).text)


# -- headers ---------------------------------------------------------------------------------------------------


def test_azkaban_html_pages_carry_the_security_headers(live: LiveServer, admin: Client) -> None:
    pages = [
        live.http().get("/index"),  # the login page, for a visitor without a session
        admin.get("/index"),  # the project list
        admin.get("/executor", ajax="fetchexecflow"),
    ]  # an error page
    for page in pages:
        assert page.headers["content-type"].startswith("text/html"), page.text
        for name, value in SECURITY_HEADERS.items():
            assert page.headers[name] == value, (page.url, name)
    data = admin.get("/index", ajax="fetchallprojects")
    assert data.headers["content-type"] == "application/json"
    assert "content-security-policy" not in data.headers
    assert all("strict-transport-security" not in r.headers for r in (*pages, data))  # plain HTTP: no HSTS


# -- /status ---------------------------------------------------------------------------------------------------


def test_status_tells_only_admins_more_than_up(live: LiveServer, admin: Client) -> None:
    user, password = live.add_user("watcher")
    for answer in (live.http().get("/status"), live.login(user.name, password).get("/status")):
        assert answer.status_code == 200 and json.loads(answer.text) == {"status": "up"}
    assert json.loads(admin.get("/status").text)["isDatabaseUp"] is True
