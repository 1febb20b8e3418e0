"""``sudoless backup`` / ``restore``: a backup taken while a live server runs a flow restores into a fresh home
with every project version, execution, log, schedule and user, table by table, on each database back end."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.live import Client, LiveServer, make_zip, unique
from sudoless.backup import backup, restore
from sudoless.config import Settings
from sudoless.errors import InputError, StateError
from sudoless.store import Store
from sudoless.store import dump as tables
from sudoless.store.dump import read_rows
from support.services import create_database, drop_database

SUDOLESS = Path(sys.executable).with_name("sudoless")

#: ``first`` writes a file into the execution directory and logs a line; ``nap`` runs while the backup is taken
PROJECT = {
    "first.job": "type=command\ncommand=sh -c 'mkdir -p out && echo kept > out/written.txt && echo first-was-here'\n",
    "nap.job": "type=command\ndependencies=first\ncommand=sleep 4\n",
}


def canonical(value: object) -> object:
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return ["bytes", value.hex()]
    if isinstance(value, bool):
        return int(value)
    return value


def table_rows(store: Store, table: sa.Table) -> list[list[object]]:
    with store.read() as conn:
        rows = conn.execute(sa.select(*stored(table)).order_by(*table.primary_key.columns))
        return [[canonical(v) for v in row] for row in rows]


def backed_up_rows(folder: Path, table: sa.Table) -> list[list[object]]:
    rows = read_rows(folder / "db" / f"{table.name}.jsonl.gz")
    return [[canonical(row[c.name]) for c in stored(table)] for row in rows]


def stored(table: sa.Table) -> list[sa.Column[object]]:
    """The columns a backup holds: generated ones (``executions.duration``) the restoring database computes."""
    return [c for c in table.columns if c.computed is None]


def kind_of(url: str) -> str:
    name = sa.engine.make_url(url).get_backend_name()
    return "mariadb" if name in ("mysql", "mariadb") else name


@pytest.fixture
def running_flow(live: LiveServer, admin: Client) -> Iterator[tuple[str, int]]:
    project = unique("backup")
    admin.create_project(project)
    assert admin.upload(project, make_zip(PROJECT)).status_code == 200
    scheduled = admin.ajax(
        "/schedule", "scheduleCronFlow", via="POST", projectName=project, flow="nap", cronExpression="0 0 0 1 1 ? 2099"
    )
    assert scheduled["status"] == "success", scheduled
    exec_id = admin.execute(project, "nap")
    admin.wait(exec_id, until=lambda body: {n["id"]: n["status"] for n in body["nodes"]}.get("nap") == "RUNNING")
    yield project, exec_id
    admin.wait(exec_id)


def test_a_backup_during_a_running_flow_restores_into_a_fresh_home(
    live: LiveServer, admin: Client, running_flow: tuple[str, int], tmp_path: Path
) -> None:
    project, exec_id = running_flow
    user, _ = live.add_user("kept")
    folder = tmp_path / "backup"
    manifest = backup(live.settings, folder, store=live.store)
    assert live.store.executions.get(exec_id).status.value == "RUNNING"  # the backup did not wait for the flow
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert manifest.tables["executions"] >= 1 and manifest.tables["users"] >= 2

    kind = kind_of(live.settings.database_url)
    targets: list[tuple[str, str]] = [("sqlite", f"sqlite:///{tmp_path / 'fresh-sqlite' / 'sudoless.db'}")]
    cleanup = []
    if kind != "sqlite":  # the same back end too, not only SQLite
        url, admin_engine, name = create_database(kind)
        targets.append((kind, url))
        cleanup.append((admin_engine, name, kind))
    try:
        for label, url in targets:
            home = tmp_path / f"fresh-{label}"
            home.mkdir(exist_ok=True)
            settings = Settings(home=home, db_url=url)
            restore(settings, folder)
            restored = Store(url)
            try:
                for table in tables.tables():  # every table, row by row, as the snapshot had it
                    assert table_rows(restored, table) == backed_up_rows(folder, table), (label, table.name)
                _check_meaning(live, restored, settings, project, exec_id, user.name, tmp_path / label)
            finally:
                restored.close()
    finally:
        for admin_engine, name, db_kind in cleanup:
            drop_database(admin_engine, name, db_kind)


def _check_meaning(
    live: LiveServer, restored: Store, settings: Settings, project: str, exec_id: int, user: str, scratch: Path
) -> None:
    """What a user looks for after a restore: the project's zip, the execution and its log, the files its
    jobs wrote, the schedule and the accounts."""
    scratch.mkdir()
    project_id = live.store.projects.id_of(project)
    assert restored.projects.id_of(project) == project_id
    original = live.store.projects.write_archive(project_id, 1, scratch / "original.zip").read_bytes()
    assert restored.projects.write_archive(project_id, 1, scratch / "restored.zip").read_bytes() == original
    record = restored.executions.get(exec_id)
    assert record.status.value == "RUNNING" and record.project_name == project
    jobs = {r.nested_id: r.status.value for r in restored.job_runs.of(exec_id)}
    assert jobs == {"first": "SUCCEEDED", "nap": "RUNNING"}
    assert b"first-was-here" in restored.logs.read(exec_id, "first", 0, 0, 1 << 20)
    assert (settings.data_dir / "executions" / str(exec_id) / "out" / "written.txt").read_text() == "kept\n"
    from sudoless.store import tables as t

    with restored.read() as conn:
        names = set(conn.execute(sa.select(t.users.c.username)).scalars())
        flows = set(
            conn.execute(sa.select(t.schedules.c.flow_id).where(t.schedules.c.project_id == project_id)).scalars()
        )
    assert {user, live.admin} <= names
    assert flows == {"nap"}


def test_restore_refuses_a_database_with_rows_and_a_damaged_backup(tmp_path: Path) -> None:
    def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SUDOLESS_HOME": str(home)}
        env.pop("SUDOLESS_DB", None)
        return subprocess.run([str(SUDOLESS), *args], env=env, capture_output=True, text=True, timeout=120)

    source = tmp_path / "source"
    project = tmp_path / "p"
    project.mkdir()
    (project / "a.job").write_text("type=command\ncommand=sh -c 'echo made > made.txt'\n")
    assert run(source, "flow", "run", str(project), "--json").returncode == 0
    taken = run(source, "backup", str(tmp_path / "bk"), "--json")
    assert taken.returncode == 0, taken.stderr
    assert json.loads(taken.stdout)["tables"]["executions"] == 1
    again = run(source, "backup", str(tmp_path / "bk"))
    assert again.returncode == 2 and "already exists" in again.stderr and len(again.stderr.splitlines()) == 1
    (tmp_path / "a-file").write_text("")
    nowhere = run(source, "backup", str(tmp_path / "a-file" / "bk"))
    assert nowhere.returncode == 2 and "cannot create the backup folder" in nowhere.stderr
    assert len(nowhere.stderr.splitlines()) == 1

    fresh = tmp_path / "fresh"
    assert run(fresh, "restore", str(tmp_path / "bk")).returncode == 0
    shown = json.loads(run(fresh, "flow", "show", "1", "--json").stdout)
    assert shown["status"] == "SUCCEEDED"
    refused = run(fresh, "restore", str(tmp_path / "bk"))
    assert refused.returncode == 2 and "not empty" in refused.stderr and "--replace" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert run(fresh, "restore", str(tmp_path / "bk"), "--replace").returncode == 0
    assert json.loads(run(fresh, "flow", "show", "1", "--json").stdout)["status"] == "SUCCEEDED"

    damaged = tmp_path / "bk" / "db" / "executions.jsonl.gz"
    rows = gzip.decompress(damaged.read_bytes()).replace(b"SUCCEEDED", b"FAILED")
    damaged.write_bytes(gzip.compress(rows))
    other = tmp_path / "other"
    bad = run(other, "restore", str(tmp_path / "bk"))
    assert bad.returncode == 2 and "checksum" in bad.stderr and "executions.jsonl.gz" in bad.stderr
    with pytest.raises(InputError, match="checksum"):
        restore(Settings(home=tmp_path / "lib"), tmp_path / "bk")
    assert not (other / "sudoless.db").exists()  # refused before anything was created


def test_a_backup_of_another_schema_revision_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    backup(settings, tmp_path / "bk")
    manifest_path = tmp_path / "bk" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["revision"] = "0001"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(StateError, match="revision 0001"):
        restore(Settings(home=tmp_path / "fresh"), tmp_path / "bk")
