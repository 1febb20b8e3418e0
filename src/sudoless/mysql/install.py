"""``sudoless mysql install``: a MariaDB server in ``SUDOLESS_HOME/mysql/dist/VERSION``, fetched without root.

On Debian and Ubuntu, ``apt-get download`` (which any user may run; see :mod:`sudoless.mysql.apt`) fetches
the server and client packages and ``dpkg-deb -x`` unpacks them. ``ldd`` then names the libraries the host
lacks; each is looked for among the packages the server depends on (the best-named first, confirmed by the
package's file list), fetched and unpacked too, and the check runs again until the loader finds everything.
When apt has no package lists (a container that never ran ``apt-get update``) or stale ones, the installer
fetches its own.

Everything happens in a dot-folder beside the target, renamed into place at the end: an interrupted or
failed install leaves nothing that looks installed, and a second install of the same version does nothing.
Without apt the installer names the MariaDB tarball to fetch and where to unpack it
(:func:`tarball_instructions`).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sudoless.config import Settings, ensure_home
from sudoless.errors import InputError, SudolessError
from sudoless.mysql.apt import LISTS, PACKAGES, Apt, StaleListsError, extract, package_files, upstream_version
from sudoless.mysql.dist import MANIFEST, manifest_strings, read_manifest
from sudoless.mysql.layout import distributions_dir
from sudoless.mysql.loader import elf_files, missing_libraries

#: the version named when apt is not there: the current long-term release series at the time of writing.
TARBALL_VERSION = "11.4.4"
TARBALL_URL = (
    "https://archive.mariadb.org/mariadb-{version}/bintar-linux-systemd-x86_64/"
    "mariadb-{version}-linux-systemd-x86_64.tar.gz"
)
#: rounds of fetching missing libraries: each round's libraries may need libraries of their own.
MAX_ROUNDS = 5

Progress = Callable[[str], None]


class InstallError(SudolessError):
    """The install could not finish; the message says what is missing and what to do."""


@dataclass(frozen=True)
class Installed:
    """A distribution after ``install``: ``already`` when it was there before and nothing was fetched."""

    version: str
    root: Path
    packages: tuple[str, ...]
    library_packages: tuple[str, ...]
    library_dirs: tuple[str, ...]
    already: bool
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "root": str(self.root),
            "packages": list(self.packages),
            "library_packages": list(self.library_packages),
            "library_dirs": list(self.library_dirs),
            "already": self.already,
            "seconds": round(self.seconds, 2),
        }


def _quiet(_: str) -> None:
    pass


def install_mariadb(settings: Settings, version: str | None = None, progress: Progress = _quiet) -> Installed:
    """Fetch MariaDB ``version`` (default: the newest apt offers; ``10.11`` means the newest 10.11.x) into
    the home. Raises :class:`InputError` with the tarball to fetch by hand where apt-get is missing.
    """
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise InputError(tarball_instructions(settings, version))
    began = time.monotonic()
    ensure_home(settings)
    target_dir = distributions_dir(settings)
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _lock(target_dir):
        for stale in target_dir.glob(".partial-*"):  # left by an install that was killed: we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        apt, known = Apt.for_home(target_dir, progress)
        try:
            return _install(apt, known, target_dir, version, progress, began)
        except StaleListsError:
            if apt.options:
                raise
            progress(
                "the system's package lists are out of date (the mirror no longer has those packages); "
                f"fetching fresh ones into {target_dir / LISTS}"
            )
            apt, known = Apt.refreshed(target_dir)
            return _install(apt, known, target_dir, version, progress, began)


def _install(
    apt: Apt, known: set[str], target_dir: Path, version: str | None, progress: Progress, began: float
) -> Installed:
    names = [apt.package_name(base, known) for base in PACKAGES]
    package_version = apt.choose_version(names[0], version)
    upstream = upstream_version(package_version)
    target = target_dir / upstream
    manifest = read_manifest(target)
    if manifest is not None:
        progress(f"MariaDB {upstream} is already installed in {target}")
        return _installed(target, manifest, already=True, seconds=time.monotonic() - began)
    if target.exists():
        raise InputError(
            f"{target} exists but was not made by 'sudoless mysql install' (no {MANIFEST}); "
            "remove it or move it away, then install again"
        )
    scratch = target_dir / f".partial-{upstream}-{secrets.token_hex(4)}"
    try:
        manifest = _build(
            apt, scratch, [f"{name}={package_version}" for name in names], upstream, package_version, progress
        )
        (scratch / "tree").rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    progress(f"installed MariaDB {upstream} in {target}")
    return _installed(target, manifest, already=False, seconds=time.monotonic() - began)


def _installed(root: Path, manifest: dict[str, object], already: bool, seconds: float) -> Installed:
    return Installed(
        version=root.name,
        root=root,
        packages=manifest_strings(manifest, "packages"),
        library_packages=manifest_strings(manifest, "library_packages"),
        library_dirs=manifest_strings(manifest, "library_dirs"),
        already=already,
        seconds=seconds,
    )


def _build(
    apt: Apt, scratch: Path, specs: list[str], upstream: str, package_version: str, progress: Progress
) -> dict[str, object]:
    """Download, unpack and complete the distribution in ``scratch/tree``; returns the manifest written."""
    debs, tree = scratch / "debs", scratch / "tree"
    debs.mkdir(parents=True)
    tree.mkdir(mode=0o700)
    progress(f"downloading {' and '.join(spec.split('=')[0] for spec in specs)} {package_version} with apt-get")
    for deb in apt.download(specs, debs):
        extract(deb, tree)
    binaries = elf_files([tree / "usr" / "sbin", tree / "usr" / "bin"])
    if not any(path.name in ("mariadbd", "mysqld") for path in binaries):
        raise InstallError(
            f"the packages {', '.join(specs)} hold no mariadbd; install a server by hand and pass "
            "--basedir DIR to 'sudoless mysql init'"
        )
    used = complete_libraries(apt, tree, binaries, specs, debs, progress)
    manifest: dict[str, object] = {
        "version": upstream,
        "package_version": package_version,
        "source": "apt",
        "packages": [spec.split("=")[0] for spec in specs],
        "library_packages": sorted(used),
        "library_dirs": [str(path.relative_to(tree)) for path in library_dirs(tree)],
        "installed": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (tree / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def complete_libraries(
    apt: Apt, tree: Path, binaries: Sequence[Path], specs: Sequence[str], debs: Path, progress: Progress = _quiet
) -> list[str]:
    """Unpack into ``tree`` the packages holding every library the loader cannot find for ``binaries``,
    chosen among the dependencies of ``specs`` (downloaded into ``debs``), round after round until nothing
    is missing; returns the names of the packages unpacked.
    """
    fetched: dict[str, Path] = {}
    used: list[str] = []
    candidates: list[str] | None = None
    for _ in range(MAX_ROUNDS):
        missing = missing_libraries(binaries, library_dirs(tree))
        if not missing:
            break
        progress(f"the loader cannot find {', '.join(sorted(missing))}; fetching them")
        if candidates is None:
            candidates = apt.dependencies(specs)
        found = find_library_packages(apt, sorted(missing), candidates, fetched, debs)
        if not found:
            needers = {soname: sorted({path.name for path in paths}) for soname, paths in missing.items()}
            raise InstallError(
                f"no package that MariaDB depends on provides {needers}; install those libraries "
                "(or ask your administrator to), then run 'sudoless mysql install' again"
            )
        for deb in found:
            extract(deb, tree)
            used.append(deb.name.split("_")[0])
    else:
        raise InstallError(
            f"libraries still missing after {MAX_ROUNDS} rounds: "
            f"{', '.join(sorted(missing_libraries(binaries, library_dirs(tree))))}"
        )
    return used


def library_dirs(tree: Path) -> list[Path]:
    """The folders of an unpacked tree that hold shared libraries (``usr/lib/x86_64-linux-gnu`` ...); the
    server's plugin folder, one level deeper, is not one.
    """
    found = []
    for top in (tree / "usr" / "lib", tree / "lib", tree / "usr" / "lib64", tree / "lib64"):
        if not top.is_dir():
            continue
        for directory in [top, *sorted(p for p in top.iterdir() if p.is_dir() and not p.is_symlink())]:
            if any(".so" in entry.name for entry in directory.iterdir() if not entry.is_dir()):
                found.append(directory)
    return found


def find_library_packages(
    apt: Apt, sonames: Sequence[str], candidates: Sequence[str], fetched: dict[str, Path], debs: Path
) -> list[Path]:
    """The package files providing ``sonames``, chosen from ``candidates`` (downloaded into ``debs`` and
    remembered in ``fetched``): first the best-named package for each soname, then, for those still
    unfound, every other candidate not installed on the host. A package counts only when its file list
    holds the soname.
    """
    wanted = set(sonames)
    chosen: list[Path] = []
    installed_here = apt.installed_packages()
    rounds = [
        [best for soname in sonames if (best := _best_named(soname, candidates, fetched))],
        [name for name in candidates if name not in fetched and name not in installed_here],
    ]
    for names in rounds:
        names = sorted(set(names) - set(fetched))
        if not wanted or not names:
            continue
        for name, deb in zip(names, apt.download(names, debs), strict=True):
            fetched[name] = deb
            provided = wanted & {Path(member).name for member in package_files(deb)}
            if provided:
                chosen.append(deb)
                wanted -= provided
    return chosen


def _best_named(soname: str, candidates: Sequence[str], fetched: dict[str, Path]) -> str | None:
    """Debian names a library's package after its soname: libaio.so.1 in libaio1 (or libaio1t64),
    libpcre2-8.so.0 in libpcre2-8-0."""
    stem, _, number = soname.partition(".so")
    number = number.lstrip(".").split(".")[0]
    expected = f"{stem}-{number}" if stem[-1:].isdigit() else f"{stem}{number}"
    for name in candidates:
        if name not in fetched and (name == expected or name.startswith(expected + "t64")):
            return name
    return None


def tarball_instructions(settings: Settings, version: str | None = None) -> str:
    """One line: where MariaDB's archive has the binary tarball for this machine, and where to unpack it."""
    machine = platform.machine()
    if platform.system() != "Linux" or machine not in ("x86_64", "amd64"):
        return (
            f"apt-get is not available here and MariaDB publishes binary tarballs for x86_64 Linux only (this is "
            f"{platform.system()} {machine}); install MariaDB with your system's package manager or build it, "
            "then pass --basedir DIR to 'sudoless mysql init'"
        )
    if version is not None and not re.fullmatch(r"\d+\.\d+\.\d+", version):
        return (
            f"apt-get is not available here, so sudoless cannot fetch MariaDB for you; --version {version}: give "
            "a full version such as 10.11.10 to be told which tarball to fetch from https://archive.mariadb.org/"
        )
    chosen = version or TARBALL_VERSION
    url = TARBALL_URL.format(version=chosen)
    target = distributions_dir(settings) / chosen
    return (
        f"apt-get is not available here, so sudoless cannot fetch MariaDB for you: download {url} and unpack "
        f"it with 'mkdir -p {target} && tar -xzf {url.rsplit('/', 1)[1]} --strip-components=1 -C {target}', "
        "then run 'sudoless mysql init'"
    )


@contextmanager
def _lock(directory: Path) -> Iterator[None]:
    """One install at a time per home: two would fetch the same packages and race to rename."""
    fd = os.open(directory / ".install.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
