"""The web UI in a real headless Chromium: what people do with it every day.

Log in; create a project and upload it by drag and drop (a broken zip first, whose errors show inline);
look at its flow as a graph, disable a job on it and run the flow; watch the run finish live; read a
job's log; retry a failed job; create a schedule after checking its preview; check that a user without
permission sees nothing of another's project; check that names made of HTML stay text; reach the main
actions with the keyboard; draw a 200-job graph. Each page is saved as a 1366x768 screenshot in
``test-artifacts/ui/``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from server.live import Client, LiveServer, unique
from support.eventually import eventually
from ui.driver import Browser
from ui.history import add_runs
from ui.projects import BROKEN, DEMO, HOSTILE, SLEEPY, flaky, wide, zipped

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # the chromium fixture then skips these tests with the reason (fails under CI)
    PlaywrightError = Exception  # type: ignore[assignment,misc]

pytestmark = pytest.mark.slow


def api_project(server: LiveServer, files: dict[str, str], base: str = "demo", description: str = "demo") -> str:
    """A project created and uploaded through the AJAX API (quicker than the UI, for tests about other pages)."""
    admin = server.as_admin()
    name = unique(base)
    admin.create_project(name, description)
    response = admin.upload(name, zipped(files))
    assert response.status_code == 200, response.text
    return name


@pytest.fixture(scope="module")
def demo(ui_server: LiveServer) -> str:
    return api_project(ui_server, DEMO)


def status_text(page: Any) -> str:
    return page.inner_text("#flow-status").strip()


def wait_js(page: Any, expression: str, timeout: float = 15.0, arg: Any = None) -> None:
    """Wait until the JS ``expression`` (a function body's value, with ``arg``) is true.

    Playwright's own ``wait_for_function`` evaluates strings inside the page, which the UI's
    Content-Security-Policy forbids (no eval), so this polls from outside instead.
    """

    def holds() -> bool:
        try:
            return bool(page.evaluate(f"(arg) => Boolean({expression})", arg))
        except PlaywrightError as error:  # the page navigated meanwhile (a reload after an action): ask again
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
            return False

    eventually(holds, timeout=timeout, interval=0.1, what=expression)


def wait_status(page: Any, wanted: str, timeout: float = 30.0) -> None:
    wait_js(page, "document.querySelector('#flow-status').textContent.trim() === arg", timeout, wanted)


def drop_file(page: Any, name: str, content: bytes) -> None:
    """Drop a file on the upload zone as a drag and drop from the desktop would (a DataTransfer)."""
    page.evaluate(
        """([name, data]) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, {type: "application/zip"}));
        const zone = document.getElementById("dropzone");
        for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }
    }""",
        [name, base64.b64encode(content).decode()],
    )


# -- login ---------------------------------------------------------------------------------------------------


def test_login_and_logout(new_browser: Any, ui_server: LiveServer) -> None:
    b: Browser = new_browser()
    page = b.go("/")
    page.wait_for_url("**/ui/login**")
    html = page.content()
    # What Azkaban clients look for to recognise a login page.
    assert "<!-- /.login -->" in html
    assert '<script type="text/javascript" src="/js/azkaban/view/login.js"></script>' in html
    b.shot("login")
    page.fill("#username", ui_server.admin)
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    assert "Incorrect Login" in page.inner_text("#login-error")
    page.fill("#password", ui_server.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/projects")
    assert page.inner_text("header .who") == ui_server.admin
    page.click("text=Log out")
    page.wait_for_url("**/ui/login")
    b.go("/ui/executions")
    page.wait_for_url("**/ui/login?next=%2Fui%2Fexecutions")
    b.check_clean()


# -- project, upload, graph, run, live updates, logs ---------------------------------------------------------


def test_create_upload_run_and_watch_live(browser: Browser, ui_server: LiveServer) -> None:
    page = browser.page
    name = unique("etl")
    browser.go("/ui/projects")
    page.fill("#new-name", name)
    page.fill("#new-description", "Nightly ETL of the demo")
    page.click("#create-project button[type=submit]")
    page.wait_for_url(f"**/ui/projects/{name}")

    # A broken zip: refused, with the validator's message shown inline, line by line.
    page.set_input_files(
        "#upload-file", files=[{"name": "broken.zip", "mimeType": "application/zip", "buffer": zipped(BROKEN)}]
    )
    page.click("#upload-button")
    page.wait_for_selector("#upload-errors:not([hidden])")
    errors = page.inner_text("#upload-errors")
    assert "missing" in errors and "<br>" not in errors
    browser.shot("project-upload-error")

    # The good one, dropped on the zone.
    drop_file(page, "etl.zip", zipped(DEMO))
    page.wait_for_selector("#upload-ok:not([hidden])")
    page.wait_for_selector("#flow-table")
    assert page.is_visible(f"#flow-table a[href='/ui/projects/{name}/flows/report']")
    browser.shot("project")

    page.click("text=Versions")
    href = page.get_attribute("#version-table a[download]", "href")
    assert href == f"/manager?project={name}&download=true&version=1"
    download = page.request.get(ui_server.url + href)
    assert download.ok and download.body()[:2] == b"PK"
    browser.shot("project-versions")
    page.click("nav.tabs >> text=Log")
    assert "Uploaded project files zip etl.zip" in page.inner_text("#event-table")
    browser.shot("project-log")

    # The flow: a graph of six nodes, the embedded flow expandable in place.
    browser.go(f"/ui/projects/{name}/flows/report")
    page.wait_for_selector("#graph .node")
    assert page.locator("#graph .node").count() == 6
    page.click("#graph .node[data-id='sub'] .toggle")
    page.wait_for_selector("#graph .node[data-id='sub:i1']")
    assert page.locator("#graph .frame").count() == 1
    assert page.locator("#graph .node").count() == 7

    # Disable a job on the graph, set a parameter, run.
    page.click("#graph .node[data-id='enrich']")
    assert not page.is_checked(".job-enabled[value='enrich']")
    assert "enrich" in page.inner_text("#disabled-count")
    page.click("#add-param")
    page.fill(".param-key", "region")
    page.fill(".param-value", "us")
    browser.shot("flow")
    page.click("#run-button")
    page.wait_for_url(re.compile(r".*/ui/executions/\d+$"))
    exec_id = int(page.url.rsplit("/", 1)[1])
    page.evaluate("window.__sameDocument = true")

    # Live: the page goes to SUCCEEDED by itself, without a reload.
    page.wait_for_selector("#job-table tr[data-job='report']")
    wait_js(page, "document.querySelector('#job-table tr[data-job=\"report\"] .status').textContent === 'RUNNING'", 20)
    browser.shot("execution-running")
    wait_status(page, "SUCCEEDED")
    assert page.evaluate("window.__sameDocument") is True
    assert page.inner_text("#job-table tr[data-job='enrich'] .status") in ("SKIPPED", "DISABLED")
    assert page.locator("#timeline rect.bar").count() >= 5
    assert page.locator("#graph .node.s-succeeded").count() >= 4

    # The log of a job, followed to its end.
    page.click("#job-table tr[data-job='report'] button")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('report line 6')")
    assert page.input_value("#log-job") == "report"
    page.select_option("#log-job", "clean")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('cleaning')")
    browser.shot("execution")
    browser.shot("execution-full", full_page=True)

    browser.go(f"/ui/executions?project={name}")
    row = page.locator(f"#execution-table tr:has(a[href='/ui/executions/{exec_id}'])")
    assert "SUCCEEDED" in row.inner_text() and ui_server.admin in row.inner_text()
    browser.shot("executions")
    browser.check_clean()


def test_log_viewer_pages_through_a_long_log(browser: Browser, ui_server: LiveServer) -> None:
    """A 3 MB log: the viewer shows its last 64 KB, and Start/Next/Previous move by offset."""
    lines = "".join(f"line {i:06d} {'x' * 40}\n" for i in range(60_000))
    files = {"big.job": "type=command\ncommand=cat big.txt\n", "big.txt": lines}
    name = api_project(ui_server, files, "biglog")
    admin = ui_server.as_admin()
    exec_id = admin.execute(name, "big")
    admin.wait(exec_id)
    page = browser.page
    browser.go(f"/ui/executions/{exec_id}")
    page.click("#job-table tr[data-job='big'] button")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('line 059999')")
    shown = re.search(r"Bytes ([\d,]+)\D+([\d,]+) of ([\d,]+)", page.inner_text("#log-range"))
    assert shown is not None
    first, end, size = (int(part.replace(",", "")) for part in shown.groups())
    assert size > len(lines) and end == size and end - first == 65_536  # the last 64 KB
    page.click("#log-first")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('line 000000')")
    assert page.inner_text("#log-range").startswith("Bytes 0")
    page.click("#log-next")
    wait_js(page, "!document.querySelector('#log-text').textContent.includes('line 000000')")
    assert page.inner_text("#log-range").startswith("Bytes 65,536")
    browser.check_clean()


# -- retry ---------------------------------------------------------------------------------------------------


def test_retry_a_failed_job(browser: Browser, ui_server: LiveServer, tmp_path: Path) -> None:
    marker = tmp_path / "fixed"
    name = api_project(ui_server, flaky(marker), "flaky")
    page = browser.page
    browser.go(f"/ui/projects/{name}/flows/end")
    page.select_option("#failure-action", "finishPossible")
    page.click("#run-button")
    page.wait_for_url(re.compile(r".*/ui/executions/\d+$"))
    wait_status(page, "FAILED_FINISHING")
    page.wait_for_selector("#retry-button:visible")
    assert page.inner_text("#job-table tr[data-job='flaky'] .status") == "FAILED"
    browser.shot("execution-failed-finishing")
    marker.touch()
    page.click("#retry-button")
    wait_status(page, "SUCCEEDED", timeout=40)
    # The second run, numbered as its log numbers it ("attempt 1").
    assert page.inner_text("#job-table tr[data-job='flaky'] td:nth-child(4)") == "1"
    assert page.locator("#timeline rect.bar").count() == 4  # flaky twice, slow, end
    browser.check_clean()


def test_pause_resume_and_cancel(browser: Browser, ui_server: LiveServer) -> None:
    name = api_project(ui_server, SLEEPY, "sleepy")
    exec_id = ui_server.as_admin().execute(name, "after")
    page = browser.page
    browser.go(f"/ui/executions/{exec_id}")
    wait_status(page, "RUNNING")
    page.click("#pause-button")
    wait_status(page, "PAUSED")
    assert page.is_visible("#resume-button") and not page.is_visible("#pause-button")
    page.click("#resume-button")
    wait_status(page, "RUNNING")
    page.click("#cancel-button")  # confirmed by the dialog handler
    wait_status(page, "KILLED")
    assert not page.is_visible("#cancel-button")
    assert page.inner_text("#job-table tr[data-job='nap'] .status") in ("KILLED", "CANCELLED", "FAILED")
    browser.check_clean()


# -- schedules -------------------------------------------------------------------------------------------------


def test_schedule_with_preview_sla_pause_and_removal(browser: Browser, demo: str) -> None:
    page = browser.page
    browser.go(f"/ui/schedules?project={demo}&flow=report")
    wait_js(page, "document.querySelector('#s-flow').value === 'report'")
    page.fill("#s-cron", "nonsense")
    page.wait_for_selector("#preview-error:not([hidden])")
    page.fill("#s-cron", "0 30 6 ? * MON-FRI")
    page.select_option("#s-zone", "Asia/Tokyo")
    wait_js(
        page,
        "document.querySelectorAll('#preview li').length === 5 && "
        "document.querySelector('#preview li').textContent.includes('06:30:00 JST')",
    )
    days = page.locator("#preview li time").all_inner_texts()
    assert all(not d.startswith(("Sat", "Sun")) for d in days)
    browser.shot("schedules-new")
    page.click("#schedule-button")
    page.wait_for_url("**/ui/schedules")
    row = page.locator(f"#schedule-table tr:has(a[href='/ui/projects/{demo}'])")
    assert "0 30 6 ? * MON-FRI" in row.inner_text() and "Asia/Tokyo" in row.inner_text()

    row.locator(".sla-edit").click()
    page.wait_for_selector("#sla-form:not([hidden])")
    page.fill(".sla-time", "1:30")
    page.check(".sla-kill")
    page.fill("#sla-emails", "ops@example.com")
    with page.expect_navigation():
        page.click("#sla-form button[type=submit]")
    assert (
        "the flow must succeed within 1:30"
        in page.locator(f"#schedule-table tr:has(a[href='/ui/projects/{demo}'])").inner_text()
    )
    page.locator(f"#schedule-table tr:has(a[href='/ui/projects/{demo}']) button:has-text('Pause')").click()
    page.wait_for_selector(f"#schedule-table tr.paused:has(a[href='/ui/projects/{demo}'])")
    assert "paused" in page.inner_text("#messages")
    browser.shot("schedules")
    page.locator(f"#schedule-table tr:has(a[href='/ui/projects/{demo}']) button:has-text('Resume')").click()
    page.wait_for_selector(f"#schedule-table tr:not(.paused):has(a[href='/ui/projects/{demo}'])")
    page.locator(f"#schedule-table tr:has(a[href='/ui/projects/{demo}']) .remove-schedule").click()
    wait_js(page, f"!document.querySelector(\"#schedule-table a[href='/ui/projects/{demo}']\")")
    assert "removed from Schedules" in page.inner_text("#messages")
    browser.check_clean()


# -- permissions -----------------------------------------------------------------------------------------------


def test_a_user_without_permission_sees_nothing(browser: Browser, new_browser: Any, ui_server: LiveServer) -> None:
    private = api_project(ui_server, DEMO, "private", "admin's own project")
    admin: Client = ui_server.as_admin()
    exec_id = admin.execute(private, "report")
    bob_user, bob_password = ui_server.add_user("bob")
    bob: Browser = new_browser()
    bob.login(bob_user.name, bob_password)
    page = bob.page
    assert private not in page.inner_text("main")
    bob.go(f"/ui/projects?q={private}")
    assert "No project matches" in page.inner_text("main")
    response = page.goto(ui_server.url + f"/ui/projects/{private}")
    assert response is not None and response.status == 403
    assert "needs the READ permission" in page.inner_text("main")
    bob.shot("permission-denied")
    for path in (f"/ui/projects/{private}/flows/report", f"/ui/executions/{exec_id}"):
        response = page.goto(ui_server.url + path)
        assert response is not None and response.status == 403
    data = page.request.get(ui_server.url + f"/ui/data/executions/{exec_id}/runs")
    assert data.status == 403 and "error" in data.json()
    bob.go("/ui/executions")
    assert f"#{exec_id}" not in page.inner_text("#execution-table")
    assert not page.is_visible("text=Users")  # admin pages are not offered...
    response = page.goto(ui_server.url + "/ui/users")
    assert response is not None and response.status == 403  # ...nor served

    # The admin grants READ on the Permissions tab; bob then sees the project, but cannot run it.
    browser.go(f"/ui/projects/{private}?tab=permissions")
    browser.page.fill("#perm-name", bob_user.name)
    browser.page.click("#add-permission button[type=submit]")
    browser.page.wait_for_selector(f"#permission-table tr[data-name='{bob_user.name}']")
    browser.shot("project-permissions")
    bob.go(f"/ui/projects/{private}/flows/report")
    assert page.is_visible("#graph") and not page.is_visible("#run-form")
    bob.check_clean()
    browser.check_clean()


# -- escaping ---------------------------------------------------------------------------------------------------


def test_names_made_of_html_show_as_text(browser: Browser, ui_server: LiveServer) -> None:
    name = api_project(ui_server, HOSTILE, "hostile", "<b>bold</b><script>window.__pwned = 1</script>")
    page = browser.page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    browser.go(f"/ui/projects/{name}")
    assert "<b>bold</b><script>window.__pwned = 1</script>" in page.inner_text("main")
    flow = "<img src=x onerror=alert(1)>"
    assert page.is_visible(f"#flow-table a[href='/ui/projects/{name}/flows/{quote(flow, safe='')}']")
    browser.go(f"/ui/projects/{name}/flows/{quote(flow, safe='')}")
    page.wait_for_selector("#graph .node")
    labels = page.locator("#graph .node .label").all_text_contents()
    assert "<script>" in labels
    assert "<script>" in page.inner_text("#job-list")
    assert page.locator("main script, main img").count() == 0
    page.click("#run-button")
    page.wait_for_url(re.compile(r".*/ui/executions/\d+$"))
    wait_status(page, "SUCCEEDED")
    assert page.inner_text("#job-table tr[data-job='<script>'] th") == "<script>"
    page.select_option("#log-job", "<script>")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('pwned')")
    browser.shot("escaped-names")
    assert page.evaluate("window.__pwned") is None and not dialogs
    browser.check_clean()


def test_long_names_are_shortened_to_fit_their_boxes_as_drawn(browser: Browser, ui_server: LiveServer) -> None:
    """Labels are fitted by a canvas measuring the label's own font (the drawing's text is not measured while
    nodes are appended: that lays the page out once per node). What Chromium then draws must still fit: the
    rendered length of each shortened label is within its box, and a short name is left whole."""
    long = "extract_every_customer_order_of_the_quarter"
    name = api_project(
        ui_server,
        {f"{long}.job": "type=noop\n", "end.job": f"type=command\ncommand=true\ndependencies={long}\n"},
        "long-names",
    )
    page = browser.page
    browser.go(f"/ui/projects/{name}/flows/end")
    page.wait_for_selector("#graph .node")
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('#graph .node')].map((g) => ({
            id: g.dataset.id,
            label: g.querySelector('.label').textContent,
            length: g.querySelector('.label').getComputedTextLength(),
            room: g.querySelector('.body').width.baseVal.value - 18,
        }))"""
    )
    by_id = {node["id"]: node for node in drawn}
    shortened = by_id[long]
    assert shortened["label"].endswith("\u2026") and long.startswith(shortened["label"][:-1])
    assert len(shortened["label"]) > 8  # shortened to the box, not to a stub
    assert 0 < shortened["length"] <= shortened["room"] + 1, shortened
    assert by_id["end"]["label"] == "end"
    browser.check_clean()


# -- keyboard ----------------------------------------------------------------------------------------------------


def tab_until(page: Any, predicate: str, limit: int = 80) -> list[str]:
    """Press Tab until ``predicate`` (JS, on document.activeElement as ``e``) holds; the names passed."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                "(() => { const e = document.activeElement; return (e.getAttribute('aria-label')"
                " || e.textContent || e.id || e.tagName).trim().slice(0, 60); })()"
            )
        )
        if page.evaluate(f"(e => {predicate})(document.activeElement)"):
            return seen
    raise AssertionError(f"never reached {predicate}; went through {seen}")


def test_keyboard_reaches_the_main_actions(browser: Browser, demo: str) -> None:
    page = browser.page
    browser.go("/ui/projects")
    first = tab_until(page, "true", 1)
    assert first == ["Skip to content"]
    tab_until(page, "e.id === 'q'")
    tab_until(page, "e.textContent.trim() === 'Create project'")
    browser.go("/ui/projects")
    names = tab_until(page, "e.textContent.trim() === 'Log out'")
    assert {"Projects", "Executions", "Schedules", "Users", "Status"} <= set(names)

    browser.go(f"/ui/projects/{demo}/flows/report")
    page.wait_for_selector("#graph .node")
    tab_until(page, "e.classList && e.classList.contains('node')")
    start = page.evaluate("document.activeElement.dataset.id")
    page.keyboard.press("ArrowRight")
    moved = page.evaluate("document.activeElement.dataset.id")
    assert moved != start
    page.keyboard.press("Enter")
    assert not page.is_checked(f".job-enabled[value='{moved}']")
    page.keyboard.press("Enter")
    assert page.is_checked(f".job-enabled[value='{moved}']")
    tab_until(page, "e.id === 'run-button'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/ui/executions/\d+$"))
    tab_until(page, "e.classList && e.classList.contains('node')")
    page.keyboard.press("Enter")  # opens that job's log
    wait_js(page, "document.querySelector('#log-job').value !== ''")
    wait_status(page, "SUCCEEDED")
    browser.check_clean()


# -- a big graph, and the pages not seen yet ---------------------------------------------------------------------


def test_a_200_job_graph_is_drawn_and_navigable(browser: Browser, ui_server: LiveServer) -> None:
    name = api_project(ui_server, wide(), "wide")
    page = browser.page
    started = time.perf_counter()
    browser.go(f"/ui/projects/{name}/flows/done")
    wait_js(page, "document.querySelectorAll('#graph .node').length === 201")
    drawn = time.perf_counter() - started
    assert drawn < 10, f"the 201-job graph took {drawn:.1f} s to appear"
    browser.shot("flow-200-jobs")
    page.click("button[aria-label='1:1, actual size']")
    page.focus("#graph .node[data-id='L00_00']")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.id").startswith("L05_")
    page.click("button[aria-label='Fit the whole graph']")
    browser.check_clean()


def test_flow_page_charts_the_last_50_runs(browser: Browser, ui_server: LiveServer) -> None:
    name = api_project(ui_server, DEMO, "charted")
    project = ui_server.store.projects.get(name=name)
    assert project is not None
    add_runs(ui_server.store, project.id, name, "report", ["extract", "clean", "enrich", "sub", "load", "report"], 60)
    page = browser.page
    browser.go(f"/ui/projects/{name}/flows/report")
    page.wait_for_selector("#graph .node.s-succeeded, #graph .node.s-failed, #graph .node.s-killed")
    assert page.locator("svg.chart rect.bar").count() == 50
    assert page.inner_text("#chart-title") == "Last 50 runs"
    browser.shot("flow-history")
    browser.go(f"/ui/projects/{name}")
    rate = page.inner_text("#flow-table tr:has-text('report') td.rate")
    assert re.fullmatch(r"\d+%", rate.strip()), rate
    browser.check_clean()


def test_admin_pages(browser: Browser, demo: str) -> None:
    page = browser.page
    browser.go("/ui/users")
    page.fill("#u-name", unique("carol"))
    page.click("#add-user button[type=submit]")
    page.wait_for_selector("#new-password")
    assert len(page.inner_text("#new-password code")) >= 16
    browser.shot("users")
    browser.go("/ui/status")
    assert "ACTIVE" in page.inner_text("#executor-table")
    browser.shot("status")
    browser.go("/ui/projects")
    browser.shot("projects")
    browser.check_clean()


def test_root_of_the_server_opens_the_ui(new_browser: Any) -> None:
    b: Browser = new_browser()
    response = b.page.goto(b.server.url + "/")
    assert response is not None and b.page.url.endswith("/ui/login?next=%2Fui%2Fprojects")
    assert json.loads(b.page.request.get(b.server.url + "/status").text()) == {"status": "up"}
