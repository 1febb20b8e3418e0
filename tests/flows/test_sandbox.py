"""The job sandbox with real flows: jobs that try to read the server's database and secrets, write into
SUDOLESS_HOME, read another execution's files and signal the runner fail, while the same jobs still write
their own directory and /tmp and run Python. With the sandbox off the same attacks succeed, which shows the
attacks are real ones."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.harness import Outcome, run_flow, write_project
from sudoless.config import Settings
from sudoless.errors import ConfigError
from sudoless.flows.model import FailureAction
from sudoless.flows.sandbox import JobSandbox, check_sandbox, job_env, landlock_abi
from sudoless.store import Store
from sudoless.store.status import Status
from support.services import unavailable

#: exits 0 when the action worked, 3 when the system refused it; prints what happened
PROBE = """\
import os, sys
action, target = sys.argv[1], sys.argv[2]
try:
    if action == "read":
        open(target, "rb").read(16)
    elif action == "write":
        open(target, "w").write("x")
    elif action == "list":
        os.listdir(target)
    elif action == "signal":
        os.kill(int(target), int(sys.argv[3]))
    elif action == "env" and target not in os.environ:
        print(f"refused: env {target}: not set")
        sys.exit(3)
except OSError as exc:
    print(f"refused: {action} {target}: {exc}")
    sys.exit(3)
print(f"done: {action} {target}")
"""


@pytest.fixture(scope="module")
def abi() -> int:
    version, reason = landlock_abi()
    if version == 0:
        unavailable(f"the job sandbox needs Landlock: {reason}")
    return version


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Settings]:
    """A home with the secrets a server keeps: its SQLite database, the admin password, MySQL's data."""
    settings = Settings(home=tmp_path / "home")
    settings.home.mkdir(mode=0o700)
    settings.admin_password_file.parent.mkdir(parents=True)
    settings.admin_password_file.write_text("the-admin-password\n")
    (settings.home / "mysql" / "data").mkdir(parents=True)
    (settings.home / "mysql" / "root-password").write_text("the-root-password\n")
    yield settings


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder in /tmp beside pytest's own (pytest's holds the home, so its parent is on the home's way)."""
    path = Path(tempfile.mkdtemp(prefix="sudoless-sandbox-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def probe_flow(root: Path, jobs: dict[str, list[str]], commands: dict[str, str] | None = None) -> Path:
    """A flow ``all`` of probe jobs (``jobs``: name -> probe arguments) and plain ``commands``."""
    files = {"probe.py": PROBE}
    for name, argv in jobs.items():
        command = " ".join([sys.executable, "probe.py", *(f'"{a}"' for a in argv)])
        files[f"{name}.job"] = f"type=command\ncommand={command}\n"
    for name, command in (commands or {}).items():
        files[f"{name}.job"] = f"type=command\ncommand={command}\n"
    files["all.job"] = "type=noop\ndependencies=" + ",".join([*jobs, *(commands or {})]) + "\n"
    return write_project(root, files)


def run(settings: Settings, project: Path) -> Outcome:
    store = Store(settings.database_url)
    try:
        return run_flow(store, settings, project, "all", failure_action=FailureAction.FINISH_ALL_POSSIBLE)
    finally:
        store.close()


def test_a_job_cannot_touch_the_home_but_keeps_its_own_folder_and_tmp(
    abi: int, home: Settings, scratch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUDOLESS_DB", "mysql://admin:secret@db/sudoless")  # the runner's environment
    first = run(home, probe_flow(tmp_path / "first", {"own": ["write", "secret.txt"]}))
    assert first.jobs["own"] == Status.SUCCEEDED, first.log("own")
    other_execution = first.workdir / "secret.txt"
    assert other_execution.exists()
    attacks = {
        "database": ["read", str(home.home / "sudoless.db")],
        "admin_password": ["read", str(home.admin_password_file)],
        "mysql_password": ["read", str(home.home / "mysql" / "root-password")],
        "write_home": ["write", str(home.home / "config.toml")],
        "write_mysql": ["write", str(home.home / "mysql" / "data" / "evil")],
        "other_execution": ["read", str(other_execution)],
        "env": ["env", "SUDOLESS_DB"],
        # not an attack but a limit: no entry can be made in a folder on the way to the home (here the
        # home's parent; ~ for a home under ~), as that right would reach into the home
        "create_on_the_way": ["write", str(home.home.parent / "new-file")],
    }
    if abi >= 6:  # Landlock's signal scope; a harmless signal, in case it were delivered
        attacks["signal_runner"] = ["signal", str(os.getpid()), str(int(signal.SIGCONT))]
    allowed = {
        "write_own": ["write", "mine.txt"],
        "write_tmp": ["write", str(scratch / "out.txt")],
        "read_tmp": ["read", str(scratch / "out.txt")],
        "read_system": ["read", "/etc/hostname" if Path("/etc/hostname").exists() else sys.executable],
        # the folders on the way to the home can be listed; so can the home's, names only
        "list_root": ["list", "/"],
        "list_way": ["list", str(home.home.parent)],
        "list_other_execution": ["list", str(first.workdir)],
    }
    monkeypatch.setenv("HOME", str(home.home.parent))  # ~ is on the way to the home, as with ~/.sudoless
    project = probe_flow(
        tmp_path / "second",
        {**attacks, **allowed},
        {
            "python": 'python3 -c "print(6 * 7)"',
            "ls_root": "ls -a /",
            "ls_home": "sh -c 'ls -a ~'",
            # the home lies in the temporary folder here: the job gets one of its own
            "tempfile": 'python3 -c "import tempfile; print(tempfile.mkstemp()[1])"',
        },
    )
    (project / "read_tmp.job").write_text((project / "read_tmp.job").read_text() + "dependencies=write_tmp\n")
    second = run(home, project)
    for name in attacks:
        log = second.log(name)
        assert second.jobs[name] == Status.FAILED, f"{name} was not stopped:\n{log}"
        assert f"refused: {' '.join(attacks[name][:2])}" in log, log
    for name in allowed:
        assert second.jobs[name] == Status.SUCCEEDED, second.log(name)
    assert second.jobs["python"] == Status.SUCCEEDED and "42" in second.log("python")
    assert second.jobs["ls_root"] == Status.SUCCEEDED and "\nusr\n" in second.log("ls_root")
    assert second.jobs["ls_home"] == Status.SUCCEEDED and "\nhome\n" in second.log("ls_home")
    assert second.jobs["tempfile"] == Status.SUCCEEDED, second.log("tempfile")
    assert f"{second.workdir}/.tmp/" in second.log("tempfile")
    assert (second.workdir / "mine.txt").exists() and (scratch / "out.txt").exists()
    assert not (home.home / "config.toml").exists()
    assert (home.admin_password_file).read_text() == "the-admin-password\n"


def test_with_listing_off_the_home_s_names_and_the_way_stay_hidden(abi: int, home: Settings, tmp_path: Path) -> None:
    first = run(home, probe_flow(tmp_path / "first", {"own": ["write", "secret.txt"]}))
    settings = Settings(home=home.home, sandbox_list_dirs=False)
    probes = {
        "list_other_execution": ["list", str(first.workdir)],
        "list_home": ["list", str(home.home)],
        "list_root": ["list", "/"],
        "list_usr": ["list", "/usr"],
        "read_other": ["read", str(first.workdir / "secret.txt")],
    }
    outcome = run(settings, probe_flow(tmp_path / "p", probes))
    assert outcome.jobs == {
        "list_other_execution": Status.FAILED,
        "list_home": Status.FAILED,
        "list_root": Status.FAILED,
        "list_usr": Status.SUCCEEDED,
        "read_other": Status.FAILED,
        "all": Status.CANCELLED,
    }, outcome.jobs


def test_with_the_sandbox_off_the_same_job_reads_the_secrets(home: Settings, tmp_path: Path) -> None:
    """The control: with ``sandbox=off`` nothing stops the job, so the attacks above are real ones."""
    settings = Settings(home=home.home, sandbox=False)
    outcome = run(
        settings,
        probe_flow(
            tmp_path / "p",
            {
                "admin_password": ["read", str(home.admin_password_file)],
                "write_home": ["write", str(home.home / "evil")],
            },
        ),
    )
    assert outcome.jobs == {"admin_password": Status.SUCCEEDED, "write_home": Status.SUCCEEDED, "all": Status.SUCCEEDED}
    assert (home.home / "evil").exists()


def test_granted_paths_in_the_home(abi: int, home: Settings, tmp_path: Path) -> None:
    shared = home.home / "shared"
    shared.mkdir()
    (shared / "lookup.csv").write_text("a,b\n")
    drop = home.home / "drop"
    drop.mkdir()
    settings = Settings(home=home.home, sandbox_read=str(shared), sandbox_write=str(drop))
    outcome = run(
        settings,
        probe_flow(
            tmp_path / "p",
            {
                "read_shared": ["read", str(shared / "lookup.csv")],
                "write_shared": ["write", str(shared / "new.csv")],
                "write_drop": ["write", str(drop / "out.csv")],
            },
        ),
    )
    assert outcome.jobs["read_shared"] == Status.SUCCEEDED, outcome.log("read_shared")
    assert outcome.jobs["write_shared"] == Status.FAILED
    assert outcome.jobs["write_drop"] == Status.SUCCEEDED, outcome.log("write_drop")


def test_in_process_job_types_ask_the_sandbox(home: Settings, tmp_path: Path) -> None:
    workdir = home.executions_dir / "7"
    workdir.mkdir(parents=True)
    sandbox = JobSandbox.for_execution(home, workdir)
    assert sandbox.allows(workdir / "input.txt")
    assert sandbox.allows(tmp_path / "data.csv")
    assert not sandbox.allows(home.admin_password_file)
    assert not sandbox.allows(workdir / ".." / "8" / "input.txt")
    assert not sandbox.allows(home.home)


def test_the_environment_loses_the_server_settings() -> None:
    env = job_env(
        {
            "SUDOLESS_DB": "mysql://u:pw@h/db",
            "SUDOLESS_DB_PASSWORD_FILE": "/x",
            "SUDOLESS_HOME": "/h",
            "PATH": "/usr/bin",
            "SUDOLESS_PARALLEL": "3",
        }
    )
    assert env == {"SUDOLESS_HOME": "/h", "PATH": "/usr/bin"}


def test_only_names_that_begin_with_the_prefix_are_settings() -> None:
    given = {
        "A": "1",
        "SUDOLESS_": "2",
        "MY_SUDOLESS_X": "3",
        "SUDOLESS_HOME": "/h",
        "XSUDOLESS_Y": "4",
        "SUDOLESS_DB": "5",
        "Z": "6",
    }
    assert list(job_env(given).items()) == [
        ("A", "1"),
        ("MY_SUDOLESS_X", "3"),
        ("SUDOLESS_HOME", "/h"),
        ("XSUDOLESS_Y", "4"),
        ("Z", "6"),
    ]
    # a name with a NUL (which no start accepts) is judged by its beginning too
    assert job_env({"A\x00SUDOLESS_B": "1", "SUDOLESS_C\x00D": "2", "E": "3"}) == {"A\x00SUDOLESS_B": "1", "E": "3"}
    assert job_env({}) == {}


def test_environments_of_the_same_names_keep_each_their_own_values() -> None:
    """What to drop is remembered by the names in their order: the next job's values are its own, and a name
    more (or the same names in another order) is judged again."""
    first = {"PATH": "/a", "SUDOLESS_DB": "x", "JOB_ID": "one"}
    assert job_env(first) == {"PATH": "/a", "JOB_ID": "one"}
    assert job_env({"PATH": "/b", "SUDOLESS_DB": "y", "JOB_ID": "two"}) == {"PATH": "/b", "JOB_ID": "two"}
    assert job_env({"JOB_ID": "3", "SUDOLESS_DB": "z", "PATH": "/c"}) == {"JOB_ID": "3", "PATH": "/c"}
    more = {"PATH": "/d", "SUDOLESS_DB": "w", "JOB_ID": "4", "SUDOLESS_SECRET": "s", "SUDOLESS_HOME": "/h"}
    assert job_env(more) == {"PATH": "/d", "JOB_ID": "4", "SUDOLESS_HOME": "/h"}
    assert first == {"PATH": "/a", "SUDOLESS_DB": "x", "JOB_ID": "one"}  # the given mapping is left as it was


def test_require_sandbox_refuses_to_run_unconfined(home: Settings) -> None:
    with pytest.raises(ConfigError, match="jobs are not isolated: the sandbox is off"):
        check_sandbox(Settings(home=home.home, sandbox=False, require_sandbox=True))


def test_flow_run_on_the_command_line_uses_the_sandbox(abi: int, home: Settings, tmp_path: Path) -> None:
    project = probe_flow(tmp_path / "p", {"admin_password": ["read", str(home.admin_password_file)]})
    env = {**os.environ, "SUDOLESS_HOME": str(home.home)}
    env.pop("SUDOLESS_DB", None)
    cli = [
        sys.executable,
        "-c",
        "from sudoless.cli import main; main()",
        "flow",
        "run",
        str(project),
        "--flow",
        "all",
        "--json",
    ]
    confined = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    assert confined.returncode == 1 and '"FAILED"' in confined.stdout, confined.stderr
    assert "jobs are not isolated" not in confined.stderr
    unconfined = subprocess.run(
        cli, env={**env, "SUDOLESS_SANDBOX": "off"}, capture_output=True, text=True, timeout=120
    )
    assert unconfined.returncode == 0, unconfined.stderr
    assert "sudoless: jobs are not isolated: the sandbox is off" in unconfined.stderr


def test_an_in_process_job_type_is_refused_the_home(home: Settings, tmp_path: Path) -> None:
    """``decipher`` runs in the runner's process, where Landlock cannot help: it asks the sandbox instead."""
    pytest.importorskip("numpy", reason="the decipher job type needs sudoless[mcmc]")
    project = write_project(
        tmp_path / "p",
        {
            "steal.job": f"type=decipher\ninput={home.admin_password_file}\n",
            "sneak.job": "type=decipher\ninput=../../admin-password\n",
        },
    )
    store = Store(home.database_url)
    try:
        outcome = run_flow(store, home, project, "steal")
        sneaky = run_flow(store, home, project, "sneak")
    finally:
        store.close()
    for result, name in ((outcome, "steal"), (sneaky, "sneak")):
        assert result.jobs[name] == Status.FAILED
        assert "jobs may not use files in" in result.log(name), result.log(name)
        assert "the-admin-password" not in result.log(name)
