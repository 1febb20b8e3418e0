"""The forms Azkaban users expect: notification e-mails and per-job parameters in the run form, a schedule
form only for users who may schedule (and a line saying why for the others), a grant removed with one
button, and a user's roles and groups edited after creation (admins only)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from server.live import LiveServer
from sudoless.accounts import Permission
from ui.driver import Browser
from ui.projects import DEMO
from ui.test_browser import api_project, wait_js, wait_status

pytestmark = pytest.mark.slow

FILES = {
    "a.job": "type=command\ngreeting=hello\ncommand=echo a says ${greeting}\n",
    "b.job": "type=command\ndependencies=a\ngreeting=hello\ncommand=echo b says ${greeting} to ${who}\n",
    "end.job": "type=noop\ndependencies=b\nsuccess.emails=owner@example.com\n",
}


def log_of(page: Any, server: LiveServer, exec_id: int, job: str) -> str:
    return str(page.request.get(server.url + f"/ui/data/executions/{exec_id}/log?job={job}").json()["data"])


def test_run_form_sends_notification_emails_and_job_parameters(browser: Browser, ui_server: LiveServer) -> None:
    name = api_project(ui_server, FILES, "forms")
    page = browser.go(f"/ui/projects/{name}/flows/end")
    page.click("#more-options summary")
    # The flow's own lists are filled in.
    assert page.input_value("#success-emails") == "owner@example.com"
    assert page.input_value("#failure-emails") == ""
    page.fill("#success-emails", "me@example.com, you@example.com")
    page.fill("#failure-emails", "ops@example.com")
    page.click("#add-param")
    page.fill("#params .param-key", "who")
    page.fill("#params .param-value", "world")
    page.click("#add-job-param")
    page.select_option("#job-params .job-param-job", "a")
    page.fill("#job-params .param-key", "greeting")
    page.fill("#job-params .param-value", "bonjour")
    browser.shot("run-form-parity")
    page.click("#run-button")
    page.wait_for_url(re.compile(r".*/ui/executions/\d+$"))
    exec_id = int(page.url.rsplit("/", 1)[1])
    wait_status(page, "SUCCEEDED")
    # The job parameter reached a only; the flow parameter reached every job.
    assert "a says bonjour" in log_of(page, ui_server, exec_id, "a")
    assert "b says hello to world" in log_of(page, ui_server, exec_id, "b")
    options = ui_server.store.executions.get(exec_id).options
    assert options["success_emails"] == ["me@example.com", "you@example.com"]
    assert options["failure_emails"] == ["ops@example.com"]
    assert options["runtime"] == {"ROOT": {"who": "world"}, "a": {"greeting": "bonjour"}}

    # Left as they are, the flow's own lists apply (no override is sent).
    page = browser.go(f"/ui/projects/{name}/flows/end")
    page.click("#run-button")
    page.wait_for_url(re.compile(r".*/ui/executions/\d+$"))
    second = int(page.url.rsplit("/", 1)[1])
    wait_status(page, "FAILED")  # ${who} is not set this time: b fails, and says why
    options = ui_server.store.executions.get(second).options
    assert options["success_emails"] == ["owner@example.com"] and options["failure_emails"] == []
    browser.check_clean()


def test_schedule_form_only_for_users_who_may_schedule(new_browser: Any, ui_server: LiveServer) -> None:
    name = api_project(ui_server, DEMO, "sched-perm")
    project = ui_server.store.projects.get(name=name)
    assert project is not None
    user, password = ui_server.add_user("runner")
    ui_server.accounts.set_project_permission(project.id, user.name, False, Permission.READ | Permission.EXECUTE)
    bob: Browser = new_browser()
    bob.login(user.name, password)
    page = bob.go(f"/ui/schedules?project={name}&flow=report")
    assert page.locator("#schedule-form").count() == 0
    refused = page.inner_text("#schedule-refused")
    assert "You cannot schedule flows" in refused and "SCHEDULE permission" in refused and name in refused
    bob.go(f"/ui/projects/{name}/flows/report")
    assert page.is_visible("#run-form") and page.locator(".page-head a:has-text('Schedule')").count() == 0
    assert page.inner_text("#schedule-why") == f"Scheduling needs the SCHEDULE permission on {name}."
    # With SCHEDULE, the form is there with the project chosen.
    ui_server.accounts.set_project_permission(
        project.id, user.name, False, Permission.READ | Permission.EXECUTE | Permission.SCHEDULE
    )
    page = bob.go(f"/ui/schedules?project={name}&flow=report")
    assert page.locator("#schedule-refused").count() == 0
    assert page.input_value("#s-project") == name
    wait_js(page, "document.querySelector('#s-flow').value === 'report'")
    bob.check_clean()


def test_a_grant_is_removed_with_one_button(browser: Browser, ui_server: LiveServer) -> None:
    name = api_project(ui_server, DEMO, "grant")
    project = ui_server.store.projects.get(name=name)
    assert project is not None
    user, _ = ui_server.add_user("granted")
    ui_server.accounts.set_project_permission(project.id, user.name, False, Permission.READ | Permission.EXECUTE)
    page = browser.go(f"/ui/projects/{name}?tab=permissions")
    row = f"#permission-table tr[data-name='{user.name}']"
    assert page.is_visible(row)
    page.click(f"{row} .remove-permission")  # the confirmation is accepted by the test's browser
    wait_js(page, "document.querySelector(arg) === null", arg=row)
    assert f"Permissions of {user.name} removed." in page.inner_text("#messages")
    assert all(who != user.name for who, _, _ in ui_server.accounts.project_permissions(project.id))
    browser.go(f"/ui/projects/{name}?tab=permissions")
    assert page.locator(row).count() == 0
    browser.check_clean()


def test_roles_and_groups_are_edited_on_the_users_page(
    browser: Browser, new_browser: Any, ui_server: LiveServer
) -> None:
    carol, _ = ui_server.add_user("carol", groups=("team1",))
    page = browser.go("/ui/users")
    row = page.locator("#user-table tr", has=page.locator(f"th:text-is('{carol.name}')"))
    row.locator("summary").click()
    row.locator("input[value=admin]").check()
    row.locator("input[value=user]").uncheck()
    row.locator("input[name=groups]").fill("team9, ops")
    browser.shot("users-edit-membership")
    row.locator("button[type=submit].primary").click()
    page.wait_for_url("**/ui/users")
    assert f"User {carol.name}: admin; team9, ops." in page.inner_text("#messages")
    row = page.locator("#user-table tr", has=page.locator(f"th:text-is('{carol.name}')"))
    assert row.locator("td").nth(0).inner_text().strip() == "admin"
    assert row.locator("td").nth(1).inner_text().strip() == "team9, ops"
    changed = ui_server.accounts.get_user(carol.name)
    assert changed.is_admin and changed.groups == ("team9", "ops")
    # An unknown role is refused with the library's words, nothing changed.
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    bad = page.request.post(
        ui_server.url + f"/ui/users/{carol.name}/membership",
        headers={"X-CSRF-TOKEN": token},
        form={"csrf.token": token, "role": "nope", "groups": ""},
    )
    assert bad.status == 400 and "role &#39;nope&#39; is not defined" in bad.text()
    assert ui_server.accounts.get_user(carol.name).is_admin

    # A user who is not an admin cannot do it, whatever they post.
    dave, password = ui_server.add_user("dave")
    other: Browser = new_browser()
    other.login(dave.name, password)
    token = other.page.get_attribute('meta[name="csrf-token"]', "content")
    refused = other.page.request.post(
        ui_server.url + f"/ui/users/{dave.name}/membership",
        headers={"X-CSRF-TOKEN": token},
        form={"csrf.token": token, "role": "admin", "groups": ""},
    )
    assert refused.status == 403
    assert not ui_server.accounts.get_user(dave.name).is_admin
    browser.check_clean()
