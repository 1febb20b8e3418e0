"""Notifications end to end: flows run for real, the queue in each database, a real SMTP server (aiosmtpd)
and a real HTTP receiver check what arrives. Each database kind gets a database of its own for this module,
so no other test's server drains this queue."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from flows.harness import run_flow, run_submitted, submit, write_project
from sudoless.config import Settings
from sudoless.flows.notify import Sender
from sudoless.flows.notify.history import execution_notifications
from sudoless.flows.notify.mail import MailServer as MailClient
from sudoless.flows.sla import SlaChecker
from sudoless.outbound import OutboundRefused
from sudoless.store import Store
from sudoless.store.status import Status
from support.receivers import HttpReceiver, MailServer
from support.services import create_database, drop_database


@pytest.fixture(scope="module", params=["sqlite", "mariadb", "postgresql"])
def own_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    kind = request.param
    if kind == "sqlite":
        store = Store(f"sqlite:///{tmp_path_factory.mktemp('notify') / 'notify.db'}")
        yield store
        store.close()
        return
    url, admin, name = create_database(kind)
    store = Store(url)
    try:
        yield store
    finally:
        store.close()
        drop_database(admin, name, kind)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[MailServer]:
    server = MailServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.stop()


def mail_settings(tmp_path: Path, smtp: MailServer, receiver: HttpReceiver | None = None) -> Settings:
    return Settings(
        home=tmp_path / "home",
        parallel=4,
        mail_host="127.0.0.1",
        mail_port=smtp.port,
        mail_security="plain",
        mail_from="sudoless@example.org",
        external_url="https://flows.example.org/",
        webhook_hosts=f"127.0.0.1:{receiver.port}" if receiver else "",
    )


FLOW1 = {
    "common.properties": "failure.emails=ops@example.org, oncall@example.org\nsuccess.emails=team@example.org\n",
    "good.job": "type=command\ncommand=true\n",
    "bad.job": "type=command\ncommand=false\ndependencies=good\n",
    "solo.job": "type=command\ncommand=true\n",
}


def test_failure_email_through_the_queue(own_store: Store, smtp: MailServer, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, smtp)
    outcome = run_flow(own_store, settings, write_project(tmp_path / "p", FLOW1), "bad")
    assert outcome.status == Status.FAILED
    assert not smtp.messages  # queued, not sent by the runner
    assert Sender(own_store, settings).drain(outcome.exec_id) == 0
    [mail] = smtp.messages
    assert sorted(mail.recipients) == ["oncall@example.org", "ops@example.org"]
    assert mail.message["From"] == "sudoless@example.org"
    assert f"(execution {outcome.exec_id})" in mail.message["Subject"] and "FAILED" in mail.message["Subject"]
    text = mail.text
    for expected in (
        "Project:",
        "Flow:         bad",
        f"Execution:    {outcome.exec_id}",
        "Status:       FAILED",
        "Failed jobs:  bad",
        "Duration:",
        f"https://flows.example.org/executor?execid={outcome.exec_id}",
    ):
        assert expected in text, (expected, text)
    assert f'href="https://flows.example.org/executor?execid={outcome.exec_id}"' in mail.html
    assert '<th align="left">Failed jobs</th><td>bad</td>' in mail.html
    [row] = execution_notifications(own_store, outcome.exec_id)
    assert row["event"] == "flow_failed" and row["status"] == "sent" and row["channel"] == "email"
    assert [a["outcome"] for a in row["attempts"]] == ["sent"]


def test_success_email_and_override(own_store: Store, smtp: MailServer, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, smtp)
    project = write_project(tmp_path / "p", FLOW1)
    ok = run_flow(own_store, settings, project, "solo")
    overridden = run_flow(
        own_store, settings, project, "solo", success_emails=("boss@example.org",), success_emails_override=True
    )
    Sender(own_store, settings).drain()
    by_exec = {int(m.message["Subject"].split("execution ")[1].rstrip(")")): m for m in smtp.messages}
    assert by_exec[ok.exec_id].recipients == ["team@example.org"]
    assert "succeeded" in by_exec[ok.exec_id].message["Subject"]
    assert "Status:       SUCCEEDED" in by_exec[ok.exec_id].text
    assert by_exec[overridden.exec_id].recipients == ["boss@example.org"]


def test_first_failure_while_running_and_at_the_end(own_store: Store, smtp: MailServer, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, smtp)
    project = write_project(
        tmp_path / "p",
        {
            "fail.job": "type=command\ncommand=false\nfailure.emails=ops@example.org\n",
            "slow.job": "type=command\ncommand=sleep 1\n",
            "end.job": "type=noop\ndependencies=fail,slow\nfailure.emails=ops@example.org\n",
        },
    )
    seen_while_running: list[str] = []

    def during(exec_id: int) -> None:
        sender = Sender(own_store, settings)
        while own_store.executions.get(exec_id).status not in (Status.FAILED, Status.SUCCEEDED):
            sender.send_due(exec_id)
            if smtp.messages and not seen_while_running:
                seen_while_running.append(own_store.executions.get(exec_id).status.value)
            threading.Event().wait(0.05)

    outcome = run_flow(
        own_store, settings, project, "end", during=during, notify_failure_first=True, notify_failure_last=True
    )
    Sender(own_store, settings).drain(outcome.exec_id)
    assert seen_while_running == ["FAILED_FINISHING"]
    first, last = smtp.messages
    assert "has a failed job and is still running" in first.message["Subject"]
    assert "Failed jobs:  fail" in first.text
    assert "ended FAILED" in last.message["Subject"]
    events = [row["event"] for row in execution_notifications(own_store, outcome.exec_id)]
    assert events == ["flow_failure_first", "flow_failed"]

    only_first = run_flow(own_store, settings, project, "end", notify_failure_first=True)
    Sender(own_store, settings).drain(only_first.exec_id)
    assert [r["event"] for r in execution_notifications(own_store, only_first.exec_id)] == ["flow_failure_first"]


def test_start_email_and_webhooks(own_store: Store, smtp: MailServer, receiver: HttpReceiver, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, smtp, receiver)
    project = write_project(
        tmp_path / "p",
        {
            "flow.project": "azkaban-flow-version: 2.0\n",
            "daily.flow": (
                "config:\n  start.emails: starter@example.org\n"
                f"  notify.webhooks: {receiver.url}/hook\n"
                'nodes:\n  - name: a\n    type: command\n    config:\n      command: "true"\n'
            ),
        },
    )
    outcome = run_flow(own_store, settings, project, "daily")
    Sender(own_store, settings).drain(outcome.exec_id)
    [mail] = smtp.messages
    assert mail.recipients == ["starter@example.org"] and "started" in mail.message["Subject"]
    started, succeeded = (r.json() for r in receiver.requests)
    assert started["event"] == "flow_started" and succeeded["event"] == "flow_succeeded"
    assert succeeded["execution_id"] == outcome.exec_id and succeeded["status"] == "SUCCEEDED"
    assert succeeded["flow"] == "daily" and succeeded["link"].endswith(f"execid={outcome.exec_id}")

    slack = run_flow(
        own_store,
        settings,
        project,
        "daily",
        webhooks=(f"{receiver.url}/slack",),
        webhook_format="slack",
        webhook_events=("success",),
    )
    Sender(own_store, settings).drain(slack.exec_id)
    posted = [r for r in receiver.requests if r.path == "/slack"]
    assert len(posted) == 1 and set(posted[0].json()) == {"text"}
    assert f"Execution {slack.exec_id}" in posted[0].json()["text"]


def test_refused_webhook_is_an_error_at_submission(own_store: Store, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", webhook_hosts="hooks.example.org")
    project = write_project(tmp_path / "p", {"a.job": "type=noop\nnotify.webhooks=http://10.0.0.7/steal\n"})
    with pytest.raises(OutboundRefused, match="10.0.0.7 port 80 is not on the admin's list"):
        submit(own_store, settings, project, "a")
    callback = write_project(
        tmp_path / "c",
        {
            "b.job": "type=noop\njob.notification.failure.1.url=http://169.254.169.254/latest\n",
            "c.job": "type=noop\njob.notification.started.1.url=${hook}/x\n",
        },
    )
    with pytest.raises(OutboundRefused, match="job b of flow b: job.notification.failure.1.url"):
        submit(own_store, settings, callback, "b")
    submit(own_store, settings, callback, "c")  # a URL built from a property is checked when sent


def test_a_callback_url_inherited_from_a_properties_file_is_checked_at_submission(
    own_store: Store, tmp_path: Path
) -> None:
    """The submission skips a job without a callback key of its own or inherited; one inherited from a
    ``.properties`` file alone is still checked."""
    settings = Settings(home=tmp_path / "home", webhook_hosts="hooks.example.org")
    files = {"common.properties": "job.notification.success.1.url=http://169.254.169.254/x\n", "d.job": "type=noop\n"}
    with pytest.raises(OutboundRefused, match="job d of flow d: job.notification.success.1.url"):
        submit(own_store, settings, write_project(tmp_path / "s", files), "d")
    submit(own_store, settings, write_project(tmp_path / "t", {"e.job": "type=noop\n"}), "e")


def test_job_callbacks(own_store: Store, smtp: MailServer, receiver: HttpReceiver, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, smtp, receiver)
    project = write_project(
        tmp_path / "p",
        {
            "cb.job": (
                "type=command\ncommand=true\n"
                f"job.notification.started.1.url={receiver.url}/start?job=?{{job}}&exec=?{{executionId}}\n"
                f"job.notification.success.1.url={receiver.url}/done\n"
                "job.notification.success.1.method=POST\n"
                'job.notification.success.1.body={"job": "?{job}", "status": "?{status}", "flow": "?{flow}"}\n'
                "job.notification.success.1.headers=X-Token:abc\\r\\nX-Other:1\n"
                f"job.notification.completed.1.url={receiver.url}/completed/?{{project}}\n"
                f"job.notification.failure.1.url={receiver.url}/never\n"
            )
        },
    )
    outcome = run_flow(own_store, settings, project, "cb")
    assert outcome.status == Status.SUCCEEDED
    Sender(own_store, settings).drain(outcome.exec_id)
    paths = {r.path.split("?")[0].split("/")[1]: r for r in receiver.requests}
    assert set(paths) == {"start", "done", "completed"}
    assert paths["start"].method == "GET" and paths["start"].path == f"/start?job=cb&exec={outcome.exec_id}"
    assert paths["done"].method == "POST"
    assert paths["done"].json() == {"job": "cb", "status": "success", "flow": "cb"}
    assert paths["done"].headers["X-Token"] == "abc" and paths["done"].headers["X-Other"] == "1"
    assert paths["completed"].path.startswith("/completed/p-")
    assert "Job callback queued for started" in outcome.log()


def test_sla_miss_email(own_store: Store, smtp: MailServer, receiver: HttpReceiver, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, smtp, receiver)
    project = write_project(
        tmp_path / "p",
        {
            "slow.job": (
                f"type=command\ncommand=sleep 0.3\nnotify.webhooks={receiver.url}/sla\nnotify.webhook.events=sla\n"
            )
        },
    )
    rule = {"job": "", "kind": "SUCCESS", "duration_ms": 100, "actions": ["EMAIL"]}
    outcome = run_flow(own_store, settings, project, "slow", sla=(rule,), sla_emails=("sla@example.org",))
    missed = SlaChecker(own_store, settings=settings).check()
    assert any(f"Execution {outcome.exec_id} " in line for line in missed)
    Sender(own_store, settings).drain(outcome.exec_id)
    [mail] = smtp.messages
    assert mail.recipients == ["sla@example.org"] and "missed its SLA" in mail.message["Subject"]
    assert "must succeed within 0.1 s" in mail.text
    [hook] = receiver.requests  # events=sla: neither the start nor the end was posted
    assert hook.json()["event"] == "sla_missed" and "must succeed within 0.1 s" in hook.json()["detail"]


def test_retries_when_the_server_refuses_first(own_store: Store, tmp_path: Path) -> None:
    smtp = MailServer(tmp_path, refuse=2)
    try:
        settings = mail_settings(tmp_path, smtp)
        outcome = run_flow(own_store, settings, write_project(tmp_path / "p", FLOW1), "bad")
        assert Sender(own_store, settings, backoff=(0.1, 0.2)).drain(outcome.exec_id, timeout=10) == 0
        assert len(smtp.messages) == 1 and smtp.handler.refused == 2
        [row] = execution_notifications(own_store, outcome.exec_id)
        assert [a["outcome"] for a in row["attempts"]] == ["error", "error", "sent"]
        assert "451" in (row["attempts"][0]["error"] or "") and row["status"] == "sent"
    finally:
        smtp.stop()


def test_a_failing_sender_never_changes_the_flow(own_store: Store, tmp_path: Path) -> None:
    dead = Settings(
        home=tmp_path / "home", mail_host="127.0.0.1", mail_port=1, mail_security="plain", mail_from="x@example.org"
    )
    outcome = run_flow(own_store, dead, write_project(tmp_path / "p", FLOW1), "solo")
    assert outcome.status == Status.SUCCEEDED
    assert Sender(own_store, dead, backoff=(0.05,)).drain(outcome.exec_id, timeout=5) == 0
    [row] = execution_notifications(own_store, outcome.exec_id)
    assert row["status"] == "failed" and len(row["attempts"]) == 4
    assert all(a["outcome"] == "error" and "refused" in (a["error"] or "").lower() for a in row["attempts"])
    assert own_store.executions.get(outcome.exec_id).status == Status.SUCCEEDED


def test_two_senders_send_each_message_once(own_store: Store, smtp: MailServer, tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, smtp)
    project = write_project(tmp_path / "p", FLOW1)
    ids = [submit(own_store, settings, project, "bad") for _ in range(3)]
    for exec_id in ids:
        run_submitted(own_store, settings, exec_id)
    senders = [Sender(own_store, settings) for _ in range(3)]
    threads = [threading.Thread(target=s.send_due) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    subjects = [m.message["Subject"] for m in smtp.messages]
    assert sorted(subjects) == sorted(set(subjects))
    mine = [m for m in subjects if any(f"(execution {i})" in m for i in ids)]
    assert len(mine) == 3


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_encrypted_smtp_with_login_from_a_password_file(mode: str, tmp_path: Path) -> None:
    smtp = MailServer(tmp_path, mode=mode)
    try:
        secret = tmp_path / "smtp-password"
        secret.write_text("s3cret-pass\n")
        secret.chmod(0o600)
        settings = Settings(
            home=tmp_path / "home",
            mail_host="localhost",
            mail_port=smtp.port,
            mail_security=mode,
            mail_user="robot",
            mail_password_file=str(secret),
            mail_from="robot@example.org",
        )
        client = MailClient.from_settings(settings, cafile=str(smtp.cert))
        from sudoless.flows.notify.mail import compose

        client.send(compose(["a@example.org"], "hello", "plain body", "<p>html body</p>"))
        [mail] = smtp.messages
        assert smtp.handler.logins and smtp.handler.logins[0][0] == "robot"
        assert mail.text.strip() == "plain body" and "<p>html body</p>" in mail.html
        secret.chmod(0o644)
        with pytest.raises(Exception, match="can be read by other accounts"):
            client.send(compose(["a@example.org"], "again", "x", None))
        wrong = replace(settings, mail_security="plain")
        with pytest.raises(Exception):  # noqa: B017 (the server insists on encryption first)
            MailClient.from_settings(wrong).send(compose(["a@example.org"], "x", "x", None))
    finally:
        smtp.stop()


def test_schedules_carry_the_notification_options(own_store: Store, smtp: MailServer, tmp_path: Path) -> None:
    from sudoless.flows.options import ExecutionOptions
    from sudoless.flows.scheduler import Scheduler
    from sudoless.flows.upload import upload_project

    settings = mail_settings(tmp_path, smtp)
    name = f"sched-{id(own_store) % 10_000}-{tmp_path.name[-6:]}"
    upload_project(own_store, settings, write_project(tmp_path / "p", FLOW1), "tester", name=name)
    scheduler = Scheduler(own_store, settings, clock=lambda: 1_000)
    chosen = ExecutionOptions(
        failure_emails=("night@example.org",), failure_emails_override=True, notify_failure_first=True
    )
    schedule = scheduler.schedule(name, "bad", "0 * * * * ?", options=chosen)
    [exec_id] = scheduler.tick(schedule.next_fire)
    options = ExecutionOptions.from_json(own_store.executions.get(exec_id).options)
    assert options.failure_emails == ("night@example.org",) and options.notify_failure_first
    assert options.success_emails == ("team@example.org",)  # not overridden: the flow's own
    run_submitted(own_store, settings, exec_id)
    Sender(own_store, settings).drain(exec_id)
    assert [m.recipients for m in smtp.messages] == [["night@example.org"]]


def test_a_bad_notification_property_refuses_the_upload(own_store: Store, tmp_path: Path) -> None:
    from sudoless.errors import InputError
    from sudoless.flows.upload import upload_project

    project = write_project(tmp_path / "p", {"a.job": "type=noop\nnotify.webhook.format=xml\n"})
    with pytest.raises(InputError, match=r"a\.job: flow a: notify\.webhook\.format 'xml': use json or slack"):
        upload_project(own_store, Settings(home=tmp_path / "home"), project, "tester", name=f"bad-{tmp_path.name}")
