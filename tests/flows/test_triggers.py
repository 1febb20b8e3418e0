"""Flow trigger instances on the real databases: firing on the cron, waiting, running, timing out, killing,
pausing, surviving a restart, and each built-in dependency type against the real thing it checks.

Time is an injected clock for firing and timeouts; the flows that run, run for real.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flows.harness import run_submitted, write_project
from sudoless.config import Settings
from sudoless.errors import StateError
from sudoless.flows.triggers.instances import Triggers, instance_json
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store.status import Status

MINUTE = 60_000
_names = iter(range(1, 1_000_000))


def trigger_project(root: Path, dependencies: str, wait: int = 2, cron: str = "0 0/5 * * * ?") -> Path:
    return write_project(
        root,
        {
            "p.project": "azkaban-flow-version: 2.0\n",
            "upstream.flow": "nodes:\n  - name: up\n    type: noop\n",
            "nightly.flow": (
                f"trigger:\n  maxWaitMins: {wait}\n  schedule:\n    type: cron\n    value: {cron}\n"
                f"  triggerDependencies:\n{dependencies}"
                "nodes:\n  - name: report\n    type: command\n    config:\n      command: echo ran\n"
            ),
        },
    )


def file_dependency(path: Path) -> str:
    return f"    - name: landed\n      type: file\n      params:\n        path: {path}\n"


def upload(store: Store, settings: Settings, root: Path) -> tuple[str, int]:
    name = f"trig{next(_names)}-{id(store) % 10_000}"
    project_id, _, _ = upload_project(store, settings, root, "uploader", name=name)
    return name, project_id


def tick(triggers: Triggers, project_id: int, now: int) -> list[str]:
    """The instances of this test's project that a tick at ``now`` fired (tests share the database)."""
    before = {i.id for i in triggers.store.triggers.instances(project_id=project_id)}
    triggers.tick(now)
    return [i.id for i in triggers.store.triggers.instances(project_id=project_id) if i.id not in before]


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return replace(settings, trigger_check_seconds=1.0)


def test_fires_on_its_cron_waits_for_a_file_then_runs_once(store: Store, fast: Settings, tmp_path: Path) -> None:
    marker = tmp_path / "landing" / "orders-2030.csv"
    deps = file_dependency(tmp_path / "landing" / "*.csv")
    _, project_id = upload(store, fast, trigger_project(tmp_path / "p", deps))
    triggers = Triggers(store, fast)
    info = triggers.get(project_id, "nightly")
    assert info.trigger.max_wait_mins == 2 and not info.row.paused
    slot = info.row.next_fire
    assert tick(triggers, project_id, slot - 1) == []
    [instance_id] = tick(triggers, project_id, slot)
    assert tick(triggers, project_id, slot) == [] and tick(triggers, project_id, slot + 500) == []  # fires once
    waiting = triggers.instance(instance_id)
    assert waiting.status == "RUNNING" and waiting.slot == slot and waiting.period_start == slot - 5 * MINUTE
    assert waiting.dependencies[0].status == "RUNNING" and "nothing matches" in waiting.dependencies[0].reason
    marker.parent.mkdir()
    marker.write_text("id\n")
    tick(triggers, project_id, slot + 800)  # checked less than trigger_check_seconds ago: not looked at again yet
    assert triggers.instance(instance_id).status == "RUNNING"
    tick(triggers, project_id, slot + 2_000)
    done = triggers.instance(instance_id)
    assert done.status == "SUCCEEDED" and done.exec_id is not None and done.dependencies[0].status == "SUCCEEDED"
    execution = store.executions.get(done.exec_id)
    assert execution.source == "trigger" and execution.flow_id == "nightly" and execution.submit_user == "uploader"
    assert run_submitted(store, fast, done.exec_id).status is Status.SUCCEEDED
    tick(triggers, project_id, slot + 3_000)
    assert [i.exec_id for i in store.triggers.instances(project_id=project_id)] == [done.exec_id]


def test_ends_cancelled_after_its_max_wait(store: Store, fast: Settings, tmp_path: Path) -> None:
    _, project_id = upload(store, fast, trigger_project(tmp_path / "p", file_dependency(tmp_path / "never")))
    triggers = Triggers(store, fast)
    slot = triggers.get(project_id, "nightly").row.next_fire
    [instance_id] = tick(triggers, project_id, slot)
    tick(triggers, project_id, slot + 2 * MINUTE - 1)
    assert triggers.instance(instance_id).status == "RUNNING"
    tick(triggers, project_id, slot + 2 * MINUTE)
    over = triggers.instance(instance_id)
    assert (over.status, over.cancel_cause, over.exec_id) == ("CANCELLED", "TIMEOUT", None)
    assert over.message == "timed out after 2 min waiting for landed"
    assert over.dependencies[0].status == "CANCELLED" and over.dependencies[0].cancel_cause == "TIMEOUT"
    assert instance_json(over)["execId"] == -1


def test_kill_pause_and_resume(store: Store, fast: Settings, tmp_path: Path) -> None:
    _, project_id = upload(store, fast, trigger_project(tmp_path / "p", file_dependency(tmp_path / "never")))
    triggers = Triggers(store, fast)
    slot = triggers.get(project_id, "nightly").row.next_fire
    [instance_id] = tick(triggers, project_id, slot)
    killed = triggers.kill(instance_id, "alice")
    assert (killed.status, killed.cancel_cause, killed.message) == ("CANCELLED", "MANUAL", "killed by alice")
    with pytest.raises(StateError, match="is not running"):
        triggers.kill(instance_id, "alice")
    assert triggers.set_paused(project_id, "nightly", True, "alice").row.paused
    assert tick(triggers, project_id, slot + 5 * MINUTE) == []  # paused: the next slot passes
    triggers.clock = lambda: slot + 11 * MINUTE
    resumed = triggers.set_paused(project_id, "nightly", False, "alice").row
    assert not resumed.paused and resumed.next_fire == slot + 15 * MINUTE  # the next slot after now, no burst


def test_an_instance_survives_a_restart(db_url: str, fast: Settings, tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    first = Store(db_url)
    try:
        _, project_id = upload(first, fast, trigger_project(tmp_path / "p", file_dependency(marker)))
        slot = Triggers(first, fast).get(project_id, "nightly").row.next_fire
        [instance_id] = tick(Triggers(first, fast), project_id, slot)
    finally:
        first.close()
    marker.write_text("")
    second = Store(db_url)  # a new process: nothing but the database is shared
    try:
        triggers = Triggers(second, fast)
        assert triggers.instance(instance_id).status == "RUNNING"
        tick(triggers, project_id, slot + MINUTE)
        assert triggers.instance(instance_id).status == "SUCCEEDED"
    finally:
        second.close()


def test_flow_dependency_needs_a_success_in_the_period(store: Store, fast: Settings, tmp_path: Path) -> None:
    deps = "    - name: upstream\n      type: flow\n      params:\n        flow: upstream\n"
    name, project_id = upload(store, fast, trigger_project(tmp_path / "p", deps))
    triggers = Triggers(store, fast)
    instance_id = triggers.fire(project_id, "nightly")
    waiting = triggers.instance(instance_id)
    assert waiting.status == "RUNNING" and "no execution of" in waiting.dependencies[0].reason
    from sudoless.flows.executions import submit_flow

    exec_id = submit_flow(store, fast, name, "upstream", user="tester")
    assert run_submitted(store, fast, exec_id).status is Status.SUCCEEDED
    triggers.check(triggers.instance(instance_id), store.clock() + 5_000)
    assert triggers.instance(instance_id).status == "SUCCEEDED"


def test_sql_dependency_reads_a_named_database(store: Store, fast: Settings, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.db"
    with sqlite3.connect(warehouse) as conn:
        conn.execute("create table loads (day text, rows integer)")
    deps = (
        "    - name: loaded\n      type: sql\n      params:\n        database: warehouse\n"
        "        query: select 1 from loads where day = :day and rows > 0\n        bind.day: '2030-01-15'\n"
    )
    _, project_id = upload(store, fast, trigger_project(tmp_path / "p", deps))
    unnamed = Triggers(store, fast)
    first = unnamed.instance(unnamed.fire(project_id, "nightly"))
    assert "no database named 'warehouse'" in first.dependencies[0].reason
    named = Triggers(store, replace(fast, trigger_databases=f"other=sqlite://,warehouse=sqlite:///{warehouse}"))
    instance_id = named.fire(project_id, "nightly")
    assert named.instance(instance_id).dependencies[0].reason == "the query on warehouse returned no row"
    with sqlite3.connect(warehouse) as conn:
        conn.execute("insert into loads values ('2030-01-15', 12)")
    named.check(named.instance(instance_id), store.clock() + 5_000)
    assert named.instance(instance_id).status == "SUCCEEDED"


class _Status(BaseHTTPRequestHandler):
    status = 503

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def status_server() -> Iterator[tuple[str, type[_Status]]]:
    handler = type("Handler", (_Status,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ready", handler
    server.shutdown()
    server.server_close()


def test_http_dependency_only_on_listed_hosts(
    store: Store, fast: Settings, tmp_path: Path, status_server: tuple[str, type[_Status]]
) -> None:
    url, handler = status_server
    deps = f"    - name: api\n      type: http\n      params:\n        url: {url}\n"
    _, project_id = upload(store, fast, trigger_project(tmp_path / "p", deps))
    unlisted = Triggers(store, fast)
    refused = unlisted.instance(unlisted.fire(project_id, "nightly"))
    assert refused.status == "RUNNING" and "127.0.0.1" in refused.dependencies[0].reason
    listed = Triggers(store, replace(fast, webhook_hosts="127.0.0.1"))
    instance_id = listed.fire(project_id, "nightly")
    assert listed.instance(instance_id).dependencies[0].reason.endswith("answered HTTP 503")
    handler.status = 204
    listed.check(listed.instance(instance_id), store.clock() + 5_000)
    assert listed.instance(instance_id).status == "SUCCEEDED"


def test_an_upload_without_the_trigger_removes_it(store: Store, fast: Settings, tmp_path: Path) -> None:
    name, project_id = upload(store, fast, trigger_project(tmp_path / "p", file_dependency(tmp_path / "x")))
    assert [t.row.flow_id for t in Triggers(store, fast).list(project_id)] == ["nightly"]
    plain = write_project(
        tmp_path / "q",
        {"p.project": "azkaban-flow-version: 2.0\n", "nightly.flow": "nodes:\n  - name: a\n    type: noop\n"},
    )
    upload_project(store, fast, plain, "uploader", name=name)
    assert Triggers(store, fast).list(project_id) == []


def test_sql_dependency_on_each_database_is_read_only(
    store: Store, fast: Settings, db_url: str, tmp_path: Path
) -> None:
    """The store's own database as the named one: a row is found with bound values, and a statement that
    writes is refused by the database itself, so the table is untouched."""
    from sudoless.flows.triggers.sqlcheck import query_has_row

    name, project_id = upload(store, fast, trigger_project(tmp_path / "p", file_dependency(tmp_path / "x")))
    named = replace(fast, trigger_databases=f"app={db_url}")
    found = {"database": "app", "query": "select id from projects where name = :name", "bind.name": name}
    assert query_has_row(named, found, 0, 0) is None
    missing = {**found, "bind.name": "nosuch"}
    assert query_has_row(named, missing, 0, 0) == "the query on app returned no row"
    # The loader admits only SELECT/WITH; below it, the transaction itself must refuse a write.
    before = store.projects.current_version(project_id)
    write = {"database": "app", "query": "update projects set version = 99 where id = :id", "bind.id": str(project_id)}
    with pytest.raises(Exception, match="(?i)read.only|readonly"):
        query_has_row(named, write, 0, 0)
    assert store.projects.current_version(project_id) == before
    assert Triggers(store, fast).get(project_id, "nightly").row.project_name == name
