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
        # The navigation stays on screen: every section, and Log out (behind the menu button on a phone).
        session.go("/ui/status")
        if width < 720:
            session.page.click("#menu-button")
            assert session.page.get_attribute("#menu-button", "aria-expanded") == "true"
        for link in session.page.locator("header.top a, header.top button:visible").all():
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, link.inner_text()
        session.check_clean()
    finally:
        context.close()


def test_the_navigation_folds_into_a_menu_on_a_phone(chromium: Any, ui_server: LiveServer) -> None:
    """At 390 px the sections and Log out sit behind one button, which a keyboard opens, walks and closes."""
    context = chromium.new_context(viewport=PHONE)
    try:
        session = Browser(context, ui_server)
        session.login(ui_server.admin, ui_server.password)
        page = session.go("/ui/schedules")
        button = page.locator("#menu-button")
        assert button.is_visible() and button.get_attribute("aria-expanded") == "false"
        assert button.get_attribute("aria-controls") == "top-menu"
        assert not page.is_visible("header.top nav") and not page.is_visible("text=Log out")
        header = page.locator("header.top").bounding_box()
        assert header is not None and header["height"] < 60  # one line while closed
        # The keyboard: Tab from the skip link and the brand to the button, Enter opens it.
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "menu-button"
        page.keyboard.press("Enter")
        assert button.get_attribute("aria-expanded") == "true"
        for name in ("Projects", "Executions", "Schedules", "Triggers", "Users", "Status"):
            link = page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
        logout = page.get_by_role("button", name="Log out")
        assert logout.is_visible()
        session.shot("phone-menu-open")
        # Tab walks into the menu; Escape closes it and gives the focus back to the button.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Projects"
        page.keyboard.press("Escape")
        assert button.get_attribute("aria-expanded") == "false"
        assert page.evaluate("document.activeElement.id") == "menu-button"
        assert not page.is_visible("header.top nav")
        # Users, through the menu, by mouse.
        button.click()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Users", exact=True).click()
        page.wait_for_url("**/ui/users")
        session.check_clean()
    finally:
        context.close()
    # On a laptop there is no menu button: everything is in the bar.
    wide = chromium.new_context(viewport=LAPTOP)
    try:
        session = Browser(wide, ui_server)
        session.login(ui_server.admin, ui_server.password)
        page = session.go("/ui/executions")
        assert not page.is_visible("#menu-button") and page.is_visible("text=Log out")
    finally:
        wide.close()
