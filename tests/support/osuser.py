"""Unprivileged OS users for tests that prove no root is needed: create one, run commands as it in a clean
environment with nothing of root's in it, and always remove it with everything it left running.

Only root can create users; elsewhere the tests that need one are skipped with the reason (failed under
``CI=true``, where CI runs as root).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.services import unavailable

CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
# Only how to reach the package registry goes through to the user: nothing of root's own environment.
PASSED_THROUGH = (
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_DEFAULT_TIMEOUT",
)
TOOLS = ("useradd", "userdel", "runuser", "pkill")


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    home: Path


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def explain(what: str, result: subprocess.CompletedProcess[str] | subprocess.TimeoutExpired) -> str:
    """Everything a CI log needs to tell what went wrong."""
    if isinstance(result, subprocess.TimeoutExpired):
        head = f"{what}: timed out after {result.timeout:.0f}s"
    else:
        head = f"{what}: exit code {result.returncode}"
    return (
        f"{head}\n--- command: {result.args!r}\n--- stdout:\n{_text(result.stdout)}"
        f"\n--- stderr:\n{_text(result.stderr)}"
    )


def run(what: str, args: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its whole output when it fails or times out."""
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)  # type: ignore[call-overload]
    except subprocess.TimeoutExpired as exc:
        print(explain(what, exc))
        pytest.fail(explain(what, exc), pytrace=False)
    if result.returncode != 0:
        print(explain(what, result))
        pytest.fail(explain(what, result), pytrace=False)
    return result


def user_command(user: User, script: str, env: Mapping[str, str] | None = None) -> list[str]:
    """argv running a bash login script as the user, in a clean environment (plus ``env``)."""
    clean = {
        "HOME": str(user.home),
        "USER": user.name,
        "LOGNAME": user.name,
        "SHELL": "/bin/bash",
        "PATH": CLEAN_PATH,
        "LANG": "C.UTF-8",
    }
    clean.update({key: os.environ[key] for key in PASSED_THROUGH if key in os.environ})
    clean.update(env or {})
    # /etc/profile resets PATH for a non-root login shell; set it again so the script sees CLEAN_PATH.
    script = f"export PATH={clean['PATH']}\nset -euo pipefail\n{script}"
    runuser, clean_env = shutil.which("runuser"), shutil.which("env")
    assert runuser and clean_env
    return [
        runuser,
        "-u",
        user.name,
        "--",
        clean_env,
        "-i",
        *(f"{k}={v}" for k, v in clean.items()),
        "bash",
        "-lc",
        script,
    ]


def as_user(
    user: User, what: str, script: str, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a bash login script as the user; fail the test when it fails."""
    return run(what, user_command(user, script, env), timeout, cwd=user.home)


def try_as_user(
    user: User, script: str, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a bash login script as the user and return the result whatever its exit code."""
    return subprocess.run(
        user_command(user, script, env), capture_output=True, text=True, timeout=timeout, check=False, cwd=user.home
    )


def remove_user(name: str) -> None:
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


@contextmanager
def created_user(prefix: str = "sl", tools: tuple[str, ...] = ()) -> Iterator[User]:
    """A fresh unprivileged user with a home directory, removed on exit; skips unless root."""
    if os.geteuid() != 0:
        unavailable("needs root to create an unprivileged user")
    missing = [tool for tool in (*TOOLS, *tools) if shutil.which(tool) is None]
    if missing:
        unavailable(f"needs {', '.join(missing)} to create and run an unprivileged user")
    name = f"{prefix}{secrets.token_hex(3)}"
    run("useradd", ["useradd", "--create-home", "--shell", "/bin/bash", name], timeout=60)
    try:
        entry = pwd.getpwnam(name)
        assert entry.pw_uid != 0
        yield User(name=name, uid=entry.pw_uid, home=Path(entry.pw_dir))
    finally:
        remove_user(name)
