"""The admin's Import from Azkaban page in a real Chromium, against an Azkaban database on MariaDB: a wrong
password fails in one line and is never shown back, a dry run reports and writes nothing, an import shows its
progress bar while it runs (held part-way by a table lock in Azkaban's database) and its report when it ends,
and an execution that was running in Azkaban comes marked and is never run here. Non-admins are refused."""

from __future__ import annotations

from typing import Any

import pytest

from azkaban_import.azkaban_db import T0, azkaban_database
from server.live import HELLO, LiveServer, make_zip, unique
from sudoless.azkaban_import.source import origin_of
from sudoless.store.executions import ELSEWHERE
from sudoless.store.status import Status
from ui.driver import Browser
from ui.test_browser import wait_js
from ui.test_logs import open_log

pytestmark = pytest.mark.services

WRONG_PASSWORD = "not-the-password-0451"


def nodes(status: str) -> list[dict[str, object]]:
    return [
        {
            "id": "start",
            "type": "command",
            "status": status,
            "attempt": 0,
            "inNodes": [],
            "startTime": T0 + 1000,
            "endTime": T0 + 2000 if status == "SUCCEEDED" else -1,
            "updateTime": T0 + 2000,
        }
    ]


def test_import_page_runs_an_import_with_progress(browser: Browser, new_browser: Any, ui_server: LiveServer) -> None:
    name = unique("azkpage")
    page = browser.page
    with azkaban_database() as azkaban:
        project = azkaban.add_project(name, ui_server.admin, "from the page")
        azkaban.upload(project, make_zip(HELLO), ui_server.admin, T0)
        azkaban.upload(project, make_zip({**HELLO, "extra.txt": "2"}), ui_server.admin, T0 + 1000)
        azkaban.schedule(project, name, "end", "0 0 3 ? * *", "Europe/Paris", ui_server.admin)
        finished = azkaban.execution(
            project, 2, "end", 50, ui_server.admin, T0, nodes("SUCCEEDED"), {("start", 0): b"hello\n" * 10}
        )
        running = azkaban.execution(project, 2, "end", 30, ui_server.admin, T0 + 5000, nodes("RUNNING"))

        browser.go("/ui/status")
        page.click("#azkaban-import-link")
        page.wait_for_url("**/ui/status/azkaban-import")

        # a wrong password: one line, the password never in the page
        page.fill("#i-source", azkaban.url)
        page.fill("#i-password", WRONG_PASSWORD)
        page.click("#dry-run")
        page.wait_for_selector("#import-job[data-state='failed']")
        assert "cannot connect to the Azkaban database" in page.inner_text("#import-failed")
        assert WRONG_PASSWORD not in page.content()
        assert page.input_value("#i-password") == ""

        # a dry run: the report, nothing written
        page.fill("#i-source", azkaban.url)
        page.click("#dry-run")
        page.wait_for_selector("#import-job[data-state='done']")
        assert page.inner_text("#import-done").startswith("Would import:")
        assert page.inner_text("#import-counts tr[data-kind='versions'] td") == "2"
        assert ui_server.store.projects.get(name=name) is None
        browser.shot("azkaban-import-dry-run", full_page=True)

        # the import, with azkaban-users.xml and azkaban.properties uploaded, held at the executions by a
        # lock on Azkaban's table: the progress bar shows
        dora = unique("dora")
        users_xml = f'<azkaban-users><user username="{dora}" password="dora-pw-77" roles="admin"/></azkaban-users>'
        with azkaban.engine.connect() as lock:
            lock.exec_driver_sql("LOCK TABLES execution_flows WRITE")
            try:
                page.fill("#i-source", azkaban.url)
                page.set_input_files(
                    "#i-users", {"name": "azkaban-users.xml", "mimeType": "text/xml", "buffer": users_xml.encode()}
                )
                page.set_input_files(
                    "#i-properties",
                    {
                        "name": "azkaban.properties",
                        "mimeType": "text/plain",
                        "buffer": b"default.timezone.id=Asia/Tokyo\nmail.host=smtp.example.com\njetty.port=8081\n",
                    },
                )
                page.click("#import")
                page.wait_for_selector("#import-job[data-state='running'] #import-progress")
                page.wait_for_selector("#import-step:has-text('projects: 1 of 1')")  # the page polls it
                assert page.get_attribute("#import-progress", "value") == "1"
                assert page.locator("#import").is_disabled() and page.locator("#dry-run").is_disabled()
                browser.shot("azkaban-import-running", full_page=True)
            finally:
                lock.exec_driver_sql("UNLOCK TABLES")
        page.wait_for_selector("#import-job[data-state='done']", timeout=60_000)
        origin = origin_of(azkaban.url)
    done = page.inner_text("#import-done")
    assert done.startswith("Imported:") and "2 versions" in done and "1 schedules" in done and "1 users" in done
    assert page.inner_text("#import-counts tr[data-kind='executions'] td") == "2"
    assert "schedules are imported paused" in page.inner_text("#import-notes")
    assert "imported as they stood" in page.inner_text("#import-notes")
    assert page.inner_text("#import-settings").splitlines() == [
        "[sudoless]",
        'timezone = "Asia/Tokyo"',
        "[mail]",
        'host = "smtp.example.com"',
    ]
    assert "jetty.port: not carried over" in page.inner_text("#import-unmapped")
    assert "dora-pw-77" not in page.content()
    assert ui_server.accounts.authenticate(dora, "dora-pw-77", "127.0.0.1").name == dora
    browser.shot("azkaban-import-done", full_page=True)

    local = ui_server.store.projects.get(name=name)
    assert local is not None and local.version == 2
    ledger = ui_server.store.imports.imported(origin, "execution")
    still = ui_server.store.executions.get(ledger[str(running)])
    assert (still.status, still.executor_id) == (Status.RUNNING, ELSEWHERE)  # the server's executor left it
    # the page lists it as running in Azkaban, linked to its execution page
    row = page.locator(f"#elsewhere-table tr[data-execution='{still.id}']")
    assert "RUNNING" in row.inner_text() and "in Azkaban" in row.inner_text()
    assert row.locator(f"a[href='/ui/executions/{still.id}']").count() == 1
    # the imported execution reads in the UI as a native one: its status, its job, the job's log
    browser.go(f"/ui/executions/{ledger[str(finished)]}")
    assert "SUCCEEDED" in page.inner_text("main")
    open_log(page, "start")
    wait_js(page, "document.querySelector('#log-text').textContent.includes(arg)", arg="hello\n" * 10)
    browser.check_clean()

    # not for non-admins: the page and its progress answer are refused
    user, password = ui_server.add_user("plain")
    other: Browser = new_browser()
    other.login(user.name, password)
    response = other.page.goto(ui_server.url + "/ui/status/azkaban-import")
    assert response is not None and response.status == 403
    data = other.page.request.get(ui_server.url + "/ui/data/azkaban-import")
    assert data.status == 403
    other.go("/ui/status")
    assert other.page.locator("#azkaban-import-link").count() == 0


def test_import_page_refuses_a_password_in_the_url(browser: Browser, ui_server: LiveServer) -> None:
    page = browser.page
    browser.go("/ui/status/azkaban-import")
    page.fill("#i-source", "mysql://azkaban:secret-in-url@127.0.0.1/azkaban")
    page.click("#import")
    page.wait_for_selector("#import-error")
    assert "holds a password" in page.inner_text("#import-error")
    assert "secret-in-url" not in page.content()  # not even back in the form's field
    assert page.locator("#import-job").count() == 0 or page.get_attribute("#import-job", "data-state") != "running"
    browser.check_clean()
