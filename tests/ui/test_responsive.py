"""No page scrolls sideways: every page's document is measured at 390 and 360 px wide (phones) and at
1440 px (a laptop, where a hidden file input once made the project page 2,752 px wide). Tables and the
timeline may scroll inside themselves; the page may not."""

from __future__ import annotations

from typing import Any

import pytest

from server.live import LiveServer
from ui.driver import LAPTOP, PHONE, Browser
from ui.projects import DEMO
from ui.test_browser import api_project

pytestmark = pytest.mark.slow


def pages(name: str, exec_id: int) -> list[str]:
    return [
        "/ui/projects",
        f"/ui/projects/{name}",
        f"/ui/projects/{name}?tab=versions",
        f"/ui/projects/{name}?tab=log",
        f"/ui/projects/{name}?tab=permissions",
        f"/ui/projects/{name}/flows/report",
        "/ui/executions",
        f"/ui/executions/{exec_id}",
        "/ui/schedules",
        "/ui/triggers",
        "/ui/users",
        "/ui/status",
    ]


def overflow(page: Any) -> int:
    """How many pixels the document is wider than the window (0: no sideways scroll)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


@pytest.mark.parametrize("width", [390, 360, LAPTOP["width"]])
def test_no_page_is_wider_than_the_screen(chromium: Any, ui_server: LiveServer, broken_run: int, width: int) -> None:
    name = api_project(ui_server, DEMO, "fits")
    viewport = {"width": width, "height": PHONE["height"] if width < 1000 else LAPTOP["height"]}
    login_context = chromium.new_context(viewport=viewport)
    try:
        anonymous = Browser(login_context, ui_server)
        anonymous.go("/ui/login")
        assert overflow(anonymous.page) == 0, "/ui/login"
    finally:
        login_context.close()
    context = chromium.new_context(viewport=viewport)
    try:
        session = Browser(context, ui_server)
        session.login(ui_server.admin, ui_server.password)
        wide = {}
        for path in pages(name, broken_run):
            page = session.go(path)
            page.wait_for_load_state("networkidle")
            if overflow(page):
                wide[path] = overflow(page)
            if width == 390 and path in (f"/ui/executions/{broken_run}", "/ui/projects"):
                session.shot("phone-" + path.strip("/").split("/")[1])
        assert not wide, f"pages wider than {width} px by: {wide}"
        # The navigation stays on screen: every section, and Log out.
        session.go("/ui/status")
        for link in session.page.locator("header.top a, header.top button").all():
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, link.inner_text()
        session.check_clean()
    finally:
        context.close()
