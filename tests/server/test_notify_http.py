"""Notifications reached through the HTTP API: executeFlow's e-mail options, flowInfo's addresses, a refused
webhook, and the execution page's list of attempts, against a server of its own (its own database of each
kind, its sender thread) and a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from server.live import Client, LiveServer, make_zip, server_settings, start_live, unique
from sudoless.store import Store
from support.eventually import eventually
from support.receivers import MailServer
from support.services import create_database, drop_database

FILES = {
    "shared.properties": "failure.emails=owner@example.org\nnotify.emails=team@example.org\n",
    "fails.job": "type=command\ncommand=false\n",
    "hooked.job": "type=noop\nnotify.webhooks=http://10.1.2.3/hook\n",
}


@pytest.fixture(scope="module", params=["sqlite", "mariadb", "postgresql"])
def mail_live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, MailServer]]:
    kind = request.param
    folder = tmp_path_factory.mktemp("notify-http")
    admin_engine = name = None
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'own.db'}"
    else:
        url, admin_engine, name = create_database(kind)
    smtp = MailServer(folder)
    settings = replace(
        server_settings(folder / "home", url),
        mail_host="127.0.0.1",
        mail_port=smtp.port,
        mail_security="plain",
        mail_from="flows@example.org",
        external_url="https://flows.example.org",
        webhook_hosts="hooks.example.org",
    )
    store = Store(url)
    live = start_live(settings, store)
    try:
        yield live, smtp
    finally:
        live.stop()
        store.close()
        smtp.stop()
        if admin_engine is not None and name is not None:
            drop_database(admin_engine, name, kind)


def project(client: Client) -> str:
    name = unique("notify")
    client.create_project(name)
    response = client.upload(name, make_zip(FILES))
    assert "error" not in response.json(), response.text
    return name


def wait_for_mail(smtp: MailServer, exec_id: int, timeout: float = 20.0) -> list:
    return eventually(
        lambda: [m for m in smtp.messages if f"(execution {exec_id})" in m.message["Subject"]],
        timeout=timeout,
        what=f"a mail for execution {exec_id}",
    )


def test_execute_flow_with_failure_emails(mail_live: tuple[LiveServer, MailServer]) -> None:
    live, smtp = mail_live
    admin = live.as_admin()
    name = project(admin)
    info = admin.ajax("/executor", "flowInfo", project=name, flow="fails")
    assert info["failureEmails"] == ["owner@example.org", "team@example.org"]
    assert info["successEmails"] == ["team@example.org"]

    exec_id = admin.execute(
        name,
        "fails",
        failureEmails="pager@example.org; second@example.org",
        failureEmailsOverride="true",
        notifyFailureLast="true",
    )
    assert admin.wait(exec_id)["status"] == "FAILED"
    [mail] = wait_for_mail(smtp, exec_id)
    assert sorted(mail.recipients) == ["pager@example.org", "second@example.org"]
    assert f"https://flows.example.org/executor?execid={exec_id}" in mail.text
    assert "Failed jobs:  fails" in mail.text
    run_info = admin.ajax("/executor", "flowInfo", execid=exec_id)
    assert run_info["failureEmails"] == ["pager@example.org", "second@example.org"]
    assert run_info["failureEmailsOverride"] is True and run_info["notifyFailureLast"] is True

    # without the override the flow's own addresses are used, whatever the request lists (Azkaban's rule)
    plain = admin.execute(name, "fails", failureEmails="ignored@example.org")
    admin.wait(plain)
    [flow_mail] = wait_for_mail(smtp, plain)
    assert sorted(flow_mail.recipients) == ["owner@example.org", "team@example.org"]

    admin.http.cookies.set("azkaban.browser.session.id", admin.sid)
    page = admin.http.get(f"/ui/executions/{exec_id}")
    assert page.status_code == 200
    assert 'id="notifications-section"' in page.text and "flow_failed" in page.text
    assert "pager@example.org, second@example.org" in page.text and ": sent" in page.text


def test_refused_webhook_is_a_clear_error(mail_live: tuple[LiveServer, MailServer]) -> None:
    live, _ = mail_live
    admin = live.as_admin()
    name = project(admin)
    answer = admin.ajax("/executor", "executeFlow", project=name, flow="hooked")
    assert "execid" not in answer or answer["execid"] == -1
    assert "10.1.2.3 port 80 is not on the admin's list of webhook hosts" in answer["error"]

    scheduled = admin.http.post(
        "/schedule",
        params={
            "session.id": admin.sid,
            "ajax": "scheduleCronFlow",
            "projectName": name,
            "flow": "hooked",
            "cronExpression": "0 0 1 * * ?",
        },
    ).json()
    assert "10.1.2.3 port 80 is not on the admin's list" in scheduled["error"]
    assert "scheduleId" not in scheduled


def test_json_api_failure_emails(mail_live: tuple[LiveServer, MailServer]) -> None:
    live, smtp = mail_live
    name = project(live.as_admin())
    http = live.http()
    token = http.post("/api/v1/login", json={"username": live.admin, "password": live.password}).json()["token"]
    http.headers["Authorization"] = f"Bearer {token}"
    submitted = http.post(
        "/api/v1/executions",
        json={"project": name, "flow": "fails", "failure_emails": ["api@example.org"], "notify_failure_last": True},
    )
    assert submitted.status_code == 201, submitted.text
    exec_id = submitted.json()["exec_id"]
    [mail] = wait_for_mail(smtp, exec_id)
    assert mail.recipients == ["api@example.org"] and "ended FAILED" in mail.message["Subject"]
    options = http.get(f"/api/v1/executions/{exec_id}").json()["options"]
    assert options["failure_emails"] == ["api@example.org"] and options["notify_failure_last"] is True
