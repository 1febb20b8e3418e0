"""An accessibility audit of every page the browser tests open, by axe-core in Chromium: no violation allowed.

axe-core's script comes from a PyPI package that ships it (axe-playwright-python, pinned in the ``test``
extra); it is read from the installed package and run in each page as it stands once its scripts have drawn
it (graphs, grids, tables filled). The pages: those the responsive test measures, a flow's runs x jobs grid,
the 61-job flow's graph and its failed execution (banner, log open), the Azkaban import page and the login
page, on a laptop and on a phone (where the navigation is a menu, opened for the audit); as the admin and as a
user who may only read; the flow and execution pages also with a job's details panel open.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest

from server.live import LiveServer
from sudoless.accounts import Permission
from ui.driver import LAPTOP, PHONE, Browser
from ui.projects import DEMO
from ui.test_browser import api_project, wait_js
from ui.test_job_panel import open_panel
from ui.test_responsive import pages

pytestmark = pytest.mark.slow


def axe_source() -> str:
    try:
        return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        pytest.fail("axe-playwright-python is not installed (it is in the test extra: pip install -e '.[test]')")


def audit(page: Any, source: str) -> list[str]:
    """axe-core's violations on the page, one readable line per rule and element."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)  # Playwright's evaluation, not a script tag: the UI's CSP stays as it is
    # axe's default rules, and one it still calls experimental: a control's name must contain its visible text
    found = page.evaluate(
        """async () => (await window.axe.run(document, {
            resultTypes: ['violations'], rules: {'label-content-name-mismatch': {enabled: true}}})).violations"""
    )
    lines = []
    for rule in found:
        for node in rule["nodes"][:5]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"{rule['id']} ({rule['impact']}): {rule['help']} at {node['target']}: {summary[:300]}")
        if len(rule["nodes"]) > 5:
            lines.append(f"{rule['id']}: and {len(rule['nodes']) - 5} more elements")
    return lines


def settle(page: Any) -> None:
    """Wait until the page's scripts have drawn what they draw (graph nodes, grid cells, job rows)."""
    page.wait_for_load_state("networkidle")
    if page.locator("#graph").count():
        wait_js(page, "document.querySelector('#graph .node') !== null")
    if page.locator("#run-grid").count():
        wait_js(page, "document.querySelector('#run-grid tbody td') !== null")


def audit_pages(session: Browser, paths: list[str], source: str, panels: dict[str, str]) -> dict[str, list[str]]:
    """Each page audited as drawn, with the phone's menu open; on the pages named in ``panels`` a second time
    with that job's details panel open."""
    failures: dict[str, list[str]] = {}
    for path in paths:
        page = session.go(path)
        settle(page)
        if page.is_visible("#menu-button"):
            page.click("#menu-button")
        failures[path] = audit(page, source)
        if path in panels:
            if page.is_visible("#menu-button[aria-expanded=true]"):
                page.click("#menu-button")
            open_panel(page, panels[path])
            page.wait_for_load_state("networkidle")
            failures[f"{path} with the details of {panels[path]}"] = audit(page, source)
    session.check_clean()
    return failures


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1440", "390"])
def test_no_page_has_an_accessibility_violation(
    chromium: Any, ui_server: LiveServer, broken_run: int, viewport: dict[str, int]
) -> None:
    """As the admin sees them, and as a user who may only READ the two projects sees them (no run form, no
    permission editing: other pages), each flow and execution page also with a job's details panel open."""
    source = axe_source()
    name = api_project(ui_server, DEMO, "axe")
    admin = ui_server.as_admin()
    report = admin.execute(name, "report")
    admin.wait(report, timeout=60)
    broken = ui_server.store.executions.get(broken_run).project_name
    paths = [
        *pages(name, broken_run),
        f"/ui/executions/{report}",
        f"/ui/projects/{name}/flows/report/grid",
        f"/ui/projects/{broken}/flows/done",
        f"/ui/projects/{broken}/flows/done/grid",
        f"/ui/executions/{broken_run}#log=L03_05&attempt=0",
    ]
    panels = {
        f"/ui/projects/{name}/flows/report": "enrich",
        f"/ui/executions/{report}": "enrich",
        f"/ui/projects/{broken}/flows/done": "L03_05",
    }
    failures: dict[str, list[str]] = {}
    context = chromium.new_context(viewport=viewport)
    try:
        anonymous = Browser(context, ui_server)
        anonymous.go("/ui/login")
        failures["/ui/login"] = audit(anonymous.page, source)
    finally:
        context.close()
    reader, password = ui_server.add_user("axereader")
    for project in (name, broken):
        record = ui_server.store.projects.get(name=project)
        assert record is not None
        ui_server.accounts.set_project_permission(record.id, reader.name, False, Permission.READ)
    for user, secret, shown in (
        (ui_server.admin, ui_server.password, [*paths, "/ui/status/azkaban-import"]),
        (reader.name, password, paths),  # /ui/users and /ui/status are refused to a reader: the error page
    ):
        context = chromium.new_context(viewport=viewport)
        try:
            session = Browser(context, ui_server)
            session.login(user, secret)
            found = audit_pages(session, shown, source, panels)
            failures |= {f"{path} (as {user})": lines for path, lines in found.items()}
        finally:
            context.close()
    text = "\n".join(f"{path}\n  " + "\n  ".join(lines) for path, lines in failures.items() if lines)
    assert not text, f"axe-core found accessibility violations:\n{text}"


def test_the_focus_ring_shows_on_status_coloured_nodes(laptop: Browser, broken_run: int) -> None:
    """A status colours a node's outline; the keyboard focus must still show on top of it (amber, thicker):
    on the failed node the page focuses, and on a cancelled one focused by hand."""
    page = laptop.go(f"/ui/executions/{broken_run}")
    wait_js(page, "document.querySelector('#graph .node.s-failed[tabindex=\"0\"]') !== null")
    stroke = "(g) => getComputedStyle(g.querySelector('.body')).stroke"
    width = "(g) => parseFloat(getComputedStyle(g.querySelector('.body')).strokeWidth)"
    failed = page.locator("#graph .node.s-failed").first
    failed.focus()
    assert failed.evaluate(stroke) == "rgb(245, 158, 11)" and failed.evaluate(width) >= 4
    cancelled = page.locator("#graph .node.s-cancelled").first
    assert cancelled.evaluate(stroke) != "rgb(245, 158, 11)"  # grey while not focused
    cancelled.focus()
    assert cancelled.evaluate(stroke) == "rgb(245, 158, 11)" and cancelled.evaluate(width) >= 4
    laptop.check_clean()
