"""``/metrics`` and ``/healthz`` over real HTTP, parsed by prometheus_client's own parser, after real flows ran."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from server.live import HELLO, Client, LiveServer, make_zip, server_settings, start_live, unique
from sudoless.accounts import Accounts
from sudoless.flows.scheduler import Scheduler
from sudoless.server.app import create_app
from sudoless.server.metrics import count_notification_failure
from sudoless.store import Store
from sudoless.store import tables as t
from support.eventually import eventually

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def scrape(live: LiveServer, admin: Client) -> Samples:
    response = live.http().get("/metrics", headers={"Authorization": f"Bearer {admin.sid}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


UNFINISHED = ("PREPARING", "RUNNING", "PAUSED", "KILLING", "FAILED_FINISHING", "QUEUED", "DISPATCHING", "READY")


def quiet(live: LiveServer, admin: Client, timeout: float = 60.0) -> Samples:
    """A scrape once no execution of earlier tests (the server is shared) is unfinished, so deltas are ours."""
    return eventually(
        lambda: scrape(live, admin),
        lambda samples: not any(value(samples, "sudoless_executions", status=s) for s in UNFINISHED),
        timeout=timeout,
        interval=0.2,
        what="executions of earlier tests all finished",
    )


def run_project(admin: Client, files: dict[str, str], flow: str) -> tuple[str, int]:
    project = unique("metrics")
    admin.create_project(project)
    assert admin.upload(project, make_zip(files)).status_code == 200
    return project, admin.execute(project, flow)


def test_metrics_count_the_flows_jobs_and_logins_that_happened(live: LiveServer, admin: Client) -> None:
    before = quiet(live, admin)
    _, exec_id = run_project(admin, HELLO, "end")
    assert admin.wait(exec_id)["status"] == "SUCCEEDED"
    bad = live.http().post("/", data={"action": "login", "username": admin.user, "password": "wrong"})
    assert "error" in bad.json()
    count_notification_failure("webhook")
    after = scrape(live, admin)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("sudoless_executions", status="SUCCEEDED") == 1
    assert delta("sudoless_flow_duration_seconds_count", status="SUCCEEDED") == 1
    assert delta("sudoless_flow_duration_seconds_bucket", status="SUCCEEDED", le="+Inf") == 1
    assert delta("sudoless_job_duration_seconds_count", status="SUCCEEDED") == 2  # start and end
    assert delta("sudoless_login_failures_last_hour") == 1
    assert delta("sudoless_notification_failures_total", channel="webhook") >= 1  # other tests' may retry
    assert value(after, "sudoless_scheduler_up") == 1
    assert value(after, "sudoless_executors_alive") >= 1
    assert value(after, "sudoless_queue_depth") == 0
    # buckets are cumulative: each is at most the next, the last is the count
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in after.items()
        if name == "sudoless_job_duration_seconds_bucket" and dict(labels)["status"] == "SUCCEEDED"
    )
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert buckets[-1][1] == value(after, "sudoless_job_duration_seconds_count", status="SUCCEEDED")


def test_a_notification_that_cannot_be_sent_is_counted(live: LiveServer, admin: Client) -> None:
    """The live server has no mail server configured: each attempt to send the success e-mail fails."""
    before = scrape(live, admin)
    _, exec_id = run_project(admin, {"only.job": "type=noop\nsuccess.emails=ops@example.invalid\n"}, "only")
    assert admin.wait(exec_id)["status"] == "SUCCEEDED"

    def failed(samples: Samples) -> float:
        return value(samples, "sudoless_notification_failures_total", channel="email") - value(
            before, "sudoless_notification_failures_total", channel="email"
        )

    after = eventually(
        lambda: scrape(live, admin), lambda samples: failed(samples) >= 1, interval=0.2, what="a failed e-mail counted"
    )
    assert value(after, "sudoless_notifications_waiting") >= 1


def test_running_jobs_and_schedules_show_while_they_happen(live: LiveServer, admin: Client) -> None:
    project, exec_id = run_project(admin, {"nap.job": "type=command\ncommand=sleep 3\n"}, "nap")
    admin.wait(exec_id, until=lambda body: any(n["status"] == "RUNNING" for n in body["nodes"]))
    running = scrape(live, admin)
    assert value(running, "sudoless_running_jobs") >= 1
    assert value(running, "sudoless_executions", status="RUNNING") >= 1
    assert admin.wait(exec_id)["status"] == "SUCCEEDED"
    scheduled = admin.ajax(
        "/schedule", "scheduleCronFlow", via="POST", projectName=project, flow="nap", cronExpression="0 0 0 1 1 ? 2099"
    )
    assert scheduled["status"] == "success", scheduled
    samples = scrape(live, admin)
    assert ("sudoless_schedule_lag_seconds", (("flow", "nap"), ("project", project))) in samples
    assert value(samples, "sudoless_schedule_lag_seconds", flow="nap", project=project) == 0


def test_a_schedule_behind_its_slot_shows_its_lag(tmp_path: Path) -> None:
    """The scheduler is not running here, so the slot stays overdue while the collector reads it."""
    store = Store(f"sqlite:///{tmp_path / 'sudoless.db'}")
    settings = server_settings(tmp_path / "home", str(store.engine.url))
    accounts = Accounts(store, settings)
    scheduler = Scheduler(store, settings)
    from flows.harness import write_project
    from sudoless.flows.upload import upload_project

    upload_project(store, settings, write_project(tmp_path / "late", {"a.job": "type=noop\n"}), "tester")
    scheduler.schedule("late", "a", "0 0 * * * ?")
    with store.write() as conn:
        conn.execute(t.schedules.update().values(next_fire=store.clock() - 90_000))
    accounts.add_user("boss", "secret-password", roles=("admin",))
    app = create_app(replace(settings, metrics_allow=""), store, accounts, scheduler)
    with TestClient(app) as client:
        token = client.post("/", data={"action": "login", "username": "boss", "password": "secret-password"}).json()[
            "session.id"
        ]
        samples = parse(client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text)
        assert 90 <= value(samples, "sudoless_schedule_lag_seconds", project="late", flow="a") < 120
        assert value(samples, "sudoless_scheduler_up") == 0
        assert client.get("/healthz").status_code == 503  # the scheduler is not running
    store.close()


def test_metrics_need_an_admin_or_an_allowed_address(live: LiveServer, admin: Client) -> None:
    anonymous = live.http().get("/metrics")
    assert anonymous.status_code == 403 and "sudoless_" not in anonymous.text
    user, password = live.add_user("watcher")
    ordinary = live.login(user.name, password)
    assert live.http().get("/metrics", headers={"Authorization": f"Bearer {ordinary.sid}"}).status_code == 403
    assert live.http().get("/metrics", headers={"Authorization": "Bearer forged"}).status_code == 403
    cookie = live.http(cookies={"azkaban.browser.session.id": admin.sid}).get("/metrics")
    assert cookie.status_code == 200 and "sudoless_executions" in cookie.text


def test_an_admin_token_for_every_project_reads_metrics_and_narrower_ones_do_not(
    live: LiveServer, admin: Client
) -> None:
    from sudoless.accounts import Permission

    project, _ = run_project(admin, HELLO, "end")
    tokens = live.accounts.tokens
    everywhere, _ = tokens.create(admin.user, unique("prom"), {"*": Permission.READ})
    narrow, _ = tokens.create(admin.user, unique("one"), {project: Permission.READ})
    user, _ = live.add_user("notadmin")
    ordinary, _ = tokens.create(user.name, unique("user"), {"*": Permission.READ})

    def status(token: str) -> int:
        return live.http().get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(everywhere) == 200
    assert status(narrow) == 403
    assert status(ordinary) == 403


def test_an_allowed_address_reads_metrics_without_login(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'sudoless.db'}")
    settings = replace(server_settings(tmp_path / "home", str(store.engine.url)), metrics_allow="10.0.0.0/8, 127.0.0.1")
    live = start_live(settings, store)
    try:
        response = live.http().get("/metrics")
        assert response.status_code == 200
        assert value(parse(response.text), "sudoless_scheduler_up") == 1
    finally:
        live.stop()
        store.close()


def test_healthz_answers_without_login_and_fails_when_the_database_is_gone(tmp_path: Path, live: LiveServer) -> None:
    ok = httpx.get(live.url + "/healthz")
    assert ok.status_code == 200 and ok.text == "ok\n"
    folder = tmp_path / "db"
    folder.mkdir()
    store = Store(f"sqlite:///{folder / 'sudoless.db'}")
    settings = server_settings(tmp_path / "home", str(store.engine.url))
    scheduler = Scheduler(store, settings)
    scheduler.beat.value = time.monotonic()  # as if its thread had just made a pass
    with TestClient(create_app(settings, store, Accounts(store, settings), scheduler)) as client:
        assert client.get("/healthz").status_code == 200
        store.engine.dispose()
        shutil.rmtree(folder)
        failed = client.get("/healthz")
        assert failed.status_code == 503 and failed.text == "unavailable\n"


@pytest.mark.parametrize("spec", ["10.0.0.0/33", "localhost"])
def test_a_bad_metrics_allow_is_refused_at_start(tmp_path: Path, spec: str) -> None:
    from sudoless.errors import ConfigError

    store = Store(f"sqlite:///{tmp_path / 'sudoless.db'}")
    settings = replace(server_settings(tmp_path / "home", str(store.engine.url)), metrics_allow=spec)
    with pytest.raises(ConfigError, match="metrics_allow"):
        create_app(settings, store, Accounts(store, settings), Scheduler(store, settings))
    store.close()
