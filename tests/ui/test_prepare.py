"""Rerunning what failed, from the execution page of a failed run: *Prepare execution* (Azkaban's: the run
form with the jobs that succeeded disabled, shown and explained) and *Restart failed* (the new run continues
in a copy of the failed run's folder). Both need EXECUTE, checked by the server, not only by hidden buttons."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from server.live import LiveServer
from sudoless.accounts import Permission
from ui.driver import LAPTOP, PHONE, Browser
from ui.test_browser import api_project, wait_js, wait_status

pytestmark = pytest.mark.slow

DISABLED = ["a", "alone", "side"]  # what succeeded in the broken run
AGAIN = ["bad", "c", "end"]  # the failed job and what depends on it


def broken(marker: Path) -> dict[str, str]:
    """``bad`` fails until ``marker`` exists, and then needs the file ``a`` wrote into the run's folder."""
    return {
        "a.job": 'type=command\ncommand=sh -c "echo from-a > a.out"\n',
        "bad.job": (
            "type=command\ndependencies=a\n"
            f'command=sh -c "echo checking; test -e {marker} || {{ echo ERROR: not fixed >&2; exit 1; }}; cat a.out"\n'
        ),
        "c.job": "type=command\ndependencies=bad\ncommand=echo after bad\n",
        "side.job": "type=command\ndependencies=a\ncommand=echo side\n",
        "alone.job": "type=command\ncommand=echo alone\n",
        "end.job": "type=noop\ndependencies=c,side,alone\n",
    }


def job_statuses(page: Any) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            "#job-table tbody tr", "rows => rows.map(r => [r.dataset.job, r.querySelector('.status').textContent])"
        )
    )


def new_execution(page: Any, leaving: str = "") -> int:
    """The id of the execution page the browser goes to next (from ``leaving``, when it is one already)."""
    page.wait_for_url(lambda url: re.search(r"/ui/executions/\d+$", url) is not None and url != leaving, timeout=60_000)
    return int(page.url.rsplit("/", 1)[1])


def test_prepare_execution_reruns_only_what_failed_and_restart_continues(
    chromium: Any, ui_server: LiveServer, tmp_path: Path
) -> None:
    marker = tmp_path / "fixed"
    name = api_project(ui_server, broken(marker), "prepare")
    admin = ui_server.as_admin()
    first = admin.execute(name, "end", failureAction="finishPossible")
    assert admin.wait(first, timeout=60)["status"] == "FAILED"

    context = chromium.new_context(viewport=LAPTOP)
    try:
        laptop = Browser(context, ui_server)
        laptop.login(ui_server.admin, ui_server.password)
        page = laptop.go(f"/ui/executions/{first}")
        page.wait_for_selector("#prepare-button:not([hidden])")
        assert page.is_visible("#restart-button")
        page.click("#prepare-button")
        page.wait_for_url(f"**/ui/projects/{name}/flows/end?prepare={first}")
        page.wait_for_selector("#graph .node")

        # The jobs that succeeded are shown, unticked and explained; the others are ticked.
        note = page.inner_text("#prepared-note")
        assert f"execution #{first}" in note and "3 job(s) that succeeded" in note
        ticks = dict(page.eval_on_selector_all(".job-enabled", "boxes => boxes.map(b => [b.value, b.checked])"))
        assert ticks == {job: job not in DISABLED for job in DISABLED + AGAIN}
        why = page.eval_on_selector_all(
            "#job-list li", "items => items.filter(i => i.querySelector('.prepared-why')).map(i => i.textContent)"
        )
        assert len(why) == 3 and all(f"succeeded in #{first}" in w for w in why)
        assert page.inner_text("#disabled-count") == "3 job(s) disabled: a, alone, side."
        greyed = page.eval_on_selector_all("#graph .node.is-disabled", "nodes => nodes.map(n => n.dataset.id)")
        assert sorted(greyed) == DISABLED
        # The first run's own options come back: it ran with "finish every job that can still run".
        assert page.input_value("#failure-action") == "finishPossible"
        laptop.shot("prepare-1440")
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
        laptop.shot("prepare-390")
        page.set_viewport_size(LAPTOP)

        # Fix nothing and run: only the failed job and its descendants are left to run, and it fails again.
        page.click("#run-button")
        second = new_execution(page)
        wait_status(page, "FAILED", timeout=40)
        wait_js(page, "document.querySelectorAll('#job-table tbody tr').length === 6")
        statuses = job_statuses(page)
        assert {job for job, status in statuses.items() if status == "SKIPPED"} == set(DISABLED), statuses
        assert statuses["bad"] == "FAILED" and statuses["c"] == statuses["end"] == "CANCELLED", statuses
        log = page.request.get(ui_server.url + f"/ui/data/executions/{second}/log?job=bad").json()
        assert "ERROR: not fixed" in log["data"]
        skipped = page.request.get(ui_server.url + f"/ui/data/executions/{second}/log?job=a").json()
        assert skipped["size"] == 0  # a did not run again

        # Restart failed, once the cause is fixed: it continues in the first run's folder (a.out is there).
        marker.touch()
        laptop.go(f"/ui/executions/{first}")
        page.wait_for_selector("#restart-button:not([hidden])")
        leaving = page.url  # read before the click: the new page can load before the click returns
        page.click("#restart-button")  # the confirmation is accepted by the test's browser
        third = new_execution(page, leaving)
        assert third not in (first, second)
        wait_status(page, "SUCCEEDED", timeout=40)
        statuses = job_statuses(page)
        assert statuses == {**dict.fromkeys(DISABLED, "SKIPPED"), **dict.fromkeys(AGAIN, "SUCCEEDED")}, statuses
        log = page.request.get(ui_server.url + f"/ui/data/executions/{third}/log?job=bad").json()
        assert "from-a" in log["data"]
        assert "restart" in page.inner_text("#summary")
        laptop.check_clean()
    finally:
        context.close()


def test_rerunning_needs_execute(new_browser: Any, ui_server: LiveServer, tmp_path: Path) -> None:
    name = api_project(ui_server, broken(tmp_path / "never"), "prepare-read")
    admin = ui_server.as_admin()
    failed = admin.execute(name, "end")
    assert admin.wait(failed, timeout=60)["status"] == "FAILED"
    project = ui_server.store.projects.get(name=name)
    assert project is not None
    reader, password = ui_server.add_user("reader")
    ui_server.accounts.set_project_permission(project.id, reader.name, False, Permission.READ)
    bob: Browser = new_browser()
    bob.login(reader.name, password)
    page = bob.go(f"/ui/executions/{failed}")
    wait_status(page, "FAILED")
    assert page.locator("#prepare-button").count() == 0 and page.locator("#restart-button").count() == 0
    # The server refuses, whatever the page shows.
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    refused = page.request.post(
        ui_server.url + f"/ui/data/executions/{failed}/restart",
        headers={"X-CSRF-TOKEN": token, "X-Requested-With": "XMLHttpRequest"},
        form={"csrf.token": token},
    )
    assert refused.status == 403 and "EXECUTE" in refused.json()["error"]
    response = page.goto(ui_server.url + f"/ui/projects/{name}/flows/end?prepare={failed}")
    assert response is not None and response.status == 200
    assert page.locator("#run-form").count() == 0  # no form to submit without EXECUTE
    # A reader clicks a job of the graph for its details (there is nothing to disable).
    page.click("#graph .node[data-id='bad']")
    wait_js(
        page,
        "document.querySelector('#job-command') && document.querySelector('.job-panel-name').textContent === 'bad'",
    )
    assert "test -e" in page.inner_text("#job-command")
    assert ui_server.store.executions.get(failed).id == failed
    bob.check_clean()
