"""The execution page puts the failure first: a 61-job flow broken in the middle, seen at 1440x900.

The failed job must be named above the fold (in the first 900 px) with the first error lines of its
log, one click must open its log, the job table must list it first and filter to it, the graph must
focus it, and failed and cancelled jobs must look different (loud red against grey).
"""

from __future__ import annotations

import pytest

from ui.driver import LAPTOP, Browser
from ui.projects import MIDDLE
from ui.test_browser import wait_js

pytestmark = pytest.mark.slow


def test_the_failed_job_is_named_above_the_fold_and_one_click_away(laptop: Browser, broken_run: int) -> None:
    page = laptop.go(f"/ui/executions/{broken_run}")
    wait_js(page, "document.querySelector('#failure-excerpt').textContent.includes('corrupt')")
    banner = page.locator("#failure-banner")
    assert page.inner_text("#failure-job") == MIDDLE
    box = banner.bounding_box()
    assert box is not None and box["y"] + box["height"] <= LAPTOP["height"], box
    assert "ERROR: partition 7 is corrupt" in page.inner_text("#failure-excerpt")
    laptop.shot("execution-failure-1440")
    # One click: its log opens, scrolled into view.
    page.click("#failure-open")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('partition 7 is corrupt')")
    assert page.inner_text("#log-name") == MIDDLE
    wait_js(
        page,
        "(r => r.top >= 0 && r.top < innerHeight / 2)(document.querySelector('#log-section').getBoundingClientRect())",
    )
    laptop.check_clean()


def test_failed_jobs_are_pinned_first_filtered_and_focused(laptop: Browser, broken_run: int) -> None:
    page = laptop.go(f"/ui/executions/{broken_run}")
    wait_js(page, "document.querySelectorAll('#job-table tbody tr').length === 61")
    assert page.get_attribute("#job-table tbody tr:first-child", "data-job") == MIDDLE
    # The graph focuses the failure: its node is the one keyboard focus enters on.
    wait_js(page, "document.querySelector('#graph .node[tabindex=\"0\"]') !== null")
    assert page.get_attribute('#graph .node[tabindex="0"]', "aria-label").startswith(f"{MIDDLE} command, failed")
    page.check("#job-filter input[value=failed]")
    visible = page.eval_on_selector_all(
        "#job-table tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.job)"
    )
    assert visible == [MIDDLE]
    assert page.inner_text("#count-failed") == "(1)"
    page.check("#job-filter input[value=running]")
    assert page.is_visible("#job-filter-empty")
    page.check("#job-filter input[value=all]")
    # Failed is loud red; a cancelled job downstream is grey, not a second shade of red.
    colour = "(s) => getComputedStyle(document.querySelector(s)).backgroundColor"
    failed = page.evaluate(colour, f"#job-table tr[data-job='{MIDDLE}'] .status")
    cancelled = page.evaluate(colour, "#job-table tr[data-job='done'] .status")
    assert failed == "rgb(198, 40, 40)"
    red, green, blue = (int(v) for v in cancelled[4:-1].split(","))
    assert max(red, green, blue) - min(red, green, blue) < 20, cancelled  # a grey
    glyph = "(s) => getComputedStyle(document.querySelector(s), '::before').content"
    assert page.evaluate(glyph, f"#job-table tr[data-job='{MIDDLE}'] .status") != page.evaluate(
        glyph, "#job-table tr[data-job='done'] .status"
    )
    laptop.check_clean()
