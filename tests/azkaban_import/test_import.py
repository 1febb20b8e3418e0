"""``import_azkaban`` against a real Azkaban database on MariaDB, into SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from azkaban_import.azkaban_db import T0, AzkabanDb, azkaban_database
from flows.harness import run_submitted
from server.live import make_zip
from sudoless.accounts.permissions import Permission
from sudoless.azkaban_import import ImportOptions, import_azkaban
from sudoless.azkaban_import.source import origin_of
from sudoless.config import Settings
from sudoless.errors import InputError
from sudoless.flows.executions import submit_flow
from sudoless.store import Store
from sudoless.store import tables as t
from sudoless.store.status import Status

pytestmark = pytest.mark.services
BACKENDS = ["sqlite", "mariadb", "postgresql"]
HOUR = 3_600_000


def project_zip(version: int) -> bytes:
    """A Flow 1.0 project whose zip takes several 1 KB chunks (incompressible padding) and differs per version."""
    return make_zip(
        {
            "hello.job": f"type=command\ncommand=echo version {version}\n",
            "done.job": "type=noop\ndependencies=hello\n",
            "solo.job": "type=noop\n",
            "padding.bin": os.urandom(2500),
        }
    )


@pytest.fixture
def azkaban() -> Iterator[AzkabanDb]:
    with azkaban_database() as db:
        yield db


@pytest.fixture
def target(fresh_db: tuple[str, str]) -> Iterator[Store]:
    store = Store(fresh_db[1])
    yield store
    store.close()


#: Two SLA settings as Azkaban's SlaOption.toObject writes them into the schedule's action: the flow must
#: succeed within 90 minutes (alert), job hello finish within 30 (alert and kill).
SLA_OPTIONS = [
    {
        "type": "FlowSucceed",
        "info": {"FlowName": "done", "Duration": "90m", "EmailList": ["ops@example.com"], "SlaAlertType": "email"},
        "actions": ["SlaAlert"],
    },
    {
        "type": "JobFinish",
        "info": {
            "FlowName": "done",
            "JobName": "hello",
            "Duration": "30m",
            "EmailList": ["dev@example.com", "ops@example.com"],
            "SlaAlertType": "email",
        },
        "actions": ["SlaAlert", "SlaKillJob"],
    },
]


def build(db: AzkabanDb) -> dict[str, object]:
    """Two projects: etl (3 versions, grants, two schedules) and old (deleted after one version)."""
    zips = [project_zip(v) for v in (1, 2, 3)]
    etl = db.add_project("etl", "alice", "nightly loads")
    for number, data in enumerate(zips):
        db.upload(etl, data, "alice" if number < 2 else "bob", T0 + (number + 1) * HOUR, f"etl-{number + 1}.zip")
    db.grant(etl, "bob", False, int(Permission.READ | Permission.EXECUTE))
    db.grant(etl, "ops", True, int(Permission.READ | Permission.WRITE) | 0x100)  # 0x100: no such bit
    db.set_proxy_users(etl, ["alice", "etl_svc", "not a name!"])
    old = db.add_project("old", "carol", "retired")
    old_zip = project_zip(9)
    db.upload(old, old_zip, "carol", T0 + 5 * HOUR)
    db.delete_project(old, "carol", T0 + 6 * HOUR)
    running = db.schedule(
        etl,
        "etl",
        "done",
        "0 30 2 ? * *",
        "America/New_York",
        "alice",
        options={"failureAction": "CANCEL_ALL", "concurrentOption": "ignore", "flowParameters": {"day": "today"}},
        sla=SLA_OPTIONS,
    )
    paused = db.schedule(etl, "etl", "solo", "0 0 * ? * *", "UTC", "bob", paused=True, encoding=1)
    return {"etl": etl, "old": old, "zips": zips, "old_zip": old_zip, "triggers": (running, paused)}


def options(db: AzkabanDb, **values: object) -> ImportOptions:
    return ImportOptions(source_url=db.url, **values)  # type: ignore[arg-type]


def archive(store: Store, project_id: int, version: int, tmp_path: Path) -> bytes:
    return store.projects.write_archive(project_id, version, tmp_path / f"{project_id}-{version}.zip").read_bytes()


def row_counts(store: Store) -> dict[str, int]:
    with store.read() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in t.metadata.sorted_tables
        }


@pytest.mark.parametrize("fresh_db", BACKENDS, indirect=True)
def test_import_projects_versions_permissions_schedules(
    azkaban: AzkabanDb, target: Store, settings: Settings, tmp_path: Path
) -> None:
    built = build(azkaban)
    report = import_azkaban(target, settings, options(azkaban))
    assert report.counts == {
        "projects": 2,
        "versions": 4,
        "events": 7,
        "permissions": 4,
        "schedules": 2,
        "SLA rules": 2,
        "proxy users": 1,
    }
    assert not report.conflicts

    etl = target.projects.get(name="etl")
    assert etl is not None and etl.active and etl.description == "nightly loads"
    assert (etl.version, etl.created_by, etl.created_time) == (3, "alice", T0)
    versions = target.projects.versions(etl.id)
    assert [(v.version, v.uploader, v.upload_time, v.file_name) for v in sorted(versions, key=lambda v: v.version)] == [
        (1, "alice", T0 + HOUR, "etl-1.zip"),
        (2, "alice", T0 + 2 * HOUR, "etl-2.zip"),
        (3, "bob", T0 + 3 * HOUR, "etl-3.zip"),
    ]
    for number, data in enumerate(built["zips"], start=1):  # type: ignore[arg-type]
        assert archive(target, etl.id, number, tmp_path) == data
    events = target.projects.events(etl.id)
    assert [(e.type, e.user, e.time) for e in reversed(events)][:2] == [
        ("CREATED", "alice", T0),
        ("UPLOADED", "alice", T0 + HOUR),
    ]
    assert len(events) == 4

    with target.read() as conn:
        old = conn.execute(sa.select(t.projects).where(t.projects.c.name == "old")).one()
    assert not old.active
    assert archive(target, old.id, 1, tmp_path) == built["old_zip"]

    grants = target.accounts.project_permissions(etl.id)
    assert sorted(grants) == sorted(
        [
            ("alice", False, int(Permission.ADMIN)),
            ("bob", False, int(Permission.READ | Permission.EXECUTE)),
            ("ops", True, int(Permission.READ | Permission.WRITE)),
        ]
    )
    assert any("0x100" in line for line in report.unmapped)
    assert any("bob has no sudoless account" in line for line in report.unmapped)
    assert target.project_settings.proxy_users(etl.id) == ["alice", "etl_svc"]
    assert any("proxy user 'not a name!' is not a name sudoless accepts" in line for line in report.unmapped)

    schedules = {s.flow_id: s for s in target.schedules.all("etl")}
    assert set(schedules) == {"done", "solo"}
    done = schedules["done"]
    assert (done.cron, done.timezone, done.enabled, done.submit_user) == (
        "0 30 2 ? * *",
        "America/New_York",
        False,
        "alice",
    )
    assert done.options["failure_action"] == "CANCEL_ALL" and done.options["concurrent_option"] == "ignore"
    assert done.options["runtime"]["ROOT"] == {"day": "today"}
    assert done.sla == {
        "rules": [
            {"job": "", "kind": "SUCCESS", "duration_ms": 90 * 60_000, "actions": ["EMAIL"]},
            {"job": "hello", "kind": "FINISH", "duration_ms": 30 * 60_000, "actions": ["EMAIL", "KILL"]},
        ],
        "emails": ["ops@example.com", "dev@example.com"],
        "webhook": None,
    }
    assert schedules["solo"].sla is None
    assert not schedules["solo"].enabled
    assert any("paused" in note for note in report.notes)

    # every imported flow runs as a native one does
    exec_id = submit_flow(target, settings, "etl", "done", user="bob")
    outcome = run_submitted(target, settings, exec_id)
    assert outcome.status == Status.SUCCEEDED
    assert "version 3" in outcome.log("hello")

    # a second run imports nothing again
    before = row_counts(target)
    again = import_azkaban(target, settings, options(azkaban))
    assert sum(again.counts.values()) == 0
    assert again.skipped == {"projects": 2, "versions": 4, "schedules": 2}
    assert row_counts(target) == before

    # a version uploaded to Azkaban since then is all a third run brings
    newer = project_zip(4)
    azkaban.upload(int(built["etl"]), newer, "alice", T0 + 9 * HOUR)  # type: ignore[call-overload]
    third = import_azkaban(target, settings, options(azkaban))
    assert third.counts == {"versions": 1, "events": 1}
    assert archive(target, etl.id, 4, tmp_path) == newer
    assert len(target.projects.events(etl.id)) == 5


def test_enable_schedules_keeps_running_ones_running(
    azkaban: AzkabanDb, sqlite_store: Store, settings: Settings
) -> None:
    build(azkaban)
    import_azkaban(sqlite_store, settings, options(azkaban, enable_schedules=True))
    enabled = {s.flow_id: s.enabled for s in sqlite_store.schedules.all("etl")}
    assert enabled == {"done": True, "solo": False}  # the one paused in Azkaban stays paused


def test_dry_run_writes_nothing(azkaban: AzkabanDb, sqlite_store: Store, settings: Settings) -> None:
    build(azkaban)
    before = row_counts(sqlite_store)
    report = import_azkaban(sqlite_store, settings, options(azkaban, dry_run=True))
    assert report.dry_run
    assert report.counts == {
        "projects": 2,
        "versions": 4,
        "events": 7,
        "permissions": 4,
        "schedules": 2,
        "SLA rules": 2,
        "proxy users": 1,
    }
    assert row_counts(sqlite_store) == before
    assert report.lines()[0].startswith(
        "would import: 2 SLA rules, 7 events, 4 permissions, 2 projects, 1 proxy users, 2 schedules, 4 versions"
    )


def test_conflict_modes(azkaban: AzkabanDb, sqlite_store: Store, settings: Settings, tmp_path: Path) -> None:
    built = build(azkaban)
    sqlite_store.projects.create("etl", "mine", "dave")
    before = row_counts(sqlite_store)

    with pytest.raises(InputError, match=r"project etl \(Azkaban id \d+\) exists in sudoless already"):
        import_azkaban(sqlite_store, settings, options(azkaban))
    assert row_counts(sqlite_store) == before  # fail: stopped before writing anything

    report = import_azkaban(sqlite_store, settings, options(azkaban, on_conflict="skip"))
    assert report.conflicts == [f"project etl (Azkaban id {built['etl']}) exists in sudoless already (id 1): skipped"]
    assert report.counts["projects"] == 1 and report.counts["schedules"] == 0  # old only; etl's schedules stay
    mine = sqlite_store.projects.get(name="etl")
    assert mine is not None and mine.version == 0 and mine.description == "mine"

    renamed = import_azkaban(sqlite_store, settings, options(azkaban, on_conflict="rename"))
    assert renamed.conflicts[0].endswith(": imported as etl_azkaban")
    assert renamed.counts["projects"] == 1 and renamed.counts["versions"] == 3
    copy = sqlite_store.projects.get(name="etl_azkaban")
    assert copy is not None and archive(sqlite_store, copy.id, 3, tmp_path) == built["zips"][2]  # type: ignore[index]
    assert {s.flow_id for s in sqlite_store.schedules.all("etl_azkaban")} == {"done", "solo"}
    # the renamed project is remembered: a run with the default mode (fail) finds no conflict now
    last = import_azkaban(sqlite_store, settings, options(azkaban))
    assert not last.conflicts and not last.counts


def test_damaged_versions_are_reported_not_imported(
    azkaban: AzkabanDb, sqlite_store: Store, settings: Settings
) -> None:
    project = azkaban.add_project("broken", "alice")
    azkaban.upload(project, project_zip(1), "alice", T0)
    azkaban.upload(project, project_zip(2), "alice", T0 + HOUR)
    azkaban.run(
        "UPDATE project_files SET file = :b WHERE project_id = :p AND version = 1 AND chunk = 1",
        b=b"x" * 1024,
        p=project,
    )
    azkaban.run("DELETE FROM project_files WHERE project_id = :p AND version = 2", p=project)
    report = import_azkaban(sqlite_store, settings, options(azkaban))
    assert report.counts["versions"] == 0
    assert any("version 1: MD5" in line for line in report.unmapped), report.unmapped
    assert any("version 2: its files are gone" in line for line in report.unmapped), report.unmapped


def test_projects_filter_and_bad_source(azkaban: AzkabanDb, sqlite_store: Store, settings: Settings) -> None:
    build(azkaban)
    report = import_azkaban(sqlite_store, settings, options(azkaban, projects=("old",)))
    assert report.counts == {"projects": 1, "versions": 1, "events": 3, "permissions": 1}
    with pytest.raises(InputError, match="--projects: nope not in the Azkaban database"):
        import_azkaban(sqlite_store, settings, options(azkaban, projects=("nope",)))
    with pytest.raises(InputError, match="holds a password"):
        import_azkaban(sqlite_store, settings, ImportOptions(source_url="mysql://root:secret@127.0.0.1/azkaban"))
    with pytest.raises(InputError, match="must be MySQL or MariaDB"):
        import_azkaban(sqlite_store, settings, ImportOptions(source_url="postgresql://x@127.0.0.1/azkaban"))


def hello_nodes(now: int) -> list[dict[str, object]]:
    """Flow data nodes of flow ``done``: hello failed once, then succeeded on its second attempt."""
    return [
        {
            "id": "hello",
            "type": "command",
            "status": "SUCCEEDED",
            "attempt": 1,
            "inNodes": [],
            "outNodes": ["done"],
            "startTime": now + 2000,
            "endTime": now + 9000,
            "updateTime": now + 9000,
            "pastAttempts": [{"attempt": 0, "status": "FAILED", "startTime": now + 1000, "endTime": now + 1500}],
        },
        {
            "id": "done",
            "type": "noop",
            "status": "SUCCEEDED",
            "attempt": 0,
            "inNodes": ["hello"],
            "outNodes": [],
            "startTime": now + 9000,
            "endTime": now + 9500,
            "updateTime": now + 9500,
        },
    ]


@pytest.mark.parametrize("fresh_db", BACKENDS, indirect=True)
def test_execution_history(azkaban: AzkabanDb, target: Store, settings: Settings) -> None:
    built = build(azkaban)
    etl = int(built["etl"])  # type: ignore[call-overload]
    now = target.clock()
    logs = {
        ("", 0): b"flow started\nflow ended\n",
        ("hello", 0): b"first try \xff failed\n" * 20,
        ("hello", 1): ("second try: caf\u00e9\n" * 30).encode(),
    }
    finished = azkaban.execution(
        etl,
        3,
        "done",
        50,
        "bob",
        now - 3 * 86_400_000,
        hello_nodes(now),
        logs,
        outputs={"hello": {"rows": "12"}},
        options={"failureAction": "CANCEL_ALL"},
    )
    ancient = azkaban.execution(etl, 1, "done", 70, "alice", now - 400 * 86_400_000, hello_nodes(now))
    running = azkaban.execution(etl, 3, "solo", 30, "bob", now - 1000, [])

    dry = import_azkaban(target, settings, options(azkaban, history="30", dry_run=True))
    assert dry.counts["executions"] == 2
    report = import_azkaban(target, settings, options(azkaban, history="30"))
    assert (report.counts["executions"], report.counts["job attempts"]) == (2, 3)
    assert report.counts["executions running in Azkaban"] == 1
    assert report.counts["log chunks"] == sum(-(-len(text) // 100) for text in logs.values())

    ledger = target.imports.imported(origin_of(azkaban.url), "execution")
    assert set(ledger) == {str(finished), str(running)}
    assert target.executions.get(ledger[str(running)]).elsewhere
    record = target.executions.get(ledger[str(finished)])
    assert (record.project_name, record.version, record.flow_id, record.status, record.submit_user) == (
        "etl",
        3,
        "done",
        Status.SUCCEEDED,
        "bob",
    )
    assert (record.start_time, record.end_time) == (now - 3 * 86_400_000 + 1000, now - 3 * 86_400_000 + 60_000)
    assert record.options["failure_action"] == "CANCEL_ALL"
    runs = {(r.nested_id, r.attempt): r for r in target.job_runs.of(record.id)}
    assert {key: run.status for key, run in runs.items()} == {
        ("hello", 0): Status.FAILED,
        ("hello", 1): Status.SUCCEEDED,
        ("done", 0): Status.SUCCEEDED,
    }
    assert runs[("done", 0)].parents == ["hello"] and runs[("hello", 1)].output_props == {"rows": "12"}
    for (name, attempt), text in logs.items():
        assert target.logs.read(record.id, name, attempt, 0, 1 << 20) == text

    assert not import_azkaban(target, settings, options(azkaban, history="30")).counts
    everything = import_azkaban(target, settings, options(azkaban, history="all"))
    assert everything.counts["executions"] == 1 and everything.skipped["executions"] == 2
    assert str(ancient) in target.imports.imported(origin_of(azkaban.url), "execution")


def test_version_stored_but_not_recorded_is_not_stored_again(
    azkaban: AzkabanDb, sqlite_store: Store, settings: Settings
) -> None:
    """The window a kill can hit: a version stored, its ledger row not yet written. The next run knows the
    version by its MD5 and records it instead of storing it a second time."""
    build(azkaban)
    import_azkaban(sqlite_store, settings, options(azkaban))
    with sqlite_store.write() as conn:
        conn.execute(
            t.azkaban_imports.delete().where(
                t.azkaban_imports.c.kind == "version", t.azkaban_imports.c.source_key.like("%/3")
            )
        )
    before = row_counts(sqlite_store)
    report = import_azkaban(sqlite_store, settings, options(azkaban))
    assert not report.counts and report.skipped["versions"] == 4
    assert row_counts(sqlite_store) == {**before, "azkaban_imports": before["azkaban_imports"] + 1}


USERS_XML = """<azkaban-users>
  <role name="ops" permissions="READ,EXECUTE"/>
  <user username="alice" password="alice-pw" roles="ops" groups="ops"/>
  <user username="bob" password="bob-pw"/>
  <user username="carol" password="carol-pw"/>
</azkaban-users>
"""


def test_users_file(azkaban: AzkabanDb, sqlite_store: Store, settings: Settings, tmp_path: Path) -> None:
    from sudoless.accounts import Accounts

    build(azkaban)
    users = tmp_path / "azkaban-users.xml"
    users.write_text(USERS_XML)
    accounts = Accounts(sqlite_store, settings)
    accounts.add_user("carol", "mine-already")
    before = row_counts(sqlite_store)
    with pytest.raises(InputError, match="user carol exists in sudoless already"):
        import_azkaban(sqlite_store, settings, options(azkaban, users=users))
    assert row_counts(sqlite_store) == before

    dry = import_azkaban(sqlite_store, settings, options(azkaban, users=users, dry_run=True))
    assert dry.counts["users"] == 2 and not any("bob has no sudoless account" in line for line in dry.unmapped)
    report = import_azkaban(sqlite_store, settings, options(azkaban, users=users, on_conflict="skip"))
    assert report.counts["users"] == 2
    assert report.conflicts == ["user carol exists in sudoless already: kept the sudoless account"]
    assert accounts.authenticate("bob", "bob-pw", "127.0.0.1").name == "bob"
    assert accounts.authenticate("carol", "mine-already", "127.0.0.1").name == "carol"
    stored = sqlite_store.accounts.user("alice")
    assert stored is not None and "alice-pw" not in stored.password_hash and stored.roles == ("ops",)

    again = import_azkaban(sqlite_store, settings, options(azkaban, users=users, on_conflict="skip"))
    assert "users" not in again.counts and again.skipped["users"] == 2


FLOW2_WITH_TRIGGER = {
    "report.project": "azkaban-flow-version: 2.0\n",
    "report.flow": "trigger:\n  schedule:\n    type: cron\n    value: 0 0 * * * ?\n"
    "nodes:\n  - name: report\n    type: command\n    config:\n      command: echo report\n",
}


@pytest.mark.parametrize("enable", [False, True])
def test_flow_triggers_come_paused(azkaban: AzkabanDb, sqlite_store: Store, settings: Settings, enable: bool) -> None:
    """The Flow 2.0 triggers of imported versions come paused; with --enable-schedules those running in
    Azkaban run here, and the one paused there (its Quartz trigger PAUSED, job group PROJECTID.FLOW) stays
    paused."""
    project = azkaban.add_project("reports", "alice")
    audit = FLOW2_WITH_TRIGGER["report.flow"].replace("name: report", "name: audit")
    azkaban.upload(project, make_zip({**FLOW2_WITH_TRIGGER, "audit.flow": audit}), "alice", T0)
    azkaban.run(
        "CREATE TABLE QRTZ_TRIGGERS (SCHED_NAME VARCHAR(120) NOT NULL, TRIGGER_NAME VARCHAR(200) NOT NULL, "
        "TRIGGER_GROUP VARCHAR(200) NOT NULL, JOB_NAME VARCHAR(200) NOT NULL, JOB_GROUP VARCHAR(200) NOT NULL, "
        "TRIGGER_STATE VARCHAR(16) NOT NULL, PRIMARY KEY (SCHED_NAME, TRIGGER_NAME, TRIGGER_GROUP))"
    )
    for flow, state in (("report", "WAITING"), ("audit", "PAUSED")):
        azkaban.run(
            "INSERT INTO QRTZ_TRIGGERS VALUES ('azkaban', :t, :g, 'FlowTriggerQuartzJob', :g, :s)",
            t=f"trigger-{flow}",
            g=f"{project}.{flow}",
            s=state,
        )
    report = import_azkaban(sqlite_store, settings, options(azkaban, enable_schedules=enable))
    local = sqlite_store.projects.get(name="reports")
    assert local is not None
    triggers = sqlite_store.triggers.triggers(local.id)
    assert sorted((row.flow_id, row.cron, row.paused) for row in triggers) == [
        ("audit", "0 0 * * * ?", True),
        ("report", "0 0 * * * ?", not enable),
    ]
    assert report.counts["flow triggers paused"] == (1 if enable else 2)


def test_history_in_pages(
    azkaban: AzkabanDb, sqlite_store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Executions are read a page at a time (here 2 a page): every one comes, once, with its own logs."""
    from sudoless.azkaban_import import history

    monkeypatch.setattr(history, "BATCH", 2)
    built = build(azkaban)
    now = sqlite_store.clock()
    sources = [
        azkaban.execution(
            int(built["etl"]),
            3,
            "done",
            50,
            "bob",
            now - n * 1000,  # type: ignore[call-overload]
            hello_nodes(now),
            {("hello", 1): f"run {n}\n".encode() * 40},
        )
        for n in range(5)
    ]
    report = import_azkaban(sqlite_store, settings, options(azkaban))
    assert report.counts["executions"] == 5
    ledger = sqlite_store.imports.imported(origin_of(azkaban.url), "execution")
    for n, source_id in enumerate(sources):
        assert sqlite_store.logs.read(ledger[str(source_id)], "hello", 1, 0, 1 << 20) == f"run {n}\n".encode() * 40


def in_flight_nodes(now: int, hello: str, done: str) -> list[dict[str, object]]:
    """Flow data nodes of flow ``done`` part-way: hello in status ``hello``, done in ``done``."""
    return [
        {
            "id": "hello",
            "type": "command",
            "status": hello,
            "attempt": 0,
            "inNodes": [],
            "startTime": now + 1000 if hello != "READY" else -1,
            "endTime": now + 5000 if hello == "SUCCEEDED" else -1,
            "updateTime": now + 1000,
        },
        {
            "id": "done",
            "type": "noop",
            "status": done,
            "attempt": 0,
            "inNodes": ["hello"],
            "startTime": now + 5000 if done != "READY" else -1,
            "endTime": now + 5100 if done == "SUCCEEDED" else -1,
            "updateTime": now + 5100,
        },
    ]


@pytest.mark.parametrize("fresh_db", BACKENDS, indirect=True)
def test_in_flight_executions_are_shown_never_run(azkaban: AzkabanDb, target: Store, settings: Settings) -> None:
    """A preparing and a running Azkaban execution come as they stood, marked as running elsewhere: an
    executor here runs a native execution queued after them and leaves them alone (it claims the oldest
    first, so it would have taken them first); a later import brings the running one's end in place."""
    from sudoless.flows.executor import Executor
    from sudoless.store.executions import ELSEWHERE

    built = build(azkaban)
    etl = int(built["etl"])  # type: ignore[call-overload]
    now = target.clock()
    preparing = azkaban.execution(etl, 3, "done", 20, "bob", now - 1000, in_flight_nodes(now, "READY", "READY"))
    running = azkaban.execution(
        etl, 3, "done", 30, "alice", now - 2000, in_flight_nodes(now, "RUNNING", "READY"), {("hello", 0): b"working\n"}
    )
    report = import_azkaban(target, settings, options(azkaban))
    assert report.counts["executions"] == 2 and report.counts["executions running in Azkaban"] == 2
    assert any("imported as they stood" in note for note in report.notes)
    ledger = target.imports.imported(origin_of(azkaban.url), "execution")
    stood = {key: target.executions.get(ledger[str(key)]) for key in (preparing, running)}
    assert [(r.status, r.executor_id, r.elsewhere) for r in stood.values()] == [
        (Status.PREPARING, ELSEWHERE, True),
        (Status.RUNNING, ELSEWHERE, True),
    ]
    assert {(r.nested_id, r.status) for r in target.job_runs.of(stood[running].id)} == {
        ("hello", Status.RUNNING),
        ("done", Status.READY),
    }

    # the same flow runs here meanwhile: what runs elsewhere does not count for concurrentOption=skip
    native = submit_flow(target, settings, "etl", "done", user="bob")
    executor = Executor(target, settings)
    try:
        executor.serve(poll_seconds=0.05, until_idle=True)
        assert target.executions.claim(executor.id, stood[preparing].id) is None
    finally:
        executor.stop()
    assert target.executions.get(native).status == Status.SUCCEEDED
    for key, before in stood.items():
        assert target.executions.get(before.id) == before, f"Azkaban execution {key} was touched here"

    # the running one ends in Azkaban; the next import brings its end over it, same id, logs completed
    azkaban.add_logs(running, {("hello", 0): b"done\n"}, now + 9000)
    azkaban.finish(running, 50, in_flight_nodes(now, "SUCCEEDED", "SUCCEEDED"), now + 9000)
    again = import_azkaban(target, settings, options(azkaban))
    assert again.counts["executions updated since they ran"] == 1 and "executions" not in again.counts
    assert again.skipped["executions"] == 1  # the preparing one, unchanged
    ended = target.executions.get(stood[running].id)
    assert (ended.status, ended.end_time, ended.executor_id, ended.elsewhere) == (
        Status.SUCCEEDED,
        now + 9000,
        None,
        False,
    )
    assert {(r.nested_id, r.status) for r in target.job_runs.of(ended.id)} == {
        ("hello", Status.SUCCEEDED),
        ("done", Status.SUCCEEDED),
    }
    assert target.logs.read(ended.id, "hello", 0, 0, 1 << 20) == b"working\ndone\n"
    assert not import_azkaban(target, settings, options(azkaban)).counts


def test_schedules_fire_at_azkaban_instants_with_their_sla(
    azkaban: AzkabanDb, sqlite_store: Store, settings: Settings
) -> None:
    """The imported 02:30 America/New_York schedule, enabled, fires at 02:30 New York time across the end of
    daylight saving time (06:30 UTC, then 07:30 UTC), each execution carrying the schedule's SLA rules."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sudoless.flows.scheduler import Scheduler

    build(azkaban)
    import_azkaban(sqlite_store, settings, options(azkaban))
    york = ZoneInfo("America/New_York")
    instants = [int(datetime(2026, 10, day, 2, 30, tzinfo=york).timestamp() * 1000) for day in (30, 31)] + [
        int(datetime(2026, 11, day, 2, 30, tzinfo=york).timestamp() * 1000) for day in (1, 2)
    ]
    assert [(b - a) // HOUR for a, b in zip(instants, instants[1:], strict=False)] == [24, 25, 24]
    clock = [instants[0] - 12 * HOUR]
    scheduler = Scheduler(sqlite_store, settings, clock=lambda: clock[0])
    schedule = next(s for s in scheduler.list("etl") if s.flow_id == "done")
    assert scheduler.tick(instants[0]) == []  # paused as imported: nothing fires
    scheduler.set_enabled(schedule.id, True)
    assert sqlite_store.schedules.get(schedule.id).next_fire == instants[0]
    fired = []
    for number, instant in enumerate(instants):
        assert scheduler.tick(instant - 1) == []
        clock[0] = instant
        (exec_id,) = scheduler.tick(instant)
        fired.append(sqlite_store.executions.get(exec_id))
        row = sqlite_store.schedules.get(schedule.id)
        assert row.last_fire == instant  # the slot it fired for
        if number + 1 < len(instants):
            assert row.next_fire == instants[number + 1]
    rules = fired[-1].options["sla"]
    assert [(r["job"], r["kind"], r["duration_ms"]) for r in rules] == [
        ("", "SUCCESS", 5_400_000),
        ("hello", "FINISH", 1_800_000),
    ]
    assert fired[-1].options["sla_emails"] == ["ops@example.com", "dev@example.com"]


def test_unmappable_things_are_listed(azkaban: AzkabanDb, sqlite_store: Store, settings: Settings) -> None:
    """An unknown job type, a ramp, a deny-list entry, a job override and an SLA setting that does not convert
    are each one line of the report, with what to do; the rest is imported."""
    azkaban.run(
        "CREATE TABLE ramp (rampId VARCHAR(45) NOT NULL PRIMARY KEY, rampPolicy VARCHAR(45) NOT NULL, "
        "isActive TINYINT NOT NULL DEFAULT 0)"
    )
    azkaban.run(
        "CREATE TABLE flow_deny_lists (id INT NOT NULL PRIMARY KEY AUTO_INCREMENT, flow_id VARCHAR(100) NOT NULL, "
        "deny_mode VARCHAR(10) NOT NULL, deny_version VARCHAR(100), rule_name VARCHAR(100) NOT NULL)"
    )
    azkaban.run("INSERT INTO ramp VALUES ('spark3', 'SimpleAutoRampPolicy', 1)")
    azkaban.run("INSERT INTO flow_deny_lists (flow_id, deny_mode, rule_name) VALUES ('hive.load', 'ALL', 'no-hive')")
    project = azkaban.add_project("hive", "alice")
    azkaban.upload(
        project,
        make_zip({"load.job": "type=hive\nhive.script=load.q\n", "end.job": "type=noop\ndependencies=load\n"}),
        "alice",
        T0,
    )
    azkaban.run(
        "INSERT INTO project_properties VALUES (:p, 1, 'load.jor', :t, 2, :b)",
        p=project,
        t=T0,
        b=b"",
    )
    azkaban.schedule(
        project, "hive", "end", "0 0 1 ? * *", "UTC", "alice", sla=[{"type": "FlowProgress", "info": {}, "actions": []}]
    )
    dry = import_azkaban(sqlite_store, settings, options(azkaban, dry_run=True))  # finds the same lines
    report = import_azkaban(sqlite_store, settings, options(azkaban))
    assert report.counts["versions"] == 1 and report.counts["schedules"] == 1
    assert sorted(dry.unmapped) == sorted(report.unmapped)
    lines = "\n".join(report.unmapped)
    assert "project hive version 1: job type 'hive' (end.load) is not one sudoless has" in lines
    assert "ramp spark3 (policy SimpleAutoRampPolicy, active): sudoless has no ramps" in lines
    assert "deny-list entry no-hive (ALL of flow hive.load)" in lines
    assert "project hive: the properties of job load were changed in Azkaban's UI" in lines
    assert "SLA setting 1" in lines and "'FlowProgress' is not one of" in lines


AZKABAN_PROPERTIES = """# Azkaban Personalization Settings
azkaban.name=Production
default.timezone.id=America/Chicago
jetty.port=8081
mail.sender=azkaban@example.com
mail.host=smtp.example.com
mail.port=587
mail.user=azkaban
mail.password=hunter2
mail.tls=true
azkaban.webserver.url=https://azkaban.example.com:8443
flow.num.job.threads=4
execution.logs.retention.ms=604800000
mysql.host=db.example.com
custom.thing=1
"""


def test_properties_file(azkaban: AzkabanDb, sqlite_store: Store, settings: Settings, tmp_path: Path) -> None:
    """azkaban.properties: what maps comes out as config.toml lines that sudoless reads back as the same
    settings; Azkaban's default zone is the zone of a schedule that names none; every other property is one
    line with what to do; the mail password is never repeated."""
    import json

    from sudoless.config import load_settings

    project = azkaban.add_project("zoned", "alice")
    azkaban.upload(project, project_zip(1), "alice", T0)
    azkaban.schedule(project, "zoned", "done", "0 15 4 ? * *", "", "alice")
    properties = tmp_path / "azkaban.properties"
    properties.write_text(AZKABAN_PROPERTIES)
    report = import_azkaban(sqlite_store, settings, options(azkaban, properties=properties))
    assert report.settings == {
        "sudoless": {
            "timezone": "America/Chicago",
            "external_url": "https://azkaban.example.com:8443",
            "parallel": 4,
            "execution_log_retention_days": 7,
        },
        "mail": {
            "from": "azkaban@example.com",
            "host": "smtp.example.com",
            "port": 587,
            "user": "azkaban",
            "security": "starttls",
        },
    }
    (schedule,) = sqlite_store.schedules.all("zoned")
    assert schedule.timezone == "America/Chicago"
    unmapped = "\n".join(report.unmapped)
    assert (
        "azkaban.properties line 4: jetty.port: not carried over; start the server with `sudoless server --port N`"
        in unmapped
    )
    assert "line 9: mail.password: not carried over; write the password to a file" in unmapped
    assert "line 14: mysql.host: not carried over; nothing: this is the database being imported" in unmapped
    assert "line 15: custom.thing: not carried over; no counterpart in sudoless" in unmapped
    assert "line 2: azkaban.name" in unmapped
    assert "hunter2" not in json.dumps(report.to_json()) + "\n".join(report.lines())

    # the printed lines are config.toml as sudoless reads it
    tables: dict[str, list[str]] = {}
    for line in report.lines():
        if line.startswith("settings: config.toml ["):
            table, assignment = line.removeprefix("settings: config.toml [").split("] ", 1)
            tables.setdefault(table, []).append(assignment)
    home = tmp_path / "read-back"  # not the settings' home, which the import's uploads use
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("".join(f"[{t}]\n" + "\n".join(lines) + "\n" for t, lines in tables.items()))
    (home / "config.toml").chmod(0o600)
    read = load_settings({"SUDOLESS_HOME": str(home)})
    assert (read.timezone, read.external_url, read.parallel, read.execution_log_retention_days) == (
        "America/Chicago",
        "https://azkaban.example.com:8443",
        4,
        7,
    )
    assert (read.mail_from, read.mail_host, read.mail_port, read.mail_user, read.mail_security) == (
        "azkaban@example.com",
        "smtp.example.com",
        587,
        "azkaban",
        "starttls",
    )

    properties.write_text("default.timezone.id=Mars/Olympus\n")
    bad = import_azkaban(sqlite_store, settings, options(azkaban, properties=properties, dry_run=True))
    assert bad.settings == {} and any(
        "azkaban.properties line 1: default.timezone.id: 'Mars/Olympus' is not a time zone name" in line
        for line in bad.unmapped
    )
    with pytest.raises(InputError, match="--properties .*nowhere.properties: cannot read it"):
        import_azkaban(sqlite_store, settings, options(azkaban, properties=tmp_path / "nowhere.properties"))
