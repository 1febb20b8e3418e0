"""Webhooks go only to hosts an admin lists (issue 17, item 5): refused when saved, checked again when sent.

A real HTTP receiver (http.server in a thread on 127.0.0.1) records what reaches it; the server under test
is a real one over real HTTP.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.harness import write_project
from server.live import HELLO, make_zip, server_settings, start_live
from sudoless.config import Settings
from sudoless.errors import ConfigError
from sudoless.flows.executions import submit_flow
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.scheduler import Scheduler
from sudoless.flows.sla import SlaRule
from sudoless.flows.upload import upload_project
from sudoless.outbound import OutboundRefused, WebhookHosts
from sudoless.store import Store
from sudoless.store.status import Status
from support.eventually import eventually


@dataclass
class Receiver:
    port: int
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that records the JSON bodies POSTed to it."""
    found = Receiver(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            found.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


# -- the list -------------------------------------------------------------------------------------------------


def test_the_list_is_empty_by_default_and_loopback_is_not_special() -> None:
    for url in ("http://127.0.0.1:8080/x", "http://localhost/", "http://[::1]/", "http://169.254.169.254/"):
        with pytest.raises(OutboundRefused, match="not on the admin's list of webhook hosts"):
            WebhookHosts().check(url)
        with pytest.raises(OutboundRefused):
            WebhookHosts.parse("").check(url)


def test_hosts_ports_and_wildcards() -> None:
    hosts = WebhookHosts.parse(" hooks.example.com, 127.0.0.1:8080 ,[::1]:9000, *.corp.example ")
    for allowed in (
        "https://hooks.example.com/a",
        "http://HOOKS.example.com.:81/b",
        "http://127.0.0.1:8080/",
        "http://[::1]:9000/",
        "https://corp.example/",
        "https://a.b.corp.example:444/",
    ):
        hosts.check(allowed)
    for refused in (
        "http://127.0.0.1:8081/",
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://evil.example.com/",
        "http://hooks.example.com.evil.net/",
        "http://xcorp.example/",
    ):
        with pytest.raises(OutboundRefused):
            hosts.check(refused)
    for bad in ("ftp://hooks.example.com/", "hooks.example.com/x", "http:///nohost", "http://h:99999/"):
        with pytest.raises(OutboundRefused, match="http"):
            hosts.check(bad)


@pytest.mark.parametrize("entry", ["http://x/", "a/b", "*", "user@host", "host:port"])
def test_a_bad_entry_is_a_config_error(entry: str) -> None:
    with pytest.raises(ConfigError, match="webhook_hosts entry"):
        WebhookHosts.parse(f"ok.example, {entry}")


def test_send_time_checks_the_list_and_the_address(receiver: Receiver) -> None:
    payload = {"event": "test"}
    assert WebhookHosts.parse(f"127.0.0.1:{receiver.port}").post(receiver.url(), payload, 5) == 204
    assert WebhookHosts.parse("localhost").post(receiver.url("localhost"), payload, 5) == 204
    assert receiver.bodies == [payload, payload]
    # matched only by a wildcard, a name that resolves to loopback is refused: the admin listed a domain of
    # public hosts, not this machine
    with pytest.raises(OutboundRefused, match="private, loopback or reserved"):
        WebhookHosts.parse("*.localhost").post(receiver.url("localhost"), payload, 5)
    with pytest.raises(OutboundRefused, match="not on the admin's list"):
        WebhookHosts.parse("127.0.0.2").post(receiver.url(), payload, 5)
    assert len(receiver.bodies) == 2


# -- the library: schedules and executions --------------------------------------------------------------------


def _project(store: Store, settings: Settings, tmp_path: Path) -> str:
    name = f"hook-{uuid.uuid4().hex[:8]}"
    upload_project(
        store, settings, write_project(tmp_path / name, {"a.job": "type=test\nseconds=0\n"}), "tester", name=name
    )
    return name


def test_saving_refuses_an_unlisted_webhook_and_stores_nothing(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        listed = Settings(home=tmp_path / "home", webhook_hosts=f"127.0.0.1:{receiver.port}")
        unlisted = replace(listed, webhook_hosts="")
        project = _project(store, listed, tmp_path)
        rule = SlaRule("", "FINISH", 0, ("WEBHOOK",))

        refusing = Scheduler(store, unlisted)
        schedule = refusing.schedule(project, "a", "0 0 * ? * *")
        with pytest.raises(OutboundRefused, match="SLA webhook"):
            refusing.set_sla(schedule.id, [rule], webhook=receiver.url())
        with pytest.raises(OutboundRefused):
            refusing.schedule(
                project, "a", "0 0 * ? * *", options=ExecutionOptions(sla=(rule.to_json(),), sla_webhook=receiver.url())
            )
        assert refusing.get(schedule.id).sla == ()
        options = ExecutionOptions(sla=(rule.to_json(),), sla_webhook=receiver.url())
        with pytest.raises(OutboundRefused):
            submit_flow(store, unlisted, project, "a", options)
        assert store.executions.latest(store.projects.id_of(project)) == []

        # listed: saved; then the admin empties the list: the send is refused and logged, not made
        allowing = Scheduler(store, listed)
        assert allowing.set_sla(schedule.id, [rule], webhook=receiver.url()).webhook == receiver.url()
        exec_id = submit_flow(store, listed, project, "a", options)
        store.executions.update(exec_id, status=Status.RUNNING, start_time=store.clock() - 1000)
        caplog.set_level(logging.WARNING, logger="sudoless.flows.sla")
        assert refusing.check_slas()  # the miss is reported ...
        assert receiver.bodies == []  # ... but not sent
        assert "SLA webhook not sent" in caplog.text and "not on the admin's list" in caplog.text
    finally:
        store.close()


# -- the server, over HTTP ------------------------------------------------------------------------------------


def test_the_api_refuses_an_unlisted_webhook_and_sends_to_a_listed_one(tmp_path: Path, receiver: Receiver) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    store = Store(url)
    settings = replace(server_settings(tmp_path / "home", url), webhook_hosts=f"localhost:{receiver.port}")
    live = start_live(settings, store)
    try:
        http = httpx.Client(base_url=live.url + "/api/v1", timeout=30)
        live.clients.append(http)
        token = http.post("/login", json={"username": live.admin, "password": live.password}).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        name = f"hooks{uuid.uuid4().hex[:8]}"
        assert http.post("/projects", json={"name": name, "description": "webhooks"}).status_code == 201
        upload = http.post(f"/projects/{name}/versions", files={"file": ("p.zip", make_zip(HELLO), "application/zip")})
        assert upload.status_code == 201, upload.text
        sla = [{"kind": "FINISH", "duration_ms": 0, "actions": ["WEBHOOK"]}]
        # the same receiver under a name that is not listed: refused, and no execution is created
        refused = http.post(
            "/executions", json={"project": name, "flow": "end", "sla": sla, "sla_webhook": receiver.url("127.0.0.1")}
        )
        assert refused.status_code == 400 and "list of webhook hosts" in refused.json()["error"], refused.text
        assert http.get("/executions", params={"project": name}).json()["total"] == 0
        created = http.post(
            "/schedules",
            json={
                "project": name,
                "flow": "end",
                "cron": "0 0 5 * * ?",
                "options": {"sla": sla, "sla_webhook": "http://10.0.0.1/"},
            },
        )
        assert created.status_code == 400 and "10.0.0.1" in created.json()["error"], created.text
        # listed: accepted, and the SLA miss (0 ms to finish) is POSTed to it by the server's checker
        accepted = http.post(
            "/executions", json={"project": name, "flow": "end", "sla": sla, "sla_webhook": receiver.url("localhost")}
        )
        assert accepted.status_code == 201, accepted.text
        exec_id = accepted.json()["exec_id"]
        eventually(lambda: receiver.bodies, timeout=30, interval=0.1, what="the SLA webhook")
        assert receiver.bodies[0]["execution_id"] == exec_id and receiver.bodies[0]["event"] == "sla_missed"
    finally:
        live.stop()
        store.close()
