"""Servers that ``sudoless mysql install`` unpacked into ``SUDOLESS_HOME/mysql/dist/VERSION``, and the
environment every binary of one needs to run.

A distribution is a folder with a server in it: Debian packages unpacked with ``dpkg-deb -x`` (a ``usr/``
tree) by the installer, or a MariaDB binary tarball a user unpacked there by hand. The installer leaves a
``sudoless-dist.json`` manifest in it, naming the folders of the shared libraries it fetched because the
host lacks them; the server, ``mariadb-install-db`` and the client then run with those folders on
``LD_LIBRARY_PATH``. A folder whose name starts with a dot is an install in progress and is never used.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sudoless.config import Settings, process_environment
from sudoless.mysql.layout import distributions_dir

MANIFEST = "sudoless-dist.json"


@dataclass(frozen=True)
class Distribution:
    """One installed server: ``root`` is its folder, ``version`` the folder's name."""

    version: str
    root: Path

    @property
    def version_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", self.version)[:3])


def installed(settings: Settings) -> list[Distribution]:
    """Every distribution in SUDOLESS_HOME, newest version first."""
    directory = distributions_dir(settings)
    if not directory.is_dir():
        return []
    found = [
        Distribution(version=entry.name, root=entry)
        for entry in directory.iterdir()
        if entry.is_dir() and not entry.name.startswith(".")
    ]
    return sorted(found, key=lambda dist: dist.version_key, reverse=True)


def read_manifest(root: Path) -> dict[str, object] | None:
    try:
        data = json.loads((root / MANIFEST).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def manifest_strings(manifest: dict[str, object], key: str) -> tuple[str, ...]:
    """The list under ``key`` of a manifest as strings; empty when it is missing or not a list (a manifest is
    JSON on disk, so its shape is checked where it is read)."""
    listed = manifest.get(key)
    return tuple(str(item) for item in listed) if isinstance(listed, list) else ()


def library_dirs(basedir: Path) -> list[Path]:
    """The folders of fetched libraries for a server whose base directory is ``basedir`` (a distribution's
    root, or its ``usr/``); empty for any server sudoless did not install.
    """
    for root in (basedir, basedir.parent):
        manifest = read_manifest(root)
        if manifest is not None:
            return [root / relative for relative in manifest_strings(manifest, "library_dirs")]
    return []


def server_environment(basedir: Path | None = None) -> dict[str, str]:
    """Our environment for the server and its tools, minus the MYSQL_* variables that would point them
    elsewhere, plus the fetched libraries of ``basedir``'s distribution on ``LD_LIBRARY_PATH``.
    """
    env = {
        key: value
        for key, value in process_environment().items()
        if not key.startswith("MYSQL_") or key == "MYSQL_TEST_LOGIN_FILE"
    }
    extra = [str(directory) for directory in library_dirs(basedir)] if basedir is not None else []
    if extra:
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*extra, *filter(None, [env.get("LD_LIBRARY_PATH", "")])])
    return env
