"""Retention of logs: an old finished execution's job and flow logs leave the database (scheduler and
``sudoless clean``), a recent or running one's stay, and the execution's history rows stay. Run on SQLite,
MariaDB and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from flows.harness import run_flow, write_project
from sudoless.clean import clean
from sudoless.config import Settings
from sudoless.flows.executions import submit_flow
from sudoless.flows.retention import DAY_MS, expired_logs
from sudoless.flows.scheduler import Scheduler
from sudoless.store import Store
from sudoless.store.status import Status


def _log_bytes(store: Store, exec_id: int) -> int:
    names = [("", 0)] + [(run.nested_id, run.attempt) for run in store.job_runs.of(exec_id)]
    return sum(store.logs.size(exec_id, name, attempt) for name, attempt in names)


def _three(store: Store, settings: Settings, tmp_path: Path) -> tuple[int, int, int]:
    """(ended 31 days ago, ended now, running for 40 days with a log): each with logs in the database."""
    project = write_project(tmp_path / "p", {"a.job": "type=command\ncommand=echo hello from a\n"})
    old = run_flow(store, settings, project, "a")
    recent = run_flow(store, settings, project, "a")
    now = store.clock()
    store.executions.update(old.exec_id, end_time=now - 31 * DAY_MS)
    running = submit_flow(store, settings, store.executions.get(old.exec_id).project_name, "a", user="tester")
    store.executions.update(
        running, status=Status.RUNNING, start_time=now - 40 * DAY_MS, end_time=-1, update_time=now - 40 * DAY_MS
    )
    store.logs.append(running, "", 0, 0, b"still running\n")
    return old.exec_id, recent.exec_id, running


def test_the_scheduler_removes_old_logs_and_keeps_recent_running_and_history(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    old, recent, running = _three(store, settings, tmp_path)
    try:
        now = store.clock()
        found = dict(expired_logs(store, settings, now))
        assert found[old] == _log_bytes(store, old) > 0
        assert recent not in found and running not in found
        assert b"hello from a" in store.logs.read(old, "a", 0, 0, 1 << 20)
        assert Scheduler(store, settings, clock=lambda: now).enforce_retention() is not None
        assert _log_bytes(store, old) == 0 and store.logs.read(old, "a", 0, 0, 1 << 20) == b""
        assert store.executions.get(old).status == Status.SUCCEEDED
        assert [r.status for r in store.job_runs.of(old)] == [Status.SUCCEEDED]  # the history stays
        assert b"hello from a" in store.logs.read(recent, "a", 0, 0, 1 << 20)
        assert store.logs.read(running, "", 0, 0, 100) == b"still running\n"
        # 0 keeps logs forever, however old
        assert expired_logs(store, replace(settings, execution_log_retention_days=0), now + 999 * DAY_MS) == []
    finally:
        store.executions.update(running, status=Status.KILLED, end_time=store.clock())


def test_clean_dry_run_shows_what_old_logs_free_and_clean_removes_them(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = replace(settings, db_url=store.url)
    old, recent, running = _three(store, settings, tmp_path)
    try:
        size = _log_bytes(store, old)
        env = {**os.environ, "SUDOLESS_HOME": str(settings.home), "SUDOLESS_DB": store.url}
        command = [sys.executable, "-c", "from sudoless.cli import main; main()", "clean", "--dry-run"]
        listed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=True)
        line = next(line for line in listed.stdout.splitlines() if "execution-logs" in line)
        assert "would remove" in line and "logs of" in line and "ended over 30 days ago" in line, line
        assert listed.stdout.splitlines()[-1].startswith("would free ")
        report = json.loads(
            subprocess.run(
                [*command, "--json"], capture_output=True, text=True, env=env, timeout=120, check=True
            ).stdout
        )
        logs = next(item for item in report["items"] if item["kind"] == "execution-logs")
        assert logs["bytes"] >= size and logs["removed"] is False
        assert _log_bytes(store, old) == size  # a dry run removes nothing

        done = clean(settings)
        logs_item = next(item for item in done.items if item.kind == "execution-logs")
        assert logs_item.removed and logs_item.bytes >= size
        assert _log_bytes(store, old) == 0
        assert _log_bytes(store, recent) > 0 and _log_bytes(store, running) > 0
    finally:
        store.executions.update(running, status=Status.KILLED, end_time=store.clock())


def test_clean_compacts_sqlite_after_removing_logs_and_reports_the_bytes(
    sqlite_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """SQLite keeps the pages of deleted rows in its file: without VACUUM, removing old logs frees nothing on
    disk. ``clean`` compacts the file and says by how much it shrank."""
    store = sqlite_store
    settings = replace(settings, db_url=store.url)
    old, _, running = _three(store, settings, tmp_path)
    try:
        for _ in range(16):  # 4 MB of log that does not compress, in the old execution's flow log
            store.logs.append_at_end(old, "", 0, os.urandom(256 * 1024))
        database = Path(store.engine.url.database or "")
        wal = database.with_name(database.name + "-wal")
        store.engine.dispose()  # checkpoints and removes the WAL: the file alone holds the data
        before = database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        assert before > 4_000_000
        env = {**os.environ, "SUDOLESS_HOME": str(settings.home), "SUDOLESS_DB": store.url}
        command = [sys.executable, "-c", "from sudoless.cli import main; main()", "clean", "--json"]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        logs = next(item for item in report["items"] if item["kind"] == "execution-logs")
        after = database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        assert logs["removed"] and _log_bytes(store, old) == 0
        assert before - after > 4_000_000, (before, after)
        assert logs["reclaimed_bytes"] == report["reclaimed_bytes"] == before - after
        again = subprocess.run(command[:-1], capture_output=True, text=True, env=env, timeout=120)
        assert again.returncode == 0 and "compacted" not in again.stdout  # nothing removed: nothing compacted
    finally:
        store.executions.update(running, status=Status.KILLED, end_time=store.clock())
