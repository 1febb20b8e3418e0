"""scheduleCronFlow's Azkaban parameters over real HTTP: the server's zone by default (the ``timezone``
setting, Azkaban's ``default.timezone.id``), ``endSchedTime`` and ``backExecuteOnce`` read, and fetchSchedule
answering them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from server.live import HELLO, Client, LiveServer, make_zip, server_settings, start_live, unique
from sudoless.store import Store


def schedule(admin: Client, name: str, **params: str) -> dict:
    query = {
        "session.id": admin.sid,
        "ajax": "scheduleCronFlow",
        "projectName": name,
        "flow": "end",
        "cronExpression": "0 0 6 ? * *",
        **params,
    }
    return json.loads(admin.http.post("/schedule", params=query).text)


def fetch(admin: Client, name: str) -> dict:
    project_id = admin.ajax("/manager", "getProjectId", project=name)["projectId"]
    return admin.ajax("/schedule", "fetchSchedule", projectId=project_id, flowId="end")["schedule"]


def test_end_time_and_back_execute_once(live: LiveServer, admin: Client) -> None:
    name = unique("s")
    admin.create_project(name)
    admin.upload(name, make_zip(HELLO))
    assert schedule(admin, name)["status"] == "success"
    plain = fetch(admin, name)
    assert plain["backExecuteOnce"] is False  # Azkaban's default: missed slots are not run
    assert plain["endSchedTime"] == "2050-01-01 00:00:00" and plain["timezone"] == "UTC"
    end = 4_102_444_800_000  # 2100-01-01 00:00 UTC
    assert schedule(admin, name, endSchedTime=str(end), backExecuteOnce="true")["status"] == "success"
    both = fetch(admin, name)
    assert both["backExecuteOnce"] is True and both["endSchedTime"] == "2100-01-01 00:00:00"
    stored = live.store.schedules.for_flow(name, "end")
    assert stored is not None and (stored.end_time, stored.back_execute_once) == (end, True)
    bad = schedule(admin, name, endSchedTime="tomorrow")
    assert bad == {"error": "Error parsing flow options: endSchedTime='tomorrow': expected epoch milliseconds"}
    past = schedule(admin, name, endSchedTime="1000")
    assert past["status"] == "error" and "before the first fire time" in past["message"]


def test_schedules_default_to_the_servers_zone(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    settings = dataclasses.replace(server_settings(tmp_path / "home", db_url), timezone="Asia/Tokyo")
    server = start_live(settings, store)
    try:
        admin = server.as_admin()
        name = unique("s")
        admin.create_project(name)
        admin.upload(name, make_zip(HELLO))
        assert schedule(admin, name)["status"] == "success"
        assert fetch(admin, name)["timezone"] == "Asia/Tokyo"
        assert schedule(admin, name, timezone="Europe/Paris")["status"] == "success"
        assert fetch(admin, name)["timezone"] == "Europe/Paris"
        assert schedule(admin, name, timezone="Not/AZone")["status"] == "success"
        assert fetch(admin, name)["timezone"] == "Asia/Tokyo"
        # the web UI proposes the server's zone first and previews in it
        admin.http.cookies.set("azkaban.browser.session.id", admin.sid)
        page = admin.http.get("/ui/schedules")
        assert page.status_code == 200 and '<option value="Asia/Tokyo">' in page.text
        assert page.text.index('<option value="Asia/Tokyo">') < page.text.index('<option value="UTC">')
        preview = admin.http.get("/ui/data/cron-preview", params={"cron": "0 0 6 ? * *"}).json()
        assert preview["tz"] == "Asia/Tokyo" and preview["times"][0]["local"].endswith("06:00:00 JST")
    finally:
        server.stop()
        store.close()
