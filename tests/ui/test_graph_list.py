"""The graph's list mode: on a phone the 61-job graph starts as a list of its jobs (status and parents shown,
each a button doing what a click on its node does); on a laptop it starts as the drawing, and the List button
switches either way."""

from __future__ import annotations

from typing import Any

import pytest

from server.live import LiveServer
from ui.driver import PHONE, Browser
from ui.test_browser import wait_js

pytestmark = pytest.mark.slow

FAILED = "L03_05"  # the job tests/ui/projects.broken_in_the_middle breaks


def mode(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => ({
            list: !document.querySelector('#graph .graph-list').hidden,
            drawing: getComputedStyle(document.querySelector('#graph .graph-svg')).display !== 'none',
            pressed: document.querySelector('#graph .graph-mode').getAttribute('aria-pressed'),
            items: document.querySelectorAll('#graph .graph-item').length})"""
        )
    )


def test_a_phone_gets_the_jobs_as_a_list(chromium: Any, ui_server: LiveServer, broken_run: int) -> None:
    phone = Browser(chromium.new_context(viewport=PHONE), ui_server)
    phone.login(ui_server.admin, ui_server.password)
    page = phone.go(f"/ui/executions/{broken_run}")
    wait_js(
        page,
        "(document.querySelector(`#graph .graph-item[data-id='${arg}'] .status`) || {}).textContent === 'FAILED'",
        arg=FAILED,
    )
    assert mode(page) == {"list": True, "drawing": False, "pressed": "true", "items": 61}
    failed = page.locator(f"#graph .graph-item[data-id='{FAILED}']")
    assert failed.locator(".status").inner_text() == "FAILED"
    assert "after L02_" in failed.locator(".graph-after").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    phone.shot("graph-list-390")
    failed.locator("button").click()  # what a click on the node does here: open its log
    wait_js(page, "document.querySelector('#log-name').textContent === arg", arg=FAILED)
    phone.check_clean()
    phone.context.close()


def test_a_laptop_gets_the_drawing_and_can_switch(laptop: Browser, broken_run: int) -> None:
    page = laptop.go(f"/ui/executions/{broken_run}")
    page.wait_for_selector("#graph .node")
    assert mode(page) == {"list": False, "drawing": True, "pressed": "false", "items": 61}
    page.click("#graph .graph-mode")
    assert mode(page)["list"] and not mode(page)["drawing"]
    page.click("#graph .graph-mode")
    state = mode(page)
    assert state["drawing"] and not state["list"] and state["pressed"] == "false"
    # drawn anew when shown again (a hidden drawing cannot measure its labels)
    assert page.locator("#graph .node").count() == 61
    laptop.check_clean()
