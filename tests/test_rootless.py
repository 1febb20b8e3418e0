"""The proof that no root is needed: a fresh unprivileged user clones the committed repository, runs
``./dev setup`` and the example flow, and everything it makes stays in its home and belongs to it.

Runs only as root (it creates and removes an OS user); CI runs as root, so CI always runs it.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import unavailable

pytestmark = [pytest.mark.rootless, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SETUP_TIMEOUT = 15 * 60  # ./dev setup: a venv and a pip install from the registry
RUN_TIMEOUT = 5 * 60
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
# Only how to reach the package registry goes through to the user: nothing of root's own environment.
PASSED_THROUGH = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                  "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT")
TOOLS = ("useradd", "userdel", "runuser", "pkill", "git", "find")


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    home: Path


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _explain(what: str, result: subprocess.CompletedProcess[str] | subprocess.TimeoutExpired) -> str:
    """Everything a CI log needs to tell what went wrong."""
    if isinstance(result, subprocess.TimeoutExpired):
        head = f"{what}: timed out after {result.timeout:.0f}s"
    else:
        head = f"{what}: exit code {result.returncode}"
    return (f"{head}\n--- command: {result.args!r}\n--- stdout:\n{_text(result.stdout)}"
            f"\n--- stderr:\n{_text(result.stderr)}")


def _run(what: str, args: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its whole output when it fails or times out."""
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,
                                **kwargs)  # type: ignore[call-overload]
    except subprocess.TimeoutExpired as exc:
        print(_explain(what, exc))
        pytest.fail(_explain(what, exc), pytrace=False)
    if result.returncode != 0:
        print(_explain(what, result))
        pytest.fail(_explain(what, result), pytrace=False)
    return result


def as_user(user: User, what: str, script: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a bash login script as the user, in a clean environment with nothing of root's in it."""
    env = {"HOME": str(user.home), "USER": user.name, "LOGNAME": user.name, "SHELL": "/bin/bash",
           "PATH": CLEAN_PATH, "LANG": "C.UTF-8"}
    env.update({key: os.environ[key] for key in PASSED_THROUGH if key in os.environ})
    # /etc/profile resets PATH for a non-root login shell; set it again so the script sees CLEAN_PATH.
    script = f"export PATH={CLEAN_PATH}\nset -euo pipefail\n{script}"
    runuser, clean_env = shutil.which("runuser"), shutil.which("env")
    assert runuser and clean_env
    args = [runuser, "-u", user.name, "--", clean_env, "-i", *(f"{k}={v}" for k, v in env.items()),
            "bash", "-lc", script]
    return _run(what, args, timeout, cwd=user.home)


def _remove_user(name: str) -> None:
    """Kill whatever the user left running, then delete it with its home; fail if it stays."""
    last = ""
    for _ in range(10):
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True, check=False)
        time.sleep(0.5)
        done = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True, check=False)
        last = done.stderr
        try:
            pwd.getpwnam(name)
        except KeyError:
            return
    raise AssertionError(f"could not remove the test user {name}: {last}")


@pytest.fixture
def unprivileged_user() -> Iterator[User]:
    if os.geteuid() != 0:
        unavailable("needs root to create an unprivileged user")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        unavailable(f"needs {', '.join(missing)} to create and run an unprivileged user")
    name = f"sl{secrets.token_hex(3)}"
    _run("useradd", ["useradd", "--create-home", "--shell", "/bin/bash", name], timeout=60)
    try:
        entry = pwd.getpwnam(name)
        assert entry.pw_uid != 0
        yield User(name=name, uid=entry.pw_uid, home=Path(entry.pw_dir))
    finally:
        _remove_user(name)


@pytest.fixture
def readable_clone() -> Iterator[Path]:
    """The committed repository as a bare clone that any user can read (the checkout may not be)."""
    parent = Path(tempfile.mkdtemp(prefix="sudoless-rootless-"))
    try:
        parent.chmod(0o755)
        bare = parent / "sudoless.git"
        _run("git clone (as root)", ["git", "-c", "safe.directory=*", "clone", "--quiet", "--bare",
                                     "--no-hardlinks", str(REPO), str(bare)], timeout=300)
        _run("chmod", ["chmod", "-R", "a+rX", str(parent)], timeout=60)
        yield bare
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _files_outside_home(user: User, since: Path) -> list[str]:
    """Files and directories the user made (newer than ``since``) anywhere but in its home."""
    roots = ["/", *(p for p in ("/tmp", "/var/tmp", "/dev/shm", "/run") if Path(p).is_dir())]
    found = subprocess.run(["find", *roots, "-xdev", "(", "-path", str(user.home), "-prune", ")", "-o",
                            "(", "-user", user.name, "-newer", str(since), "-print", ")"],
                           capture_output=True, text=True, timeout=600, check=False)
    return sorted({line for line in found.stdout.splitlines() if line})


@pytest.mark.timeout(SETUP_TIMEOUT + 10 * 60)
def test_setup_and_demo_flow_need_no_root(unprivileged_user: User, readable_clone: Path) -> None:
    user = unprivileged_user
    started = time.monotonic()
    marker = Path(tempfile.mkstemp(prefix="sudoless-rootless-start-")[1])  # for "made since"
    try:
        clone = user.home / "sudoless"
        as_user(user, "git clone (as the user)",
                # git drops -c for the local upload-pack it spawns, so it gets its own (the source is root's)
                f"git -c safe.directory='*' clone --quiet --no-hardlinks"
                f" --upload-pack \"git -c safe.directory='*' upload-pack\" {readable_clone} ~/sudoless",
                timeout=300)
        head = _run("git rev-parse", ["git", "-c", "safe.directory=*", "-C", str(REPO), "rev-parse", "HEAD"],
                    timeout=60).stdout.strip()
        cloned = as_user(user, "git rev-parse (clone)", "git -C ~/sudoless rev-parse HEAD", timeout=60)
        assert cloned.stdout.strip() == head, "the user's clone is not the committed HEAD"

        setup = as_user(user, "./dev setup", "cd ~/sudoless && ./dev setup", timeout=SETUP_TIMEOUT)
        print(f"./dev setup as {user.name} took {time.monotonic() - started:.0f}s")
        print(setup.stdout, setup.stderr, sep="\n")

        run = as_user(user, "sudoless flow run",
                      "cd ~/sudoless && .venv/bin/sudoless flow run examples/etl-demo --json",
                      timeout=RUN_TIMEOUT)
        try:
            report = json.loads(run.stdout)
        except json.JSONDecodeError:
            pytest.fail(_explain("flow run --json printed no JSON", run), pytrace=False)
        assert report["status"] == "SUCCEEDED", _explain(f"flow ended {report['status']}", run)
        last_attempts = {job["id"]: job for job in sorted(report["jobs"], key=lambda j: j["attempt"])}
        assert last_attempts, _explain("the flow ran no job", run)
        failed = {jid: job["status"] for jid, job in last_attempts.items() if job["status"] != "SUCCEEDED"}
        assert not failed, _explain(f"jobs did not succeed: {failed}", run)
        assert {"extract_orders", "transform", "load", "report"} <= set(last_attempts)

        # What it made is the user's: the default SUDOLESS_HOME and its database.
        sudoless_home = user.home / ".sudoless"
        database = sudoless_home / "sudoless.db"
        assert sudoless_home.is_dir(), f"{sudoless_home} was not created"
        assert database.is_file(), f"{database} was not created"
        for path in (sudoless_home, database, clone / ".venv"):
            assert path.stat().st_uid == user.uid, f"{path} is not owned by {user.name}"
        not_owned = [str(p) for p in user.home.rglob("*") if p.lstat().st_uid != user.uid]
        assert not not_owned, f"in {user.home}, not owned by {user.name}: {not_owned[:20]}"

        # The virtual environment is the user's own, on a Python that no root-only path provides.
        probe = as_user(user, "probe the venv", "cd ~/sudoless && .venv/bin/python -c '"
                        "import json, os, sys, sudoless; print(json.dumps({"
                        "\"prefix\": sys.prefix, \"base\": sys.base_prefix,"
                        " \"python\": os.path.realpath(sys.executable), \"package\": sudoless.__file__}))'",
                        timeout=60)
        venv = json.loads(probe.stdout)
        assert Path(venv["prefix"]) == clone / ".venv", venv
        assert Path(venv["package"]).is_relative_to(clone / "src"), venv
        for key in ("base", "python"):
            assert not Path(venv[key]).is_relative_to("/root"), f"the venv's Python is under /root: {venv}"
        config = (clone / ".venv" / "pyvenv.cfg").read_text()
        assert "/root" not in config, f"pyvenv.cfg points into /root:\n{config}"
        shebang = (clone / ".venv" / "bin" / "sudoless").read_text().splitlines()[0]
        assert shebang.startswith(f"#!{clone}/.venv/bin/python"), f".venv/bin/sudoless runs {shebang}"

        # Nothing written outside its home.
        outside = _files_outside_home(user, marker)
        assert not outside, f"{user.name} wrote outside {user.home}: {outside[:50]}"
    finally:
        marker.unlink(missing_ok=True)
        print(f"rootless test for {user.name}: {time.monotonic() - started:.0f}s")
