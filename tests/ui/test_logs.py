"""The log viewer as a debugging tool: error lines stand out, search moves between matches, paging puts
the view where reading goes on, a job that never ran says why, and the whole log downloads as a file
(over HTTP, behind the same permission as the viewer)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from server.live import LiveServer
from ui.driver import Browser
from ui.projects import MIDDLE
from ui.test_browser import api_project, wait_js

pytestmark = pytest.mark.slow

LINES = 5000  # about 280 KB: five pages of 64 KB
PAGE_BYTES = 65536  # the viewer's page


@pytest.fixture(scope="module")
def long_run(ui_server: LiveServer) -> int:
    text = "".join(f"line {i:05d} {'y' * 44}\n" for i in range(LINES))
    name = api_project(ui_server, {"long.job": "type=command\ncommand=cat long.txt\n", "long.txt": text}, "longlog")
    admin = ui_server.as_admin()
    exec_id = admin.execute(name, "long")
    assert admin.wait(exec_id)["status"] == "SUCCEEDED"
    return exec_id


def open_log(page: Any, job: str) -> None:
    page.click(f"#job-table tr[data-job='{job}'] button")
    wait_js(page, "document.querySelector('#log-name').textContent === arg", arg=job)


def test_error_lines_are_marked_and_search_moves_between_matches(browser: Browser, broken_run: int) -> None:
    page = browser.go(f"/ui/executions/{broken_run}")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('is corrupt')")
    errors = page.eval_on_selector_all("#log-text .is-error", "spans => spans.map(s => s.textContent)")
    assert "ERROR: partition 7 is corrupt\n" in errors
    assert not any(line.startswith("loading partition") for line in errors)  # plain output stays plain
    page.fill("#log-search", "partition 7")
    count = re.fullmatch(r"1 of (\d+)", page.inner_text("#log-search-count"))
    assert count is not None and int(count.group(1)) >= 3, page.inner_text("#log-search-count")
    total = int(count.group(1))
    assert page.evaluate("CSS.highlights.get('log-match').size") == total
    page.click("#log-search-next")
    assert page.inner_text("#log-search-count") == f"2 of {total}"
    page.click("#log-search-prev")
    page.click("#log-search-prev")
    assert page.inner_text("#log-search-count") == f"{total} of {total}"  # wraps around
    current = page.evaluate("CSS.highlights.get('log-current').values().next().value.toString()")
    assert current == "partition 7"
    page.evaluate("document.querySelector('#log-section').scrollIntoView({block: 'start'})")
    browser.shot("log-search")
    page.fill("#log-search", "no such words")
    assert page.inner_text("#log-search-count") == "No match in the part shown"
    browser.check_clean()


def test_a_job_that_never_ran_says_why(browser: Browser, broken_run: int) -> None:
    page = browser.go(f"/ui/executions/{broken_run}")
    open_log(page, "L04_05")  # a child of the failed job
    wait_js(page, "document.querySelector('#log-range').textContent.startsWith('Not run')")
    assert page.inner_text("#log-range") == f"Not run: upstream job {MIDDLE} (FAILED) did not succeed."
    open_log(page, "L01_00")  # unrelated, cancelled because the failure action starts no new job
    wait_js(page, "document.querySelector('#log-range').textContent.includes('failure action')")
    assert "FINISH_CURRENTLY_RUNNING" in page.inner_text("#log-range")
    assert "empty" not in page.inner_text("#log-range")
    browser.check_clean()


def scrolled(page: Any) -> str:
    return page.evaluate(
        "(p => p.scrollTop === 0 ? 'top' : p.scrollTop + p.clientHeight >= p.scrollHeight - 2"
        " ? 'bottom' : 'middle')(document.querySelector('#log-text'))"
    )


def test_paging_scrolls_to_where_reading_goes_on(browser: Browser, long_run: int) -> None:
    page = browser.go(f"/ui/executions/{long_run}")
    open_log(page, "long")
    wait_js(page, f"document.querySelector('#log-text').textContent.includes('line {LINES - 1:05d}')")
    assert scrolled(page) == "bottom"  # the end of the log, followed
    page.click("#log-first")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('line 00000')")
    assert scrolled(page) == "top"
    page.evaluate("document.querySelector('#log-text').scrollTop = 1e9")  # read to the end of the page
    page.click("#log-next")
    wait_js(page, "document.querySelector('#log-range').textContent.startsWith('Bytes 65,536')")
    assert scrolled(page) == "top"  # the next page starts at its top, not where the last one was left
    page.click("#log-prev")
    wait_js(page, "document.querySelector('#log-range').textContent.startsWith('Bytes 0')")
    assert scrolled(page) == "bottom"  # going back continues just before what was shown
    browser.check_clean()


def test_a_follow_step_still_in_flight_does_not_undo_a_page_turn(browser: Browser, long_run: int) -> None:
    """Opening a log follows it: one read at its end is in flight when the user turns to the first page. That
    read's answer, arriving last, must neither scroll the first page to its bottom nor append to it."""
    page = browser.page
    held: list[Any] = []

    def hold_reads_at_the_end(route: Any) -> None:
        offset = int(parse_qs(urlparse(route.request.url).query).get("offset", ["0"])[0])
        if offset > 0 and offset % PAGE_BYTES:  # the follow step reads from the log's end; pages start at k * 64 KB
            held.append(route)
        else:
            route.continue_()

    page.route("**/log?*", hold_reads_at_the_end)
    try:
        browser.go(f"/ui/executions/{long_run}")
        open_log(page, "long")
        wait_js(page, f"document.querySelector('#log-text').textContent.includes('line {LINES - 1:05d}')")
        for _ in range(200):  # route handlers run while the page is waited on
            if held:
                break
            page.wait_for_timeout(25)
        assert len(held) == 1, "opening the log should start one follow read at its end"
        page.click("#log-first")
        wait_js(page, "document.querySelector('#log-range').textContent.startsWith('Bytes 0')")
        assert scrolled(page) == "top"
        with page.expect_response(lambda response: response.url == held[0].request.url):
            held[0].continue_()
        page.wait_for_timeout(300)  # the late answer's handling: a fetch's continuation, well under this
        assert scrolled(page) == "top"
        text = page.evaluate("document.querySelector('#log-text').textContent")
        assert "line 00000" in text and len(text.encode()) <= PAGE_BYTES
        assert page.inner_text("#log-range").startswith("Bytes 0")
    finally:
        page.unroute("**/log?*")
    browser.check_clean()


def test_the_whole_log_downloads_as_a_file_with_permission(
    browser: Browser, new_browser: Any, ui_server: LiveServer, long_run: int
) -> None:
    page = browser.go(f"/ui/executions/{long_run}")
    open_log(page, "long")
    href = page.get_attribute("#log-download", "href")
    assert href is not None and "download=1" in href and "job=long" in href
    response = page.request.get(ui_server.url + href)  # over HTTP, with the browser's session cookie
    assert response.status == 200, response.text()[:300]
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="execution-{long_run}-long-attempt-0.log"'
    body = response.body()
    size = page.request.get(ui_server.url + f"/ui/data/executions/{long_run}/log?job=long&offset=-1").json()["size"]
    assert len(body) == size > LINES * 55
    text = body.decode()
    assert "line 00000 " in text and f"line {LINES - 1:05d} " in text and text.count("\n") > LINES
    flow_log = page.request.get(ui_server.url + f"/ui/data/executions/{long_run}/log?download=1")
    assert flow_log.headers["content-disposition"] == f'attachment; filename="execution-{long_run}-flow.log"'
    assert "long" in flow_log.text()

    # Someone without READ on the project gets no byte of it; nobody logged in neither.
    stranger, password = ui_server.add_user("stranger")
    other: Browser = new_browser()
    other.login(stranger.name, password)
    refused = other.page.request.get(ui_server.url + href)
    assert refused.status == 403 and "line 00000" not in refused.text()
    anonymous = ui_server.http().get(href)
    assert anonymous.status_code in (401, 403) and "line 00000" not in anonymous.text


def test_a_session_that_ends_on_the_execution_page_leads_to_the_login_page(browser: Browser, broken_run: int) -> None:
    page = browser.go(f"/ui/executions/{broken_run}")
    wait_js(page, "document.querySelector('#log-text').textContent.includes('is corrupt')")
    browser.context.clear_cookies()  # the session ends (expired, or logged out in another tab)
    page.click("#job-table tr[data-job='L04_05'] button")
    page.wait_for_url("**/ui/login?next=*")
    browser.check_clean()  # no uncaught promise rejection on the way
