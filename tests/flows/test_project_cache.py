"""The project cache serves a run the files of the version it runs, and of no other database's.

A cached version's folder is named by the project id, the version and the archive's MD5. Ids and versions alone
named it before: a database deleted and created again at the same place (the same ``data/<key>`` folder) numbers
its projects from 1 again, and its first run took the former database's files and commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.harness import Outcome, run_flow, write_project
from sudoless.cli import run as run_cli
from sudoless.config import Settings
from sudoless.errors import ArchiveError
from sudoless.flows.executions import project_dir
from sudoless.flows.retention import unused_versions
from sudoless.flows.workspace import project_cache
from sudoless.store import Store
from support.services import create_database, drop_database

#: Two projects uploaded under one name: the same id and version in a database made afresh, other files
PROJECTS = {name: {"show.job": f"type=command\ncommand=echo ran {name}\n"} for name in ("alpha", "beta")}


@contextmanager
def remade(kind: str, tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A database of ``kind``, and a function that deletes it and creates it again, empty, at the same URL."""
    if kind == "sqlite":
        database = tmp_path / "again.db"

        def delete() -> None:  # the next store creates it
            for suffix in ("", "-wal", "-shm"):
                database.with_name(database.name + suffix).unlink(missing_ok=True)

        yield f"sqlite:///{database}", delete
        return
    url, admin, name = create_database(kind)

    def recreate() -> None:
        drop_database(admin, name, kind)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")

    try:
        yield url, recreate
    finally:
        drop_database(admin, name, kind)


def run_as(url: str, settings: Settings, project: Path) -> Outcome:
    """Run ``project`` (flow ``show``) as the project ``shared`` in the database at ``url``, its own store."""
    store = Store(url)
    try:
        return run_flow(store, settings, project, "show", name="shared")
    finally:
        store.close()


def ran(outcome: Outcome) -> list[str]:
    """Which of :data:`PROJECTS` the run's job said it was."""
    return [name for name in PROJECTS if f"ran {name}" in outcome.log("show")]


@pytest.mark.parametrize("kind", ["sqlite", "mariadb", "postgresql"])
def test_a_database_made_again_in_a_kept_home_runs_its_own_project(kind: str, tmp_path: Path) -> None:
    projects = {name: write_project(tmp_path / name, files) for name, files in PROJECTS.items()}
    with remade(kind, tmp_path) as (url, again):
        settings = Settings(home=tmp_path / "home", db_url=url)
        first = run_as(url, settings, projects["alpha"])
        assert ran(first) == ["alpha"]
        again()  # the database goes; the home with its data/ folder stays
        second = run_as(url, settings, projects["beta"])
        assert second.exec_id == first.exec_id == 1
        assert ran(second) == ["beta"]
        assert (second.workdir / "show.job").read_text() == PROJECTS["beta"]["show.job"]
        # the former database's execution 1 is kept, under another name
        former = settings.executions_dir / ".former-1-1" / "show.job"
        assert former.read_text() == PROJECTS["alpha"]["show.job"]
        # the former database's folder is not this one's current version: ``clean`` takes it
        store = Store(url)
        try:
            assert [p.name.split(".")[:2] for p in unused_versions(store, settings)] == [["1", "1"]]
        finally:
            store.close()
        # ``clean`` lists the set-aside folder, then removes it, and leaves this database's execution alone
        env = {**os.environ, "SUDOLESS_HOME": str(settings.home), "SUDOLESS_DB": url}
        command = [sys.executable, "-c", "from sudoless.cli import main; main()", "clean", "--json"]
        listed = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, env=env, check=True)
        aside = settings.executions_dir / ".former-1-1"
        kinds = {item["path"]: item["kind"] for item in json.loads(listed.stdout)["items"]}
        assert kinds[str(aside)] == "former-execution" and aside.is_dir()
        assert str(second.workdir) not in kinds
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        removed = {item["path"]: item["removed"] for item in json.loads(done.stdout)["items"]}
        assert removed[str(aside)] is True and not aside.exists()
        assert (second.workdir / "show.job").read_text() == PROJECTS["beta"]["show.job"]


@pytest.mark.parametrize("server", ["mariadb", "postgresql"])
def test_sqlite_and_a_server_database_in_one_home_each_run_their_own(server: str, tmp_path: Path) -> None:
    projects = {name: write_project(tmp_path / name, files) for name, files in PROJECTS.items()}
    home = tmp_path / "home"
    url, admin, name = create_database(server)
    try:
        runs = {"alpha": f"sqlite:///{home / 'sudoless.db'}", "beta": url}
        for round_ in (1, 2):  # each twice, interleaved: the second runs find the other's cache in place
            for project, at in runs.items():
                outcome = run_as(at, Settings(home=home, db_url=at), projects[project])
                assert (outcome.exec_id, ran(outcome)) == (round_, [project])
    finally:
        drop_database(admin, name, server)


def test_a_local_flow_run_after_the_database_file_went_runs_the_new_project(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sudoless flow run`` of a directory in a home whose ``sudoless.db`` was deleted (the plain sqlite3 store)."""
    home = tmp_path / "home"
    monkeypatch.setenv("SUDOLESS_HOME", str(home))
    monkeypatch.delenv("SUDOLESS_DB", raising=False)
    said = {}
    for name, files in PROJECTS.items():
        project = write_project(tmp_path / name / "shared", files)
        (home / "sudoless.db").unlink(missing_ok=True)
        capsys.readouterr()
        assert run_cli(["flow", "run", str(project), "--flow", "show", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["execid"] == 1
        store = Store(f"sqlite:///{home / 'sudoless.db'}")
        try:
            said[name] = store.logs.read(1, "show", 0, 0, 1 << 20).decode()
        finally:
            store.close()
    assert "ran alpha" in said["alpha"]
    assert "ran beta" in said["beta"] and "ran alpha" not in said["beta"]


def test_an_archive_other_than_its_version_row_says_is_never_unpacked(sqlite_store: Store, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    outcome = run_flow(sqlite_store, settings, write_project(tmp_path / "p", PROJECTS["alpha"]), "show")
    record = sqlite_store.executions.get(outcome.exec_id)
    cached = project_dir(sqlite_store, settings, record.project_id, record.version)
    with sqlite_store.write() as conn:
        conn.execute(sa.text("UPDATE project_versions SET md5 = :md5"), {"md5": "0" * 32})
    fresh = Store(sqlite_store.url)  # reads the row as it is now
    try:
        with pytest.raises(ArchiveError, match="restart"):
            project_dir(fresh, settings, record.project_id, record.version)
    finally:
        fresh.close()
    assert sorted(p.name for p in project_cache(settings).iterdir()) == [cached.name]


def test_clean_keeps_an_older_sudoless_s_folder_while_its_version_is_current(
    sqlite_store: Store, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    project = write_project(tmp_path / "p", PROJECTS["alpha"])
    outcome = run_flow(sqlite_store, settings, project, "show", name="kept")
    record = sqlite_store.executions.get(outcome.exec_id)
    cached = project_dir(sqlite_store, settings, record.project_id, record.version)
    older = cached.with_name(f"{record.project_id}.{record.version}")  # as an older sudoless named it
    older.mkdir()
    assert unused_versions(sqlite_store, settings) == []
    (project / "show.job").write_text("type=command\ncommand=echo again\n")
    run_flow(sqlite_store, settings, project, "show", name="kept")  # version 2 becomes current
    assert unused_versions(sqlite_store, settings) == sorted([older, cached])
