"""An unprivileged user who can run the real ``sudoless`` console script, shared by a test module.

The user cannot read root's interpreter (pyenv under /root, mode 0700), so it gets a venv of its own on
the system's /usr/bin/python3 (same minor version, so compiled packages are shared) that imports sudoless
and its dependencies from where the test run's venv has them, when the user can read those; otherwise
from a copy made readable. No package index is needed, and the set-up takes about a second.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.osuser import User, created_user, explain, run, try_as_user
from support.services import unavailable

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")
CLI_TIMEOUT = 120


@dataclass(frozen=True)
class Cli:
    """``sudoless ...`` as the user; ``home`` sets SUDOLESS_HOME (default: ~/.sudoless)."""

    user: User
    bin: Path

    def __call__(self, args: str, home: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {"SUDOLESS_HOME": home} if home else {}
        return try_as_user(self.user, f"{self.bin}/sudoless {args}", CLI_TIMEOUT, env)

    def ok(self, args: str, home: str | None = None) -> subprocess.CompletedProcess[str]:
        result = self(args, home)
        assert result.returncode == 0, explain(f"sudoless {args}", result)
        return result

    def json(self, args: str, home: str | None = None) -> Any:
        return json.loads(self.ok(f"{args} --json", home).stdout)

    def status(self, home: str | None = None) -> Any:
        """``mysql status --json``: exit 0 when the server runs, 1 when it is stopped or crashed (the CLI
        contract, as ``systemctl is-active``); the document either way."""
        args = "mysql status --json"
        result = self(args, home)
        document = json.loads(result.stdout)
        expected = 0 if document["state"] == "running" else 1
        assert result.returncode == expected, explain(f"sudoless {args} ({document['state']})", result)
        return document

    def fails(self, args: str, home: str | None = None) -> str:
        """The one line a user error prints; asserts exit code 2 and nothing else on stderr."""
        result = self(args, home)
        assert result.returncode == 2, explain(f"sudoless {args} should exit 2", result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sudoless: "), explain(f"sudoless {args}: not one line", result)
        return lines[0]

    def python(self, code: str, home: str | None = None) -> str:
        env = {"SUDOLESS_HOME": home} if home else {}
        result = try_as_user(self.user, f"{self.bin}/python -c {_quote(code)}", CLI_TIMEOUT, env)
        assert result.returncode == 0, explain("python as the user", result)
        return result.stdout


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _write_entry_points(venv: Path, sources: list[Path]) -> None:
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = venv / "lib" / minor / "site-packages"
    lines = [str(sources[0]), *(f"import site; site.addsitedir({str(path)!r})" for path in sources[1:])]
    (site / "sudoless-tests.pth").write_text("\n".join(lines) + "\n")
    script = venv / "bin" / "sudoless"
    script.write_text(f"#!{venv}/bin/python\nimport sys\nfrom sudoless.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)


def _copy_dependencies(target: Path) -> None:
    """Copy every installed distribution sudoless needs (without extras) into ``target``."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = {"sudoless"}
    pending = list(metadata.requires("sudoless") or [])
    while pending:
        requirement = Requirement(pending.pop())
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = requirement.name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        distribution = metadata.distribution(requirement.name)
        for file in distribution.files or []:
            if ".." in file.parts:
                continue  # scripts and data outside site-packages
            source = Path(str(distribution.locate_file(file)))
            if source.is_file():
                (target / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / file)
        pending.extend(distribution.requires or [])


def build_user_venv(user: User, parent: Path) -> Path:
    """A venv in ``parent`` the user can run ``sudoless`` from; returns its bin directory."""
    if not SYSTEM_PYTHON.exists():
        unavailable(f"{SYSTEM_PYTHON} is missing: the unprivileged user needs a Python it can read")
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.stdout.strip() != str(tuple(sys.version_info[:2])):
        unavailable(
            f"{SYSTEM_PYTHON} is Python {probe.stdout.strip()}, but the tests run on "
            f"{sys.version_info[:2]}: the compiled packages of the test venv cannot be shared"
        )
    venv = parent / "venv"
    run("python3 -m venv", [str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(venv)], timeout=120)
    _write_entry_points(venv, [REPO / "src", Path(sysconfig.get_paths()["purelib"])])
    run("chmod", ["chmod", "-R", "a+rX", str(parent)], timeout=60)
    check = "import sudoless.cli, sudoless.mysql, pymysql, sqlalchemy, click, rich"
    if try_as_user(user, f"{venv}/bin/python -c '{check}'", timeout=120).returncode != 0:
        # the checkout or its venv is not readable by others (a checkout under /root): copy what is needed
        shutil.copytree(
            REPO / "src" / "sudoless", parent / "src" / "sudoless", ignore=shutil.ignore_patterns("__pycache__")
        )
        _copy_dependencies(parent / "deps")
        _write_entry_points(venv, [parent / "src", parent / "deps"])
        run("chmod", ["chmod", "-R", "a+rX", str(parent)], timeout=60)
        result = try_as_user(user, f"{venv}/bin/python -c '{check}'", timeout=120)
        assert result.returncode == 0, explain("the user's venv cannot import sudoless", result)
    return venv / "bin"


@pytest.fixture(scope="module")
def mysql_user() -> Iterator[User]:
    with created_user("slmy") as user:
        yield user


@pytest.fixture(scope="module")
def cli(mysql_user: User) -> Iterator[Cli]:
    parent = Path(tempfile.mkdtemp(prefix="sudoless-mysql-venv-"))
    try:
        parent.chmod(0o755)
        yield Cli(mysql_user, build_user_venv(mysql_user, parent))
    finally:
        shutil.rmtree(parent, ignore_errors=True)
