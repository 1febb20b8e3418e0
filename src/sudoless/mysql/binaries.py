"""Finding a MySQL or MariaDB server on a machine where we cannot install one, and telling which it is.

Servers come from four places. An unpacked tarball given as ``--basedir``: Oracle's
``mysql-X-linux-glibc`` layout (``bin/mysqld``, ``lib/plugin``, ``share/english``), MariaDB's bintar
(``bin/mariadbd``, ``scripts/mariadb-install-db``), or a Debian package unpacked with ``dpkg -x`` (its
``usr/`` has ``sbin/mariadbd`` and ``lib/mysql/plugin``). Otherwise the newest server ``sudoless mysql
install`` put in the home (:mod:`sudoless.mysql.dist`), then the PATH, and then the system places a normal
user's PATH lacks: Debian puts ``mariadbd`` in ``/usr/sbin``, which is why "command not found" is the
first thing people without root hit. ``SUDOLESS_MYSQL_PATH`` replaces the last two, so that a test can
hide /usr/sbin.

The flavour comes from ``--version`` and never from the file name: ``mysqld`` is a link to ``mariadbd``
on Debian, and running MySQL's ``--initialize-insecure`` on MariaDB fails and leaves half a data
directory behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sudoless.config import Settings, environment_value
from sudoless.errors import InputError, NotFoundError
from sudoless.mysql.dist import installed, server_environment

SERVER_NAMES = ("mariadbd", "mysqld")
CLIENT_NAMES = ("mariadb", "mysql")
INSTALL_DB_NAMES = ("mariadb-install-db", "mysql_install_db")
SYSTEM_DIRS = (Path("/usr/sbin"), Path("/usr/libexec"), Path("/usr/local/mysql/bin"))
MINIMUM = {"mysql": (5, 7, 6), "mariadb": (10, 2, 0)}

HOW_TO_GET = (
    "run 'sudoless mysql install' to fetch MariaDB into SUDOLESS_HOME without root, or pass --basedir "
    "DIR of a server you unpacked (a MariaDB bintar or a MySQL 'Linux - Generic' tarball)"
)


class NoServerError(NotFoundError):
    """No server anywhere sudoless looks; ``sudoless mysql install`` can fetch one."""


class Flavour(StrEnum):
    """Which server family a binary belongs to; they initialise data directories differently."""

    MYSQL = "mysql"
    MARIADB = "mariadb"

    @property
    def label(self) -> str:
        return "MariaDB" if self is Flavour.MARIADB else "MySQL"


@dataclass(frozen=True)
class Binaries:
    """A usable server installation: where its parts are and what it is."""

    flavour: Flavour
    version: str
    server: Path
    basedir: Path
    install_db: Path | None
    client: Path | None
    plugin_dir: Path | None
    messages_dir: Path | None

    @property
    def label(self) -> str:
        return f"{self.flavour.label} {self.version}"

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def find_server(settings: Settings, basedir: Path | None = None) -> Binaries:
    """The server an instance gets: the one in ``basedir`` when given, else the newest that ``sudoless mysql
    install`` put in the home, else the first on ``settings.mysql_path`` when set, else on PATH and in the
    system directories. Raises :class:`NoServerError` when there is none at all.
    """
    if basedir is not None:
        return find_binaries(basedir)
    for dist in installed(settings):
        with contextlib.suppress(NotFoundError):  # a folder without a server in it: not a distribution
            return find_binaries(dist.root)
    if settings.mysql_path:
        return find_binaries(search_path=settings.mysql_path, system_dirs=())
    return find_binaries()


def find_binaries(
    basedir: Path | None = None, search_path: str | None = None, system_dirs: tuple[Path, ...] = SYSTEM_DIRS
) -> Binaries:
    """Locate and identify a server: in ``basedir`` when given, else on ``search_path`` (default PATH)
    and then in ``system_dirs``. Raises :class:`NotFoundError` saying how to get one without root.
    """
    if basedir is not None:
        server, basedir = _server_in_basedir(basedir)
    else:
        server = _server_on_path(search_path, system_dirs)
        real = server.resolve()
        basedir = real.parent.parent if real.parent.name in ("bin", "sbin", "libexec") else real.parent
    flavour, version = detect(server, basedir)
    install_db = None
    if flavour is Flavour.MARIADB:
        install_db = _first_file(basedir, ("scripts", "bin"), INSTALL_DB_NAMES)
        if install_db is None:
            raise NotFoundError(
                f"{server} is MariaDB {version}, but mariadb-install-db is not in "
                f"{basedir}/scripts or {basedir}/bin; {HOW_TO_GET}"
            )
    client = _first_file(basedir, ("bin",), CLIENT_NAMES) or _on_path(CLIENT_NAMES, search_path)
    plugin_dir = next(
        (
            d
            for d in (
                basedir / "lib/mysql/plugin",
                basedir / "lib/mariadb/plugin",
                basedir / "lib/plugin",
                basedir / "lib64/mysql/plugin",
                basedir / "lib64/mariadb/plugin",
            )
            if d.is_dir()
        ),
        None,
    )
    messages_dir = next(
        (
            d
            for d in (basedir / "share/mysql", basedir / "share/mariadb", basedir / "share")
            if (d / "english" / "errmsg.sys").is_file()
        ),
        None,
    )
    return Binaries(
        flavour=flavour,
        version=version,
        server=server,
        basedir=basedir,
        install_db=install_db,
        client=client,
        plugin_dir=plugin_dir,
        messages_dir=messages_dir,
    )


def detect(server: Path, basedir: Path | None = None) -> tuple[Flavour, str]:
    """The flavour and version ``server --version`` reports; refuses versions too old to set up safely."""
    try:
        done = subprocess.run(
            [str(server), "--no-defaults", "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
            env=server_environment(basedir),
        )
    except OSError as exc:
        raise InputError(f"{server} cannot run: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{server} --version did not answer within 60 s") from None
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        first = output.splitlines()[0] if output else f"exit code {done.returncode}"
        hint = ""
        if "error while loading shared libraries" in output:
            hint = (
                "; a shared library is missing: for libaio.so.1 on newer systems, link it to "
                "libaio.so.1t64 in a directory of yours and put that directory on LD_LIBRARY_PATH"
            )
        raise InputError(f"{server} --version failed: {first}{hint}")
    match = re.search(r"Ver\s+(\d+\.\d+\.\d+)(\S*)", output)
    if match is None:
        raise InputError(f"{server} does not look like a MySQL or MariaDB server: --version printed {output!r}")
    flavour = Flavour.MARIADB if "mariadb" in output.lower() else Flavour.MYSQL
    version = match.group(1)
    if version_tuple(version) < MINIMUM[flavour.value]:
        oldest = ".".join(map(str, MINIMUM[flavour.value]))
        raise InputError(f"{server} is {flavour.label} {version}; sudoless needs {flavour.label} {oldest} or newer")
    return flavour, version


def find_client(basedir: Path, search_path: str | None = None) -> Path | None:
    return _first_file(basedir, ("bin",), CLIENT_NAMES) or _on_path(CLIENT_NAMES, search_path)


def _server_in_basedir(basedir: Path) -> tuple[Path, Path]:
    basedir = basedir.expanduser().resolve()
    if not basedir.is_dir():
        raise InputError(f"--basedir {basedir}: no such directory")
    # ``dpkg -x`` unpacks into ROOT/usr/...; accept ROOT as well as ROOT/usr.
    for root in (basedir, basedir / "usr"):
        server = _first_file(root, ("bin", "sbin", "libexec"), SERVER_NAMES)
        if server is not None:
            return server, root
    raise NotFoundError(f"--basedir {basedir} holds no mariadbd or mysqld in bin/, sbin/ or libexec/; {HOW_TO_GET}")


def _server_on_path(search_path: str | None, system_dirs: tuple[Path, ...]) -> Path:
    found = _on_path(SERVER_NAMES, search_path, extra=system_dirs)
    if found is None:
        where = "PATH" if search_path is None else f"the search path {search_path!r}"
        if system_dirs:
            where += f", {', '.join(map(str, system_dirs))}"
        raise NoServerError(
            f"no MySQL or MariaDB server found (mariadbd or mysqld in SUDOLESS_HOME/mysql/dist, "
            f"on {where}); {HOW_TO_GET}"
        )
    return found


def _on_path(names: tuple[str, ...], search_path: str | None, extra: tuple[Path, ...] = ()) -> Path | None:
    path = environment_value("PATH") if search_path is None else search_path
    for directory in [*(Path(p) for p in path.split(os.pathsep) if p), *extra]:
        for name in names:
            candidate = shutil.which(name, path=str(directory))
            if candidate:
                return Path(candidate).absolute()
    return None


def _first_file(root: Path, subdirs: tuple[str, ...], names: tuple[str, ...]) -> Path | None:
    for subdir in subdirs:
        for name in names:
            candidate = root / subdir / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    return None
