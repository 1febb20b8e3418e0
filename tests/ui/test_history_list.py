"""The executions list and the projects list, driven in Chromium: filters by part of a name, the End column,
sorting by a column, a Cancel per running execution (EXECUTE checked on the server, with confirmation and
the CSRF token), a run refused by "skip" linking the execution in its way, and each project's last run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from server.live import LiveServer
from sudoless.accounts import Permission
from ui.driver import LAPTOP, PHONE, Browser
from ui.projects import SLEEPY, zipped
from ui.test_browser import api_project, wait_js

pytestmark = pytest.mark.slow


@pytest.fixture
def napping(ui_server: LiveServer) -> Iterator[tuple[str, int]]:
    """A project whose flow ``after`` sleeps a minute first, running now; cancelled at the end if still on."""
    name = api_project(ui_server, SLEEPY, "NapTime")
    admin = ui_server.as_admin()
    exec_id = admin.execute(name, "after")
    admin.wait(exec_id, until=lambda body: body["status"] == "RUNNING")
    yield name, exec_id
    admin.ajax("/executor", "cancelFlow", execid=exec_id)
    admin.wait(exec_id, timeout=60)


def row(page: Any, exec_id: int) -> Any:
    return page.locator(f"#execution-table tr[data-exec='{exec_id}']")


def test_a_refused_skip_run_links_the_running_execution(laptop: Browser, napping: tuple[str, int]) -> None:
    name, running = napping
    page = laptop.go(f"/ui/projects/{name}/flows/after")
    page.wait_for_selector("#graph .node")
    page.select_option("#concurrent", "skip")
    page.click("#run-button")
    page.wait_for_selector("#running-links a")
    assert "already running" in page.inner_text("#run-error")
    link = page.locator("#running-links a")
    assert link.inner_text() == f"execution #{running}"
    link.click()
    page.wait_for_url(re.compile(rf".*/ui/executions/{running}$"))
    laptop.check_clean()


def test_filters_by_part_of_a_name_sorts_and_cancels(laptop: Browser, napping: tuple[str, int]) -> None:
    name, running = napping
    page = laptop.go("/ui/executions")
    page.fill("#f-project", name[-6:].upper())  # a part of the name, in the other case
    page.fill("#f-flow", "fte")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector(f"#execution-table tr[data-exec='{running}']")
    assert page.locator("#execution-table tbody tr").count() == 1
    heads = page.eval_on_selector_all("#execution-table thead th", "hs => hs.map(h => h.textContent.trim())")
    assert heads[6:9] == ["Started", "Ended", "Duration"]
    assert row(page, running).locator("td").nth(7).inner_text() == "-"  # not ended yet
    # Sorting: a header link, on the server, keeping the filters; again flips the order.
    page.click("#execution-table th[data-sort=ended] a")
    page.wait_for_url(re.compile(r".*sort=ended.*"))
    assert page.get_attribute("#execution-table th[data-sort=ended]", "aria-sort") == "descending"
    assert page.input_value("#f-project") == name[-6:].upper()
    page.click("#execution-table th[data-sort=ended] a")
    page.wait_for_url(re.compile(r".*order=asc.*"))
    assert page.get_attribute("#execution-table th[data-sort=ended]", "aria-sort") == "ascending"
    laptop.shot("executions-list-1440")
    # Cancel, confirmed (the test's browser accepts the dialog), and back on the same list.
    confirms: list[str] = []
    page.on("dialog", lambda dialog: confirms.append(dialog.message))
    row(page, running).get_by_role("button", name=f"Cancel execution {running}").click()
    page.wait_for_selector("#messages .note-success")
    assert confirms == [f"Cancel execution {running} of after?"]
    assert "order=asc" in page.url and "cancel requested" in page.inner_text("#messages")
    assert laptop.server.as_admin().wait(running, timeout=60)["status"] == "KILLED"
    page.reload()
    assert row(page, running).get_by_role("button").count() == 0  # over: no Cancel any more
    laptop.check_clean()


def test_cancel_needs_execute_and_the_token(
    chromium: Any, ui_server: LiveServer, napping: tuple[str, int], new_browser: Any
) -> None:
    name, running = napping
    reader, password = ui_server.add_user("reader")
    project = ui_server.store.projects.get(name=name)
    assert project is not None
    ui_server.accounts.set_project_permission(project.id, reader.name, False, Permission.READ)
    session: Browser = new_browser()
    session.login(reader.name, password)
    page = session.go(f"/ui/executions?project={name}")
    page.wait_for_selector(f"#execution-table tr[data-exec='{running}']")
    assert row(page, running).get_by_role("button").count() == 0  # READ only: no Cancel shown
    token = page.get_attribute("meta[name=csrf-token]", "content")
    refused = page.request.post(f"{ui_server.url}/ui/executions/{running}/cancel", form={"csrf.token": token or ""})
    assert refused.status == 403 and "EXECUTE" in refused.text()
    # With EXECUTE but without the token (a cross-site form): refused too.
    ui_server.accounts.set_project_permission(project.id, reader.name, False, Permission.READ | Permission.EXECUTE)
    forged = page.request.post(
        f"{ui_server.url}/ui/executions/{running}/cancel",
        form={},
        headers={"Origin": "http://evil.example"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert ui_server.store.executions.get(running).control == ""  # nothing was asked of the runner
    page.reload()
    assert row(page, running).get_by_role("button", name=f"Cancel execution {running}").count() == 1
    session.check_clean()


def test_projects_list_shows_each_projects_last_run(
    chromium: Any, ui_server: LiveServer, napping: tuple[str, int]
) -> None:
    name, running = napping
    for viewport, shot in ((LAPTOP, "projects-last-run-1440"), (PHONE, "phone-projects")):
        context = chromium.new_context(viewport=viewport)
        try:
            session = Browser(context, ui_server)
            session.login(ui_server.admin, ui_server.password)
            page = session.go(f"/ui/projects?q={name}")
            badge = page.locator("#project-table td.last-run a")
            assert badge.count() == 1
            assert badge.get_attribute("href") == f"/ui/executions/{running}"
            assert "RUNNING" in badge.inner_text() and f"after #{running}" in badge.inner_text()
            wait_js(page, "document.querySelector('#project-table td.last-run time').dataset.local === '1'")
            session.shot(shot)
            if viewport is PHONE:
                page = session.go("/ui/executions")
                assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
                session.shot("phone-executions")
            session.check_clean()
        finally:
            context.close()


def test_a_flows_all_runs_link_lists_that_flow_of_that_project_only(laptop: Browser, ui_server: LiveServer) -> None:
    """The flow page's "All runs": whole names, so neither the flow ``load_all`` beside ``load`` nor ``load`` of
    a project whose name holds this one's is listed; the form keeps the choice, and contains-search stays."""
    files = {"load.job": "type=noop\n", "load_all.job": "type=noop\n"}
    name = api_project(ui_server, files, "Runs")
    admin = ui_server.as_admin()
    admin.create_project(name + "2", "a name holding the other's")
    assert admin.upload(name + "2", zipped(files)).status_code == 200
    ours = admin.execute(name, "load")
    others = [admin.execute(name, "load_all"), admin.execute(name + "2", "load")]
    for exec_id in (ours, *others):
        admin.wait(exec_id)
    page = laptop.go(f"/ui/projects/{name}/flows/load")
    page.get_by_role("link", name="All runs").click()
    page.wait_for_selector(f"#execution-table tr[data-exec='{ours}']")
    listed = page.eval_on_selector_all("#execution-table tbody tr", "rs => rs.map(r => Number(r.dataset.exec))")
    assert listed == [ours]
    assert page.is_checked("#f-match") and page.input_value("#f-flow") == "load"
    page.uncheck("#f-match")  # what a user types is still looked for inside names
    page.click("form.filters button[type=submit]")
    page.wait_for_selector(f"#execution-table tr[data-exec='{others[1]}']")
    listed = page.eval_on_selector_all("#execution-table tbody tr", "rs => rs.map(r => Number(r.dataset.exec))")
    assert sorted(listed) == sorted([ours, *others])
    laptop.check_clean()
