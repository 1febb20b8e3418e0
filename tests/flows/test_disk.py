"""Disk is bounded: executions link to the project cache, uploads have a quota, old directories go."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from flows.harness import Outcome, run_flow, run_submitted, write_project
from sudoless.config import Settings
from sudoless.errors import ArchiveError, NotFoundError
from sudoless.flows.executions import project_dir, restart_execution, submit_flow
from sudoless.flows.retention import DAY_MS, expired_workdirs, unshared_bytes, unused_versions
from sudoless.flows.scheduler import Scheduler
from sudoless.flows.upload import upload_project
from sudoless.flows.workspace import link_tree, prepare_workdir, project_cache
from sudoless.store import Store
from sudoless.store.status import Status

S = Status.SUCCEEDED
AS_ROOT = os.geteuid() == 0

#: a job that replaces one project file (sed -i writes a new file and renames it over) and adds one
REWRITE = {
    "data.txt": "original\n",
    "tool.sh": "#!/bin/sh\necho tool ran\n",
    "edit.job": "type=command\ncommand=sed -i s/original/changed/ data.txt\ncommand.1=sh -c 'echo new > mine.txt'\n",
}


def _inode(path: Path) -> int:
    return path.stat().st_ino


def _run_again(store: Store, settings: Settings, exec_id: int) -> Outcome:
    """A new execution of the same project version and flow as ``exec_id``, run to its end."""
    record = store.executions.get(exec_id)
    again = submit_flow(store, settings, record.project_name, record.flow_id, user="tester")
    return run_submitted(store, settings, again)


def test_two_executions_share_the_cache_s_inodes_and_a_job_s_writes_stay_its_own(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "p" / "lib").mkdir(parents=True)
    project = write_project(tmp_path / "p", {**REWRITE, "lib/big.bin": "x" * 100_000})
    (project / "tool.sh").chmod(0o755)
    first = run_flow(store, settings, project, "edit")
    assert first.status == S
    record = store.executions.get(first.exec_id)
    cache = project_dir(store, settings, record.project_id, record.version)
    second = _run_again(store, settings, first.exec_id)
    assert second.status == S
    for name in ("lib/big.bin", "tool.sh", "edit.job"):
        assert _inode(first.workdir / name) == _inode(second.workdir / name) == _inode(cache / name), name
    assert stat.S_IMODE((cache / "lib/big.bin").stat().st_mode) == 0o444
    assert stat.S_IMODE((cache / "tool.sh").stat().st_mode) == 0o555
    # sed -i replaced the execution's data.txt with a file of its own; the cache's is unchanged
    for run in (first, second):
        assert (run.workdir / "data.txt").read_text() == "changed\n"
        assert _inode(run.workdir / "data.txt") != _inode(cache / "data.txt")
        assert (run.workdir / "mine.txt").read_text() == "new\n"
    assert (cache / "data.txt").read_text() == "original\n"
    assert not (cache / "mine.txt").exists()


def test_a_restart_continues_in_a_copy_that_shares_no_writable_inode_with_the_failed_run(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    marker = tmp_path / "fixed"
    project = write_project(
        tmp_path / "p",
        {
            **REWRITE,
            "grow.job": "type=command\ndependencies=edit\ncommand=mkdir -p out/deep\n"
            "command.1=sh -c 'echo first >> out/log.txt'\ncommand.2=sh -c 'echo kept > out/deep/k.txt'\n",
            # fails until the marker exists; on the restart it appends to the files the skipped jobs wrote
            "last.job": f"type=command\ndependencies=grow\ncommand=test -e {marker}\n"
            "command.1=sh -c 'echo second >> out/log.txt'\ncommand.2=sh -c 'echo more >> mine.txt'\n",
        },
    )
    first = run_flow(store, settings, project, "last")
    assert first.jobs == {"edit": S, "grow": S, "last": Status.FAILED}
    (first.workdir / ".jobs" / "stale").write_text("runner's own")
    marker.touch()
    again = run_submitted(store, settings, restart_execution(store, settings, first.exec_id, "tester"))
    assert again.jobs == {"edit": Status.SKIPPED, "grow": Status.SKIPPED, "last": S}
    assert (again.workdir / "out/log.txt").read_text() == "first\nsecond\n"
    assert (again.workdir / "out/deep/k.txt").read_text() == "kept\n"
    assert (again.workdir / "mine.txt").read_text() == "new\nmore\n"
    assert (again.workdir / "data.txt").read_text() == "changed\n"
    # the failed run's files are as it left them: the new run appended to copies, not through shared inodes
    assert (first.workdir / "out/log.txt").read_text() == "first\n"
    assert (first.workdir / "mine.txt").read_text() == "new\n"
    for name in ("out/log.txt", "mine.txt", "data.txt"):
        assert _inode(first.workdir / name) != _inode(again.workdir / name), name
    record = store.executions.get(first.exec_id)
    cache = project_dir(store, settings, record.project_id, record.version)
    for name in ("tool.sh", "edit.job", "grow.job"):  # untouched project files stay links to the cache
        assert _inode(again.workdir / name) == _inode(cache / name), name
    assert not (again.workdir / ".jobs" / "stale").exists()


def test_a_restart_whose_earlier_directory_is_gone_starts_from_the_project(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    marker = tmp_path / "fixed"
    project = write_project(
        tmp_path / "p",
        {
            "make.job": "type=command\ncommand=sh -c 'echo made > made.txt'\n",
            "use.job": f"type=command\ndependencies=make\ncommand=test -e {marker}\n",
        },
    )
    first = run_flow(store, settings, project, "use")
    assert first.jobs == {"make": S, "use": Status.FAILED}
    shutil.rmtree(first.workdir)
    marker.touch()
    again = run_submitted(store, settings, restart_execution(store, settings, first.exec_id, "tester"))
    assert again.jobs == {"make": Status.SKIPPED, "use": S}
    assert (again.workdir / "use.job").is_file() and not (again.workdir / "made.txt").exists()


@pytest.mark.skipif(AS_ROOT, reason="root ignores file modes: the read-only cache binds ordinary users only")
def test_a_job_writing_a_project_file_in_place_is_refused(store: Store, settings: Settings, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        {"data.txt": "original\n", "append.job": "type=command\ncommand=sh -c 'echo more >> data.txt'\n"},
    )
    run = run_flow(store, settings, project, "append")
    assert run.status == Status.FAILED
    assert "Permission denied" in run.log("append")
    record = store.executions.get(run.exec_id)
    assert (project_dir(store, settings, record.project_id, record.version) / "data.txt").read_text() == "original\n"
    # the next execution of the version gets the file as stored, and the stored archive holds it unchanged
    again = _run_again(store, settings, run.exec_id)
    assert again.status == Status.FAILED and (again.workdir / "data.txt").read_text() == "original\n"
    archive = store.projects.write_archive(record.project_id, record.version, tmp_path / "stored.zip")
    with zipfile.ZipFile(archive) as stored:
        assert stored.read("data.txt") == b"original\n"


def test_files_are_copied_where_links_cannot_be_made(tmp_path: Path) -> None:
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (/dev/shm) to link across")
    source = Path(os.environ.get("TMPDIR_SHM", "/dev/shm")) / f"sudoless-test-{os.getpid()}"
    try:
        write_project(source, {"a.txt": "a", "sub/b.sh": "b"})
        (source / "sub/b.sh").chmod(0o755)
        done = link_tree(source, tmp_path)
        assert (done.linked, done.copied, done.copied_bytes) == (0, 2, 2)
        assert (tmp_path / "sub/b.sh").read_text() == "b"
        assert stat.S_IMODE((tmp_path / "sub/b.sh").stat().st_mode) == 0o755  # a private copy is writable
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    finally:
        subprocess.run(["rm", "-rf", str(source)], check=True)


# -- quotas -------------------------------------------------------------------------------------------------


def zip_bomb(path: Path, megabytes: int) -> Path:
    """A small zip that unpacks to ``megabytes`` MiB of zeros, beside a valid one-job project."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.job", "type=noop\n")
        archive.writestr("zeros.bin", b"\0" * (megabytes << 20))
    return path


def test_a_zip_bomb_is_refused_at_upload_and_nothing_is_stored(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replace(settings, project_max_mb=1)
    bomb = zip_bomb(tmp_path / "bomb.zip", 20)
    assert bomb.stat().st_size < 40_000
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    name = f"bomb-{os.getpid()}-{id(store)}"
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the upload unpacks
    with pytest.raises(ArchiveError) as caught:
        upload_project(store, settings, bomb, "tester", name=name)
    assert str(caught.value).startswith(
        f"bomb.zip: unpacks to more than {1 << 20} bytes, the quota per project "
        "version; make the project smaller, or have an admin raise project_max_mb"
    )
    assert list(scratch.iterdir()) == []
    monkeypatch.undo()
    with pytest.raises(NotFoundError):
        store.projects.id_of(name)
    assert upload_project(store, replace(settings, project_max_mb=21), bomb, "tester", name=name)[1] == 1


def test_a_project_folder_over_a_quota_is_refused_before_anything_is_written(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "many", {"a.job": "type=noop\n", **{f"f{i}.txt": "" for i in range(5)}})
    with pytest.raises(
        ArchiveError,
        match=r"many: 6 files, more than the quota of 5 files per project "
        r"version; .* SUDOLESS_PROJECT_MAX_FILES",
    ):
        upload_project(store, replace(settings, project_max_files=5), project, "tester")
    (project / "big.bin").write_bytes(b"x" * (1 << 20))
    with pytest.raises(ArchiveError, match=rf"many: more than {1 << 20} bytes, the quota per project version; "):
        upload_project(store, replace(settings, project_max_mb=1), project, "tester")
    # neither a zip nor a copy of the folder was left in the project cache, where the upload stages its files
    assert list(project_cache(settings).iterdir()) == []
    with pytest.raises(NotFoundError):
        store.projects.id_of("many")


def test_the_quotas_are_settings_with_environment_variables(tmp_path: Path) -> None:
    from sudoless.config import load_settings

    loaded = load_settings(
        {
            "SUDOLESS_HOME": str(tmp_path),
            "SUDOLESS_PROJECT_MAX_MB": "7",
            "SUDOLESS_PROJECT_MAX_FILES": "9",
            "SUDOLESS_EXECUTION_DIR_RETENTION_DAYS": "2.5",
        }
    )
    assert (loaded.project_max_bytes, loaded.project_max_files) == (7 << 20, 9)
    assert loaded.execution_dir_retention_days == 2.5
    assert Settings(home=tmp_path).execution_dir_retention_days == 30


# -- retention ----------------------------------------------------------------------------------------------


def _old_finished_and_running(store: Store, settings: Settings, tmp_path: Path) -> tuple[int, int, int]:
    """(an execution that ended 31 days ago, one that ended just now, one still running for 40 days)."""
    project = write_project(tmp_path / "p", {"a.job": "type=noop\n"})
    old = run_flow(store, settings, project, "a")
    recent = _run_again(store, settings, old.exec_id)
    now = store.clock()
    store.executions.update(old.exec_id, end_time=now - 31 * DAY_MS)
    record = store.executions.get(old.exec_id)
    running = submit_flow(store, settings, record.project_name, "a", user="tester")
    store.executions.update(running, status=Status.RUNNING, start_time=now - 40 * DAY_MS, end_time=-1)
    prepare_workdir(
        project_dir(store, settings, record.project_id, record.version), settings.executions_dir / str(running)
    )
    return old.exec_id, recent.exec_id, running


def test_retention_removes_an_old_finished_execution_s_directory_not_a_running_one(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    old, recent, running = _old_finished_and_running(store, settings, tmp_path)
    try:
        _check_retention(store, settings, old, recent, running)
    finally:
        store.executions.update(running, status=Status.KILLED, end_time=store.clock())


def _check_retention(store: Store, settings: Settings, old: int, recent: int, running: int) -> None:
    (settings.executions_dir / "not-an-execution").mkdir()
    (settings.executions_dir / "999999999").mkdir()  # no such execution in this database
    now = store.clock()
    assert expired_workdirs(store, settings, now) == [(old, settings.executions_dir / str(old))]
    # the logs' own retention is longer here: this test is about directories
    scheduler = Scheduler(store, replace(settings, execution_log_retention_days=60), clock=lambda: now)
    assert scheduler.enforce_retention() == [old]
    assert scheduler.enforce_retention(now + 3_500_000) == []  # at most once an hour
    assert sorted(p.name for p in settings.executions_dir.iterdir()) == sorted(
        [str(recent), str(running), "999999999", "not-an-execution"]
    )
    assert store.executions.get(old).status == S and store.logs.read(old, "", 0, 0, 100)  # row and log stay
    # a shorter retention takes the recent one too, never the running one
    short = replace(settings, execution_dir_retention_days=0)
    assert [e for e, _ in expired_workdirs(store, short, now + 1)] == [recent]


def test_clean_lists_and_removes_old_executions_and_unused_cached_versions(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    settings = replace(settings, db_url=store.url)  # the database `sudoless clean` is given, and its folder
    old, recent, running = _old_finished_and_running(store, settings, tmp_path)
    record = store.executions.get(old)
    project = write_project(tmp_path / "p2", {"a.job": "type=noop\n", "b.txt": "v2\n"})
    upload_project(store, settings, project, "tester", name=record.project_name)  # version 2 is current
    current = project_dir(store, settings, record.project_id, 2)
    stale = project_dir(store, settings, record.project_id, record.version)
    store.executions.update(running, status=Status.FAILED, end_time=store.clock())
    assert unused_versions(store, settings) == [stale]
    store.executions.update(running, status=Status.RUNNING)
    assert unused_versions(store, settings) == []  # a running execution of version 1 holds it

    env = {**os.environ, "SUDOLESS_HOME": str(settings.home), "SUDOLESS_DB": store.url}
    command = [sys.executable, "-c", "from sudoless.cli import main; main()", "clean"]
    listed = subprocess.run(
        [*command, "--dry-run", "--json"], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    report = json.loads(listed.stdout)
    assert report["dry_run"] is True
    ours = [item for item in report["items"] if item["kind"] in ("execution-dir", "project-cache")]
    gone = settings.executions_dir / str(old)
    # what removing it frees: the execution's own files (.jobs/), not the ones linked to the cache
    assert ours == [
        {
            "kind": "execution-dir",
            "path": str(gone),
            "bytes": unshared_bytes(gone),
            "removed": False,
            "reclaimed_bytes": 0,  # a dry run compacts no database
        }
    ]
    assert 0 < unshared_bytes(gone) < 10_000
    assert (settings.executions_dir / str(old)).is_dir()

    store.executions.update(running, status=Status.KILLED, end_time=store.clock())
    done = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env, timeout=120, check=True)
    items = {item["path"]: item for item in json.loads(done.stdout)["items"]}
    assert items[str(settings.executions_dir / str(old))]["removed"] is True
    assert items[str(stale)]["removed"] is True and items[str(stale)]["bytes"] == 0  # its files live on in links
    assert not (settings.executions_dir / str(old)).exists() and not stale.exists()
    assert current.is_dir() and (settings.executions_dir / str(recent)).is_dir()
    assert (settings.executions_dir / str(running) / "a.job").read_text() == "type=noop\n"


def test_clean_takes_folders_no_execution_owns_and_a_killed_preparation_s_leftovers(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A folder named by an id the database has no execution of (restored from an older backup) goes, and so
    does a staging folder a killed process left half filled, once a day old; this database's own executions,
    a fresh staging folder (one being filled now) and folders not named by an id stay."""
    settings = replace(settings, db_url=store.url)
    project = write_project(tmp_path / "p", {"a.job": "type=noop\n"})
    own = run_flow(store, settings, project, "a")
    folder = settings.executions_dir
    orphan = folder / "999999999"
    (orphan / "out").mkdir(parents=True)
    (orphan / "out" / "result.csv").write_text("x\n" * 1000)
    day_old = time.time() - 86_400 - 60
    killed = folder / f".{own.exec_id + 1}.k1ll3d"
    (killed / "sub").mkdir(parents=True)
    (killed / "sub" / "half.txt").write_text("half\n")
    os.utime(killed, (day_old, day_old))
    filling = folder / f".{own.exec_id + 2}.n0wn0w"
    filling.mkdir()
    kept = [folder / "not-an-execution", folder / ".notes.d", folder / ".12"]
    for path in kept:
        path.mkdir()
        os.utime(path, (day_old, day_old))

    env = {**os.environ, "SUDOLESS_HOME": str(settings.home), "SUDOLESS_DB": store.url}
    command = [sys.executable, "-c", "from sudoless.cli import main; main()", "clean", "--json"]
    listed = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, env=env, timeout=120, check=True)
    found = {item["path"]: item for item in json.loads(listed.stdout)["items"]}
    assert found[str(orphan)]["kind"] == "orphan-execution" and found[str(orphan)]["bytes"] == 2000
    assert found[str(killed)]["kind"] == "unfinished-staging" and found[str(killed)]["bytes"] == 5
    for path in (own.workdir, filling, kept[0]):
        assert str(path) not in found
    assert orphan.is_dir() and killed.is_dir()  # a dry run removes nothing

    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=True)
    removed = {item["path"]: item["removed"] for item in json.loads(done.stdout)["items"]}
    assert removed[str(orphan)] is True and removed[str(killed)] is True
    assert not orphan.exists() and not killed.exists()
    assert own.workdir.is_dir() and filling.is_dir() and all(path.is_dir() for path in kept)
