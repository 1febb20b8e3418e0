"""One SUDOLESS_HOME, several databases: each database's execution directories, project cache and admin
password live in its own ``data/<key>`` folder, and a home of the older flat layout is moved there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from flows.harness import write_project
from server.test_serve import SUDOLESS, Running, env_for
from sudoless.config import Settings
from sudoless.datadir import OLD_LAYOUT, database_key

PREFIX = "sudoless: created user 'admin' with password "


@pytest.fixture
def home(tmp_path: Path) -> Path:
    if not SUDOLESS.exists():
        pytest.skip(f"the sudoless command is not installed next to {SUDOLESS.parent}")
    return tmp_path / "home"


def first_start(home: Path, *db: str) -> str:
    """Start and stop a server; the admin password it printed."""
    code, err = Running(home, *db).stop()
    assert code == 0, err
    return next(line.removeprefix(PREFIX) for line in err.splitlines() if line.startswith(PREFIX))


def run_flow(home: Path, project: Path, *db: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(SUDOLESS), "flow", "run", str(project), "--json", *db],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def logs_in(home: Path, password: str, *db: str) -> bool:
    server = Running(home, *db)
    try:
        answer = httpx.post(server.url, data={"action": "login", "username": "admin", "password": password})
        return "session.id" in answer.json()
    finally:
        server.stop()


@pytest.mark.parametrize("fresh_db", ["mariadb"], indirect=True)
def test_sqlite_then_mariadb_in_one_home(home: Path, tmp_path: Path, fresh_db: tuple[str, str]) -> None:
    _, url = fresh_db
    runs = {}
    for name, db in (("alpha", ()), ("beta", ("--db", url))):
        project = write_project(tmp_path / name, {f"{name}.job": f"type=command\ncommand=echo {name}\n"})
        password = first_start(home, *db)
        report = json.loads(run_flow(home, project, *db).stdout)
        assert report["execid"] == 1 and report["status"] == "SUCCEEDED"  # both databases' first execution
        runs[name] = (Settings(home=home, db_url=url if db else "").data_dir, password, db)
    (lite, lite_password, _), (maria, maria_password, maria_db) = runs["alpha"], runs["beta"]
    assert lite != maria and lite.parent == maria.parent == home / "data"
    assert maria.name.startswith("mysql-127.0.0.1-3306-sudoless_test_") and "root" not in maria.name
    for folder, name in ((lite, "alpha"), (maria, "beta")):
        assert [p.name for p in (folder / "executions" / "1").glob("*.job")] == [f"{name}.job"]
        # project 1 version 1 of each, cached apart
        assert [p.name for p in (folder / "projects").glob(f"1.1.*/{name}.job")] == [f"{name}.job"]
    assert lite_password != maria_password
    assert (lite / "admin-password").read_text().strip() == lite_password
    assert (maria / "admin-password").read_text().strip() == maria_password
    assert not any(os.path.lexists(home / name) for name in OLD_LAYOUT)
    assert logs_in(home, lite_password) and not logs_in(home, maria_password)
    assert logs_in(home, maria_password, *maria_db)


def test_an_old_flat_home_moves_under_the_default_database(home: Path, tmp_path: Path) -> None:
    password = first_start(home)
    project = write_project(tmp_path / "p", {"a.job": "type=command\ncommand=echo a\n"})
    run_flow(home, project)
    folder = Settings(home=home).data_dir
    for name in OLD_LAYOUT:  # what an older sudoless left: the same files at the top of the home
        os.rename(folder / name, home / name)
    shutil.rmtree(home / "data")
    code, err = Running(home).stop()
    assert code == 0, err
    moved = [line for line in err.splitlines() if "moved" in line]
    assert len(moved) == 1 and moved[0].endswith(
        f"moved executions, projects, admin-password from {home} to {folder} (one folder per database)"
    )
    assert not any(os.path.lexists(home / name) for name in OLD_LAYOUT)
    assert (folder / "admin-password").read_text().strip() == password
    assert (folder / "executions" / "1" / "a.job").is_file() and len(list((folder / "projects").glob("1.1.*"))) == 1
    assert logs_in(home, password)
    again = json.loads(run_flow(home, project).stdout)
    assert again["execid"] == 2 and (folder / "executions" / "2" / "a.job").is_file()


def test_keys_name_the_database_but_never_its_password(tmp_path: Path) -> None:
    home = tmp_path / "home"
    one = database_key("mysql+pymysql://u:s3cret@db.example:3306/app", home)
    assert one == database_key("mariadb+mariadbconnector://other:pw@db.example/app", home)  # same database
    assert "s3cret" not in one and one.startswith("mysql-db.example-3306-app-")
    assert one != database_key("mysql+pymysql://u@db.example:3307/app", home)
    assert one != database_key("postgresql://u@db.example/app", home)
    inside = database_key(f"sqlite:///{home / 'sudoless.db'}", home)
    assert inside == database_key(f"sqlite:///{tmp_path / 'moved' / 'sudoless.db'}", tmp_path / "moved")
    assert inside != database_key(f"sqlite:///{tmp_path / 'sudoless.db'}", home)
    # a plain SQLite URL is read without SQLAlchemy (a local flow run's): the same key as SQLAlchemy's reading
    for plain in (f"sqlite:///{home / 'sudoless.db'}", f"sqlite:///{tmp_path / 'x.db'}", "sqlite:///rel/x.db"):
        assert database_key(plain, home) == database_key(plain.replace("sqlite:", "sqlite+pysqlite:", 1), home)
