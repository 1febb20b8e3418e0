"""The proof that no root is needed: a fresh unprivileged user clones the committed repository, runs
``./dev setup`` and the example flow, and everything it makes stays in its home and belongs to it.

Runs only as root (it creates and removes an OS user); CI runs as root, so CI always runs it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.osuser import User, as_user, created_user, explain
from support.osuser import run as run_checked

pytestmark = [pytest.mark.rootless, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SETUP_TIMEOUT = 15 * 60  # ./dev setup: a venv and a pip install from the registry
RUN_TIMEOUT = 5 * 60


@pytest.fixture
def unprivileged_user() -> Iterator[User]:
    with created_user(tools=("git", "find")) as user:
        yield user


@pytest.fixture
def readable_clone() -> Iterator[Path]:
    """The committed repository as a bare clone that any user can read (the checkout may not be)."""
    parent = Path(tempfile.mkdtemp(prefix="sudoless-rootless-"))
    try:
        parent.chmod(0o755)
        bare = parent / "sudoless.git"
        run_checked(
            "git clone (as root)",
            ["git", "-c", "safe.directory=*", "clone", "--quiet", "--bare", "--no-hardlinks", str(REPO), str(bare)],
            timeout=300,
        )
        run_checked("chmod", ["chmod", "-R", "a+rX", str(parent)], timeout=60)
        yield bare
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _files_outside_home(user: User, since: Path) -> list[str]:
    """Files and directories the user made (newer than ``since``) anywhere but in its home."""
    roots = ["/", *(p for p in ("/tmp", "/var/tmp", "/dev/shm", "/run") if Path(p).is_dir())]
    found = subprocess.run(
        [
            "find",
            *roots,
            "-xdev",
            "(",
            "-path",
            str(user.home),
            "-prune",
            ")",
            "-o",
            "(",
            "-user",
            user.name,
            "-newer",
            str(since),
            "-print",
            ")",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return sorted({line for line in found.stdout.splitlines() if line})


@pytest.mark.timeout(SETUP_TIMEOUT + 10 * 60)
def test_setup_and_demo_flow_need_no_root(unprivileged_user: User, readable_clone: Path) -> None:
    user = unprivileged_user
    started = time.monotonic()
    marker = Path(tempfile.mkstemp(prefix="sudoless-rootless-start-")[1])  # for "made since"
    try:
        clone = user.home / "sudoless"
        as_user(
            user,
            "git clone (as the user)",
            # git drops -c for the local upload-pack it spawns, so it gets its own (the source is root's)
            f"git -c safe.directory='*' clone --quiet --no-hardlinks"
            f" --upload-pack \"git -c safe.directory='*' upload-pack\" {readable_clone} ~/sudoless",
            timeout=300,
        )
        head = run_checked(
            "git rev-parse", ["git", "-c", "safe.directory=*", "-C", str(REPO), "rev-parse", "HEAD"], timeout=60
        ).stdout.strip()
        cloned = as_user(user, "git rev-parse (clone)", "git -C ~/sudoless rev-parse HEAD", timeout=60)
        assert cloned.stdout.strip() == head, "the user's clone is not the committed HEAD"

        setup = as_user(user, "./dev setup", "cd ~/sudoless && ./dev setup", timeout=SETUP_TIMEOUT)
        print(f"./dev setup as {user.name} took {time.monotonic() - started:.0f}s")
        print(setup.stdout, setup.stderr, sep="\n")

        run = as_user(
            user,
            "sudoless flow run",
            "cd ~/sudoless && .venv/bin/sudoless flow run examples/etl-demo --json",
            timeout=RUN_TIMEOUT,
        )
        try:
            report = json.loads(run.stdout)
        except json.JSONDecodeError:
            pytest.fail(explain("flow run --json printed no JSON", run), pytrace=False)
        assert report["status"] == "SUCCEEDED", explain(f"flow ended {report['status']}", run)
        last_attempts = {job["id"]: job for job in sorted(report["jobs"], key=lambda j: j["attempt"])}
        assert last_attempts, explain("the flow ran no job", run)
        failed = {jid: job["status"] for jid, job in last_attempts.items() if job["status"] != "SUCCEEDED"}
        assert not failed, explain(f"jobs did not succeed: {failed}", run)
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
        probe = as_user(
            user,
            "probe the venv",
            "cd ~/sudoless && .venv/bin/python -c '"
            "import json, os, sys, sudoless; print(json.dumps({"
            '"prefix": sys.prefix, "base": sys.base_prefix,'
            ' "python": os.path.realpath(sys.executable), "package": sudoless.__file__}))\'',
            timeout=60,
        )
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
