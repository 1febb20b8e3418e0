"""apt-get, apt-cache and dpkg-deb as a normal user, for MariaDB's packages and the libraries they need.

Any user may read apt's package lists, download packages into a folder of their own and unpack them: only
installing needs root. Where the system has no lists (a container that never ran ``apt-get update``) or
stale ones (the mirror answers 404), :meth:`Apt.refreshed` fetches lists of our own into the dist folder;
apt then needs nothing else writable, as its package caches are turned off.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

from sudoless.config import process_environment
from sudoless.errors import InputError, NotFoundError, SudolessError

PACKAGES = ("mariadb-server-core", "mariadb-client-core")
APT_TIMEOUT = 600
#: the folder, in the dist folder, of package lists of our own, for machines whose apt has none or stale ones.
LISTS = ".apt-lists"
BY_HAND = (
    "fetch a MariaDB binary tarball from https://archive.mariadb.org/ and unpack it into "
    "SUDOLESS_HOME/mysql/dist/VERSION, or pass --basedir DIR to 'sudoless mysql init'"
)


class AptError(SudolessError):
    """apt-get, apt-cache or dpkg-deb failed; the message has apt's own last error line."""


class StaleListsError(AptError):
    """apt's package lists name files the mirror no longer has (lists not updated since a new release)."""


class Apt:
    """apt-get and apt-cache as a normal user: ``options`` point them at private package lists when the
    system has none.
    """

    def __init__(self, options: Sequence[str] = ()) -> None:
        self.options = list(options)

    @classmethod
    def for_home(cls, target_dir: Path, progress: Callable[[str], None]) -> tuple[Apt, set[str]]:
        """The system's apt when its lists know MariaDB, else one with lists of our own in ``target_dir``;
        with the MariaDB package names it knows.
        """
        system = cls()
        if known := system.mariadb_names():
            return system, known
        lists = target_dir / LISTS
        private = cls.private(lists)
        if lists.is_dir() and (known := private.mariadb_names()):
            return private, known
        progress(f"apt has no package lists here; fetching them into {lists}")
        return cls.refreshed(target_dir)

    @classmethod
    def refreshed(cls, target_dir: Path) -> tuple[Apt, set[str]]:
        """apt with package lists of our own, fetched now into ``target_dir``."""
        lists = target_dir / LISTS
        private = cls.private(lists)
        private.update(lists)
        if not (known := private.mariadb_names()):
            raise NotFoundError(
                f"apt knows no package named {PACKAGES[0]}* in its sources (/etc/apt/sources.list*); {BY_HAND}"
            )
        return private, known

    @classmethod
    def private(cls, lists: Path) -> Apt:
        # Only the lists move; with the package caches off, apt needs nothing else writable.
        return cls([f"-oDir::State::Lists={lists}", "-oDir::Cache::pkgcache=", "-oDir::Cache::srcpkgcache="])

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        command = [tool, *self.options, *args]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=APT_TIMEOUT,
                check=False,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                env={**process_environment(), "LC_ALL": "C"},
            )
        except subprocess.TimeoutExpired:
            raise AptError(f"{tool} {' '.join(args[:3])} did not finish within {APT_TIMEOUT} s") from None
        if done.returncode != 0:
            error = StaleListsError if re.search(r"Failed to fetch .*\b404\b", done.stderr) else AptError
            raise error(f"{tool} {' '.join(args[:3])} failed: {_last_line(done)}")
        return done.stdout

    def update(self, lists: Path) -> None:
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        self.run("apt-get", "update", "-q")

    def mariadb_names(self) -> set[str]:
        return set(self.run("apt-cache", "pkgnames", "mariadb-").split())

    @staticmethod
    def package_name(base: str, names: set[str]) -> str:
        """``base`` itself when apt has it, else its newest versioned name (mariadb-server-core-10.6 on Ubuntu
        22.04)."""
        if base in names:
            return base
        versioned = sorted(
            (name for name in names if re.fullmatch(rf"{re.escape(base)}-\d+(\.\d+)*", name)),
            key=lambda name: tuple(int(n) for n in re.findall(r"\d+", name[len(base) :])),
        )
        if not versioned:
            raise NotFoundError(f"apt offers no {base} package; {BY_HAND}")
        return versioned[-1]

    def versions(self, name: str) -> list[str]:
        """The versions apt can fetch, best first."""
        lines = self.run("apt-cache", "madison", name).splitlines()
        return list(dict.fromkeys(line.split("|")[1].strip() for line in lines if line.count("|") >= 2))

    def choose_version(self, name: str, wanted: str | None) -> str:
        offered = self.versions(name)
        if not offered:
            raise NotFoundError(f"apt offers no version of {name}; {BY_HAND}")
        if wanted is None:
            return offered[0]
        for version in offered:
            upstream = upstream_version(version)
            if upstream == wanted or upstream.startswith(wanted + "."):
                return version
        shown = ", ".join(dict.fromkeys(upstream_version(v) for v in offered))
        raise InputError(
            f"--version {wanted}: apt offers MariaDB {shown} here; leave --version out for the "
            "newest, or fetch another version's tarball from https://archive.mariadb.org/"
        )

    def download(self, specs: Sequence[str], into: Path) -> list[Path]:
        """Download ``name`` or ``name=version`` packages into ``into``; their files, in the order given."""
        before = set(into.iterdir())
        self.run("apt-get", "download", "-q", *specs, cwd=into)
        new = [path for path in into.iterdir() if path not in before and path.suffix == ".deb"]
        by_name = {path.name.split("_")[0]: path for path in new}
        missing = [spec for spec in specs if spec.split("=")[0] not in by_name]
        if missing:
            raise AptError(f"apt-get download did not produce {', '.join(missing)}")
        return [by_name[spec.split("=")[0]] for spec in specs]

    def dependencies(self, specs: Sequence[str]) -> list[str]:
        """Every real package ``specs`` need, directly or not (not recommendations)."""
        output = self.run(
            "apt-cache",
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            *specs,
        )
        names = [line.strip() for line in output.splitlines() if line and not line[0].isspace()]
        own = {spec.split("=")[0] for spec in specs}
        return list(dict.fromkeys(name for name in names if not name.startswith("<") and name not in own))

    def installed_packages(self) -> set[str]:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Package}\n"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        return {line.split()[1] for line in done.stdout.splitlines() if line.startswith("ii") and len(line.split()) > 1}


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stderr + done.stdout).strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:")]
    return (errors or lines or [f"exit code {done.returncode}"])[-1]


def extract(deb: Path, tree: Path) -> None:
    done = subprocess.run(
        ["dpkg-deb", "-x", str(deb), str(tree)],
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise AptError(f"dpkg-deb -x {deb.name} failed: {_last_line(done)}")


def package_files(deb: Path) -> list[str]:
    done = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)],
        capture_output=True,
        timeout=APT_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise AptError(f"dpkg-deb --fsys-tarfile {deb.name} failed: {done.stderr.decode(errors='replace')}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        return archive.getnames()


def upstream_version(package_version: str) -> str:
    """``1:10.11.19-0+deb12u1`` -> ``10.11.19``."""
    match = re.search(r"(\d+\.\d+\.\d+)", package_version.partition(":")[2] or package_version)
    if match is None:
        raise AptError(f"cannot read a MariaDB version from the package version {package_version!r}")
    return match.group(1)
