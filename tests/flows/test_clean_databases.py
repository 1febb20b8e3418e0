"""``sudoless clean`` in a home shared by several databases: it prunes the folders of the databases it can
open (the one it is given and the home's default SQLite file) and lists every other database's folder,
with its size, as not judged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from flows.harness import run_flow, write_project
from sudoless.config import Settings
from sudoless.datadir import default_sqlite_url
from sudoless.flows.retention import DAY_MS
from sudoless.store import Store


def _old_execution(settings: Settings, tmp_path: Path, name: str) -> Path:
    """An execution of ``settings``' database that ended 31 days ago; its directory."""
    store = Store(settings.database_url)
    try:
        run = run_flow(store, settings, write_project(tmp_path / name, {"a.job": "type=noop\n"}), "a")
        store.executions.update(run.exec_id, end_time=store.clock() - 31 * DAY_MS)
        return run.workdir
    finally:
        store.close()


def test_clean_prunes_the_databases_it_can_open_and_lists_the_others(settings: Settings, tmp_path: Path) -> None:
    settings.home.mkdir(mode=0o700)
    default = replace(settings, db_url="")
    other = replace(settings, db_url=f"sqlite:///{settings.home / 'other.db'}")
    assert default.database_url == default_sqlite_url(settings.home) and other.data_dir != default.data_dir
    default_dir = _old_execution(default, tmp_path, "p1")
    other_dir = _old_execution(other, tmp_path, "p2")
    stranger = settings.home / "data" / "mysql-local-3306-sudoless-0123456789ab"
    (stranger / "executions" / "5").mkdir(parents=True)
    (stranger / "executions" / "5" / "out.csv").write_bytes(b"x" * 5000)

    env = {**os.environ, "SUDOLESS_HOME": str(settings.home), "SUDOLESS_DB": other.database_url}
    command = [sys.executable, "-c", "from sudoless.cli import main; main()", "clean"]
    listed = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, env=env, timeout=120, check=True)
    note = next(line for line in listed.stdout.splitlines() if line.startswith("note: "))
    assert f"{stranger}: 5.0 KB of another database's executions" in note and "--db URL" in note, note
    assert str(default_dir) in listed.stdout and str(other_dir) in listed.stdout

    report = json.loads(
        subprocess.run([*command, "--json"], capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    )
    removed = {item["path"] for item in report["items"] if item["removed"]}
    assert {str(default_dir), str(other_dir)} <= removed
    assert not default_dir.exists() and not other_dir.exists()
    assert (stranger / "executions" / "5" / "out.csv").exists()  # not this database's to judge
    assert report["notes"] == [note.removeprefix("note: ")]
