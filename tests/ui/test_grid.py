"""A flow's runs x jobs grid, driven in Chromium on the 61-job flow broken in the middle.

Two real runs of it: the broken one (its middle job FAILED, what follows CANCELLED) and one with that job
disabled. The grid must show one row per job in the flow's order and one column per run, newest on the
right; the failed cell must be loud red with its glyph, one click must open that attempt's log, the run
count must be a choice, and on a phone the grid must scroll inside itself, not the page.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from server.live import LiveServer
from ui.driver import LAPTOP, PHONE, Browser
from ui.history import GRID_PROJECT, seed_grid
from ui.projects import MIDDLE
from ui.test_browser import wait_js

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_runs(ui_server: LiveServer, broken_run: int) -> tuple[str, int, int]:
    """(project, the broken run, a later run with the broken job disabled)."""
    name = ui_server.store.executions.get(broken_run).project_name
    admin = ui_server.as_admin()
    fixed = admin.execute(name, "done", disabled=f'["{MIDDLE}"]')
    assert admin.wait(fixed, timeout=60)["status"] == "SUCCEEDED"
    return name, broken_run, fixed


def grid_url(name: str, **query: Any) -> str:
    tail = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/ui/projects/{name}/flows/done/grid" + (f"?{tail}" if tail else "")


def test_runs_by_jobs_with_the_failure_one_click_from_its_log(laptop: Browser, two_runs: tuple[str, int, int]) -> None:
    name, broken, fixed = two_runs
    page = laptop.go(f"/ui/projects/{name}/flows/done")
    page.click("#grid-link")
    page.wait_for_selector("#run-grid")
    # One column per run, oldest on the left, newest on the right (Airflow's order).
    assert page.eval_on_selector_all("#run-grid thead th[data-exec]", "hs => hs.map(h => +h.dataset.exec)") == [
        broken,
        fixed,
    ]
    heads = page.locator("#run-grid thead th[data-exec]")
    assert "FAILED" in heads.nth(0).inner_text() and "SUCCEEDED" in heads.nth(1).inner_text()
    assert re.search(r"\d\d-\d\d \d\d:\d\d", heads.nth(1).locator("time").inner_text())
    # One row per job, in the flow's order: 6 layers of 10, then done.
    jobs = page.eval_on_selector_all("#run-grid tbody tr", "rows => rows.map(r => r.dataset.job)")
    assert len(jobs) == 61 and jobs[0] == "L00_00" and jobs[10] == "L01_00" and jobs[-1] == "done"
    failed = page.locator(f"#run-grid tr[data-job='{MIDDLE}'] td").nth(0).locator("a")
    assert "s-failed" in (failed.get_attribute("class") or "")
    assert failed.get_attribute("title") == f"{MIDDLE} in run {broken}: FAILED"
    assert page.get_by_role("link", name=f"{MIDDLE} in run {broken}: FAILED", exact=True).count() == 1
    colour = "(e) => getComputedStyle(e).backgroundColor"
    glyph = "(e) => getComputedStyle(e, '::before').content"
    assert failed.evaluate(colour) == "rgb(198, 40, 40)"
    assert failed.evaluate(glyph) == '"\u2716"'
    cancelled = page.locator("#run-grid tr[data-job='done'] td").nth(0).locator("a")
    assert "s-cancelled" in (cancelled.get_attribute("class") or "")
    assert cancelled.evaluate(glyph) == '"\u2298"' and cancelled.evaluate(colour) != failed.evaluate(colour)
    disabled = page.locator(f"#run-grid tr[data-job='{MIDDLE}'] td").nth(1).locator("a")
    assert "s-skipped" in (disabled.get_attribute("class") or "")  # a disabled job ends SKIPPED
    laptop.shot("grid-1440")
    # One click: the execution page opens with that attempt's log in view.
    failed.click()
    page.wait_for_url(re.compile(rf".*/ui/executions/{broken}#log={MIDDLE}&attempt=0$"))
    wait_js(page, "document.querySelector('#log-text').textContent.includes('partition 7 is corrupt')")
    assert page.inner_text("#log-name") == MIDDLE
    wait_js(
        page,
        "(r => r.top >= -2 && r.top < innerHeight / 2)(document.querySelector('#log-section').getBoundingClientRect())",
    )
    laptop.check_clean()


def test_how_many_runs_is_a_choice(laptop: Browser, two_runs: tuple[str, int, int]) -> None:
    name, broken, fixed = two_runs
    page = laptop.go(grid_url(name))
    assert page.input_value("#grid-runs") == "25"
    page.select_option("#grid-runs", "100")
    page.click("#grid-size button[type=submit]")
    page.wait_for_url(re.compile(r".*runs=100$"))
    assert page.input_value("#grid-runs") == "100"
    assert page.locator("#run-grid thead th[data-exec]").count() == 2
    # One run only: the newest.
    page = laptop.go(grid_url(name, runs=1))
    assert page.eval_on_selector_all("#run-grid thead th[data-exec]", "hs => hs.map(h => +h.dataset.exec)") == [fixed]
    assert page.input_value("#grid-runs") == "1"
    # Out of range or not a number: clamped to 100, or the default.
    assert "Last 100" in laptop.go(grid_url(name, runs=5000)).inner_text("#grid-runs option:checked")
    assert laptop.go(grid_url(name, runs="x")).input_value("#grid-runs") == "25"
    laptop.check_clean()


def test_a_flow_that_never_ran_and_one_that_does_not_exist(laptop: Browser, two_runs: tuple[str, int, int]) -> None:
    from ui.projects import DEMO
    from ui.test_browser import api_project

    fresh = api_project(laptop.server, DEMO, "never")
    page = laptop.go(f"/ui/projects/{fresh}/flows/report/grid")
    assert "has not run yet" in page.inner_text("main")
    response = page.goto(laptop.server.url + f"/ui/projects/{fresh}/flows/nothing/grid")
    assert response is not None and response.status == 404
    laptop.check_clean()


@pytest.fixture(scope="module")
def forty_runs(ui_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The 61-job flow with 40 finished runs written in bulk (1 in 5 failed in the middle): project ``wide``."""
    seed_grid(ui_server.store, ui_server.settings, tmp_path_factory.mktemp("grid"), runs=40)
    return GRID_PROJECT


def test_forty_runs_on_a_laptop_and_on_a_phone(chromium: Any, ui_server: LiveServer, forty_runs: str) -> None:
    for viewport, shot in ((LAPTOP, "grid-40-runs-1440"), (PHONE, "phone-grid")):
        context = chromium.new_context(viewport=viewport)
        try:
            session = Browser(context, ui_server)
            session.login(ui_server.admin, ui_server.password)
            page = session.go(grid_url(forty_runs, runs=50))
            page.wait_for_selector("#run-grid tbody td a")
            assert page.locator("#run-grid thead th[data-exec]").count() == 40
            assert page.locator("#run-grid tbody td a").count() == 40 * 61
            assert page.locator("#run-grid tbody td a.s-failed").count() > 0
            # The page never scrolls sideways; the grid does, inside its frame, on the phone.
            width = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            assert page.evaluate(width) == 0
            frame = page.locator(".grid-wrap")
            box = frame.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
            assert frame.evaluate("e => e.scrollHeight > e.clientHeight")  # 61 rows: taller than the frame
            session.shot(shot)
            if viewport is PHONE:
                assert frame.evaluate("e => e.scrollWidth > e.clientWidth")
                # Scrolled sideways, the job names stay in view (a sticky column).
                name = page.locator("#run-grid tbody th").first
                cell = page.locator("#run-grid tbody td a").first
                before, cell_before = name.bounding_box(), cell.bounding_box()
                frame.evaluate("e => { e.scrollLeft = 400; }")
                after, cell_after = name.bounding_box(), cell.bounding_box()
                assert before and after and cell_before and cell_after
                assert abs(after["x"] - before["x"]) < 4 and cell_before["x"] - cell_after["x"] > 300
            session.check_clean()
        finally:
            context.close()


def test_the_grid_is_one_tab_stop_walked_with_the_arrow_keys(laptop: Browser, two_runs: tuple[str, int, int]) -> None:
    """WAI-ARIA's grid pattern: Tab enters the grid on one cell and Tab again leaves it; the arrow keys, Home,
    End and Ctrl+End move the focus between cells; the grid remembers where it was; Enter opens the log."""
    name, broken, fixed = two_runs
    page = laptop.go(grid_url(name))
    page.wait_for_selector("#run-grid tbody td a")
    active = """() => { const e = document.activeElement; const c = e.closest('th, td');
        return c ? [c.parentElement.rowIndex, c.cellIndex, e.tagName, e.getAttribute('title') || ''] : [e.id]; }"""
    assert page.locator("#run-grid [tabindex='0']").count() == 1
    assert page.get_attribute("#run-grid", "role") == "grid"
    page.focus("#grid-size button[type=submit]")
    page.keyboard.press("Tab")
    assert page.evaluate(active) == [1, 1, "A", f"L00_00 in run {broken}: SUCCEEDED"]
    page.keyboard.press("ArrowRight")
    assert page.evaluate(active)[:3] == [1, 2, "A"]
    page.keyboard.press("ArrowRight")  # the last column: the focus stays
    assert page.evaluate(active)[:3] == [1, 2, "A"]
    page.keyboard.press("ArrowDown")
    assert page.evaluate(active)[:2] == [2, 2]
    page.keyboard.press("Home")  # the row's header: the job's name, focusable though not a link
    assert page.evaluate(active)[:3] == [2, 0, "TH"]
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # the header row: the first run's column
    assert page.evaluate(active)[:3] == [0, 0, "TH"]
    page.keyboard.press("ArrowRight")
    assert page.evaluate(active)[:3] == [0, 1, "A"]
    page.keyboard.press("Control+End")
    assert page.evaluate(active) == [61, 2, "A", f"done in run {fixed}: SUCCEEDED"]
    assert page.locator("#run-grid [tabindex='0']").count() == 1
    page.keyboard.press("Tab")  # out of the grid in one press
    assert page.evaluate("() => document.getElementById('run-grid').contains(document.activeElement)") is False
    page.keyboard.press("Shift+Tab")  # back where it was
    assert page.evaluate(active)[:2] == [61, 2]
    # To the broken run's failed cell, then Enter: its log.
    row = page.eval_on_selector_all("#run-grid tr", "rs => rs.map(r => r.dataset.job || '')").index(MIDDLE)
    for _ in range(61 - row):
        page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(active) == [row, 1, "A", f"{MIDDLE} in run {broken}: FAILED"]
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/ui/executions/{broken}#log={MIDDLE}&attempt=0$"))
    laptop.check_clean()
